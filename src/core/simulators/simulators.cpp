#include "amortized/simulators/simulator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <thread>

namespace amortized {

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<std::string> numbered(const std::string& stem, int64_t n) {
  std::vector<std::string> out;
  for (int64_t i = 1; i <= n; ++i) out.push_back(stem + std::to_string(i));
  return out;
}

// n draws from U(lo, hi) into out.
void fill_uniform(int64_t n, double lo, double hi, Rng& rng, double* out) {
  std::uniform_real_distribution<double> unif(lo, hi);
  for (int64_t i = 0; i < n; ++i) out[i] = unif(rng);
}

// A benchmark task with parameters theta_1.. and data x_1.. .
class Benchmark : public Simulator {
 public:
  Benchmark(std::string name, int64_t dim_theta, int64_t dim_x)
      : name_(std::move(name)), theta_names_(numbered("theta_", dim_theta)), x_names_(numbered("x_", dim_x)) {}
  std::string name() const override { return name_; }
  std::vector<std::string> parameter_names() const override { return theta_names_; }
  std::vector<std::string> data_names() const override { return x_names_; }

 private:
  std::string name_;
  std::vector<std::string> theta_names_, x_names_;
};

// gaussian_linear: theta ~ N(0, 0.1 I_10), x | theta ~ N(theta, 0.1 I_10)
// (variances). Exact posterior: N(x / 2, 0.05 I_10).
class GaussianLinear : public Benchmark {
 public:
  GaussianLinear() : Benchmark("gaussian_linear", 10, 10) {}
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    std::normal_distribution<double> normal(0.0, std::sqrt(0.1));
    for (int64_t i = 0; i < n * 10; ++i) theta[i] = normal(rng);
  }
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    std::normal_distribution<double> normal(0.0, std::sqrt(0.1));
    for (int64_t i = 0; i < n * 10; ++i) x[i] = theta[i] + normal(rng);
  }
};

// two_moons: theta ~ U(-1, 1)^2; a ~ U(-pi/2, pi/2), r ~ N(0.1, 0.01^2),
// p = (r cos a + 0.25, r sin a); x = p + (-|t1 + t2| / sqrt 2, (t2 - t1) / sqrt 2).
class TwoMoons : public Benchmark {
 public:
  TwoMoons() : Benchmark("two_moons", 2, 2) {}
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    fill_uniform(n * 2, -1.0, 1.0, rng, theta);
  }
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    std::uniform_real_distribution<double> angle(-kPi / 2, kPi / 2);
    std::normal_distribution<double> radius(0.1, 0.01);
    const double s = 1.0 / std::sqrt(2.0);
    for (int64_t i = 0; i < n; ++i) {
      const double t1 = theta[2 * i], t2 = theta[2 * i + 1];
      const double a = angle(rng), r = radius(rng);
      x[2 * i] = r * std::cos(a) + 0.25 - std::abs(t1 + t2) * s;
      x[2 * i + 1] = r * std::sin(a) + (t2 - t1) * s;
    }
  }
};

// slcp: theta ~ U(-3, 3)^5; mean (t1, t2), sds s1 = t3^2, s2 = t4^2,
// correlation tanh(t5); covariance [[s1^2 + 1e-6, rho s1 s2], [rho s1 s2,
// s2^2 + 1e-6]]; x = 4 iid 2-d draws flattened (x11, x12, x21, ...).
class Slcp : public Benchmark {
 public:
  Slcp() : Benchmark("slcp", 5, 8) {}
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    fill_uniform(n * 5, -3.0, 3.0, rng, theta);
  }
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int64_t i = 0; i < n; ++i) {
      const double* t = theta + 5 * i;
      const double s1 = t[2] * t[2], s2 = t[3] * t[3], rho = std::tanh(t[4]);
      const double c11 = s1 * s1 + 1e-6, c22 = s2 * s2 + 1e-6, c12 = rho * s1 * s2;
      // Cholesky factor of the covariance
      const double l11 = std::sqrt(c11), l21 = c12 / l11;
      const double l22 = std::sqrt(std::max(c22 - l21 * l21, 0.0));
      for (int k = 0; k < 4; ++k) {
        const double z1 = normal(rng), z2 = normal(rng);
        x[8 * i + 2 * k] = t[0] + l11 * z1;
        x[8 * i + 2 * k + 1] = t[1] + l21 * z1 + l22 * z2;
      }
    }
  }
};

