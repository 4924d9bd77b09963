// The benchmark tasks with closed-form simulators.
#include "benchmark.h"
#include "../lanes.h"
#include "lane_random.h"

#include <algorithm>
#include <cmath>

namespace amortized {
namespace benchmarks {

namespace {

// gaussian_linear: theta ~ N(0, 0.1 I_10), x | theta ~ N(theta, 0.1 I_10)
// (variances). Exact posterior: N(x / 2, 0.05 I_10).
class GaussianLinear : public Benchmark {
 public:
  GaussianLinear() : Benchmark("gaussian_linear", 10, 10) {}
  void log_prior(int64_t n, const double* theta, double* out) const override {
    independent_log_prior(n, theta, std::vector<Marginal>(10, Marginal::normal(0.0, std::sqrt(0.1))), out);
  }
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    random_lanes::LaneRng lane_rng(rng);
    random_lanes::fill_normals(lane_rng, theta, n * 10);
    const double sd = std::sqrt(0.1);
    for (int64_t i = 0; i < n * 10; ++i) theta[i] *= sd;
  }
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    random_lanes::LaneRng lane_rng(rng);
    random_lanes::fill_normals(lane_rng, x, n * 10);
    const double sd = std::sqrt(0.1);
    for (int64_t i = 0; i < n * 10; ++i) x[i] = theta[i] + sd * x[i];
  }
  bool log_likelihood(int64_t n, const double* theta, const double* x, double* out) const override {
    const Marginal noise = Marginal::normal(0.0, std::sqrt(0.1));
    for (int64_t i = 0; i < n; ++i) {
      double s = 0.0;
      for (int k = 0; k < 10; ++k) s += noise.log_density(x[i * 10 + k] - theta[i * 10 + k]);
      out[i] = s;
    }
    return true;
  }
};

// The data of kLanes parameter vectors (t1, t2) (inlined into each clone).
AMORTIZED_ALWAYS_INLINE void two_moons_points(const random_lanes::D& t1, const random_lanes::D& t2,
                                              random_lanes::LaneRng& rng, random_lanes::D& x1, random_lanes::D& x2) {
  random_lanes::D sin_a, cos_a;
  random_lanes::sincos_half_turn((rng.uniform() - 0.5) * M_PI, sin_a, cos_a);
  const random_lanes::D r = 0.1 + 0.01 * rng.normal();
  const double s = 1.0 / std::sqrt(2.0);
  x1 = r * cos_a + 0.25 - random_lanes::vabs(t1 + t2) * s;
  x2 = r * sin_a + (t2 - t1) * s;
}

// two_moons draws random_lanes::kLanes rows at a time (lane_random.h), compiled
// for AVX-512, AVX2 and the baseline, picked at run time: it is so cheap that
// scalar random numbers would dominate.
AMORTIZED_ALWAYS_INLINE void two_moons_prior_kernel(int64_t n, Rng& rng, double* theta) {
  random_lanes::LaneRng lane_rng(rng);
  random_lanes::fill_uniform_lanes(n * 2, -1.0, 1.0, lane_rng, theta);
}
AMORTIZED_SIMD_KERNEL(void, two_moons_prior, (int64_t n, Rng& rng, double* theta), (n, rng, theta))
AMORTIZED_ALWAYS_INLINE void two_moons_data_kernel(int64_t n, const double* theta, Rng& rng, double* x) {
  using random_lanes::D;
  using random_lanes::kLanes;
  random_lanes::LaneRng lane_rng(rng);
  for (int64_t i0 = 0; i0 < n; i0 += kLanes) {
    const int m = static_cast<int>(std::min<int64_t>(kLanes, n - i0));
    D t1 = {}, t2 = {};
    for (int l = 0; l < m; ++l) {
      t1.set(l, theta[2 * (i0 + l)]);
      t2.set(l, theta[2 * (i0 + l) + 1]);
    }
    D x1, x2;
    two_moons_points(t1, t2, lane_rng, x1, x2);
    for (int l = 0; l < m; ++l) {
      x[2 * (i0 + l)] = x1[l];
      x[2 * (i0 + l) + 1] = x2[l];
    }
  }
}
AMORTIZED_SIMD_KERNEL(void, two_moons_data, (int64_t n, const double* theta, Rng& rng, double* x), (n, theta, rng, x))

// Both at once (Simulator::simulate_columns): the same draws as
// two_moons_prior() then two_moons_data(), written to columns theta, theta +
// ld, x, x + ld.
AMORTIZED_ALWAYS_INLINE bool two_moons_columns_kernel(int64_t n, Rng& rng, double* theta, double* x, int64_t ld) {
  using random_lanes::D;
  using random_lanes::kLanes;
  random_lanes::LaneRng prior_rng(rng);  // seeded in the order of the two calls
  random_lanes::LaneRng data_rng(rng);
  const bool stream = ld >= kStreamRows;
  D check = {};  // 0, or NaN after a non-finite value
  for (int64_t i0 = 0; i0 < n; i0 += kLanes) {
    const int m = static_cast<int>(std::min<int64_t>(kLanes, n - i0));
    // the prior's uniforms fill rows (t1, t2) in order, kLanes values at a time
    const D lo = -1.0 + 2.0 * prior_rng.uniform(), hi = -1.0 + 2.0 * prior_rng.uniform();
    const D t1 = random_lanes::evens(lo, hi), t2 = random_lanes::odds(lo, hi);
    D x1, x2;
    two_moons_points(t1, t2, data_rng, x1, x2);
    check += (x1 + x2) * 0.0;
    random_lanes::store_lanes(theta + i0, t1, m, stream);
    random_lanes::store_lanes(theta + ld + i0, t2, m, stream);
    random_lanes::store_lanes(x + i0, x1, m, stream);
    random_lanes::store_lanes(x + ld + i0, x2, m, stream);
  }
  double sum = 0.0;
  for (int l = 0; l < kLanes; ++l) sum += check[l];
  return sum == 0.0;
}
AMORTIZED_SIMD_KERNEL(bool, two_moons_columns, (int64_t n, Rng& rng, double* theta, double* x, int64_t ld), (n, rng, theta, x, ld))

// two_moons: theta ~ U(-1, 1)^2; a ~ U(-pi/2, pi/2), r ~ N(0.1, 0.01^2),
// p = (r cos a + 0.25, r sin a); x = p + (-|t1 + t2| / sqrt 2, (t2 - t1) / sqrt 2).
class TwoMoons : public Benchmark {
 public:
  TwoMoons() : Benchmark("two_moons", 2, 2) {}
  void log_prior(int64_t n, const double* theta, double* out) const override {
    independent_log_prior(n, theta, std::vector<Marginal>(2, Marginal::uniform(-1.0, 1.0)), out);
  }
  Support prior_support() const override { return box(2, -1.0, 1.0); }
  std::vector<int64_t> truncated_parameters() const override { return {0, 1}; }
  // x depends on |t1 + t2| and t2 - t1, both unchanged by (t1, t2) -> (-t2, -t1)
  std::vector<std::vector<double>> reflections() const override {
    const double r = 1.0 / std::sqrt(2.0);
    return {{r, r}};
  }
  // swapping t1 and t2 flips t2 - t1, and x_2 along with it (sin a is even in law)
  std::vector<Equivariance> equivariances() const override { return {{{2, 1}, {1, -2}}}; }
  void sample_prior(int64_t n, Rng& rng, double* theta) const override { two_moons_prior(n, rng, theta); }
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    two_moons_data(n, theta, rng, x);
  }
  bool simulate_columns(int64_t n, Rng& rng, double* theta, double* x, int64_t ld, bool* finite) const override {
    *finite = two_moons_columns(n, rng, theta, x, ld);
    return true;
  }
};

