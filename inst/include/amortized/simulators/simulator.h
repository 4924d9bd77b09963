// Benchmark simulators: prior + model pairs written without LibTorch, on
// plain row-major arrays, so they compile fast and run anywhere.
#pragma once

#include "amortized/structure/equivariance.h"

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace amortized {

#if defined(__GNUC__)
#define AMORTIZED_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define AMORTIZED_ALWAYS_INLINE inline
#endif

namespace detail {
// SplitMix64: the next value of the sequence whose state is `state`.
inline uint64_t splitmix64(uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
// One xoshiro256++ step on the state s: 64-bit scalars, or vectors of
// independent 64-bit lanes (always inlined: vectors never cross a call).
template <typename T>
AMORTIZED_ALWAYS_INLINE T xoshiro256pp(T (&s)[4]) {
  const T sum = s[0] + s[3];
  const T out = ((sum << 23) | (sum >> 41)) + s[0];
  const T t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return out;
}
}  // namespace detail

// xoshiro256++ (Blackman & Vigna): a small, fast 64-bit generator that
// meets the UniformRandomBitGenerator requirements of <random>; its state
// is filled from the seed by SplitMix64.
class Xoshiro256 {
 public:
  using result_type = uint64_t;
  explicit Xoshiro256(uint64_t seed) {
    for (auto& s : s_) s = detail::splitmix64(seed);
  }
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() { return detail::xoshiro256pp(s_); }
  // A uniform double in [0, 1) from the top 53 bits.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_[4];
};

using Rng = Xoshiro256;

class Simulator {
 public:
  virtual ~Simulator() = default;
  virtual std::string name() const = 0;
  virtual std::vector<std::string> parameter_names() const = 0;
  // Names of the last data dimension (one per value for flat data; one per
  // variable of a trial for set data such as ddm's (rt, choice)).
  virtual std::vector<std::string> data_names() const = 0;
  // Shape of one data set: {dim} for flat data, {n_obs, dim} for a set or
  // series of n_obs observations. Values are stored row-major.
  virtual std::vector<int64_t> data_shape() const {
    return {static_cast<int64_t>(data_names().size())};
  }
  // Writes n prior draws, row-major: theta[i * dim_theta + j].
  virtual void sample_prior(int64_t n, Rng& rng, double* theta) const = 0;
  // Writes one data set per row of theta, row-major: x[i * dim_x + k].
  virtual void simulate(int64_t n, const double* theta, Rng& rng, double* x) const = 0;
  // Writes the prior's log density at each of n parameter vectors
  // (row-major, as sample_prior() writes them): -infinity outside the
  // support. Posteriors from a learned likelihood and evidences need it.
  virtual void log_prior(int64_t n, const double* theta, double* out) const = 0;
  // Writes the exact log likelihood log p(x_i | theta_i) of n (parameter
  // vector, data set) pairs (row-major) and returns true, for the tasks whose
  // likelihood is tractable (reference posteriors by MCMC, tests of learned
  // likelihoods); returns false, writing nothing, for the others.
  virtual bool log_likelihood(int64_t /*n*/, const double* /*theta*/, const double* /*x*/, double* /*out*/) const {
    return false;
  }

  int64_t dim_theta() const { return static_cast<int64_t>(parameter_names().size()); }
  // For flat data that are an exchangeable set: {n_obs, dim} (points stored
  // one after the other); empty otherwise. Estimators can exploit it.
  virtual std::vector<int64_t> set_structure() const { return {}; }
  // 0-based indices of parameters in whose sign the posterior is even (the
  // likelihood depends on them only through their absolute value and the
  // prior is even in them); estimators can exploit it.
  virtual std::vector<int64_t> symmetric_parameters() const { return {}; }
  // The support of the prior, one (lower, upper) per parameter (+-infinity:
  // unbounded); empty when unbounded in every parameter. The posterior
  // lives inside it, so estimators can keep their draws there.
  struct Support {
    std::vector<double> lower, upper;
  };
  virtual Support prior_support() const { return {}; }
  // 0-based indices of bounded parameters whose posterior the support cuts
  // off sharply: the likelihood reaches well beyond the prior's bounds, so
  // posteriors often end at a bound with high density (two_moons' crescents
  // run into the corners of its box). Estimators then truncate their draws
  // to the bounds rather than map the bounds onto the real line, which
  // stretches such cut-off posteriors to infinity.
  virtual std::vector<int64_t> truncated_parameters() const { return {}; }
  // Mirror symmetries beyond sign flips: unit normals n (one value per
  // parameter, orthogonal to each other) such that the prior and the
  // likelihood are unchanged by theta -> theta - 2 (n . theta) n, so every
  // posterior is even under that reflection (two_moons: (t1, t2) -> (-t2,
  // -t1), n = (1, 1) / sqrt 2). Estimators can learn one side of the mirror.
  virtual std::vector<std::vector<double>> reflections() const { return {}; }
  // Equivariances of the joint distribution of parameters and data (see
  // Equivariance; x permutes each point's variables for set data):
  // estimators can train as if there were that many times more simulations.
  virtual std::vector<Equivariance> equivariances() const { return {}; }
  // Optional fast path for cheap simulators with flat data: len prior draws
  // and their data written straight into column-major storage (column j of
  // theta at theta + j * ld, column k of x at x + k * ld), exactly what
  // sample_prior() then simulate() give with the same rng. Sets *finite to
  // false if a value is not finite. Returns false where not implemented.
  virtual bool simulate_columns(int64_t /*len*/, Rng& /*rng*/, double* /*theta*/, double* /*x*/, int64_t /*ld*/,
                                bool* /*finite*/) const {
    return false;
  }
  // Rows per independently seeded chunk (see simulate()): smaller for slow
  // simulators, so that threads share the work of small batches.
  virtual int64_t chunk_size() const { return 1024; }
  // Values per data set (the product of data_shape()).
  int64_t dim_x() const {
    int64_t d = 1;
    for (int64_t s : data_shape()) d *= s;
    return d;
  }
};

// Settings some benchmark simulators need.
struct BenchmarkOptions {
  // ddm: trials per data set (>= 1).
  int64_t n_obs = 100;
  // bernoulli_glm: the 100 x 10 design matrix, row-major (the package ships
  // it as inst/extdata/bernoulli_glm_design_matrix.csv).
  std::vector<double> design;
};

// Throws std::invalid_argument for an unknown name or missing/bad options.
std::unique_ptr<Simulator> make_benchmark_simulator(const std::string& name,
                                                    const BenchmarkOptions& options = {});
// Names accepted by make_benchmark_simulator().
std::vector<std::string> benchmark_simulator_names();

// n joint draws (theta from the prior, x from the model), seeded.
struct Simulations {
  int64_t n = 0;
  std::vector<double> theta, x;  // row-major [n, dim_theta], [n, dim_x]
};
// Rows are simulated in chunks of sim.chunk_size(), each with its own
// random stream derived from (seed, chunk index), spread over `threads`
// threads: the result depends on the seed only, not on the thread count.
Simulations simulate(const Simulator& sim, int64_t n, uint64_t seed, int threads = 1);
// The same simulations written to caller-owned memory (theta: n * dim_theta
// values, x: n * dim_x): row-major, or with column_major = true in R's
// layout (an [n, dim_theta] matrix and an [n, data_shape...] array).
// theta_given: theta holds n parameter vectors (in the same layout) to
// simulate data for, instead of receiving prior draws. nonfinite_rows, if
// given, receives the 0-based rows (sorted) whose parameters or data hold an
// infinite or NaN value. should_stop, if given, is polled on the calling
// thread (every 20 ms, while `threads` worker threads simulate): when it
// returns true, the workers stop after their current chunk and
// SimulationInterrupted is thrown (the memory holds a part of the rows).
void simulate_to(const Simulator& sim, int64_t n, uint64_t seed, int threads, double* theta, double* x,
                 bool column_major, bool theta_given = false, std::vector<int64_t>* nonfinite_rows = nullptr,
                 const std::function<bool()>& should_stop = nullptr);

// Thrown by simulate_to() when should_stop() asked it to stop.
struct SimulationInterrupted : std::runtime_error {
  SimulationInterrupted() : std::runtime_error("simulation interrupted") {}
};

// Noise-free ODE solutions at the save times (exposed for tests); NaN where
// the adaptive solver fails. sir: I(t) / N at days 0, 17, ..., 153.
// lotka_volterra (theta = alpha, beta, gamma, delta): prey at t = 0, 2.1,
// ..., 18.9, then predators at the same times.
std::vector<double> sir_solution(double beta, double gamma);
std::vector<double> lotka_volterra_solution(const double* theta);

}  // namespace amortized
