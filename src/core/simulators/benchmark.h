// Private to the simulators: the base class of the benchmark tasks, small
// helpers, and one factory per source file.
#pragma once

#include "amortized/simulators/simulator.h"

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace amortized {
namespace benchmarks {

inline std::vector<std::string> numbered(const std::string& stem, int64_t n) {
  std::vector<std::string> out;
  for (int64_t i = 1; i <= n; ++i) out.push_back(stem + std::to_string(i));
  return out;
}

// Outputs of at least this many rows are written with streaming stores,
// around the caches.
constexpr int64_t kStreamRows = int64_t{1} << 16;

// A support of n parameters, each in (lo, hi).
inline Simulator::Support box(int64_t n, double lo, double hi) {
  return {std::vector<double>(n, lo), std::vector<double>(n, hi)};
}

// One parameter's prior in a prior of independent parameters.
struct Marginal {
  enum Family { kUniform, kNormal, kLogNormal } family;
  double a, b;  // uniform: lower, upper; normal: mean, sd; log-normal: mean and sd of the log
  static Marginal uniform(double lower, double upper) { return {kUniform, lower, upper}; }
  static Marginal normal(double mean, double sd) { return {kNormal, mean, sd}; }
  static Marginal log_normal(double mean_log, double sd_log) { return {kLogNormal, mean_log, sd_log}; }
  // The log density at v (-infinity outside the support).
  double log_density(double v) const {
    constexpr double kLogSqrt2Pi = 0.91893853320467274178;
    switch (family) {
      case kUniform:
        return v >= a && v <= b ? -std::log(b - a) : -std::numeric_limits<double>::infinity();
      case kNormal: {
        const double z = (v - a) / b;
        return -0.5 * z * z - std::log(b) - kLogSqrt2Pi;
      }
      case kLogNormal: {
        if (!(v > 0)) return -std::numeric_limits<double>::infinity();
        const double z = (std::log(v) - a) / b;
        return -0.5 * z * z - std::log(b) - kLogSqrt2Pi - std::log(v);
      }
    }
    return -std::numeric_limits<double>::infinity();
  }
};

// The log density of a prior of independent parameters with these
// marginals at n row-major parameter vectors.
inline void independent_log_prior(int64_t n, const double* theta, const std::vector<Marginal>& marginals,
                                  double* out) {
  const int64_t d = static_cast<int64_t>(marginals.size());
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (int64_t j = 0; j < d; ++j) s += marginals[j].log_density(theta[i * d + j]);
    out[i] = s;
  }
}

// A benchmark task with named parameters and data.
class Benchmark : public Simulator {
 public:
  Benchmark(std::string name, std::vector<std::string> theta_names, std::vector<std::string> x_names)
      : name_(std::move(name)), theta_names_(std::move(theta_names)), x_names_(std::move(x_names)) {}
  // Parameters theta_1.. and data x_1.. .
  Benchmark(std::string name, int64_t dim_theta, int64_t dim_x)
      : Benchmark(std::move(name), numbered("theta_", dim_theta), numbered("x_", dim_x)) {}
  std::string name() const override { return name_; }
  std::vector<std::string> parameter_names() const override { return theta_names_; }
  std::vector<std::string> data_names() const override { return x_names_; }

 private:
  std::string name_;
  std::vector<std::string> theta_names_, x_names_;
};

// analytic.cpp: gaussian_linear, two_moons, slcp, gaussian_mixture,
// inverse_kinematics (nullptr for another name).
std::unique_ptr<Simulator> make_analytic(const std::string& name);
// bernoulli_glm.cpp
std::unique_ptr<Simulator> make_bernoulli_glm(const std::vector<double>& design);
// ode.cpp
std::unique_ptr<Simulator> make_sir();
std::unique_ptr<Simulator> make_lotka_volterra();
// ddm.cpp
std::unique_ptr<Simulator> make_ddm(int64_t n_obs);

}  // namespace benchmarks
}  // namespace amortized