// slcp: theta ~ U(-3, 3)^5; mean (t1, t2), sds s1 = t3^2, s2 = t4^2,
// correlation tanh(t5); covariance [[s1^2 + 1e-6, rho s1 s2], [rho s1 s2,
// s2^2 + 1e-6]]; x = 4 iid 2-d draws flattened (x11, x12, x21, ...).
class Slcp : public Benchmark {
 public:
  Slcp() : Benchmark("slcp", 5, 8) {}
  std::vector<int64_t> set_structure() const override { return {4, 2}; }
  // the covariance depends on t3 and t4 only through their squares
  std::vector<int64_t> symmetric_parameters() const override { return {2, 3}; }
  // The prior box and the normal family are unchanged by flipping a
  // coordinate of the points (its mean flips, and so does the correlation)
  // and by swapping the coordinates (means and scales swap).
  std::vector<Equivariance> equivariances() const override {
    return {{{-1, 2, 3, 4, -5}, {-1, 2}}, {{1, -2, 3, 4, -5}, {1, -2}}, {{2, 1, 4, 3, 5}, {2, 1}}};
  }
  Support prior_support() const override { return box(5, -3.0, 3.0); }
  void log_prior(int64_t n, const double* theta, double* out) const override {
    independent_log_prior(n, theta, std::vector<Marginal>(5, Marginal::uniform(-3.0, 3.0)), out);
  }
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    random_lanes::LaneRng lane_rng(rng);
    random_lanes::fill_uniform_lanes(n * 5, -3.0, 3.0, lane_rng, theta);
  }
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    random_lanes::NormalStream normal(rng);
    for (int64_t i = 0; i < n; ++i) {
      const double* t = theta + 5 * i;
      const double s1 = t[2] * t[2], s2 = t[3] * t[3], rho = std::tanh(t[4]);
      const double c11 = s1 * s1 + 1e-6, c22 = s2 * s2 + 1e-6, c12 = rho * s1 * s2;
      // Cholesky factor of the covariance
      const double l11 = std::sqrt(c11), l21 = c12 / l11;
      const double l22 = std::sqrt(std::max(c22 - l21 * l21, 0.0));
      for (int k = 0; k < 4; ++k) {
        const double z1 = normal(), z2 = normal();
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
  Support prior_support() const override { return box(2, -10.0, 10.0); }
  void log_prior(int64_t n, const double* theta, double* out) const override {
    independent_log_prior(n, theta, std::vector<Marginal>(2, Marginal::uniform(-10.0, 10.0)), out);
  }
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    random_lanes::LaneRng lane_rng(rng);
    random_lanes::fill_uniform_lanes(n * 2, -10.0, 10.0, lane_rng, theta);
  }
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    random_lanes::NormalStream normal(rng);
    for (int64_t i = 0; i < n; ++i) {
      const double sd = rng() >> 63 ? 1.0 : 0.1;  // a fair coin
      x[2 * i] = theta[2 * i] + sd * normal();
      x[2 * i + 1] = theta[2 * i + 1] + sd * normal();
    }
  }
  // log(0.5 N(x; theta, I) + 0.5 N(x; theta, 0.01 I)), by log-sum-exp.
  bool log_likelihood(int64_t n, const double* theta, const double* x, double* out) const override {
    constexpr double kLog2Pi = 1.83787706640934548356;
    for (int64_t i = 0; i < n; ++i) {
      const double d1 = x[2 * i] - theta[2 * i], d2 = x[2 * i + 1] - theta[2 * i + 1];
      const double r2 = d1 * d1 + d2 * d2;
      const double wide = -0.5 * r2 - kLog2Pi, narrow = -50.0 * r2 - kLog2Pi + 2.0 * std::log(10.0);
      const double top = std::max(wide, narrow);
      out[i] = std::log(0.5) + top + std::log(std::exp(wide - top) + std::exp(narrow - top));
    }
    return true;
  }
};

