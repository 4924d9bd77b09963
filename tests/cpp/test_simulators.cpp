// Benchmark simulators: shapes, finiteness, moments or known values, seeds
// and thread-count independence. No LibTorch in this file.
#include "amortized/simd.h"
#include "amortized/simulators/simulator.h"
#include "../../src/core/simulators/lane_random.h"

#include <gtest/gtest.h>

#include <chrono>

#include <cmath>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <string>

using namespace amortized;

namespace {

double mean_of(const std::vector<double>& v, int64_t dim, int64_t col) {
  double s = 0;
  int64_t n = static_cast<int64_t>(v.size()) / dim;
  for (int64_t i = 0; i < n; ++i) s += v[i * dim + col];
  return s / static_cast<double>(n);
}

double var_of(const std::vector<double>& v, int64_t dim, int64_t col) {
  const double m = mean_of(v, dim, col);
  double s = 0;
  int64_t n = static_cast<int64_t>(v.size()) / dim;
  for (int64_t i = 0; i < n; ++i) s += (v[i * dim + col] - m) * (v[i * dim + col] - m);
  return s / static_cast<double>(n - 1);
}

// A simulator's model run on one fixed parameter vector, n times.
std::vector<double> at_theta(const Simulator& sim, const std::vector<double>& theta, int64_t n,
                             uint64_t seed) {
  std::vector<double> th, x(static_cast<size_t>(n * sim.dim_x()));
  for (int64_t i = 0; i < n; ++i) th.insert(th.end(), theta.begin(), theta.end());
  Rng rng(seed);
  sim.simulate(n, th.data(), rng, x.data());
  return x;
}

// The design matrix of bernoulli_glm as shipped with the package.
std::vector<double> glm_design() {
  std::vector<double> out;
  FILE* f = std::fopen(AMORTIZED_SOURCE_DIR "/inst/extdata/bernoulli_glm_design_matrix.csv", "r");
  if (!f) return out;
  double v;
  while (std::fscanf(f, "%lf", &v) == 1) {
    out.push_back(v);
    std::fscanf(f, ",");
  }
  std::fclose(f);
  return out;
}

// A benchmark simulator with the options it needs (ddm with 10 trials).
std::unique_ptr<Simulator> make(const std::string& name) {
  BenchmarkOptions options;
  options.n_obs = 10;
  if (name == "bernoulli_glm") options.design = glm_design();
  return make_benchmark_simulator(name, options);
}

class EverySimulator : public ::testing::TestWithParam<std::string> {};

TEST_P(EverySimulator, ShapesFinitenessSeedsAndThreads) {
  auto sim = make(GetParam());
  EXPECT_EQ(sim->name(), GetParam());
  const int64_t n = 2500;  // several chunks
  auto s = simulate(*sim, n, 7, 1);
  ASSERT_EQ(s.theta.size(), static_cast<size_t>(n * sim->dim_theta()));
  ASSERT_EQ(s.x.size(), static_cast<size_t>(n * sim->dim_x()));
  // Every parameter is finite; data rows are finite, or (a failed ODE solve)
  // NaN as a whole, and rarely.
  for (double v : s.theta) ASSERT_TRUE(std::isfinite(v));
  int64_t nan_rows = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t finite = 0;
    for (int64_t k = 0; k < sim->dim_x(); ++k) finite += std::isfinite(s.x[i * sim->dim_x() + k]);
    ASSERT_TRUE(finite == sim->dim_x() || finite == 0) << "row " << i;
    nan_rows += finite == 0;
  }
  EXPECT_LE(nan_rows, n / 200);
  auto two = simulate(*sim, n, 7, 2), three = simulate(*sim, n, 7, 3);
  // same seed, any thread count: same output (NaN compares unequal, so bytes)
  EXPECT_EQ(0, std::memcmp(s.x.data(), two.x.data(), s.x.size() * sizeof(double)));
  EXPECT_EQ(s.theta, three.theta);
  EXPECT_NE(s.theta, simulate(*sim, n, 8, 2).theta);
}

