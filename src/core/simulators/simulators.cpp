#include "amortized/simulators/simulator.h"

#include <cmath>
#include <stdexcept>

namespace amortized {

namespace {

std::vector<std::string> numbered(const std::string& stem, int64_t n) {
  std::vector<std::string> out;
  for (int64_t i = 1; i <= n; ++i) out.push_back(stem + std::to_string(i));
  return out;
}

// gaussian_linear: theta ~ N(0, 0.1 I_10), x | theta ~ N(theta, 0.1 I_10)
// (variances). Exact posterior: N(x / 2, 0.05 I_10).
class GaussianLinear : public Simulator {
 public:
  std::string name() const override { return "gaussian_linear"; }
  std::vector<std::string> parameter_names() const override { return numbered("theta_", 10); }
  std::vector<std::string> data_names() const override { return numbered("x_", 10); }
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    std::normal_distribution<double> normal(0.0, std::sqrt(0.1));
    for (int64_t i = 0; i < n * 10; ++i) theta[i] = normal(rng);
  }
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    std::normal_distribution<double> normal(0.0, std::sqrt(0.1));
    for (int64_t i = 0; i < n * 10; ++i) x[i] = theta[i] + normal(rng);
  }
};

}  // namespace

std::vector<std::string> benchmark_simulator_names() { return {"gaussian_linear"}; }

std::unique_ptr<Simulator> make_benchmark_simulator(const std::string& name) {
  if (name == "gaussian_linear") return std::make_unique<GaussianLinear>();
  std::string known;
  for (const auto& k : benchmark_simulator_names()) known += (known.empty() ? "" : ", ") + k;
  throw std::invalid_argument("unknown benchmark simulator \"" + name + "\"; available: " + known);
}

Simulations simulate(const Simulator& sim, int64_t n, uint64_t seed) {
  if (n < 1) throw std::invalid_argument("the number of simulations must be >= 1");
  Simulations out;
  out.n = n;
  out.theta.resize(static_cast<size_t>(n * sim.dim_theta()));
  out.x.resize(static_cast<size_t>(n * sim.dim_x()));
  Rng rng(seed);
  sim.sample_prior(n, rng, out.theta.data());
  sim.simulate(n, out.theta.data(), rng, out.x.data());
  return out;
}

}  // namespace amortized
