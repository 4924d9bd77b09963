// C2ST: identical samples score ~0.5, disjoint ones ~1, and a shifted
// Gaussian the accuracy of the optimal classifier, Phi(delta / 2).
#include "amortized/diagnostics/c2st.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace amortized;

namespace {

Tensor normal(int64_t n, int64_t d, uint64_t seed, double shift = 0.0) {
  at::Generator gen = make_generator(seed);
  Tensor x = torch::randn({n, d}, gen, torch::kFloat64);
  x.select(1, 0).add_(shift);
  return x;
}

double phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace

TEST(C2st, SameDistributionScoresHalf) {
  auto r = c2st(normal(2000, 2, 1), normal(2000, 2, 2));
  EXPECT_NEAR(r.accuracy, 0.5, 0.03);
  ASSERT_EQ(r.fold_accuracy.size(), 5u);
  for (auto e : r.fold_epochs) EXPECT_GE(e, 12);  // at least n_iter_no_change + 2 epochs
}

TEST(C2st, DisjointSamplesScoreOne) {
  auto r = c2st(normal(1000, 3, 3, 20.0), normal(1000, 3, 4));
  EXPECT_GT(r.accuracy, 0.99);
}

TEST(C2st, ShiftedGaussianMatchesTheOptimalAccuracy) {
  for (double delta : {1.0, 2.0}) {
    auto r = c2st(normal(3000, 2, 5, delta), normal(3000, 2, 6));
    EXPECT_NEAR(r.accuracy, phi(delta / 2), 0.02) << "delta " << delta;
  }
}

TEST(C2st, SeededAndChecked) {
  auto a = c2st(normal(500, 2, 7, 0.5), normal(500, 2, 8), C2stOptions().seed(3));
  auto b = c2st(normal(500, 2, 7, 0.5), normal(500, 2, 8), C2stOptions().seed(3));
  EXPECT_EQ(a.fold_accuracy, b.fold_accuracy);
  EXPECT_THROW(c2st(normal(10, 2, 1), normal(10, 3, 1)), c10::Error);
  EXPECT_THROW(c2st(normal(3, 2, 1), normal(10, 2, 1)), c10::Error);
  Tensor bad = normal(50, 2, 1);
  bad[0][0] = NAN;
  EXPECT_THROW(c2st(bad, normal(50, 2, 2)), c10::Error);
}