TEST_P(EverySimulator, PriorDrawsAreInsideTheDeclaredSupportAndSymmetriesAreValid) {
  auto sim = make(GetParam());
  const auto support = sim->prior_support();
  const int64_t d = sim->dim_theta();
  ASSERT_TRUE(support.lower.empty() || (static_cast<int64_t>(support.lower.size()) == d &&
                                        static_cast<int64_t>(support.upper.size()) == d));
  auto s = simulate(*sim, 3000, 11, 1);
  // a finite support is tight: draws come within 2% of its width of both bounds
  for (size_t j = 0; j < support.lower.size(); ++j) {
    double lo = 1e300, hi = -1e300;
    for (int64_t i = 0; i < 3000; ++i) {
      const double v = s.theta[i * d + j];
      ASSERT_GT(v, support.lower[j]);
      ASSERT_LT(v, support.upper[j]);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const double width = support.upper[j] - support.lower[j];
    if (std::isfinite(width)) {
      EXPECT_LT(lo - support.lower[j], 0.02 * width) << "parameter " << j;
      EXPECT_LT(support.upper[j] - hi, 0.02 * width) << "parameter " << j;
    }
  }
  // a declared truncation: a parameter with finite bounds, whose model is
  // defined beyond them (the likelihood reaches past the box: finite data a
  // tenth of the width outside)
  for (int64_t j : sim->truncated_parameters()) {
    ASSERT_TRUE(j >= 0 && j < d);
    ASSERT_FALSE(support.lower.empty());
    ASSERT_TRUE(std::isfinite(support.lower[j]) && std::isfinite(support.upper[j])) << "parameter " << j;
    const double width = support.upper[j] - support.lower[j];
    for (double beyond : {support.lower[j] - 0.1 * width, support.upper[j] + 0.1 * width}) {
      std::vector<double> theta(100 * d), x(100 * sim->dim_x());
      for (int64_t i = 0; i < 100; ++i)
        for (int64_t k = 0; k < d; ++k) theta[i * d + k] = k == j ? beyond : s.theta[k];
      simulate_to(*sim, 100, 7, 1, theta.data(), x.data(), false, true);
      for (double v : x) ASSERT_TRUE(std::isfinite(v)) << "parameter " << j << " at " << beyond;
    }
  }
  // a declared mirror symmetry (a sign flip, or a reflection with a unit
  // normal n): it maps the support onto itself, and for fixed parameters the
  // data of theta and of its mirror image have the same distribution
  // (compared through means of tanh(x_k) and of tanh(x_k) tanh(x_l))
  std::vector<std::vector<double>> normals;
  for (int64_t j : sim->symmetric_parameters()) {
    ASSERT_TRUE(j >= 0 && j < d);
    normals.emplace_back(d, 0.0);
    normals.back()[j] = 1.0;
  }
  for (const auto& n : sim->reflections()) {
    ASSERT_EQ(static_cast<int64_t>(n.size()), d);
    double norm = 0;
    for (double v : n) norm += v * v;
    EXPECT_NEAR(norm, 1.0, 1e-12);
    normals.push_back(n);
  }
  auto mirror = [&](const std::vector<double>& n, const double* theta, double* out) {
    double dot = 0;
    for (int64_t k = 0; k < d; ++k) dot += n[k] * theta[k];
    for (int64_t k = 0; k < d; ++k) out[k] = theta[k] - 2 * dot * n[k];
  };
  const int64_t reps = 10000, dx = sim->dim_x();
  // two samples of reps data sets have the same law: the means of tanh(x_k)
  // and of tanh(x_k) tanh(x_l) agree
  auto expect_same_law = [&](const std::vector<double>& a, const std::vector<double>& b, const std::string& what) {
    for (int64_t k = 0; k < dx; ++k) {
      for (int64_t l = -1; l < k; ++l) {
        double ma = 0, mb = 0;
        for (int64_t i = 0; i < reps; ++i) {
          ma += std::tanh(a[i * dx + k]) * (l < 0 ? 1.0 : std::tanh(a[i * dx + l])) / reps;
          mb += std::tanh(b[i * dx + k]) * (l < 0 ? 1.0 : std::tanh(b[i * dx + l])) / reps;
        }
        EXPECT_NEAR(ma, mb, 0.06) << what << ", data values " << k << ", " << l;
      }
    }
  };
  for (size_t m = 0; m < normals.size(); ++m) {
    const auto& n = normals[m];
    if (!support.lower.empty()) {  // the support's corners (of the bounded box) map into it
      std::vector<double> corner(d), image(d);
      for (int64_t c = 0; c < (int64_t{1} << std::min<int64_t>(d, 10)); ++c) {
        for (int64_t k = 0; k < d; ++k) {
          const double lo = std::isfinite(support.lower[k]) ? support.lower[k] : -1.0;
          const double hi = std::isfinite(support.upper[k]) ? support.upper[k] : 1.0;
          corner[k] = (c >> (k % 10)) & 1 ? hi : lo;
        }
        mirror(n, corner.data(), image.data());
        for (int64_t k = 0; k < d; ++k) {
          if (std::isfinite(support.lower[k]) && std::isfinite(support.upper[k])) {
            EXPECT_GE(image[k], support.lower[k] - 1e-9) << "mirror " << m << ", corner " << c;
            EXPECT_LE(image[k], support.upper[k] + 1e-9) << "mirror " << m << ", corner " << c;
          }
        }
      }
    }
    for (int64_t p = 0; p < 4; ++p) {
      std::vector<double> theta(reps * d), flipped(reps * d), a(reps * dx), b(reps * dx);
      for (int64_t i = 0; i < reps; ++i) {
        for (int64_t k = 0; k < d; ++k) theta[i * d + k] = s.theta[p * d + k];
        mirror(n, &theta[i * d], &flipped[i * d]);
      }
      simulate_to(*sim, reps, 5, 2, theta.data(), a.data(), false, true);
      simulate_to(*sim, reps, 6, 2, flipped.data(), b.data(), false, true);
      expect_same_law(a, b, "mirror " + std::to_string(m) + " at draw " + std::to_string(p));
    }
  }
  // a declared equivariance g: signed permutations of the parameters and of
  // the data values (each point's, for sets); g maps the support onto
  // itself, and the data of g theta have the distribution of g applied to
  // the data of theta
  const auto set = sim->set_structure();
  const int64_t per_point = set.size() == 2 ? set[1] : dx, points = dx / per_point;
  auto apply = [](const std::vector<int64_t>& g, const double* v, double* out) {
    for (size_t i = 0; i < g.size(); ++i) out[i] = g[i] < 0 ? -v[-g[i] - 1] : v[g[i] - 1];
  };
  const auto equivariances = sim->equivariances();
  for (size_t m = 0; m < equivariances.size(); ++m) {
    const auto& e = equivariances[m];
    ASSERT_EQ(static_cast<int64_t>(e.theta.size()), d);
    ASSERT_EQ(static_cast<int64_t>(e.x.size()), per_point);
    ASSERT_EQ(points * per_point, dx);
    for (int64_t k = 0; k < d; ++k) {  // support: bounds move with their parameter (flipped with its sign)
      if (support.lower.empty()) break;
      const int64_t j = std::abs(e.theta[k]) - 1;
      const double lo = e.theta[k] < 0 ? -support.upper[j] : support.lower[j];
      const double hi = e.theta[k] < 0 ? -support.lower[j] : support.upper[j];
      EXPECT_EQ(lo, support.lower[k]) << "equivariance " << m << ", parameter " << k;
      EXPECT_EQ(hi, support.upper[k]) << "equivariance " << m << ", parameter " << k;
    }
    for (int64_t p = 0; p < 4; ++p) {
      std::vector<double> theta(reps * d), moved(reps * d), a(reps * dx), b(reps * dx), ga(dx);
      for (int64_t i = 0; i < reps; ++i) {
        for (int64_t k = 0; k < d; ++k) theta[i * d + k] = s.theta[p * d + k];
        apply(e.theta, &theta[i * d], &moved[i * d]);
      }
      simulate_to(*sim, reps, 5, 2, theta.data(), a.data(), false, true);
      simulate_to(*sim, reps, 6, 2, moved.data(), b.data(), false, true);
      for (int64_t i = 0; i < reps; ++i) {  // a <- g a
        for (int64_t q = 0; q < points; ++q) apply(e.x, &a[i * dx + q * per_point], &ga[q * per_point]);
        std::copy(ga.begin(), ga.end(), a.begin() + i * dx);
      }
      expect_same_law(a, b, "equivariance " + std::to_string(m) + " at draw " + std::to_string(p));
    }
  }
  for (size_t a = 0; a < normals.size(); ++a)  // orthogonal mirrors
    for (size_t b = a + 1; b < normals.size(); ++b) {
      double dot = 0;
      for (int64_t k = 0; k < d; ++k) dot += normals[a][k] * normals[b][k];
      EXPECT_NEAR(dot, 0.0, 1e-12) << "mirrors " << a << " and " << b;
    }
}

// The log prior is the normalized density of sample_prior(): for q uniform
// on a box B around the median (median +- IQR per parameter, cut to the
// support), E_prior[q / p] = integral of q over B = 1; and -infinity just
// outside a bounded support. (bernoulli_glm's correlated Gaussian makes q / p
// too heavy-tailed for this check: see BernoulliGlmLogPriorIsItsGaussian.)
TEST_P(EverySimulator, LogPriorIsTheNormalizedDensityOfThePriorDraws) {
  auto sim = make(GetParam());
  const int64_t d = sim->dim_theta(), n = 200000;
  std::vector<double> theta(n * d), lp(n);
  Rng rng(5);
  sim->sample_prior(n, rng, theta.data());
  sim->log_prior(n, theta.data(), lp.data());
  for (double v : lp) ASSERT_TRUE(std::isfinite(v));
  if (GetParam() == "bernoulli_glm") return;
  const auto support = sim->prior_support();
  std::vector<double> lo(d), hi(d);
  double log_volume = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    std::vector<double> col(n);
    for (int64_t i = 0; i < n; ++i) col[i] = theta[i * d + j];
    std::sort(col.begin(), col.end());
    const double med = col[n / 2], iqr = col[3 * n / 4] - col[n / 4];
    lo[j] = med - iqr;
    hi[j] = med + iqr;
    if (!support.lower.empty()) {
      lo[j] = std::max(lo[j], support.lower[j]);
      hi[j] = std::min(hi[j], support.upper[j]);
    }
    log_volume += std::log(hi[j] - lo[j]);
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    bool inside = true;
    for (int64_t j = 0; j < d && inside; ++j) inside = theta[i * d + j] >= lo[j] && theta[i * d + j] <= hi[j];
    if (inside) sum += std::exp(-log_volume - lp[i]);
  }
  EXPECT_NEAR(sum / n, 1.0, 0.05) << GetParam();
  if (!support.lower.empty()) {
    std::vector<double> out(theta.begin(), theta.begin() + d);
    for (int64_t j = 0; j < d; ++j) {
      if (!std::isfinite(support.lower[j])) continue;
      std::vector<double> t = out;
      t[j] = support.lower[j] - 0.01;
      double v = 0.0;
      sim->log_prior(1, t.data(), &v);
      EXPECT_EQ(v, -std::numeric_limits<double>::infinity()) << GetParam() << " parameter " << j;
    }
  }
}

