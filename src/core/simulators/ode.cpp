// ODE-based benchmark tasks (sir, lotka_volterra), solved with Boost.Odeint:
// adaptive Dormand-Prince 5(4) with dense output at the save times.
#include "benchmark.h"

#include <boost/numeric/odeint.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>

namespace amortized {

namespace {

namespace odeint = boost::numeric::odeint;

constexpr int kSaves = 10;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Steps allowed between two save times before the solve counts as failed.
constexpr int kMaxSteps = 50000;

// Integrates `system` from state x0 over `times` (increasing, starting at
// the initial time), calling save(i, state) at each; false if the solver
// fails (too many steps or a non-finite state).
template <class State, class System, class Save>
bool solve(System system, State x0, const std::array<double, kSaves>& times, double abs_tol,
           double rel_tol, Save save) {
  try {
    auto stepper = odeint::make_dense_output(abs_tol, rel_tol, odeint::runge_kutta_dopri5<State>());
    int i = 0;
    bool finite = true;
    odeint::integrate_times(
        stepper, system, x0, times.begin(), times.end(), 1e-3,
        [&](const State& x, double) {
          for (double v : x) finite = finite && std::isfinite(v);
          save(i++, x);
        },
        odeint::max_step_checker(kMaxSteps));
    return finite && i == kSaves;
  } catch (const std::exception&) {
    return false;
  }
}

// SIR on population fractions (s, i, r), N = 1e6, (S, I, R)(0) = (N - 1, 1, 0).
std::array<double, kSaves> sir_fractions(double beta, double gamma, bool* ok) {
  using State = std::array<double, 3>;
  constexpr double n_pop = 1e6;
  std::array<double, kSaves> times{}, infected{};
  for (int k = 0; k < kSaves; ++k) times[k] = 17.0 * k;
  auto system = [beta, gamma](const State& x, State& dxdt, double) {
    const double infection = beta * x[0] * x[1];
    dxdt[0] = -infection;
    dxdt[1] = infection - gamma * x[1];
    dxdt[2] = gamma * x[1];
  };
  *ok = solve(system, State{(n_pop - 1) / n_pop, 1 / n_pop, 0.0}, times, 1e-14, 1e-10,
              [&](int k, const State& x) { infected[k] = x[1]; });
  return infected;
}

// Lotka-Volterra: prey' = alpha prey - beta prey pred, pred' = -gamma pred + delta prey pred.
std::array<double, 2 * kSaves> lv_populations(const double* t, bool* ok) {
  using State = std::array<double, 2>;
  const double alpha = t[0], beta = t[1], gamma = t[2], delta = t[3];
  std::array<double, kSaves> times{};
  std::array<double, 2 * kSaves> out{};
  for (int k = 0; k < kSaves; ++k) times[k] = 2.1 * k;
  auto system = [=](const State& x, State& dxdt, double) {
    dxdt[0] = alpha * x[0] - beta * x[0] * x[1];
    dxdt[1] = -gamma * x[1] + delta * x[0] * x[1];
  };
  *ok = solve(system, State{30.0, 1.0}, times, 1e-10, 1e-10, [&](int k, const State& x) {
    out[k] = x[0];
    out[kSaves + k] = x[1];
  });
  return out;
}


// Serializes the calls of lgamma() (through std::binomial_distribution),
// which write the global signgam.
std::mutex& lgamma_mutex() {
  static std::mutex m;
  return m;
}

class Sir : public benchmarks::Benchmark {
 public:
  Sir() : Benchmark("sir", {"beta", "gamma"}, benchmarks::numbered("x_", kSaves)) {}
  Support prior_support() const override { return benchmarks::box(2, 0.0, std::numeric_limits<double>::infinity()); }
  int64_t chunk_size() const override { return 64; }
  // beta ~ LogNormal(log 0.4, 0.5), gamma ~ LogNormal(log 0.125, 0.2).
  void log_prior(int64_t n, const double* theta, double* out) const override {
    using benchmarks::Marginal;
    benchmarks::independent_log_prior(
        n, theta, {Marginal::log_normal(std::log(0.4), 0.5), Marginal::log_normal(std::log(0.125), 0.2)}, out);
  }
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    std::lognormal_distribution<double> beta(std::log(0.4), 0.5), gamma(std::log(0.125), 0.2);
    for (int64_t i = 0; i < n; ++i) {
      theta[2 * i] = beta(rng);
      theta[2 * i + 1] = gamma(rng);
    }
  }
  // x_k ~ Binomial(1000, clamp(I(day 17 (k - 1)) / N, 0, 1)).
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    for (int64_t i = 0; i < n; ++i) {
      bool ok = false;
      const auto frac = sir_fractions(theta[2 * i], theta[2 * i + 1], &ok);
      for (int k = 0; k < kSaves; ++k) {
        if (!ok) {
          x[i * kSaves + k] = kNaN;
          continue;
        }
        // std::binomial_distribution calls lgamma(), which writes the global
        // signgam: a data race between simulator threads (ThreadSanitizer
        // found it), harmless in practice but undefined; one at a time.
        std::lock_guard<std::mutex> lock(lgamma_mutex());
        std::binomial_distribution<int> count(1000, std::clamp(frac[k], 0.0, 1.0));
        x[i * kSaves + k] = count(rng);
      }
    }
  }
  // sum_k log Binomial(x_k; 1000, clamp(I_k / N, 0, 1)); -infinity where the
  // solve fails (the simulator's NaN rows) or a count is impossible.
  bool log_likelihood(int64_t n, const double* theta, const double* x, double* out) const override {
    for (int64_t i = 0; i < n; ++i) {
      bool ok = false;
      const auto frac = sir_fractions(theta[2 * i], theta[2 * i + 1], &ok);
      double s = ok ? 0.0 : -std::numeric_limits<double>::infinity();
      for (int k = 0; ok && k < kSaves; ++k) s += log_binomial(x[i * kSaves + k], 1000, std::clamp(frac[k], 0.0, 1.0));
      out[i] = s;
    }
    return true;
  }

