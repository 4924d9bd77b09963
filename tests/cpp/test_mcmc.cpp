// Slice sampling: many chains in lockstep reach the target's moments on a
// correlated Gaussian and a bounded Beta; split-R-hat tells mixed chains
// from stuck ones; seeds reproduce.
#include "amortized/mcmc/slice_sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace amortized;

namespace {

// N(mu, Sigma) with Sigma = [[1, 0.8 * 2], [0.8 * 2, 4]], mu = (1, -2).
Tensor gaussian_log_density(const Tensor& x, const Tensor& /*chain*/) {
  const double s1 = 1.0, s2 = 2.0, rho = 0.8;
  Tensor z1 = (x.select(1, 0) - 1.0) / s1, z2 = (x.select(1, 1) + 2.0) / s2;
  return -(z1 * z1 - 2 * rho * z1 * z2 + z2 * z2) / (2 * (1 - rho * rho));
}

// Draws [chains, draws, 2] have gaussian_log_density's means, sds and correlation.
void expect_gaussian_moments(const Tensor& draws) {
  auto flat = draws.reshape({-1, 2});
  EXPECT_NEAR(flat.select(1, 0).mean().item<double>(), 1.0, 0.05);
  EXPECT_NEAR(flat.select(1, 1).mean().item<double>(), -2.0, 0.1);
  EXPECT_NEAR(flat.select(1, 0).std().item<double>(), 1.0, 0.05);
  EXPECT_NEAR(flat.select(1, 1).std().item<double>(), 2.0, 0.1);
  auto c = flat - flat.mean(0);
  const double corr = ((c.select(1, 0) * c.select(1, 1)).mean() / (c.select(1, 0).std() * c.select(1, 1).std()))
                          .item<double>();
  EXPECT_NEAR(corr, 0.8, 0.03);
}

}  // namespace

TEST(SliceSampler, ReachesACorrelatedGaussian) {
  auto gen = make_generator(1);
  auto init = 5.0 * torch::randn({200, 2}, gen, torch::kDouble);  // dispersed starts
  auto draws = slice_sample(gaussian_log_density, init, SliceSamplerOptions().warmup(200).draws(800), gen);
  ASSERT_EQ(draws.sizes(), (std::vector<int64_t>{200, 800, 2}));
  expect_gaussian_moments(draws);
  EXPECT_TRUE((split_rhat(draws) < 1.01).all().item<bool>()) << split_rhat(draws);
  // the same seed, the same draws
  auto gen_a = make_generator(5), gen_b = make_generator(5);
  auto a = slice_sample(gaussian_log_density, init.narrow(0, 0, 4), SliceSamplerOptions().warmup(5).draws(5), gen_a);
  auto b = slice_sample(gaussian_log_density, init.narrow(0, 0, 4), SliceSamplerOptions().warmup(5).draws(5), gen_b);
  EXPECT_TRUE(torch::equal(a, b));
}

// Beta(2, 5) on (0, 1), -inf outside: draws stay inside, with its mean and sd.
TEST(SliceSampler, RespectsASupport) {
  auto gen = make_generator(2);
  const double inf = std::numeric_limits<double>::infinity();
  auto beta = [inf](const Tensor& x, const Tensor& /*chain*/) {
    Tensor v = x.select(1, 0);
    Tensor inside = (v > 0) & (v < 1);
    Tensor safe = torch::where(inside, v, torch::full_like(v, 0.5));
    return torch::where(inside, safe.log() + 4.0 * (1 - safe).log(), torch::full_like(v, -inf));
  };
  auto draws = slice_sample(beta, torch::full({100, 1}, 0.5, torch::kDouble), SliceSamplerOptions().draws(300), gen);
  EXPECT_TRUE(((draws > 0) & (draws < 1)).all().item<bool>());
  EXPECT_NEAR(draws.mean().item<double>(), 2.0 / 7.0, 0.01);
  EXPECT_NEAR(draws.std().item<double>(), std::sqrt(10.0 / (49.0 * 8.0)), 0.01);
  // a start outside the support is an error
  EXPECT_THROW(slice_sample(beta, torch::full({3, 1}, 2.0, torch::kDouble), SliceSamplerOptions(), gen), c10::Error);
}

TEST(SliceSampler, SplitRhatFlagsChainsThatDisagree) {
  auto gen = make_generator(3);
  auto mixed = torch::randn({4, 500, 2}, gen, torch::kDouble);
  EXPECT_TRUE((split_rhat(mixed) < 1.01).all().item<bool>());
  auto stuck = mixed + torch::tensor({0.0, 0.0, 3.0, 3.0}, torch::kDouble).view({4, 1, 1});
  EXPECT_TRUE((split_rhat(stuck) > 1.5).all().item<bool>());
  EXPECT_THROW(split_rhat(torch::randn({2, 3, 1})), c10::Error);
}

// The hyperrectangle updates reach the same correlated Gaussian (all
// coordinates at once) and respect a support.
TEST(SliceSampler, HyperrectangleReachesACorrelatedGaussian) {
  auto gen = make_generator(4);
  auto init = 5.0 * torch::randn({200, 2}, gen, torch::kDouble);
  auto o = SliceSamplerOptions().warmup(200).draws(800).hyperrectangle(true).width(0.1);  // too narrow at first
  auto draws = slice_sample(gaussian_log_density, init, o, gen);
  expect_gaussian_moments(draws);
  EXPECT_TRUE((split_rhat(draws) < 1.05).all().item<bool>()) << split_rhat(draws);  // slower mixing when correlated
  const double inf = std::numeric_limits<double>::infinity();
  auto box = [inf](const Tensor& x, const Tensor& /*chain*/) {  // uniform on (0, 1)^2
    Tensor inside = ((x > 0) & (x < 1)).all(1);
    return torch::where(inside, torch::zeros({x.size(0)}, torch::kDouble), torch::full({x.size(0)}, -inf, torch::kDouble));
  };
  auto u = slice_sample(box, torch::full({100, 2}, 0.5, torch::kDouble), o.width(5.0), gen);
  EXPECT_TRUE(((u > 0) & (u < 1)).all().item<bool>());
  EXPECT_NEAR(u.mean().item<double>(), 0.5, 0.01);
  EXPECT_NEAR(u.std().item<double>(), std::sqrt(1.0 / 12.0), 0.01);
}

// Each row's chain comes with it: chain c targets N(3 c, 0.5^2), and its
// draws centre there, with either update.
TEST(SliceSampler, EveryRowKnowsItsChain) {
  auto own_mean = [](const Tensor& x, const Tensor& chain) {
    return -0.5 * (x.select(1, 0) - 3.0 * chain.to(torch::kDouble)).pow(2) / 0.25;
  };
  for (bool hyper : {false, true}) {
    auto gen = make_generator(6);
    auto init = 3.0 * torch::arange(8, torch::kDouble).unsqueeze(1);
    auto draws = slice_sample(own_mean, init, SliceSamplerOptions().warmup(50).draws(400).hyperrectangle(hyper), gen);
    auto means = draws.select(2, 0).mean(1);
    for (int64_t c = 0; c < 8; ++c) EXPECT_NEAR(means[c].item<double>(), 3.0 * c, 0.15) << "chain " << c << " hyper " << hyper;
  }
}