// A Gaussian N(0, S) in d dimensions: -2 log p - d log(2 pi) - log|S| is
// chi-square with d degrees of freedom (mean d, variance 2d); |S| from the
// draws' sample covariance.
TEST(Simulators, BernoulliGlmLogPriorIsItsGaussian) {
  auto sim = make("bernoulli_glm");
  const int64_t d = sim->dim_theta(), n = 100000;
  std::vector<double> theta(n * d), lp(n);
  Rng rng(6);
  sim->sample_prior(n, rng, theta.data());
  sim->log_prior(n, theta.data(), lp.data());
  std::vector<double> cov(d * d, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b = 0; b < d; ++b) cov[a * d + b] += theta[i * d + a] * theta[i * d + b] / n;
  double log_det = 0.0;  // Cholesky of the sample covariance
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t k = 0; k < j; ++k) cov[j * d + j] -= cov[j * d + k] * cov[j * d + k];
    const double l = std::sqrt(cov[j * d + j]);
    log_det += 2.0 * std::log(l);
    cov[j * d + j] = l;
    for (int64_t i = j + 1; i < d; ++i) {
      for (int64_t k = 0; k < j; ++k) cov[i * d + j] -= cov[i * d + k] * cov[j * d + k];
      cov[i * d + j] /= l;
    }
  }
  double mean = 0.0, sq = 0.0;
  for (double v : lp) {
    const double q = -2.0 * v - d * std::log(2.0 * M_PI) - log_det;
    mean += q / n;
    sq += q * q / n;
  }
  EXPECT_NEAR(mean, static_cast<double>(d), 0.1);  // a wrong log |S| or quadratic form moves it
  EXPECT_NEAR(sq - mean * mean, 2.0 * d, 0.5);
}

TEST_P(EverySimulator, ColumnMajorOutputIsATransposeOfRowMajor) {
  auto sim = make(GetParam());
  const int64_t n = 1100, dt = sim->dim_theta(), dx = sim->dim_x();
  auto rows = simulate(*sim, n, 3, 1);
  std::vector<double> theta(n * dt), x(n * dx);
  simulate_to(*sim, n, 3, 2, theta.data(), x.data(), true);
  const auto shape = sim->data_shape();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < dt; ++j) ASSERT_EQ(theta[i + n * j], rows.theta[i * dt + j]);
    for (int64_t f = 0; f < dx; ++f) {
      // flat row-major f = (obs, var) for set data; R's [n, n_obs, dim] layout
      const int64_t col = shape.size() == 1 ? f : (f / shape[1]) + shape[0] * (f % shape[1]);
      const double a = x[i + n * col], b = rows.x[i * dx + f];
      ASSERT_TRUE(a == b || (std::isnan(a) && std::isnan(b)));
    }
  }
}

// Large outputs are written with streaming stores (from 2^16 rows): an odd
// row count starts the later columns off 16-byte alignment.
TEST(Simulators, LargeColumnMajorOutputMatchesRowMajor) {
  for (const std::string name : {"two_moons", "gaussian_linear"}) {
    auto sim = make(name);
    const int64_t n = 70001, dt = sim->dim_theta(), dx = sim->dim_x();
    auto rows = simulate(*sim, n, 4, 1);
    std::vector<double> theta(n * dt), x(n * dx);
    std::vector<int64_t> bad;
    simulate_to(*sim, n, 4, 2, theta.data(), x.data(), true, false, &bad);
    EXPECT_TRUE(bad.empty()) << name;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < dt; ++j) ASSERT_EQ(theta[i + n * j], rows.theta[i * dt + j]) << name;
      for (int64_t k = 0; k < dx; ++k) ASSERT_EQ(x[i + n * k], rows.x[i * dx + k]) << name;
    }
  }
}

// simulate_to() reports the rows with a non-finite parameter or data value,
// sorted, over threads and chunks, in both layouts.
TEST(Simulators, ReportsRowsWithNonFiniteValues) {
  auto sim = make_benchmark_simulator("gaussian_linear");
  const int64_t n = 70000;
  const std::vector<int64_t> planted = {3, 1024, 1025, 40000, 69999};
  for (bool column_major : {true, false}) {
    std::vector<double> theta(static_cast<size_t>(n * 10), 0.5), x(static_cast<size_t>(n * 10));
    auto at = [&](int64_t row, int64_t col) -> double& {
      return column_major ? theta[row + n * col] : theta[row * 10 + col];
    };
    at(3, 0) = NAN;
    at(1024, 9) = INFINITY;
    at(1025, 4) = -INFINITY;
    at(40000, 1) = NAN;
    at(69999, 9) = NAN;
    std::vector<int64_t> bad;
    simulate_to(*sim, n, 1, 3, theta.data(), x.data(), column_major, true, &bad);
    EXPECT_EQ(bad, planted) << (column_major ? "column-major" : "row-major");
  }
  // Failed ODE solves give NaN data rows: lotka_volterra reports exactly those.
  auto lv = make_benchmark_simulator("lotka_volterra");
  const int64_t m = 3000;
  std::vector<double> theta(static_cast<size_t>(m * 4)), x(static_cast<size_t>(m * 20));
  std::vector<int64_t> bad, expected;
  simulate_to(*lv, m, 9, 2, theta.data(), x.data(), false, false, &bad);
  for (int64_t i = 0; i < m; ++i)
    if (std::isnan(x[i * 20])) expected.push_back(i);
  EXPECT_EQ(bad, expected);
}