 private:
  static double log_binomial(double k, int size, double p) {
    if (!(k >= 0 && k <= size && k == std::floor(k))) return -std::numeric_limits<double>::infinity();
    if (p <= 0) return k == 0 ? 0.0 : -std::numeric_limits<double>::infinity();
    if (p >= 1) return k == size ? 0.0 : -std::numeric_limits<double>::infinity();
    std::lock_guard<std::mutex> lock(lgamma_mutex());  // lgamma writes signgam
    return std::lgamma(size + 1.0) - std::lgamma(k + 1.0) - std::lgamma(size - k + 1.0) + k * std::log(p) +
           (size - k) * std::log1p(-p);
  }
};

class LotkaVolterra : public benchmarks::Benchmark {
 public:
  LotkaVolterra()
      : Benchmark("lotka_volterra", {"alpha", "beta", "gamma", "delta"}, names()) {}
  Support prior_support() const override { return benchmarks::box(4, 0.0, std::numeric_limits<double>::infinity()); }
  int64_t chunk_size() const override { return 64; }
  // LogNormal with log-means (-0.125, -3, -0.125, -3) and log-sd 0.5.
  void log_prior(int64_t n, const double* theta, double* out) const override {
    using benchmarks::Marginal;
    benchmarks::independent_log_prior(n, theta,
                                      {Marginal::log_normal(-0.125, 0.5), Marginal::log_normal(-3.0, 0.5),
                                       Marginal::log_normal(-0.125, 0.5), Marginal::log_normal(-3.0, 0.5)},
                                      out);
  }
  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    std::normal_distribution<double> normal(0.0, 0.5);
    const double mu[4] = {-0.125, -3.0, -0.125, -3.0};
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < 4; ++j) theta[4 * i + j] = std::exp(mu[j] + normal(rng));
  }
  // Each value ~ LogNormal(log(clamp(u, 1e-10, 1e4)), 0.1); a failed solve
  // gives a row of NaN.
  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    std::normal_distribution<double> noise(0.0, 0.1);
    for (int64_t i = 0; i < n; ++i) {
      bool ok = false;
      const auto u = lv_populations(theta + 4 * i, &ok);
      for (int k = 0; k < 2 * kSaves; ++k)
        x[i * 2 * kSaves + k] = ok ? std::exp(std::log(std::clamp(u[k], 1e-10, 1e4)) + noise(rng)) : kNaN;
    }
  }
  // sum_k log LogNormal(x_k; log(clamp(u_k, 1e-10, 1e4)), 0.1).
  bool log_likelihood(int64_t n, const double* theta, const double* x, double* out) const override {
    constexpr double kLogSqrt2Pi = 0.91893853320467274178, kSd = 0.1;
    for (int64_t i = 0; i < n; ++i) {
      bool ok = false;
      const auto u = lv_populations(theta + 4 * i, &ok);
      double s = ok ? 0.0 : -std::numeric_limits<double>::infinity();
      for (int k = 0; ok && k < 2 * kSaves; ++k) {
        const double v = x[i * 2 * kSaves + k];
        if (!(v > 0)) {
          s = -std::numeric_limits<double>::infinity();
          break;
        }
        const double z = (std::log(v) - std::log(std::clamp(u[k], 1e-10, 1e4))) / kSd;
        s += -0.5 * z * z - kLogSqrt2Pi - std::log(kSd) - std::log(v);
      }
      out[i] = s;
    }
    return true;
  }

 private:
  static std::vector<std::string> names() {
    auto out = benchmarks::numbered("prey_", kSaves);
    for (auto& s : benchmarks::numbered("predator_", kSaves)) out.push_back(s);
    return out;
  }
};

}  // namespace

std::vector<double> sir_solution(double beta, double gamma) {
  bool ok = false;
  const auto frac = sir_fractions(beta, gamma, &ok);
  return ok ? std::vector<double>(frac.begin(), frac.end()) : std::vector<double>(kSaves, kNaN);
}

std::vector<double> lotka_volterra_solution(const double* theta) {
  bool ok = false;
  const auto u = lv_populations(theta, &ok);
  return ok ? std::vector<double>(u.begin(), u.end()) : std::vector<double>(2 * kSaves, kNaN);
}

namespace benchmarks {
std::unique_ptr<Simulator> make_sir() { return std::make_unique<Sir>(); }
std::unique_ptr<Simulator> make_lotka_volterra() { return std::make_unique<LotkaVolterra>(); }
}  // namespace benchmarks

}  // namespace amortized
