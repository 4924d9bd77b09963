// The likelihood estimator: a learned Gaussian likelihood matches the true
// one; a set's density is the product over its points; draws have the
// data's layout; inputs are checked.
#include "amortized/estimators/joint_estimator.h"
#include "amortized/flows/coupling_flow.h"
#include "amortized/train/trainer.h"

#include <gtest/gtest.h>
#include "tolerance.h"

#include <cmath>

using namespace amortized;

namespace {

LikelihoodEstimator make_nle(const LikelihoodEstimatorOptions& o, at::Generator& gen) {
  ConditionNet embedding(likelihood_condition_options(o), std::shared_ptr<SummaryNetImpl>());
  auto flow = make_coupling_flow(
      CouplingFlowOptions(o.dim_x(), embedding->output_dim()).transform("affine").n_layers(4).hidden({32, 32}), gen);
  return LikelihoodEstimator(flow.ptr(), embedding, o);
}

TrainResult train_nle(LikelihoodEstimator& est, const Tensor& theta, const DataBatch& d, int64_t epochs) {
  est->fit_standardization(theta, d);
  auto loss = [&](const std::vector<Tensor>& b) { return est->loss(b[0], DataBatch{b[1], b[2], {}}); };
  std::vector<Tensor> rows = {theta, d.x, d.lengths};
  return fit(*est, loss, rows, TrainOptions().epochs(epochs).batch_size(128).learning_rate(3e-3).seed(1),
             TrainHooks());
}

}  // namespace

// theta ~ N(0, 0.1 I_2), x ~ N(theta, 0.1 I_2): the learned q(x | theta)
// has the mean theta, the variance 0.1 and the log density of N(theta, 0.1 I).
TEST(LikelihoodEstimator, LearnsAGaussianLikelihood) {
  auto gen = make_generator(2);
  auto o = LikelihoodEstimatorOptions(2, 2);
  auto est = make_nle(o, gen);
  const double sd = std::sqrt(0.1);
  auto theta = sd * torch::randn({4000, 2}, gen);
  auto x = theta + sd * torch::randn({4000, 2}, gen);
  auto res = train_nle(est, theta, DataBatch{x, {}, {}}, 30);
  ASSERT_GT(res.history.size(), 5u);
  est->eval();
  torch::NoGradGuard no_grad;
  auto at = torch::tensor({{0.3f, -0.2f}});
  auto draws = est->sample(8000, at, Tensor(), 0, gen).squeeze(0);  // [8000, 2]
  ASSERT_EQ(draws.sizes(), (std::vector<int64_t>{8000, 2}));
  EXPECT_NEAR(draws.mean(0)[0].item<double>(), 0.3, 0.03);
  EXPECT_NEAR(draws.mean(0)[1].item<double>(), -0.2, 0.03);
  for (int64_t j = 0; j < 2; ++j) EXPECT_NEAR(draws.select(1, j).var().item<double>() / 0.1, 1.0, 0.15);
  auto th = 0.2 * torch::randn({200, 2}, gen);
  auto xs = th + sd * torch::randn({200, 2}, gen);
  auto exact = (-0.5 * (xs - th).pow(2) / 0.1).sum(1) - std::log(2 * M_PI * 0.1);
  auto lp = est->log_prob(th, DataBatch{xs, {}, {}});
  EXPECT_LT((lp - exact).abs().mean().item<double>(), 0.15);
}