// A simulator with the column fast path whose data are NaN for every
// 1000th prior draw (theta counts up from 0 within each chunk).
class NanEveryThousand : public Simulator {
 public:
  std::string name() const override { return "nan_every_thousand"; }
  std::vector<std::string> parameter_names() const override { return {"t"}; }
  std::vector<std::string> data_names() const override { return {"x1", "x2"}; }
  void sample_prior(int64_t n, Rng& /*rng*/, double* theta) const override {
    for (int64_t i = 0; i < n; ++i) theta[i] = static_cast<double>(i);
  }
  void log_prior(int64_t n, const double* /*theta*/, double* out) const override {
    for (int64_t i = 0; i < n; ++i) out[i] = 0.0;
  }
  void simulate(int64_t n, const double* theta, Rng& /*rng*/, double* x) const override {
    for (int64_t i = 0; i < n; ++i) {
      x[2 * i] = theta[i];
      x[2 * i + 1] = static_cast<int64_t>(theta[i]) % 1000 == 999 ? NAN : 1.0;
    }
  }
  bool simulate_columns(int64_t n, Rng& rng, double* theta, double* x, int64_t ld, bool* finite) const override {
    ++column_calls;
    std::vector<double> t(n), rows(2 * n);
    sample_prior(n, rng, t.data());
    simulate(n, t.data(), rng, rows.data());
    *finite = true;
    for (int64_t i = 0; i < n; ++i) {
      theta[i] = t[i];
      x[i] = rows[2 * i];
      x[i + ld] = rows[2 * i + 1];
      *finite = *finite && !std::isnan(rows[2 * i + 1]);
    }
    return true;
  }
  mutable std::atomic<int> column_calls{0};
};

TEST(Simulators, ColumnFastPathReportsNonFiniteRows) {
  NanEveryThousand sim;
  const int64_t n = 5000;  // chunks of 1024: rows 999 and 1024 + 999, ...
  std::vector<double> theta(n), x(2 * n);
  std::vector<int64_t> bad;
  simulate_to(sim, n, 1, 2, theta.data(), x.data(), true, false, &bad);
  std::vector<int64_t> expected;
  for (int64_t c = 0; c * 1024 < n; ++c)
    if (c * 1024 + 999 < n) expected.push_back(c * 1024 + 999);
  EXPECT_EQ(bad, expected);
  EXPECT_EQ(sim.column_calls, 5);  // one per chunk
  EXPECT_EQ(theta[1030], 6.0);
  EXPECT_TRUE(std::isnan(x[n + 999]));
}

INSTANTIATE_TEST_SUITE_P(All, EverySimulator, ::testing::ValuesIn(benchmark_simulator_names()));

TEST(Simulators, UnknownNameAndBadArguments) {
  EXPECT_THROW(make_benchmark_simulator("nope"), std::invalid_argument);
  EXPECT_THROW(make_benchmark_simulator("bernoulli_glm"), std::invalid_argument);  // no design
  BenchmarkOptions bad;
  bad.n_obs = 0;
  EXPECT_THROW(make_benchmark_simulator("ddm", bad), std::invalid_argument);
  auto sim = make_benchmark_simulator("two_moons");
  EXPECT_THROW(simulate(*sim, 0, 1), std::invalid_argument);
  EXPECT_THROW(simulate(*sim, 10, 1, 0), std::invalid_argument);
}

// The random numbers in SIMD lanes behind the cheap simulators: (sin, cos),
// log and sqrt accurate to double rounding, and uniform and normal draws
// with the right law in every lane.
TEST(Simulators, LaneRandomNumbers) {
  namespace rl = amortized::benchmarks::random_lanes;
  constexpr int w = rl::kLanes;
  const double pi = 3.14159265358979323846;
  for (int i = 0; i <= 2000; i += w) {
    rl::D a;
    for (int l = 0; l < w; ++l) a.set(l, -pi / 2 + pi * std::min(i + l, 2000) / 2000.0);
    rl::D s, c;
    rl::sincos_half_turn(a, s, c);
    for (int l = 0; l < w; ++l) {
      ASSERT_NEAR(s[l], std::sin(a[l]), 5e-16) << a[l];
      ASSERT_NEAR(c[l], std::cos(a[l]), 5e-16) << a[l];
    }
  }
  Rng scalar(42);
  for (int i = 0; i < 4000; ++i) {
    rl::D u;
    for (int l = 0; l < w; ++l) u.set(l, i == 0 && l == 0 ? 0x1.0p-52 : i == 0 && l == 1 ? 1.0 : 1.0 - scalar.uniform());
    const rl::D lu = rl::log_unit(u);
    for (int l = 0; l < w; ++l) ASSERT_NEAR(lu[l], std::log(u[l]), 5e-16 * std::max(1.0, -std::log(u[l]))) << u[l];
  }
  for (int i = 0; i < 4000; ++i) {
    rl::D v;
    for (int l = 0; l < w; ++l) v.set(l, i == 0 ? (l == 0 ? 0.0 : l == 1 ? 0x1.0p-1000 : 1e300) : 80 * scalar.uniform());
    const rl::D r = rl::sqrt_nonneg(v);
    for (int l = 0; l < w; ++l) ASSERT_NEAR(r[l], std::sqrt(v[l]), 4e-16 * std::sqrt(v[l])) << v[l];
  }
  rl::LaneRng rng(scalar);
  const int n = 100000;
  std::vector<double> z, u;
  double lag = 0;  // lanes 0 and 1 side by side: uncorrelated
  for (int i = 0; i < n / w; ++i) {
    const rl::D draws = rng.normal(), unif = rng.uniform();
    lag += draws[0] * draws[1];
    for (int l = 0; l < w; ++l) {
      z.push_back(draws[l]);
      u.push_back(unif[l]);
      ASSERT_TRUE(unif[l] >= 0.0 && unif[l] < 1.0);
    }
  }
  EXPECT_NEAR(lag / (n / w), 0.0, 0.04);
  EXPECT_NEAR(mean_of(z, 1, 0), 0.0, 0.015);
  EXPECT_NEAR(var_of(z, 1, 0), 1.0, 0.02);
  EXPECT_NEAR(mean_of(u, 1, 0), 0.5, 0.005);
  // Kolmogorov-Smirnov distance to the standard normal (5% critical value
  // for n = 1e5: 0.0043)
  std::sort(z.begin(), z.end());
  double ks = 0;
  for (int i = 0; i < n; ++i) {
    const double cdf = 0.5 * std::erfc(-z[i] / std::sqrt(2.0));
    ks = std::max({ks, std::abs(cdf - static_cast<double>(i) / n), std::abs(cdf - static_cast<double>(i + 1) / n)});
  }
  EXPECT_LT(ks, 0.0055);
  // NormalStream hands out fill_normals()' draws one at a time, across its blocks
  Rng first(7), second(7);
  rl::NormalStream stream(first);
  rl::LaneRng lanes(second);
  std::vector<double> block(1500);
  rl::fill_normals(lanes, block.data(), 1500);
  for (double v : block) ASSERT_EQ(stream(), v);
}

