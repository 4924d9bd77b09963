// bernoulli_glm: a generalized linear model of a spiking neuron.
#include "benchmark.h"
#include "lane_random.h"

#include <cmath>
#include <stdexcept>

namespace amortized {
namespace benchmarks {

namespace {

constexpr int kDim = 10;     // parameters and summary statistics
constexpr int kSteps = 100;  // time steps (rows of the design matrix)

// theta ~ N(0, P^-1) with precision P: P[1,1] = 0.5 and P[2:10, 2:10] = F'F,
// M = 9, D = I_M minus the sub-diagonal of ones, F = D D + diag(sqrt((0:(M-1)) / M)).
// y_t ~ Bernoulli(sigmoid((X theta)_t)); x = X' y.
class BernoulliGlm : public Benchmark {
 public:
  explicit BernoulliGlm(std::vector<double> design)
      : Benchmark("bernoulli_glm", kDim, kDim), design_(std::move(design)) {
    if (design_.size() != static_cast<size_t>(kSteps * kDim))
      throw std::invalid_argument("bernoulli_glm needs its 100 x 10 design matrix (got " +
                                  std::to_string(design_.size()) + " values)");
    for (double v : design_)
      if (!std::isfinite(v)) throw std::invalid_argument("bernoulli_glm: the design matrix has non-finite values");
    cholesky_of_precision();
  }

  void sample_prior(int64_t n, Rng& rng, double* theta) const override {
    random_lanes::NormalStream normal(rng);
    for (int64_t i = 0; i < n; ++i) {
      double z[kDim];
      for (double& v : z) v = normal();
      // Solve L' theta = z (back substitution): theta ~ N(0, (L L')^-1) = N(0, P^-1).
      double* t = theta + i * kDim;
      for (int r = kDim - 1; r >= 0; --r) {
        double s = z[r];
        for (int c = r + 1; c < kDim; ++c) s -= chol_[c][r] * t[c];
        t[r] = s / chol_[r][r];
      }
    }
  }

  // N(0, P^-1) with P = L L': -|L' theta|^2 / 2 - 5 log(2 pi) + sum log L_rr.
  void log_prior(int64_t n, const double* theta, double* out) const override {
    constexpr double kLog2Pi = 1.83787706640934548356;
    double log_det = 0.0;
    for (int r = 0; r < kDim; ++r) log_det += std::log(chol_[r][r]);
    for (int64_t i = 0; i < n; ++i) {
      const double* t = theta + i * kDim;
      double q = 0.0;
      for (int r = 0; r < kDim; ++r) {
        double s = 0.0;
        for (int c = r; c < kDim; ++c) s += chol_[c][r] * t[c];
        q += s * s;
      }
      out[i] = -0.5 * q - 0.5 * kDim * kLog2Pi + log_det;
    }
  }

  void simulate(int64_t n, const double* theta, Rng& rng, double* x) const override {
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    for (int64_t i = 0; i < n; ++i) {
      const double* t = theta + i * kDim;
      double* out = x + i * kDim;
      for (int k = 0; k < kDim; ++k) out[k] = 0.0;
      for (int s = 0; s < kSteps; ++s) {
        const double* row = design_.data() + s * kDim;
        double eta = 0.0;
        for (int k = 0; k < kDim; ++k) eta += row[k] * t[k];
        const double p = 1.0 / (1.0 + std::exp(-eta));
        if (unif(rng) < p)
          for (int k = 0; k < kDim; ++k) out[k] += row[k];
      }
    }
  }

  // x = X' y is sufficient: log p(y | theta) = theta' x - sum_s log(1 + exp(X_s theta)),
  // the same for every y with X' y = x (the likelihood of the data the task
  // reports, up to the count of such y, which does not depend on theta).
  bool log_likelihood(int64_t n, const double* theta, const double* x, double* out) const override {
    for (int64_t i = 0; i < n; ++i) {
      const double* t = theta + i * kDim;
      double s = 0.0;
      for (int k = 0; k < kDim; ++k) s += t[k] * x[i * kDim + k];
      for (int st = 0; st < kSteps; ++st) {
        const double* row = design_.data() + st * kDim;
        double eta = 0.0;
        for (int k = 0; k < kDim; ++k) eta += row[k] * t[k];
        s -= eta > 0 ? eta + std::log1p(std::exp(-eta)) : std::log1p(std::exp(eta));
      }
      out[i] = s;
    }
    return true;
  }

 private:
  void cholesky_of_precision() {
    constexpr int m = kDim - 1;
    double d[m][m] = {}, f[m][m] = {}, p[kDim][kDim] = {};
    for (int i = 0; i < m; ++i) {
      d[i][i] = 1.0;
      if (i > 0) d[i][i - 1] = -1.0;
    }
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        for (int k = 0; k < m; ++k) f[i][j] += d[i][k] * d[k][j];
        if (i == j) f[i][j] += std::sqrt(static_cast<double>(i) / m);
      }
    p[0][0] = 0.5;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j)
        for (int k = 0; k < m; ++k) p[i + 1][j + 1] += f[k][i] * f[k][j];
    for (int j = 0; j < kDim; ++j) {
      double s = p[j][j];
      for (int k = 0; k < j; ++k) s -= chol_[j][k] * chol_[j][k];
      chol_[j][j] = std::sqrt(s);
      for (int i = j + 1; i < kDim; ++i) {
        double t = p[i][j];
        for (int k = 0; k < j; ++k) t -= chol_[i][k] * chol_[j][k];
        chol_[i][j] = t / chol_[j][j];
      }
    }
  }

  std::vector<double> design_;
  double chol_[kDim][kDim] = {};  // lower Cholesky factor of the precision
};

}  // namespace

std::unique_ptr<Simulator> make_bernoulli_glm(const std::vector<double>& design) {
  return std::make_unique<BernoulliGlm>(design);
}

}  // namespace benchmarks
}  // namespace amortized