// inverse_kinematics: theta ~ N(0, diag(1/16, 1/4, 1/4, 1/4)); a planar arm
// with segments 0.5, 0.5, 1 on a rail at height theta_1; x = its end point.
class InverseKinematics : public Benchmark {
 public:
  InverseKinematics() : Benchmark("inverse_kinematics", 4, 2) {}
  void log_prior(int64_t n, const double* theta, double* out) const override {
    independent_log_prior(n, theta,
                          {Marginal::normal(0.0, 0.25), Marginal::normal(0.0, 0.5), Marginal::normal(0.0, 0.5),
                           Marginal::normal(0.0, 0.5)},
                          out);
  }
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    random_lanes::LaneRng lane_rng(rng);
    random_lanes::fill_normals(lane_rng, theta, n * 4);
    const double sd[4] = {0.25, 0.5, 0.5, 0.5};
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < 4; ++j) theta[4 * i + j] *= sd[j];
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

}  // namespace

std::unique_ptr<Simulator> make_analytic(const std::string& name) {
  if (name == "gaussian_linear") return std::make_unique<GaussianLinear>();
  if (name == "two_moons") return std::make_unique<TwoMoons>();
  if (name == "slcp") return std::make_unique<Slcp>();
  if (name == "gaussian_mixture") return std::make_unique<GaussianMixture>();
  if (name == "inverse_kinematics") return std::make_unique<InverseKinematics>();
  return nullptr;
}

}  // namespace benchmarks
}  // namespace amortized