TEST(Simulators, GaussianLinearMoments) {
  auto sim = make_benchmark_simulator("gaussian_linear");
  auto s = simulate(*sim, 20000, 3, 2);
  for (int j = 0; j < 10; ++j) {
    EXPECT_NEAR(var_of(s.theta, 10, j), 0.1, 0.01);
    EXPECT_NEAR(var_of(s.x, 10, j), 0.2, 0.015);
    EXPECT_NEAR(mean_of(s.x, 10, j), 0.0, 0.015);
  }
}

TEST(Simulators, TwoMoonsLiesOnACrescentAroundTheParameterOffset) {
  auto sim = make_benchmark_simulator("two_moons");
  const double t1 = 0.3, t2 = -0.6, s = 1 / std::sqrt(2.0);
  auto x = at_theta(*sim, {t1, t2}, 20000, 1);
  // p = x - offset must have radius ~ N(0.1, 0.01) and angle in (-pi/2, pi/2) around (0.25, 0)
  std::vector<double> r, angle;
  for (size_t i = 0; i < 20000; ++i) {
    const double px = x[2 * i] + std::abs(t1 + t2) * s - 0.25, py = x[2 * i + 1] - (t2 - t1) * s;
    r.push_back(std::hypot(px, py));
    angle.push_back(std::atan2(py, px));
    ASSERT_GE(px, -1e-12);
  }
  // the angle is U(-pi/2, pi/2): mean 0, variance pi^2 / 12, a quarter in (0, pi/4)
  const double pi = 3.14159265358979323846;
  EXPECT_NEAR(mean_of(angle, 1, 0), 0.0, 0.03);
  EXPECT_NEAR(var_of(angle, 1, 0), pi * pi / 12, 0.02);
  EXPECT_NEAR(std::count_if(angle.begin(), angle.end(), [&](double a) { return a > 0 && a < pi / 4; }) / 20000.0,
              0.25, 0.015);
  const double m = std::accumulate(r.begin(), r.end(), 0.0) / r.size();
  double v = 0;
  for (double ri : r) v += (ri - m) * (ri - m);
  EXPECT_NEAR(m, 0.1, 0.001);
  EXPECT_NEAR(std::sqrt(v / (r.size() - 1)), 0.01, 0.0005);
}

TEST(Simulators, SlcpPointsHaveTheStatedMeanAndCovariance) {
  auto sim = make_benchmark_simulator("slcp");
  const std::vector<double> t = {0.7, -1.5, 1.2, -0.9, 0.8};
  auto x = at_theta(*sim, t, 20000, 2);  // [20000, 8] = 4 points of 2
  // pool the 4 points: 80000 draws of a 2-d normal
  std::vector<double> pts(x.begin(), x.end());
  const double s1 = 1.44, s2 = 0.81, rho = std::tanh(0.8);
  EXPECT_NEAR(mean_of(pts, 2, 0), 0.7, 0.02);
  EXPECT_NEAR(mean_of(pts, 2, 1), -1.5, 0.02);
  EXPECT_NEAR(std::sqrt(var_of(pts, 2, 0)), s1, 0.02);
  EXPECT_NEAR(std::sqrt(var_of(pts, 2, 1)), s2, 0.02);
  double c = 0;
  const double m0 = mean_of(pts, 2, 0), m1 = mean_of(pts, 2, 1);
  for (size_t i = 0; i < pts.size() / 2; ++i) c += (pts[2 * i] - m0) * (pts[2 * i + 1] - m1);
  EXPECT_NEAR(c / (pts.size() / 2 - 1) / (s1 * s2), rho, 0.02);
}

TEST(Simulators, GaussianMixtureVariance) {
  auto sim = make_benchmark_simulator("gaussian_mixture");
  auto x = at_theta(*sim, {3.0, -4.0}, 40000, 3);
  EXPECT_NEAR(mean_of(x, 2, 0), 3.0, 0.015);
  EXPECT_NEAR(mean_of(x, 2, 1), -4.0, 0.015);
  EXPECT_NEAR(var_of(x, 2, 0), 0.505, 0.015);  // 0.5 * 1 + 0.5 * 0.01
}

TEST(Simulators, InverseKinematicsEndPoint) {
  auto sim = make_benchmark_simulator("inverse_kinematics");
  auto x = at_theta(*sim, {0.1, 0.0, 0.0, 0.0}, 1, 4);  // arm straight up
  EXPECT_NEAR(x[0], 0.1, 1e-12);
  EXPECT_NEAR(x[1], 2.0, 1e-12);
  const double pi = 3.14159265358979323846;
  x = at_theta(*sim, {0.0, pi / 2, 0.0, 0.0}, 1, 4);  // arm pointing along x
  EXPECT_NEAR(x[0], 2.0, 1e-12);
  EXPECT_NEAR(x[1], 0.0, 1e-12);
  auto s = simulate(*sim, 40000, 5, 2);
  EXPECT_NEAR(var_of(s.theta, 4, 0), 1.0 / 16, 0.003);
  EXPECT_NEAR(var_of(s.theta, 4, 1), 0.25, 0.01);
}