// gaussian_mixture: theta ~ U(-10, 10)^2; x ~ 0.5 N(theta, I) + 0.5 N(theta, 0.01 I).
class GaussianMixture : public Benchmark {
 public:
  GaussianMixture() : Benchmark("gaussian_mixture", 2, 2) {}
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    fill_uniform(n * 2, -10.0, 10.0, rng, theta);
  }
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    std::normal_distribution<double> normal(0.0, 1.0);
    std::bernoulli_distribution coin(0.5);
    for (int64_t i = 0; i < n; ++i) {
      const double sd = coin(rng) ? 1.0 : 0.1;
      x[2 * i] = theta[2 * i] + sd * normal(rng);
      x[2 * i + 1] = theta[2 * i + 1] + sd * normal(rng);
    }
  }
};

// inverse_kinematics: theta ~ N(0, diag(1/16, 1/4, 1/4, 1/4)); a planar arm
// with segments 0.5, 0.5, 1 on a rail at height theta_1; x = its end point.
class InverseKinematics : public Benchmark {
 public:
  InverseKinematics() : Benchmark("inverse_kinematics", 4, 2) {}
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    std::normal_distribution<double> normal(0.0, 1.0);
    const double sd[4] = {0.25, 0.5, 0.5, 0.5};
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < 4; ++j) theta[4 * i + j] = sd[j] * normal(rng);
  }
  void simulate(int64_t n, const double* theta, Rng& /*rng*/, double* x) const override {
    for (int64_t i = 0; i < n; ++i) {
      const double* t = theta + 4 * i;
      const double a = t[1], b = t[1] + t[2], c = t[1] + t[2] + t[3];
      x[2 * i] = t[0] + 0.5 * std::sin(a) + 0.5 * std::sin(b) + std::sin(c);
      x[2 * i + 1] = 0.5 * std::cos(a) + 0.5 * std::cos(b) + std::cos(c);
    }
  }
};

// SplitMix64: decorrelated stream seeds from (seed, chunk).
uint64_t mix_seed(uint64_t seed, uint64_t chunk) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (chunk + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<std::string> benchmark_simulator_names() {
  return {"gaussian_linear", "two_moons", "slcp", "gaussian_mixture", "inverse_kinematics"};
}

std::unique_ptr<Simulator> make_benchmark_simulator(const std::string& name) {
  if (name == "gaussian_linear") return std::make_unique<GaussianLinear>();
  if (name == "two_moons") return std::make_unique<TwoMoons>();
  if (name == "slcp") return std::make_unique<Slcp>();
  if (name == "gaussian_mixture") return std::make_unique<GaussianMixture>();
  if (name == "inverse_kinematics") return std::make_unique<InverseKinematics>();
  std::string known;
  for (const auto& k : benchmark_simulator_names()) known += (known.empty() ? "" : ", ") + k;
  throw std::invalid_argument("unknown benchmark simulator \"" + name + "\"; available: " + known);
}

Simulations simulate(const Simulator& sim, int64_t n, uint64_t seed, int threads) {
  if (n < 1) throw std::invalid_argument("the number of simulations must be >= 1");
  if (threads < 1) throw std::invalid_argument("the number of threads must be >= 1");
  const int64_t dt = sim.dim_theta(), dx = sim.dim_x();
  Simulations out;
  out.n = n;
  out.theta.resize(static_cast<size_t>(n * dt));
  out.x.resize(static_cast<size_t>(n * dx));
  const int64_t n_chunks = (n + kSimulationChunk - 1) / kSimulationChunk;
  std::atomic<int64_t> next{0};
  auto worker = [&]() {
    for (int64_t c = next++; c < n_chunks; c = next++) {
      const int64_t start = c * kSimulationChunk, len = std::min(kSimulationChunk, n - start);
      Rng rng(mix_seed(seed, static_cast<uint64_t>(c)));
      sim.sample_prior(len, rng, out.theta.data() + start * dt);
      sim.simulate(len, out.theta.data() + start * dt, rng, out.x.data() + start * dx);
    }
  };
  const int64_t used = std::min<int64_t>(threads, n_chunks);
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < used; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
  return out;
}

}  // namespace amortized
