// MMD: the blocked estimate equals a direct double loop, is symmetric and
// near zero for one distribution; the null distribution by resampling is
// calibrated; the penalty is differentiable.
#include "amortized/diagnostics/mmd.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace amortized;

namespace {

Tensor normal(int64_t n, int64_t d, uint64_t seed, double sd = 1.0) {
  at::Generator gen = make_generator(seed);
  return torch::randn({n, d}, gen, torch::kFloat64) * sd;
}

// The textbook unbiased MMD^2, one pair at a time.
double direct_mmd2(const Tensor& x, const Tensor& y, const MmdKernel& kernel) {
  auto k = [&](const Tensor& a, const Tensor& b) {
    const double d2 = (a - b).pow(2).sum().item<double>();
    double s = 0;
    for (double h : kernel.bandwidths) {
      s += kernel.kind == MmdKernel::Kind::Gaussian ? std::exp(-d2 / (2 * h * h)) : 1 / std::sqrt(1 + d2 / (h * h));
    }
    return s / static_cast<double>(kernel.bandwidths.size());
  };
  const int64_t n = x.size(0), m = y.size(0);
  double xx = 0, yy = 0, xy = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i != j) xx += k(x[i], x[j]);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j)
      if (i != j) yy += k(y[i], y[j]);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) xy += k(x[i], y[j]);
  return xx / (n * (n - 1.0)) + yy / (m * (m - 1.0)) - 2 * xy / (n * double(m));
}

}  // namespace

TEST(Mmd, EqualsTheDirectComputation) {
  Tensor x = normal(23, 3, 1), y = normal(31, 3, 2, 1.5);
  for (auto kind : {MmdKernel::Kind::Gaussian, MmdKernel::Kind::InverseMultiquadric}) {
    for (std::vector<double> hs : {std::vector<double>{0.7}, std::vector<double>{0.5, 1.0, 4.0}}) {
      MmdKernel kernel{kind, hs};
      const double want = direct_mmd2(x, y, kernel);
      EXPECT_NEAR(mmd2(x, y, kernel).item<double>(), want, 1e-12);
      EXPECT_NEAR(mmd2(y, x, kernel).item<double>(), want, 1e-12);  // symmetric
      // float32 inputs: float32 accuracy
      EXPECT_NEAR(mmd2(x.to(torch::kFloat32), y.to(torch::kFloat32), kernel).item<double>(), want, 1e-5);
    }
  }
}

TEST(Mmd, BlocksGiveTheSameSumAsOneMatrix) {
  // 3000 x 3000 > one block of 4M entries? no: 9M, so three blocks
  Tensor x = normal(3000, 2, 3);
  MmdKernel kernel{MmdKernel::Kind::Gaussian, {1.0}};
  Tensor full = kernel_matrix(x, x, kernel);
  const double want = full.sum().item<double>() - full.diagonal().sum().item<double>();
  EXPECT_NEAR(kernel_sum(x, x, kernel, true).item<double>(), want, 1e-9 * want);
}

TEST(Mmd, NearZeroForOneDistributionAndPositiveForTwo) {
  MmdKernel kernel{MmdKernel::Kind::Gaussian, {median_distance(normal(500, 5, 4), normal(500, 5, 5))}};
  const double same = mmd2(normal(2000, 5, 6), normal(2000, 5, 7), kernel).item<double>();
  const double other = mmd2(normal(2000, 5, 8), normal(2000, 5, 9, 1.3), kernel).item<double>();
  EXPECT_LT(std::abs(same), 2e-3);
  EXPECT_GT(other, 20 * std::abs(same));
  EXPECT_GT(other, 5e-3);
}

TEST(Mmd, MedianDistanceOfStandardNormals) {
  // |x - y| for independent N(0, I_d): sqrt(2) chi_d, median ~ sqrt(2 (d - 2/3))
  const double med = median_distance(normal(1500, 10, 10), normal(1500, 10, 11));
  EXPECT_NEAR(med, std::sqrt(2 * (10 - 2.0 / 3)), 0.1);
  // identical points: falls back to 1
  EXPECT_EQ(median_distance(torch::zeros({5, 2}, torch::kFloat64), torch::zeros({5, 2}, torch::kFloat64)), 1.0);
}

TEST(Mmd, NullDistributionIsCalibrated) {
  // observed samples of the reference's distribution: their statistics
  // rank uniformly among the null replicates
  Tensor reference = normal(400, 3, 12), pool = normal(400, 3, 13);
  MmdKernel kernel{MmdKernel::Kind::Gaussian, {median_distance(reference, reference)}};
  for (int64_t m : {1, 10}) {
    at::Generator gen = make_generator(14);
    Tensor null = mmd2_null(pool, reference, m, 400, kernel, gen);
    ASSERT_EQ(null.size(0), 400);
    int rejected = 0, trials = 200;
    for (int t = 0; t < trials; ++t) {
      const double stat = mmd2_against(normal(m, 3, 100 + t), reference, kernel);
      const double p = (1 + (null >= stat).sum().item<double>()) / 401.0;
      rejected += p <= 0.1;
    }
    EXPECT_GE(rejected, 8) << "m = " << m;   // 20 expected; Binomial(200, 0.1) sd 4.2
    EXPECT_LE(rejected, 34) << "m = " << m;
    // a wider distribution is rejected
    const double wide = mmd2_against(normal(m, 3, 99, 3.0) + 1.0, reference, kernel);
    EXPECT_GT(wide, null.max().item<double>()) << "m = " << m;
  }
}

TEST(Mmd, PenaltyHasGradients) {
  Tensor x = normal(64, 4, 15, 2.0).requires_grad_();
  MmdKernel kernel{MmdKernel::Kind::Gaussian, {1.0, 2.0}};
  Tensor loss = mmd2(x, normal(64, 4, 16), kernel);
  loss.backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0);
  // a step against the gradient lowers the discrepancy
  Tensor moved = (x - 0.5 * x.grad() / x.grad().norm()).detach();
  EXPECT_LT(mmd2(moved, normal(64, 4, 16), kernel).item<double>(), loss.item<double>());
}

TEST(Mmd, RejectsBadInput) {
  MmdKernel kernel;
  EXPECT_THROW(mmd2(normal(1, 2, 1), normal(5, 2, 2), kernel), c10::Error);
  EXPECT_THROW(mmd2(normal(5, 2, 1), normal(5, 3, 2), kernel), c10::Error);
  EXPECT_THROW(mmd2(normal(5, 2, 1), normal(5, 2, 2), MmdKernel{MmdKernel::Kind::Gaussian, {-1.0}}), c10::Error);
  EXPECT_THROW(MmdKernel::parse("laplace"), c10::Error);
}