// Classic fixed-step RK4 with a tiny step: the reference the adaptive
// solver is compared with. f(x, dxdt) for a system without time.
template <class F>
std::vector<double> rk4_at(F f, std::vector<double> x, double h, const std::vector<double>& times) {
  std::vector<double> out;
  double t = 0;
  const size_t d = x.size();
  std::vector<double> k1(d), k2(d), k3(d), k4(d), tmp(d);
  for (double target : times) {
    const int64_t steps = static_cast<int64_t>(std::llround((target - t) / h));
    for (int64_t s = 0; s < steps; ++s) {
      f(x, k1);
      for (size_t j = 0; j < d; ++j) tmp[j] = x[j] + 0.5 * h * k1[j];
      f(tmp, k2);
      for (size_t j = 0; j < d; ++j) tmp[j] = x[j] + 0.5 * h * k2[j];
      f(tmp, k3);
      for (size_t j = 0; j < d; ++j) tmp[j] = x[j] + h * k3[j];
      f(tmp, k4);
      for (size_t j = 0; j < d; ++j) x[j] += h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
    }
    t = target;
    out.insert(out.end(), x.begin(), x.end());
  }
  return out;
}

TEST(Simulators, SirSolutionMatchesAFineFixedStepSolve) {
  std::vector<double> days;
  for (int k = 0; k < 10; ++k) days.push_back(17.0 * k);
  for (auto bg : {std::pair<double, double>{0.4, 0.125}, {0.8, 0.1}, {0.25, 0.15}}) {
    const double beta = bg.first, gamma = bg.second;
    auto f = [&](const std::vector<double>& x, std::vector<double>& d) {
      d[0] = -beta * x[0] * x[1];
      d[1] = beta * x[0] * x[1] - gamma * x[1];
      d[2] = gamma * x[1];
    };
    auto ref = rk4_at(f, {1 - 1e-6, 1e-6, 0}, 1e-3, days);
    auto got = sir_solution(beta, gamma);
    ASSERT_EQ(got.size(), 10u);
    for (int k = 0; k < 10; ++k) EXPECT_NEAR(got[k], ref[3 * k + 1], 1e-7 + 1e-6 * ref[3 * k + 1]) << k;
  }
  // The binomial counts: integers in [0, 1000] with mean 1000 I / N.
  auto sim = make("sir");
  auto x = at_theta(*sim, {0.4, 0.125}, 4000, 9);
  auto sol = sir_solution(0.4, 0.125);
  for (double v : x) ASSERT_TRUE(v >= 0 && v <= 1000 && v == std::floor(v));
  for (int k = 0; k < 10; ++k) {
    const double p = sol[k];
    EXPECT_NEAR(mean_of(x, 10, k), 1000 * p, 5 * std::sqrt(1000 * p * (1 - p) / 4000) + 1e-9) << k;
  }
}

TEST(Simulators, LotkaVolterraSolutionMatchesAFineFixedStepSolve) {
  std::vector<double> times;
  for (int k = 0; k < 10; ++k) times.push_back(2.1 * k);
  const std::vector<std::vector<double>> thetas = {
      {std::exp(-0.125), std::exp(-3.0), std::exp(-0.125), std::exp(-3.0)}, {1.2, 0.08, 0.6, 0.03}};
  for (const auto& th : thetas) {
    auto f = [&](const std::vector<double>& x, std::vector<double>& d) {
      d[0] = th[0] * x[0] - th[1] * x[0] * x[1];
      d[1] = -th[2] * x[1] + th[3] * x[0] * x[1];
    };
    auto ref = rk4_at(f, {30, 1}, 1e-4, times);
    auto got = lotka_volterra_solution(th.data());
    ASSERT_EQ(got.size(), 20u);
    for (int k = 0; k < 10; ++k) {
      EXPECT_NEAR(got[k], ref[2 * k], 1e-6 * (1 + ref[2 * k])) << "prey " << k;
      EXPECT_NEAR(got[10 + k], ref[2 * k + 1], 1e-6 * (1 + ref[2 * k + 1])) << "predator " << k;
    }
  }
  // Log-normal noise with sd 0.1 around the solution.
  auto sim = make("lotka_volterra");
  auto x = at_theta(*sim, thetas[0], 4000, 3);
  auto sol = lotka_volterra_solution(thetas[0].data());
  for (int k = 0; k < 20; ++k) {
    std::vector<double> logs;
    for (int i = 0; i < 4000; ++i) logs.push_back(std::log(x[20 * i + k]));
    EXPECT_NEAR(mean_of(logs, 1, 0), std::log(sol[k]), 0.01) << k;
    EXPECT_NEAR(std::sqrt(var_of(logs, 1, 0)), 0.1, 0.006) << k;
  }
}

TEST(Simulators, BernoulliGlmPriorPrecisionAndSufficientStatistics) {
  auto design = glm_design();
  ASSERT_EQ(design.size(), 1000u);
  auto sim = make("bernoulli_glm");
  // The prior precision, built here independently: E[theta' P theta] = 10.
  double d[9][9] = {}, f[9][9] = {}, p[10][10] = {};
  for (int i = 0; i < 9; ++i) {
    d[i][i] = 1;
    if (i > 0) d[i][i - 1] = -1;
  }
  for (int i = 0; i < 9; ++i)
    for (int j = 0; j < 9; ++j) {
      for (int k = 0; k < 9; ++k) f[i][j] += d[i][k] * d[k][j];
      if (i == j) f[i][j] += std::sqrt(i / 9.0);
    }
  p[0][0] = 0.5;
  for (int i = 0; i < 9; ++i)
    for (int j = 0; j < 9; ++j)
      for (int k = 0; k < 9; ++k) p[i + 1][j + 1] += f[k][i] * f[k][j];
  auto s = simulate(*sim, 20000, 4, 2);
  double quad = 0, quad2 = 0;
  for (int64_t i = 0; i < 20000; ++i) {
    double q = 0;
    for (int a = 0; a < 10; ++a)
      for (int b = 0; b < 10; ++b) q += s.theta[10 * i + a] * p[a][b] * s.theta[10 * i + b];
    quad += q;
    quad2 += q * q;
  }
  EXPECT_NEAR(quad / 20000, 10.0, 0.15);                            // chi-square(10) mean
  EXPECT_NEAR(quad2 / 20000 - std::pow(quad / 20000, 2), 20.0, 1.5);  // and variance
  // x = X' y: the spike count is an integer in [0, 100]; at theta = 0 every
  // step spikes with probability 1/2, so E[x] = colSums(X) / 2.
  auto x = at_theta(*sim, std::vector<double>(10, 0.0), 20000, 5);
  for (int64_t i = 0; i < 20000; ++i) ASSERT_TRUE(x[10 * i] >= 0 && x[10 * i] <= 100 && x[10 * i] == std::floor(x[10 * i]));
  for (int k = 0; k < 10; ++k) {
    double col = 0, sq = 0;
    for (int t = 0; t < 100; ++t) col += design[10 * t + k], sq += design[10 * t + k] * design[10 * t + k];
    EXPECT_NEAR(mean_of(x, 10, k), col / 2, 5 * std::sqrt(sq / 4 / 20000)) << k;
  }
}

