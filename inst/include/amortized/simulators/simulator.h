// Benchmark simulators: prior + model pairs written without LibTorch, on
// plain row-major arrays, so they compile fast and run anywhere.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace amortized {

using Rng = std::mt19937_64;

class Simulator {
 public:
  virtual ~Simulator() = default;
  virtual std::string name() const = 0;
  virtual std::vector<std::string> parameter_names() const = 0;
  virtual std::vector<std::string> data_names() const = 0;
  // Writes n prior draws, row-major: theta[i * dim_theta + j].
  virtual void sample_prior(int64_t n, Rng& rng, double* theta) const = 0;
  // Writes one data set per row of theta, row-major: x[i * dim_x + k].
  virtual void simulate(int64_t n, const double* theta, Rng& rng, double* x) const = 0;

  int64_t dim_theta() const { return static_cast<int64_t>(parameter_names().size()); }
  int64_t dim_x() const { return static_cast<int64_t>(data_names().size()); }
};

// Throws std::invalid_argument for an unknown name.
std::unique_ptr<Simulator> make_benchmark_simulator(const std::string& name);
// Names accepted by make_benchmark_simulator().
std::vector<std::string> benchmark_simulator_names();

// n joint draws (theta from the prior, x from the model), seeded.
struct Simulations {
  int64_t n = 0;
  std::vector<double> theta, x;  // row-major [n, dim_theta], [n, dim_x]
};
// Rows are simulated in chunks of kSimulationChunk, each with its own
// random stream derived from (seed, chunk index), spread over `threads`
// threads: the result depends on the seed only, not on the thread count.
constexpr int64_t kSimulationChunk = 1024;
Simulations simulate(const Simulator& sim, int64_t n, uint64_t seed, int threads = 1);

}  // namespace amortized
