// ddm: the drift-diffusion model of two-choice response times, a data set
// of n_obs trials (response time, choice) per parameter vector.
#include "benchmark.h"
#include "lane_random.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace amortized {
namespace benchmarks {

namespace {

constexpr double kDt = 1e-3;       // Euler-Maruyama step (seconds)
constexpr double kMaxTime = 20.0;  // a trial still undecided after this is NaN

// Parameters: drift v ~ U(-3, 3), boundary separation a ~ U(0.5, 2),
// relative starting point z ~ U(0.3, 0.7), non-decision time t0 ~ U(0.1, 0.5).
// Evidence starts at z a and moves by v dt + sqrt(dt) N(0, 1) until it
// leaves (0, a); rt = decision time + t0, choice = 1 at the upper boundary.
class Ddm : public Benchmark {
 public:
  explicit Ddm(int64_t n_obs) : Benchmark("ddm", {"v", "a", "z", "t0"}, {"rt", "choice"}), n_obs_(n_obs) {
    if (n_obs < 1) throw std::invalid_argument("ddm: n_obs must be >= 1");
  }
  std::vector<int64_t> data_shape() const override { return {n_obs_, 2}; }
  int64_t chunk_size() const override { return 8; }
  Support prior_support() const override { return {{-3.0, 0.5, 0.3, 0.1}, {3.0, 2.0, 0.7, 0.5}}; }
  void log_prior(int64_t n, const double* theta, double* out) const override {
    independent_log_prior(n, theta,
                          {Marginal::uniform(-3.0, 3.0), Marginal::uniform(0.5, 2.0), Marginal::uniform(0.3, 0.7),
                           Marginal::uniform(0.1, 0.5)},
                          out);
  }

  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    std::uniform_real_distribution<double> v(-3.0, 3.0), a(0.5, 2.0), z(0.3, 0.7), t0(0.1, 0.5);
    for (int64_t i = 0; i < n; ++i) {
      theta[4 * i] = v(rng);
      theta[4 * i + 1] = a(rng);
      theta[4 * i + 2] = z(rng);
      theta[4 * i + 3] = t0(rng);
    }
  }

  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    random_lanes::NormalStream normal(rng);
    const double sd = std::sqrt(kDt);
    const int64_t max_steps = static_cast<int64_t>(kMaxTime / kDt);
    for (int64_t i = 0; i < n; ++i) {
      const double v = theta[4 * i], a = theta[4 * i + 1], z = theta[4 * i + 2], t0 = theta[4 * i + 3];
      const double step = v * kDt;
      for (int64_t j = 0; j < n_obs_; ++j) {
        double e = z * a;
        int64_t s = 0;
        while (e > 0.0 && e < a && s < max_steps) {
          e += step + sd * normal();
          ++s;
        }
        double* out = x + (i * n_obs_ + j) * 2;
        const bool decided = e <= 0.0 || e >= a;
        out[0] = decided ? static_cast<double>(s) * kDt + t0 : std::numeric_limits<double>::quiet_NaN();
        out[1] = e >= a ? 1.0 : 0.0;
      }
    }
  }

 private:
  int64_t n_obs_;
};

}  // namespace

std::unique_ptr<Simulator> make_ddm(int64_t n_obs) { return std::make_unique<Ddm>(n_obs); }

}  // namespace benchmarks
}  // namespace amortized