TEST(Simulators, DdmChoiceProbabilityAndResponseTimes) {
  BenchmarkOptions options;
  options.n_obs = 4000;
  auto sim = make_benchmark_simulator("ddm", options);
  ASSERT_EQ(sim->data_shape(), (std::vector<int64_t>{4000, 2}));
  ASSERT_EQ(sim->dim_x(), 8000);
  const double v = 1.0, a = 1.5, z = 0.4, t0 = 0.3;
  auto x = at_theta(*sim, {v, a, z, t0}, 1, 6);
  double upper = 0, rt = 0;
  for (int j = 0; j < 4000; ++j) {
    ASSERT_GT(x[2 * j], t0);
    ASSERT_TRUE(x[2 * j + 1] == 0.0 || x[2 * j + 1] == 1.0);
    upper += x[2 * j + 1];
    rt += x[2 * j];
  }
  // Exact for a Wiener process: P(upper) = (1 - exp(-2 v z a)) / (1 - exp(-2 v a)),
  // E[T] = (a P(upper) - z a) / v.
  const double p_up = (1 - std::exp(-2 * v * z * a)) / (1 - std::exp(-2 * v * a));
  EXPECT_NEAR(upper / 4000, p_up, 0.03);
  EXPECT_NEAR(rt / 4000 - t0, (a * p_up - z * a) / v, 0.04);
}

}  // namespace

// Plausibility of the reference observations in ../shared/reference: data
// simulated at the true parameters must reproduce each observation.
namespace {

std::vector<double> read_csv_row(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return {};
  char line[4096];
  std::vector<double> out;
  if (std::fgets(line, sizeof line, f) && std::fgets(line, sizeof line, f)) {
    char* p = line;
    while (*p) {
      char* end;
      const double v = std::strtod(p, &end);
      if (end == p) break;
      out.push_back(v);
      p = (*end == ',') ? end + 1 : end;
    }
  }
  std::fclose(f);
  return out;
}

std::string reference_dir(const std::string& task, int k) {
  return std::string(AMORTIZED_SOURCE_DIR) + "/../shared/reference/" + task + "/num_observation_" +
         std::to_string(k) + "/";
}

}  // namespace

TEST(SimulatorsReference, TwoMoonsObservationsLieOnTheSimulatedCrescent) {
  auto sim = make_benchmark_simulator("two_moons");
  for (int k = 1; k <= 5; ++k) {
    auto obs = read_csv_row(reference_dir("two_moons", k) + "observation.csv");
    auto theta = read_csv_row(reference_dir("two_moons", k) + "true_parameters.csv");
    if (obs.empty() || theta.empty()) GTEST_SKIP() << "../shared/reference is absent";
    auto x = at_theta(*sim, theta, 20000, k);
    double best = 1e300;
    for (size_t i = 0; i < 20000; ++i) best = std::min(best, std::hypot(x[2 * i] - obs[0], x[2 * i + 1] - obs[1]));
    EXPECT_LT(best, 0.005) << "observation " << k;
  }
}

TEST(SimulatorsReference, SlcpObservationsHaveATypicalLikelihood) {
  auto sim = make_benchmark_simulator("slcp");
  auto loglik = [](const double* x, const std::vector<double>& t) {
    const double s1 = t[2] * t[2], s2 = t[3] * t[3], rho = std::tanh(t[4]);
    const double c11 = s1 * s1 + 1e-6, c22 = s2 * s2 + 1e-6, c12 = rho * s1 * s2;
    const double det = c11 * c22 - c12 * c12;
    double ll = 0;
    for (int k = 0; k < 4; ++k) {
      const double a = x[2 * k] - t[0], b = x[2 * k + 1] - t[1];
      ll += -0.5 * (c22 * a * a - 2 * c12 * a * b + c11 * b * b) / det - 0.5 * std::log(det);
    }
    return ll;
  };
  for (int k = 1; k <= 5; ++k) {
    auto obs = read_csv_row(reference_dir("slcp", k) + "observation.csv");
    auto theta = read_csv_row(reference_dir("slcp", k) + "true_parameters.csv");
    if (obs.empty() || theta.empty()) GTEST_SKIP() << "../shared/reference is absent";
    ASSERT_EQ(obs.size(), 8u);
    auto x = at_theta(*sim, theta, 20000, k);
    std::vector<double> ll;
    for (size_t i = 0; i < 20000; ++i) ll.push_back(loglik(x.data() + 8 * i, theta));
    std::sort(ll.begin(), ll.end());
    const double o = loglik(obs.data(), theta);
    EXPECT_GT(o, ll[20]) << "observation " << k;      // above the 0.1% quantile
    EXPECT_LT(o, ll[19979]) << "observation " << k;   // below the 99.9% quantile
  }
}

// Data for given parameters (posterior predictive checks): gaussian_linear
// at theta = 1 (column-major input) gives x ~ N(1, 0.1).
TEST(Simulators, SimulatesDataForGivenParameters) {
  auto sim = make_benchmark_simulator("gaussian_linear");
  const int64_t n = 5000;
  std::vector<double> theta(static_cast<size_t>(n * 10), 1.0), x(static_cast<size_t>(n * 10));
  simulate_to(*sim, n, 3, 2, theta.data(), x.data(), true, true);
  EXPECT_EQ(theta[0], 1.0);  // the input is left as it was
  double mean = 0, sq = 0;
  for (double v : x) {
    mean += v;
    sq += v * v;
  }
  mean /= static_cast<double>(x.size());
  EXPECT_NEAR(mean, 1.0, 0.01);
  EXPECT_NEAR(sq / static_cast<double>(x.size()) - mean * mean, 0.1, 0.005);
}

// Every SIMD level this CPU runs gives the same simulations up to the last
// bits (fused multiply-adds); AMORTIZED_SIMD and set_simd_level() lower it.
TEST(Simd, LevelsAreCappedAndGiveTheSameSimulations) {
  const SimdLevel best = cpu_simd_level(), start = simd_level();
  EXPECT_LE(static_cast<int>(start), static_cast<int>(best));
  SimdLevel parsed;
  EXPECT_TRUE(parse_simd_level("avx2", &parsed));
  EXPECT_EQ(parsed, SimdLevel::kAvx2);
  EXPECT_FALSE(parse_simd_level("sse9", &parsed));
  const char* forced = std::getenv("AMORTIZED_SIMD");
  if (forced != nullptr && parse_simd_level(forced, &parsed)) {
    EXPECT_EQ(start, std::min(parsed, best)) << forced;
  }
  EXPECT_EQ(set_simd_level(SimdLevel::kAvx512), best);  // never above what the CPU runs
  std::vector<Simulations> runs;
  std::vector<SimdLevel> levels;
  for (SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level > best) break;
    ASSERT_EQ(set_simd_level(level), level);
    runs.push_back(simulate(*make("two_moons"), 5000, 7, 1));
    levels.push_back(level);
    auto normals = at_theta(*make("gaussian_linear"), std::vector<double>(10, 0.5), 500, 3);
    const double mean = std::accumulate(normals.begin(), normals.end(), 0.0) / normals.size();
    EXPECT_NEAR(mean, 0.5, 0.05) << simd_level_name(level);
  }
  set_simd_level(start);
  for (size_t k = 1; k < runs.size(); ++k) {
    ASSERT_EQ(runs[k].x.size(), runs[0].x.size());
    for (size_t i = 0; i < runs[0].x.size(); ++i) {
      ASSERT_NEAR(runs[k].x[i], runs[0].x[i], 1e-13) << simd_level_name(levels[k]) << " row " << i / 2;
    }
    for (size_t i = 0; i < runs[0].theta.size(); ++i) ASSERT_NEAR(runs[k].theta[i], runs[0].theta[i], 1e-15);
  }
}

