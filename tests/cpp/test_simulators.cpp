// Benchmark simulators: shapes, finiteness, moments or known values, seeds
// and thread-count independence. No LibTorch in this file.
#include "amortized/simulators/simulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
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

class EverySimulator : public ::testing::TestWithParam<std::string> {};

TEST_P(EverySimulator, ShapesFinitenessSeedsAndThreads) {
  auto sim = make_benchmark_simulator(GetParam());
  EXPECT_EQ(sim->name(), GetParam());
  auto s = simulate(*sim, 5000, 7, 1);
  ASSERT_EQ(s.theta.size(), static_cast<size_t>(5000 * sim->dim_theta()));
  ASSERT_EQ(s.x.size(), static_cast<size_t>(5000 * sim->dim_x()));
  for (double v : s.x) ASSERT_TRUE(std::isfinite(v));
  for (double v : s.theta) ASSERT_TRUE(std::isfinite(v));
  auto two = simulate(*sim, 5000, 7, 2), three = simulate(*sim, 5000, 7, 3);
  EXPECT_EQ(s.x, two.x);      // same seed, any thread count: same output
  EXPECT_EQ(s.theta, three.theta);
  EXPECT_NE(s.x, simulate(*sim, 5000, 8, 2).x);
}

INSTANTIATE_TEST_SUITE_P(All, EverySimulator, ::testing::ValuesIn(benchmark_simulator_names()));

TEST(Simulators, UnknownNameAndBadArguments) {
  EXPECT_THROW(make_benchmark_simulator("nope"), std::invalid_argument);
  auto sim = make_benchmark_simulator("two_moons");
  EXPECT_THROW(simulate(*sim, 0, 1), std::invalid_argument);
  EXPECT_THROW(simulate(*sim, 10, 1, 0), std::invalid_argument);
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
  std::vector<double> r;
  for (size_t i = 0; i < 20000; ++i) {
    const double px = x[2 * i] + std::abs(t1 + t2) * s - 0.25, py = x[2 * i + 1] - (t2 - t1) * s;
    r.push_back(std::hypot(px, py));
    ASSERT_GE(px, -1e-12);
  }
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