// Sets of iid points: log q of a set is the sum over its valid points
// (padding ignored); draws of sets come as [batch, n, n_obs, dim].
TEST(LikelihoodEstimator, SetsAreProductsOverTheirPoints) {
  auto gen = make_generator(3);
  auto o = LikelihoodEstimatorOptions(1, 1).sets(true).lower({-5.0}).upper({5.0});
  auto est = make_nle(o, gen);
  const int64_t b = 300, n = 12;
  auto mu = 4.0 * torch::rand({b, 1}, gen) - 2.0;
  auto x = mu.unsqueeze(2) + torch::randn({b, n, 1}, gen);
  auto lengths = torch::randint(2, n + 1, {b}, gen, torch::kLong);
  train_nle(est, mu, DataBatch{x, lengths, {}}, 5);
  est->eval();
  torch::NoGradGuard no_grad;
  auto padded = x.clone();
  padded.narrow(1, 10, 2).fill_(std::nan(""));
  auto lens = torch::full({b}, 10, torch::kLong);
  auto whole = est->log_prob(mu, DataBatch{padded, lens, {}});
  auto per_point = torch::zeros({b});
  for (int64_t i = 0; i < 10; ++i) per_point += est->log_prob(mu, DataBatch{x.narrow(1, i, 1), {}, {}});
  EXPECT_TRUE(torch::isfinite(whole).all().item<bool>());
  EXPECT_TRUE(amortized_test::float_close(whole, per_point, 256, 100.0));
  auto draws = est->sample(7, mu.narrow(0, 0, 3), Tensor(), 5, gen);
  EXPECT_EQ(draws.sizes(), (std::vector<int64_t>{3, 7, 5, 1}));
  // inputs are checked
  EXPECT_THROW(est->log_prob(mu, DataBatch{x.flatten(1), {}, {}}), c10::Error);       // flat data for a set model
  EXPECT_THROW(est->log_prob(mu.narrow(0, 0, 5), DataBatch{x, {}, {}}), c10::Error);  // rows differ
  EXPECT_THROW(est->sample(3, mu, Tensor(), 0, gen), c10::Error);                     // sets need n_obs
  EXPECT_THROW(make_nle(LikelihoodEstimatorOptions(2, 1).lower({0.0}).upper({1.0}), gen), c10::Error);
}

// A joint estimator trained on theta ~ N(0, 0.1 I_2), x ~ N(theta, 0.1 I_2):
// one loss (the sum of its parts'), both parts' weights under their own
// names, and the evidence identity log p(theta) + log q(x | theta) -
// log q(theta | x) recovers the exact log p(x) = log N(x; 0, 0.2 I).
TEST(JointEstimator, TrainsBothPartsAndRecoversTheEvidence) {
  auto gen = make_generator(4);
  auto lo = LikelihoodEstimatorOptions(2, 2);
  auto likelihood = make_nle(lo, gen);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 2).transform("affine").n_layers(4).hidden({32, 32}), gen);
  auto posterior = std::make_shared<PosteriorEstimatorImpl>(flow.ptr(), 2, 2);
  JointEstimator joint(posterior, likelihood.ptr(), std::vector<int64_t>{});
  EXPECT_EQ(joint->part("posterior"), posterior.get());
  EXPECT_EQ(joint->part("likelihood"), likelihood.ptr().get());
  EXPECT_EQ(joint->part("models"), nullptr);
  int64_t named = 0;
  for (const auto& p : joint->named_parameters()) {
    EXPECT_TRUE(p.key().rfind("posterior.", 0) == 0 || p.key().rfind("likelihood.", 0) == 0) << p.key();
    ++named;
  }
  EXPECT_EQ(named, static_cast<int64_t>(posterior->parameters().size() + likelihood->parameters().size()));
  const double sd = std::sqrt(0.1);
  auto theta = sd * torch::randn({6000, 2}, gen);
  auto x = theta + sd * torch::randn({6000, 2}, gen);
  DataBatch d{x, {}, {}};
  joint->fit_standardization(theta, d);
  {
    torch::NoGradGuard no_grad;
    auto sum = posterior->loss(theta, d) + likelihood->loss(theta, d);
    EXPECT_TRUE(amortized_test::float_close(joint->loss(theta, d), sum, 8, 1e-6));
  }
  auto loss = [&](const std::vector<Tensor>& b) { return joint->loss(b[0], DataBatch{b[1], {}, {}}); };
  fit(*joint, loss, {theta, x}, TrainOptions().epochs(40).batch_size(128).learning_rate(3e-3).seed(1), TrainHooks());
  joint->eval();
  torch::NoGradGuard no_grad;
  auto xs = std::sqrt(0.2) * torch::randn({20, 2}, gen);
  auto exact = (-0.5 * xs.pow(2) / 0.2).sum(1) - std::log(2 * M_PI * 0.2);
  auto th = posterior->sample(200, xs, gen);  // [20, 200, 2]
  auto flat_th = th.reshape({-1, 2});
  auto flat_x = xs.unsqueeze(1).expand({20, 200, 2}).reshape({-1, 2});
  auto log_prior = (-0.5 * flat_th.pow(2) / 0.1).sum(1) - std::log(2 * M_PI * 0.1);
  auto identity = (log_prior + likelihood->log_prob(flat_th, DataBatch{flat_x, {}, {}}) -
                   posterior->log_prob(flat_th, flat_x)).reshape({20, 200});
  EXPECT_LT((identity.mean(1) - exact).abs().mean().item<double>(), 0.15);
  EXPECT_LT(identity.std(1).mean().item<double>(), 0.3);  // the networks agree
}