// With should_stop, the workers simulate while the caller polls: the
// result is the same when it never asks to stop; when it does, the run
// stops early with SimulationInterrupted.
TEST(Simulators, ShouldStopIsPolledAndStopsTheRun) {
  auto sim = make("sir");
  const int64_t n = 4000, dt = sim->dim_theta(), dx = sim->dim_x();
  auto rows = simulate(*sim, n, 9, 1);
  std::vector<double> theta(n * dt), x(n * dx);
  int polls = 0;
  simulate_to(*sim, n, 9, 2, theta.data(), x.data(), false, false, nullptr, [&] { return ++polls < 0; });
  EXPECT_EQ(theta, rows.theta);
  EXPECT_EQ(x, rows.x);
  const int64_t big = 400000;
  theta.resize(big * dt);
  x.resize(big * dx);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(simulate_to(*sim, big, 9, 2, theta.data(), x.data(), false, false, nullptr,
                           [] { return true; }),
               SimulationInterrupted);
  // 400,000 sir simulations take about 15 s; the stop comes after the chunks in flight
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0);
}

// The exact likelihoods (reference posteriors by MCMC rest on them) obey the
// identities of a normalized density, checked by finite differences over
// data simulated at a prior draw theta: E[score] = 0 and E[score^2] =
// E[-d2 log p] for each parameter. A likelihood off by a constant factor,
// with a wrong noise scale or a wrong mean fails the second or the first.
class ExactLikelihood : public ::testing::TestWithParam<std::string> {};

TEST_P(ExactLikelihood, ScoreHasMeanZeroAndInformationIdentityHolds) {
  auto sim = make(GetParam());
  const int64_t d = sim->dim_theta(), n = 1500;
  std::vector<double> theta(d);
  Rng prior_rng(5);
  sim->sample_prior(1, prior_rng, theta.data());
  const auto x = at_theta(*sim, theta, n, 17);
  auto log_lik = [&](const std::vector<double>& t) {
    std::vector<double> th, out(n);
    for (int64_t i = 0; i < n; ++i) th.insert(th.end(), t.begin(), t.end());
    EXPECT_TRUE(sim->log_likelihood(n, th.data(), x.data(), out.data()));
    return out;
  };
  const auto at = log_lik(theta);
  for (double v : at) ASSERT_TRUE(std::isfinite(v));
  for (int64_t j = 0; j < d; ++j) {
    const double h = 1e-3 * (std::abs(theta[j]) + 0.01);
    auto up = theta, down = theta;
    up[j] += h;
    down[j] -= h;
    const auto lu = log_lik(up), ld = log_lik(down);
    std::vector<double> score(n), square(n), curvature(n);
    for (int64_t i = 0; i < n; ++i) {
      score[i] = (lu[i] - ld[i]) / (2 * h);
      square[i] = score[i] * score[i];
      curvature[i] = -(lu[i] - 2 * at[i] + ld[i]) / (h * h);
    }
    const double info = mean_of(curvature, 1, 0);
    ASSERT_GT(info, 0) << GetParam() << " parameter " << j;
    EXPECT_NEAR(mean_of(score, 1, 0), 0.0, 5 * std::sqrt(var_of(score, 1, 0) / n)) << GetParam() << " " << j;
    const double se = std::sqrt((var_of(square, 1, 0) + var_of(curvature, 1, 0)) / n);
    EXPECT_NEAR(mean_of(square, 1, 0), info, 5 * se + 0.02 * info) << GetParam() << " " << j;
  }
}

INSTANTIATE_TEST_SUITE_P(Simulators, ExactLikelihood,
                         ::testing::Values("gaussian_linear", "gaussian_mixture", "bernoulli_glm", "sir",
                                           "lotka_volterra"));

TEST(Simulators, ExactLikelihoodKnownValuesAndIntractableTasks) {
  // gaussian_linear: N(theta, 0.1 I); bernoulli_glm at theta = 0: every one
  // of the 2^100 outcomes has probability 2^-100, whatever x.
  auto gl = make("gaussian_linear");
  std::vector<double> theta(10, 0.2), x(10, 0.5), out(1);
  ASSERT_TRUE(gl->log_likelihood(1, theta.data(), x.data(), out.data()));
  EXPECT_NEAR(out[0], 10 * (-0.5 * 0.09 / 0.1 - 0.5 * std::log(2 * M_PI * 0.1)), 1e-10);
  auto glm = make("bernoulli_glm");
  std::vector<double> zero(10, 0.0), stats(10, 3.0);
  ASSERT_TRUE(glm->log_likelihood(1, zero.data(), stats.data(), out.data()));
  EXPECT_NEAR(out[0], -100 * std::log(2.0), 1e-9);
  // gaussian_mixture at x = theta: log(0.5 / (2 pi) + 0.5 * 100 / (2 pi))
  auto gm = make("gaussian_mixture");
  std::vector<double> p2 = {1.0, -2.0};
  ASSERT_TRUE(gm->log_likelihood(1, p2.data(), p2.data(), out.data()));
  EXPECT_NEAR(out[0], std::log(0.5 * 101 / (2 * M_PI)), 1e-12);
  // sir: a count above 1000 is impossible
  auto sir = make("sir");
  std::vector<double> bg = {0.4, 0.125}, counts(10, 1001.0);
  ASSERT_TRUE(sir->log_likelihood(1, bg.data(), counts.data(), out.data()));
  EXPECT_EQ(out[0], -std::numeric_limits<double>::infinity());
  // no tractable likelihood: false, nothing written
  auto moons = make("two_moons");
  out[0] = 42;
  EXPECT_FALSE(moons->log_likelihood(1, p2.data(), p2.data(), out.data()));
  EXPECT_EQ(out[0], 42);
}
