// Tests of the conditional flow, the posterior estimator and the trainer.
#include "amortized/diagnostics/sbc.h"
#include "amortized/estimators/posterior_estimator.h"
#include "amortized/flows/coupling_flow.h"
#include "amortized/flows/ensemble.h"
#include "amortized/flows/flow_matching.h"
#include "amortized/simulators/simulator.h"
#include "amortized/train/trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include "tolerance.h"
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <cmath>
#include <limits>
#include <functional>
#include <sstream>

using namespace amortized;

namespace {

void perturb(torch::nn::Module& m, at::Generator& gen, double scale) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.add_(scale * torch::randn(p.sizes(), gen, p.options()));
}

// One contract over every inference network: a density that integrates to
// one, draws that follow it, shape checks, batch independence, seeds, and
// save/restore.
struct NetCase {
  std::string name;
  std::function<std::shared_ptr<InferenceNetImpl>(int64_t dim, int64_t ctx, at::Generator&)> make;
};
void PrintTo(const NetCase& c, std::ostream* os) { *os << c.name; }

std::vector<NetCase> all_nets() {
  auto coupling = [](std::string transform) {
    return [transform](int64_t dim, int64_t ctx, at::Generator& gen) -> std::shared_ptr<InferenceNetImpl> {
      auto flow = make_coupling_flow(
          CouplingFlowOptions(dim, ctx).transform(transform).n_layers(3).hidden({16}).bins(6), gen);
      perturb(*flow, gen, 0.3);
      return flow.ptr();
    };
  };
  return {
      {"affine_coupling_flow", coupling("affine")},
      {"spline_coupling_flow", coupling("spline")},
      {"flow_matching",
       [](int64_t dim, int64_t ctx, at::Generator& gen) -> std::shared_ptr<InferenceNetImpl> {
         auto fm = std::make_shared<FlowMatchingImpl>(
             FlowMatchingOptions(dim, ctx).hidden({32, 32}).steps(20).time_frequencies(2));
         fm->reset_parameters(gen);
         return fm;
       }},
      {"flow_matching_dopri5",
       [](int64_t dim, int64_t ctx, at::Generator& gen) -> std::shared_ptr<InferenceNetImpl> {
         auto fm = std::make_shared<FlowMatchingImpl>(
             FlowMatchingOptions(dim, ctx).hidden({32, 32}).solver("dopri5").tolerance(1e-5).time_frequencies(2));
         fm->reset_parameters(gen);
         return fm;
       }},
      {"ensemble",
       [coupling](int64_t dim, int64_t ctx, at::Generator& gen) -> std::shared_ptr<InferenceNetImpl> {
         return std::make_shared<EnsembleImpl>(std::vector<std::shared_ptr<InferenceNetImpl>>{
             coupling("spline")(dim, ctx, gen), coupling("affine")(dim, ctx, gen)});
       }},
  };
}

class InferenceNetContract : public ::testing::TestWithParam<NetCase> {};

TEST_P(InferenceNetContract, DensityIntegratesToOneAndDrawsFollowIt) {
  auto gen = make_generator(11);
  auto net = GetParam().make(1, 2, gen);
  net->eval();
  net->to(torch::kDouble);
  torch::NoGradGuard no_grad;
  auto grid = torch::linspace(-12, 12, 24001, torch::kDouble);
  auto ctx1 = torch::randn({1, 2}, gen).to(torch::kDouble);
  auto density = torch::exp(net->log_prob(grid.unsqueeze(1), ctx1.expand({grid.size(0), 2})));
  EXPECT_NEAR(torch::trapz(density, grid).item<double>(), 1.0, 5e-3);
  // The empirical CDF of the draws against the CDF of the density.
  auto draws = net->sample(20000, ctx1, gen).reshape({-1});
  // cumulative trapezoid rule
  auto mids = 0.5 * (density.narrow(0, 1, density.size(0) - 1) + density.narrow(0, 0, density.size(0) - 1));
  auto cdf = torch::cat({torch::zeros({1}, torch::kDouble), torch::cumsum(mids, 0) * (grid[1] - grid[0])});
  auto empirical = (draws.unsqueeze(0) <= grid.unsqueeze(1)).to(torch::kDouble).mean(1);
  EXPECT_LT((cdf - empirical).abs().max().item<double>(), 0.02);
}

TEST_P(InferenceNetContract, ChecksShapesAndKeepsRowsIndependent) {
  auto gen = make_generator(3);
  auto net = GetParam().make(3, 2, gen);
  net->eval();
  torch::NoGradGuard no_grad;
  EXPECT_THROW(net->log_prob(torch::randn({4, 2}), torch::randn({4, 2})), c10::Error);
  EXPECT_THROW(net->log_prob(torch::randn({4, 3}), torch::randn({4, 5})), c10::Error);
  EXPECT_THROW(net->sample(0, torch::randn({4, 2}), gen), c10::Error);
  auto theta = torch::randn({6, 3}, gen), ctx = torch::randn({6, 2}, gen);
  auto full = net->log_prob(theta, ctx);
  ASSERT_EQ(full.sizes(), torch::IntArrayRef({6}));
  auto one = net->log_prob(theta.narrow(0, 4, 1), ctx.narrow(0, 4, 1));
  EXPECT_NEAR(one.item<double>(), full[4].item<double>(), 1e-4);
  EXPECT_EQ(net->sample(7, ctx, gen).sizes(), torch::IntArrayRef({6, 7, 3}));
  EXPECT_TRUE(torch::isfinite(net->loss(theta, ctx)).item<bool>());
}

TEST_P(InferenceNetContract, SameSeedSameNetAndDraws) {
  auto g1 = make_generator(9), g2 = make_generator(9);
  auto a = GetParam().make(2, 1, g1), b = GetParam().make(2, 1, g2);
  a->eval();
  b->eval();
  torch::NoGradGuard no_grad;
  auto ctx = torch::ones({3, 1});
  auto s1 = make_generator(4), s2 = make_generator(4);
  EXPECT_TRUE(torch::equal(a->sample(10, ctx, s1), b->sample(10, ctx, s2)));
  auto g3 = make_generator(10);
  auto c = GetParam().make(2, 1, g3);
  c->eval();
  auto s3 = make_generator(4), s4 = make_generator(4);
  EXPECT_FALSE(torch::equal(a->sample(10, ctx, s3), c->sample(10, ctx, s4)));
}

TEST_P(InferenceNetContract, SaveRestoreGivesIdenticalOutputs) {
  auto gen = make_generator(21);
  auto net = GetParam().make(2, 2, gen);
  net->eval();
  std::stringstream buffer;
  {
    torch::serialize::OutputArchive archive;
    net->save(archive);
    archive.save_to(buffer);
  }
  auto other = make_generator(22);
  auto fresh = GetParam().make(2, 2, other);
  fresh->eval();
  torch::serialize::InputArchive archive;
  archive.load_from(buffer);
  fresh->load(archive);
  torch::NoGradGuard no_grad;
  auto theta = torch::randn({5, 2}, gen), ctx = torch::randn({5, 2}, gen);
  EXPECT_TRUE(torch::equal(net->log_prob(theta, ctx), fresh->log_prob(theta, ctx)));
  auto s1 = make_generator(1), s2 = make_generator(1);
  EXPECT_TRUE(torch::equal(net->sample(4, ctx, s1), fresh->sample(4, ctx, s2)));
}

INSTANTIATE_TEST_SUITE_P(AllNets, InferenceNetContract, ::testing::ValuesIn(all_nets()),
                         [](const auto& info) { return info.param.name; });

TEST(CouplingFlow, SamplesInvertToStandardNormalLatents) {
  auto gen = make_generator(5);
  auto flow = make_coupling_flow(CouplingFlowOptions(3, 2).n_layers(4).hidden({16, 16}), gen);
  perturb(*flow, gen, 0.2);
  flow->eval();
  auto ctx = torch::randn({2, 2}, gen);
  auto draws = flow->sample(20000, ctx, gen);  // [2, 20000, 3]
  auto z = flow->to_latent(draws.reshape({40000, 3}),
                           ctx.unsqueeze(1).expand({2, 20000, 2}).reshape({40000, 2}))
               .first;
  EXPECT_LT(z.mean(0).abs().max().item<double>(), 0.03);
  EXPECT_LT((z.std(0) - 1).abs().max().item<double>(), 0.03);
}

TEST(CouplingFlow, RejectsBadArguments) {
  auto gen = make_generator(0);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 3), gen);
  EXPECT_THROW(flow->log_prob(torch::randn({4, 2}), torch::randn({4, 2})), c10::Error);
  EXPECT_THROW(flow->sample(0, torch::randn({4, 3}), gen), c10::Error);
  EXPECT_THROW(make_coupling_flow(CouplingFlowOptions(2, 3).transform("bogus"), gen), c10::Error);
  EXPECT_THROW(make_coupling_flow(CouplingFlowOptions(2, 3).n_layers(0), gen), c10::Error);
}

TEST(PosteriorEstimator, LogProbIsOnTheOriginalScale) {
  // With standardization by sd s, log q(theta) = log q_std(theta_std) - sum log s.
  auto gen = make_generator(2);
  auto flow = make_coupling_flow(CouplingFlowOptions(1, 1).n_layers(2).hidden({8}), gen);
  PosteriorEstimator est(flow.ptr(), 1, 1);
  auto theta = 100.0 + 10.0 * torch::randn({500, 1}, gen);
  est->fit_standardization(theta, torch::randn({500, 1}, gen));
  est->eval();
  est->to(torch::kDouble);
  auto grid = torch::linspace(-100, 300, 40001, torch::kDouble).unsqueeze(1);
  auto x = torch::zeros({grid.size(0), 1}, torch::kDouble);
  const double integral = torch::trapz(torch::exp(est->log_prob(grid, x)), grid.squeeze(1)).item<double>();
  EXPECT_NEAR(integral, 1.0, 1e-3);
}

TEST(PosteriorEstimator, SymmetricParametersAreLearnedFoldedAndDrawnWithRandomSigns) {
  // theta_1 symmetric in (-2, 2), theta_2 free: the density is that of the
  // same net on (|theta_1| in (0, 2), theta_2), halved.
  auto gen = make_generator(12);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 1).n_layers(2).hidden({8}), gen);
  perturb(*flow, gen, 0.3);
  const double inf = std::numeric_limits<double>::infinity();
  PosteriorEstimator sym(flow.ptr(), std::shared_ptr<SummaryNetImpl>(),
                         PosteriorEstimatorOptions(2, 1).lower({-2.0, -inf}).upper({2.0, inf}).symmetric({0}));
  PosteriorEstimator folded(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), PosteriorEstimatorOptions(2, 1).lower({0.0, -inf}).upper({2.0, inf}));
  auto train = torch::stack({4.0 * torch::rand({500}, gen) - 2.0, torch::randn({500}, gen)}, 1);
  auto train_x = torch::randn({500, 1}, gen);
  sym->fit_standardization(train, train_x);
  auto train_abs = train.clone();
  train_abs.select(1, 0).abs_();
  folded->fit_standardization(train_abs, train_x);  // the same standardization
  for (auto* est : {&sym, &folded}) {
    (*est)->eval();
    (*est)->to(torch::kDouble);
  }
  torch::NoGradGuard no_grad;
  auto theta = torch::stack({4.0 * torch::rand({50}, gen, torch::kDouble) - 2.0, torch::randn({50}, gen, torch::kDouble)}, 1);
  auto x = torch::randn({50, 1}, gen, torch::kDouble);
  auto flipped = theta * torch::tensor({-1.0, 1.0}, torch::kDouble);
  auto abs_theta = theta * torch::tensor({1.0, 1.0}, torch::kDouble);
  abs_theta.select(1, 0).abs_();
  EXPECT_TRUE(torch::allclose(sym->log_prob(theta, x), sym->log_prob(flipped, x), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(sym->log_prob(theta, x), folded->log_prob(abs_theta, x) - std::log(2.0), 1e-10, 1e-10));
  // a proper density on (-2, 2) x R: integrate q(t, y) + q(-t, y) over t in
  // (0, 2) and y, on a grid in u = logit(t / 2) (smooth where q is steep)
  const int64_t m = 801;
  auto u = torch::linspace(-40, 40, m, torch::kDouble), y = torch::linspace(-12, 12, m, torch::kDouble);
  auto t = 2.0 * torch::sigmoid(u), dt = t * (1.0 - t / 2.0);
  auto context = torch::full({m * m, 1}, 0.7, torch::kDouble);
  auto density = [&](const Tensor& t1) {
    return torch::exp(sym->log_prob(torch::stack({t1.repeat_interleave(m), y.repeat({m})}, 1), context)).view({m, m});
  };
  auto dens = (density(t) + density(-t)) * dt.unsqueeze(1);
  EXPECT_NEAR(torch::trapz(torch::trapz(dens, y, 1), u).item<double>(), 1.0, 5e-3);
  EXPECT_TRUE(std::isinf(sym->log_prob(torch::tensor({{2.5, 0.0}}, torch::kDouble), x.narrow(0, 0, 1))[0].item<double>()));
  // draws: inside the bounds, each sign about half of the time; |draws| follow the folded estimator
  auto draws = sym->sample(20000, x.narrow(0, 0, 1), gen).squeeze(0);
  auto positive = (draws.select(1, 0) > 0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(positive, 0.5, 0.015);  // 4.2 binomial sds
  EXPECT_TRUE((draws.select(1, 0).abs() < 2).all().item<bool>());
  auto reference = folded->sample(20000, x.narrow(0, 0, 1), gen).squeeze(0);
  EXPECT_NEAR(draws.select(1, 0).abs().mean().item<double>(), reference.select(1, 0).mean().item<double>(), 0.03);
  // bad declarations
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), std::shared_ptr<SummaryNetImpl>(),
                                  PosteriorEstimatorOptions(2, 1).lower({0.0, -inf}).upper({2.0, inf}).symmetric({0})),
               c10::Error);  // bounds not symmetric
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), PosteriorEstimatorOptions(2, 1).symmetric({2})), c10::Error);
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), PosteriorEstimatorOptions(2, 1).symmetric({1, 1})), c10::Error);
}

TEST(PosteriorEstimator, TruncationRejectsDrawsOutsideTheSupportAndRenormalizes) {
  // The same net with and without a truncation to (-1, 1) x (-inf, 0.5):
  // truncated draws are the untruncated ones that fall inside, and the
  // truncated density is the untruncated one over its mass inside.
  auto gen = make_generator(21);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 1).n_layers(2).hidden({8}), gen);
  perturb(*flow, gen, 0.3);
  const double inf = std::numeric_limits<double>::infinity();
  auto options = [&] { return PosteriorEstimatorOptions(2, 1).truncate_lower({-1.0, -inf}).truncate_upper({1.0, 0.5}); };
  PosteriorEstimator cut(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), options().truncation_draws(200000));
  PosteriorEstimator plain(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), PosteriorEstimatorOptions(2, 1));
  auto train = torch::stack({2.0 * torch::rand({500}, gen) - 1.0, torch::rand({500}, gen) - 0.5}, 1);
  auto train_x = torch::randn({500, 1}, gen);
  for (auto* est : {&cut, &plain}) {
    (*est)->fit_standardization(train, train_x);
    (*est)->eval();
    (*est)->to(torch::kDouble);
  }
  torch::NoGradGuard no_grad;
  auto x = torch::tensor({{-0.8}, {0.3}, {1.5}}, torch::kDouble);
  auto inside = [](const Tensor& t) {
    return (t.select(-1, 0).abs() < 1) & (t.select(-1, 1) < 0.5);
  };
  // draws: n per data set, all inside, distributed as the accepted untruncated draws
  auto draws = cut->sample(20000, x, gen);
  ASSERT_EQ(draws.sizes(), (std::vector<int64_t>{3, 20000, 2}));
  EXPECT_TRUE(inside(draws).all().item<bool>());
  auto free = plain->sample(60000, x, gen);
  auto mass_mc = inside(free).to(torch::kDouble).mean(1);
  EXPECT_LT(mass_mc.max().item<double>(), 0.97);  // the truncation matters for this net
  for (int64_t i = 0; i < 3; ++i) {
    auto accepted = free[i].index({inside(free[i])});
    EXPECT_LT((draws[i].mean(0) - accepted.mean(0)).abs().max().item<double>(), 0.03) << "data set " << i;
    EXPECT_LT((draws[i].std(0) - accepted.std(0)).abs().max().item<double>(), 0.03) << "data set " << i;
  }
  // the mass inside matches the accepted fraction; log_prob is renormalized, -inf outside, deterministic
  auto log_mass = cut->log_support_mass(DataBatch{x, {}, {}});
  EXPECT_LT((log_mass.exp() - mass_mc).abs().max().item<double>(), 0.01);
  auto theta = torch::tensor({{0.2, 0.1}, {-0.5, -1.0}, {0.9, 0.4}}, torch::kDouble);
  auto lp = cut->log_prob(theta, x);
  EXPECT_TRUE(torch::allclose(lp, plain->log_prob(theta, x) - log_mass, 1e-12, 1e-12));
  EXPECT_TRUE(torch::equal(lp, cut->log_prob(theta, x)));
  auto outside = torch::tensor({{1.2, 0.0}, {0.0, 0.6}}, torch::kDouble);
  EXPECT_TRUE(torch::isinf(cut->log_prob(outside, x.narrow(0, 0, 2))).all().item<bool>());
  // a proper density on the box: integrate over (-1, 1) x (-12, 0.5)
  const int64_t m = 601;
  auto t1 = torch::linspace(-1, 1, m, torch::kDouble), t2 = torch::linspace(-12, 0.5, m, torch::kDouble);
  auto grid = torch::stack({t1.repeat_interleave(m), t2.repeat({m})}, 1);
  auto dens = torch::exp(cut->log_prob(grid, torch::full({m * m, 1}, 0.3, torch::kDouble))).view({m, m});
  EXPECT_NEAR(torch::trapz(torch::trapz(dens, t2, 1), t1).item<double>(), 1.0, 1e-2);
  // a support the net gives (almost) no mass: a clear error, not an endless loop
  PosteriorEstimator far(flow.ptr(), std::shared_ptr<SummaryNetImpl>(),
                         PosteriorEstimatorOptions(2, 1).truncate_lower({50.0, -inf}).truncate_upper({51.0, inf}));
  far->fit_standardization(train, train_x);
  far->eval();
  far->to(torch::kDouble);
  EXPECT_THROW(far->sample(10, x.narrow(0, 0, 1), gen), c10::Error);
  // bad declarations
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), std::shared_ptr<SummaryNetImpl>(),
                                  PosteriorEstimatorOptions(2, 1).truncate_lower({-1.0}).truncate_upper({1.0})),
               c10::Error);
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), options().truncation_draws(10)), c10::Error);
}

TEST(PosteriorEstimator, ARotationDeclaresAReflectionSymmetry) {
  // Q = [[1, 1], [-1, 1]] / sqrt 2 with its first coordinate symmetric: the
  // posterior is even under (t1, t2) -> (-t2, -t1), and it is the estimator
  // of Q theta (first coordinate folded) seen through Q.
  auto gen = make_generator(31);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 1).n_layers(2).hidden({8}), gen);
  perturb(*flow, gen, 0.3);
  const double r = 1.0 / std::sqrt(2.0);
  const std::vector<double> q = {r, r, -r, r};
  PosteriorEstimator rotated(flow.ptr(), std::shared_ptr<SummaryNetImpl>(),
                             PosteriorEstimatorOptions(2, 1).rotation(q).symmetric({0}));
  PosteriorEstimator inner(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), PosteriorEstimatorOptions(2, 1).symmetric({0}));
  PosteriorEstimator cut(flow.ptr(), std::shared_ptr<SummaryNetImpl>(),
                         PosteriorEstimatorOptions(2, 1).rotation(q).symmetric({0}).truncate_lower({-1.0, -1.0}).truncate_upper({1.0, 1.0}));
  auto train = 2.0 * torch::rand({500, 2}, gen) - 1.0;
  auto train_x = torch::randn({500, 1}, gen);
  auto qt = torch::tensor(q, torch::kDouble).view({2, 2});
  rotated->fit_standardization(train, train_x);
  cut->fit_standardization(train, train_x);
  inner->fit_standardization(train.to(torch::kDouble).mm(qt.t()).to(torch::kFloat), train_x);
  for (auto* est : {&rotated, &inner, &cut}) {
    (*est)->eval();
    (*est)->to(torch::kDouble);
  }
  torch::NoGradGuard no_grad;
  auto theta = 2.0 * torch::rand({50, 2}, gen, torch::kDouble) - 1.0;
  auto x = torch::randn({50, 1}, gen, torch::kDouble);
  auto mirrored = torch::stack({-theta.select(1, 1), -theta.select(1, 0)}, 1);
  EXPECT_TRUE(torch::allclose(rotated->log_prob(theta, x), rotated->log_prob(mirrored, x), 1e-10, 1e-10));
  // two estimators whose standardizations were fitted in float32 on data
  // rotated by different paths: equal to float32 rounding
  EXPECT_TRUE(amortized_test::float_close(rotated->log_prob(theta, x), inner->log_prob(theta.mm(qt.t()), x), 256, 10.0));
  EXPECT_FALSE(torch::allclose(rotated->log_prob(theta, x), inner->log_prob(theta, x), 1e-3, 1e-3));
  // draws: Q theta is what the inner estimator draws from the same random
  // stream; each side of the mirror about half of the time
  auto one = x.narrow(0, 0, 1);
  auto gen_a = make_generator(77), gen_b = make_generator(77);
  auto draws = rotated->sample(20000, one, gen_a).squeeze(0);
  auto inner_draws = inner->sample(20000, one, gen_b).squeeze(0);
  EXPECT_TRUE(amortized_test::float_close(draws.mm(qt.t()), inner_draws, 256, 1.0));
  EXPECT_NEAR((draws.sum(1) > 0).to(torch::kDouble).mean().item<double>(), 0.5, 0.015);
  // with a truncation to the box, which the mirror maps onto itself
  auto boxed = cut->sample(20000, one, gen).squeeze(0);
  EXPECT_TRUE((boxed.abs() < 1).all().item<bool>());
  EXPECT_NEAR((boxed.sum(1) > 0).to(torch::kDouble).mean().item<double>(), 0.5, 0.015);
  EXPECT_TRUE(torch::allclose(cut->log_prob(theta, x), cut->log_prob(mirrored, x), 1e-10, 1e-10));
  // bad rotations
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), PosteriorEstimatorOptions(2, 1).rotation({1.0, 1.0, 0.0, 1.0})),
               c10::Error);  // not orthogonal
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), PosteriorEstimatorOptions(2, 1).rotation({1.0, 0.0, 0.0})),
               c10::Error);  // not 2 x 2
}

TEST(PosteriorEstimator, SetDataAreInvariantToTheOrderOfTheirPoints) {
  auto gen = make_generator(6);
  auto make = [&](std::vector<int64_t> set_shape) {
    const int64_t width = ConditionNetImpl::flat_width(6, set_shape);
    auto flow = make_coupling_flow(CouplingFlowOptions(2, width).n_layers(2).hidden({16}), gen);
    perturb(*flow, gen, 0.3);
    PosteriorEstimator est(flow.ptr(), 2, 6, set_shape);
    est->fit_standardization(torch::randn({50, 2}, gen), torch::randn({50, 6}, gen));
    est->eval();
    return est;
  };
  auto theta = torch::randn({4, 2}, gen), x = torch::randn({4, 6}, gen);  // 3 points of 2
  // the same sets with their points in another order: (p3, p1, p2)
  auto permuted = torch::cat({x.narrow(1, 4, 2), x.narrow(1, 0, 2), x.narrow(1, 2, 2)}, 1);
  torch::NoGradGuard no_grad;
  EXPECT_EQ(ConditionNetImpl::flat_width(6, {3, 2}), 6 + 2 + 3);  // points, mean, 3 products
  EXPECT_EQ(ConditionNetImpl::flat_width(6, {}), 6);
  auto set = make({3, 2});
  EXPECT_TRUE(amortized_test::float_close(set->log_prob(theta, x), set->log_prob(theta, permuted), 256, 10.0));
  auto flat = make({});
  EXPECT_FALSE(torch::allclose(flat->log_prob(theta, x), flat->log_prob(theta, permuted), 1e-3, 1e-3));
  EXPECT_THROW(PosteriorEstimator(make_coupling_flow(CouplingFlowOptions(2, 11), gen).ptr(), 2, 6,
                                  std::vector<int64_t>{4, 2}),
               c10::Error);  // 4 x 2 is not 6 values
  EXPECT_THROW(PosteriorEstimator(make_coupling_flow(CouplingFlowOptions(2, 6), gen).ptr(), 2, 6,
                                  std::vector<int64_t>{3, 2}),
               c10::Error);  // the net must take the moments too
}

// Equivariances: sets of 4 points of 2 whose first coordinate may flip
// (with theta_1 and theta_3) and whose coordinates may swap (with theta_1 and
// theta_2): a group of 8. Training batches are transformed at random;
// densities and draws are averaged over the group, so exactly equivariant.
TEST(PosteriorEstimator, EquivariancesAugmentTrainingAndMakeThePosteriorEquivariant) {
  auto gen = make_generator(12);
  const std::vector<int64_t> shape = {4, 2};
  const int64_t width = ConditionNetImpl::flat_width(8, shape);
  auto flow = make_coupling_flow(CouplingFlowOptions(3, width).n_layers(2).hidden({16}), gen);
  perturb(*flow, gen, 0.3);
  const std::vector<Equivariance> group = {{{-1, 2, -3}, {-1, 2}}, {{2, 1, 3}, {2, 1}}};
  auto options = PosteriorEstimatorOptions(3, 8).set_shape(shape);
  PosteriorEstimator est(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), PosteriorEstimatorOptions(options).equivariances(group));
  PosteriorEstimator plain(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), options);
  EXPECT_EQ(est->group_size(), 8);
  EXPECT_EQ(plain->group_size(), 1);
  auto train_theta = torch::randn({64, 3}, gen, torch::kDouble), train_x = torch::randn({64, 8}, gen, torch::kDouble);
  est->to(torch::kDouble);
  plain->to(torch::kDouble);
  est->fit_standardization(train_theta, train_x);
  // est fits its standardization over the group: row i transformed by element i mod 8
  auto [aug_theta, aug_x] = est->transform(train_theta, DataBatch{train_x, {}, {}},
                                           torch::arange(64, torch::kLong).remainder(8));
  plain->fit_standardization(aug_theta, aug_x.x);
  // element 1 is the first generator: theta_1 and theta_3 flip, and every point's first coordinate
  auto theta = torch::randn({5, 3}, gen, torch::kDouble), x = torch::randn({5, 8}, gen, torch::kDouble);
  auto [t1, d1] = est->transform(theta, DataBatch{x, {}, {}}, torch::ones({5}, torch::kLong));
  EXPECT_TRUE(torch::equal(t1, theta * torch::tensor({-1.0, 1.0, -1.0}, torch::kDouble)));
  EXPECT_TRUE(torch::equal(d1.x, x * torch::tensor({-1.0, 1.0}, torch::kDouble).repeat({4})));
  // element 2, the swap: theta_1 <-> theta_2 and each point's coordinates
  auto [t2, d2] = est->transform(theta, DataBatch{x, {}, {}}, torch::full({5}, 2, torch::kLong));
  EXPECT_TRUE(torch::equal(t2, theta.index_select(1, torch::tensor({1, 0, 2}, torch::kLong))));
  EXPECT_TRUE(torch::equal(d2.x, x.index_select(1, torch::tensor({1, 0, 3, 2, 5, 4, 7, 6}, torch::kLong))));
  // the density is the same at (g theta, g x) for every g; the net's own is not
  est->eval();
  plain->eval();
  {
    torch::NoGradGuard no_grad;
    auto lp = est->log_prob(theta, x);
    for (int64_t g = 1; g < 8; ++g) {
      auto [tg, dg] = est->transform(theta, DataBatch{x, {}, {}}, torch::full({5}, g, torch::kLong));
      EXPECT_TRUE(torch::allclose(est->log_prob(tg, dg), lp, 1e-9, 1e-9)) << "group element " << g;
    }
    auto [tf, df] = est->transform(theta, DataBatch{x, {}, {}}, torch::ones({5}, torch::kLong));
    EXPECT_FALSE(torch::allclose(plain->log_prob(tf, df.x), plain->log_prob(theta, x), 1e-3, 1e-3));
    // and it is the mean of the net's densities over the group
    auto mean = torch::zeros({5}, torch::kDouble);
    for (int64_t g = 0; g < 8; ++g) {
      auto [tg, dg] = est->transform(theta, DataBatch{x, {}, {}}, torch::full({5}, g, torch::kLong));
      mean += plain->log_prob(tg, dg.x).exp() / 8.0;
    }
    EXPECT_TRUE(torch::allclose(lp, mean.log(), 1e-9, 1e-9));
    // draws for g x are g applied to draws for x, in distribution
    auto one = x.narrow(0, 0, 1);
    auto draws = est->sample(40000, one, gen).squeeze(0);
    auto flipped = est->sample(40000, d1.x.narrow(0, 0, 1), gen).squeeze(0);
    ASSERT_EQ(draws.sizes(), (std::vector<int64_t>{40000, 3}));
    auto sd = draws.std(0);
    EXPECT_TRUE(((flipped.mean(0) - draws.mean(0) * torch::tensor({-1.0, 1.0, -1.0}, torch::kDouble)).abs() < 0.05 * sd)
                    .all().item<bool>());
    EXPECT_TRUE(((flipped.std(0) - sd).abs() < 0.05 * sd).all().item<bool>());
  }
  // training batches are transformed at random, from a seeded stream; validation ones are not
  est->train();
  est->seed_augmentation(5);
  auto a = est->loss(theta, x).item<double>();
  est->seed_augmentation(5);
  EXPECT_EQ(est->loss(theta, x).item<double>(), a);
  std::vector<double> seen;
  for (int k = 0; k < 10; ++k) seen.push_back(est->loss(theta, x).item<double>());
  EXPECT_GT(*std::max_element(seen.begin(), seen.end()) - *std::min_element(seen.begin(), seen.end()), 1e-6);
  est->eval();
  EXPECT_EQ(est->loss(theta, x).item<double>(), est->loss(theta, x).item<double>());
  // bad declarations
  auto bad = [&](std::vector<Equivariance> g) {
    return PosteriorEstimator(flow.ptr(), std::shared_ptr<SummaryNetImpl>(), PosteriorEstimatorOptions(options).equivariances(g));
  };
  EXPECT_THROW(bad({{{1, 1, 3}, {1, 2}}}), c10::Error);     // not a permutation
  EXPECT_THROW(bad({{{1, 2}, {1, 2}}}), c10::Error);        // too short for theta
  EXPECT_THROW(bad({{{1, 2, 3}, {1, 2, 3}}}), c10::Error);  // a point has 2 variables
  EXPECT_THROW(bad({{{1, 2, 4}, {1, 2}}}), c10::Error);     // index out of range
}

// The features appended to flat set data: sorted points, then the mean, log
// standard deviations and correlations (2) or the mean products (1).
TEST(PosteriorEstimator, SetFeaturesAreLocationLogScaleAndCorrelation) {
  auto gen = make_generator(8);
  auto x = torch::randn({5, 8}, gen, torch::kDouble);  // 5 sets of 4 points of 2
  const std::vector<int64_t> shape = {4, 2};
  auto f = ConditionNetImpl::set_features(x, shape, 2);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{5, ConditionNetImpl::flat_width(8, shape)}));
  auto points = x.reshape({5, 4, 2});
  for (int64_t b = 0; b < 5; ++b) {
    auto p = points[b];
    auto mean = p.mean(0), sd = p.std(0, /*unbiased=*/false);
    auto corr = ((p.select(1, 0) - mean[0]) * (p.select(1, 1) - mean[1])).mean() / (sd[0] * sd[1]);
    EXPECT_TRUE(torch::allclose(f[b].narrow(0, 8, 2), mean, 1e-9, 1e-9));
    EXPECT_TRUE(torch::allclose(f[b].narrow(0, 10, 2), sd.log(), 1e-6, 1e-6));
    EXPECT_NEAR(f[b][12].item<double>(), corr.item<double>(), 1e-6);
    // the sorted points come first, ascending in their first coordinate
    auto first = f[b].narrow(0, 0, 8).reshape({4, 2}).select(1, 0);
    EXPECT_TRUE(torch::equal(first, std::get<0>(p.select(1, 0).sort())));
  }
  // scaling the data by 3 shifts the log scales by log 3 and keeps the correlations
  auto scaled = ConditionNetImpl::set_features(3 * x, shape, 2);
  EXPECT_TRUE(torch::allclose(scaled.narrow(1, 10, 2), f.narrow(1, 10, 2) + std::log(3.0), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(scaled.narrow(1, 12, 1), f.narrow(1, 12, 1), 1e-6, 1e-6));
  // another order of the points gives the same features
  auto permuted = torch::cat({x.narrow(1, 6, 2), x.narrow(1, 0, 6)}, 1);
  EXPECT_TRUE(torch::allclose(ConditionNetImpl::set_features(permuted, shape, 2), f, 1e-9, 1e-9));
  // features 1: the mean products x_1 x_1, x_1 x_2, x_2 x_2
  auto g = ConditionNetImpl::set_features(x, shape, 1);
  auto products = torch::stack({(points.select(2, 0) * points.select(2, 0)).mean(1),
                                (points.select(2, 0) * points.select(2, 1)).mean(1),
                                (points.select(2, 1) * points.select(2, 1)).mean(1)}, 1);
  EXPECT_TRUE(torch::allclose(g.narrow(1, 10, 3), products, 1e-9, 1e-9));
  // a set without spread gets finite features
  auto flat = ConditionNetImpl::set_features(torch::ones({1, 8}, torch::kDouble), shape, 2);
  EXPECT_TRUE(torch::isfinite(flat).all().item<bool>());
  EXPECT_THROW(ConditionNetImpl::set_features(x, shape, 3), c10::Error);
  EXPECT_THROW(ConditionNetImpl::set_features(x, {3, 2}, 2), c10::Error);
}

// Trains NPE on gaussian_linear; the exact posterior is N(x/2, 0.05 I).
TEST(Training, LearnsTheConjugateGaussianPosterior) {
  set_threads(1);
  auto sim = make_benchmark_simulator("gaussian_linear");
  auto s = simulate(*sim, 4000, 1);
  auto theta = torch::from_blob(s.theta.data(), {4000, 10}, torch::kDouble).to(torch::kFloat);
  auto x = torch::from_blob(s.x.data(), {4000, 10}, torch::kDouble).to(torch::kFloat);
  auto gen = make_generator(3);
  auto flow = make_coupling_flow(CouplingFlowOptions(10, 10).n_layers(4).hidden({64, 64}), gen);
  PosteriorEstimator est(flow.ptr(), 10, 10);
  est->fit_standardization(theta, x);
  auto loss = [&](const torch::Tensor& a, const torch::Tensor& b) { return est->loss(a, b); };
  auto result = fit(*est, loss, theta, x, TrainOptions().epochs(40).batch_size(256).learning_rate(5e-4).seed(1), TrainHooks());
  ASSERT_FALSE(result.history.empty());
  EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);

  auto x_obs = torch::tensor({{0.3, -0.2, 0.0, 0.5, -0.4, 0.1, 0.2, -0.3, 0.4, -0.1}});
  auto draws = est->sample(4000, x_obs, gen).squeeze(0);  // [4000, 10]
  auto mean_err = (draws.mean(0) - x_obs.squeeze(0) / 2).abs().max().item<double>();
  auto sd_err = (draws.std(0) / std::sqrt(0.05) - 1).abs().max().item<double>();
  EXPECT_LT(mean_err, 0.06);
  EXPECT_LT(sd_err, 0.2);
}

// Online: every step trains on fresh simulations of theta ~ N(0, 1),
// x ~ N(theta, 0.5^2); the exact posterior is N(0.8 x, 0.2).
TEST(Training, OnlineTrainingLearnsFromFreshBatches) {
  set_threads(1);
  auto gen = make_generator(4);
  auto flow = make_coupling_flow(CouplingFlowOptions(1, 1).transform("affine").n_layers(2).hidden({16}), gen);
  PosteriorEstimator est(flow.ptr(), 1, 1);
  auto simulate_rows = [](int64_t n, uint64_t seed) {
    auto g = make_generator(seed);
    auto theta = torch::randn({n, 1}, g);
    return std::vector<torch::Tensor>{theta, theta + 0.5 * torch::randn({n, 1}, g)};
  };
  auto val = simulate_rows(500, 999);
  est->fit_standardization(val[0], val[1]);
  std::vector<int64_t> steps_seen;
  auto source = [&](int64_t step) {
    steps_seen.push_back(step);
    return simulate_rows(128, 1000 + static_cast<uint64_t>(step));
  };
  auto loss = [&](const std::vector<torch::Tensor>& b) { return est->loss(b[0], b[1]); };
  auto res = fit_online(*est, loss, source, 10, val, TrainOptions().epochs(15).learning_rate(3e-3).patience(0),
                        TrainHooks());
  ASSERT_EQ(res.history.size(), 15u);
  ASSERT_EQ(steps_seen.size(), 150u);
  EXPECT_EQ(steps_seen.front(), 0);
  EXPECT_EQ(steps_seen.back(), 149);  // every step a new batch
  torch::NoGradGuard no_grad;
  auto draws = est->sample(4000, torch::tensor({{1.0f}}), gen).reshape({-1});
  EXPECT_NEAR(draws.mean().item<double>(), 0.8, 0.08);
  EXPECT_NEAR(draws.std().item<double>() / std::sqrt(0.2), 1.0, 0.15);
  EXPECT_THROW(fit_online(*est, loss, source, 0, val, TrainOptions(), TrainHooks()), c10::Error);
}

TEST(Training, EarlyStoppingRestoresTheBestWeights) {
  auto gen = make_generator(8);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 2).n_layers(2).hidden({32}), gen);
  // Few rows and many epochs: the model overfits and validation loss rises.
  auto theta = torch::randn({60, 2}, gen), x = torch::randn({60, 2}, gen);
  auto loss = [&](const torch::Tensor& a, const torch::Tensor& b) { return flow->loss(a, b); };
  auto opts = TrainOptions().epochs(300).batch_size(16).patience(10).learning_rate(1e-2)
                  .validation_fraction(0.3).seed(2);
  auto result = fit(*flow, loss, theta, x, opts, TrainHooks());
  double best = 1e300;
  for (const auto& r : result.history) best = std::min(best, r.validation_loss);
  EXPECT_EQ(result.stop_reason, "early_stopping");
  EXPECT_EQ(result.history[result.best_epoch - 1].validation_loss, best);
  // Re-evaluate: the held-out rows are the first 18 of the seeded permutation.
  auto order = torch::randperm(60, make_generator(2), torch::kLong).narrow(0, 0, 18);
  torch::NoGradGuard no_grad;
  const double now = flow->loss(theta.index_select(0, order), x.index_select(0, order)).item<double>();
  EXPECT_NEAR(now, best, 1e-5);
}

// Annealing after early stopping: anneal_epochs more epochs from the best
// weights with the rate decaying from its value at the stop to 0; the best
// validated weights are returned.
TEST(Training, EarlyStoppingAnnealsFromTheBestWeights) {
  auto run = [](int64_t anneal) {
    auto gen = make_generator(8);
    auto flow = make_coupling_flow(CouplingFlowOptions(2, 2).n_layers(2).hidden({32}), gen);
    auto theta = torch::randn({60, 2}, gen), x = torch::randn({60, 2}, gen);
    auto loss = [&](const torch::Tensor& a, const torch::Tensor& b) { return flow->loss(a, b); };
    auto opts = TrainOptions().epochs(300).batch_size(16).patience(10).learning_rate(1e-2)
                    .validation_fraction(0.3).seed(2).anneal_epochs(anneal);
    auto result = fit(*flow, loss, theta, x, opts, TrainHooks());
    auto order = torch::randperm(60, make_generator(2), torch::kLong).narrow(0, 0, 18);
    torch::NoGradGuard no_grad;
    const double now = flow->loss(theta.index_select(0, order), x.index_select(0, order)).item<double>();
    return std::make_pair(result, now);
  };
  auto [plain, plain_loss] = run(0);
  auto [annealed, annealed_loss] = run(8);
  const size_t stop = plain.history.size();
  ASSERT_EQ(annealed.history.size(), stop + 8);  // the same run up to the stop, then 8 epochs
  EXPECT_EQ(annealed.history[stop - 1].validation_loss, plain.history[stop - 1].validation_loss);
  EXPECT_EQ(annealed.stop_reason, "early_stopping");
  const double rate_at_stop = plain.history[stop - 1].learning_rate;
  EXPECT_LT(annealed.history[stop].learning_rate, rate_at_stop);  // decaying from there
  EXPECT_GT(annealed.history[stop].learning_rate, 0.5 * rate_at_stop);
  EXPECT_LT(annealed.history.back().learning_rate, 0.05 * rate_at_stop);  // nearly 0 at the end
  for (size_t e = stop + 1; e < annealed.history.size(); ++e) {
    EXPECT_LT(annealed.history[e].learning_rate, annealed.history[e - 1].learning_rate);
  }
  double best = 1e300;
  for (const auto& r : annealed.history) best = std::min(best, r.validation_loss);
  EXPECT_NEAR(annealed_loss, best, 1e-5);  // the best validated weights are returned
  EXPECT_LE(annealed_loss, plain_loss + 1e-9);
  EXPECT_THROW(run(-1), c10::Error);
}

// With a moving average of the weights, validation and the result use the
// averaged weights: the returned model has the best validation loss, and it
// differs from the model trained the same way without averaging.
TEST(Training, AveragedWeightsAreValidatedAndReturned) {
  auto run = [](double decay) {
    auto gen = make_generator(8);
    auto flow = make_coupling_flow(CouplingFlowOptions(2, 2).n_layers(2).hidden({32}), gen);
    auto theta = torch::randn({300, 2}, gen), x = torch::randn({300, 2}, gen);
    auto loss = [&](const torch::Tensor& a, const torch::Tensor& b) { return flow->loss(a, b); };
    std::vector<double> seen;  // the validation loss recomputed in the epoch hook
    auto order = torch::randperm(300, make_generator(2), torch::kLong).narrow(0, 0, 90);
    auto val = [&]() {
      torch::NoGradGuard no_grad;
      return flow->loss(theta.index_select(0, order), x.index_select(0, order)).item<double>();
    };
    TrainHooks hooks;
    hooks.on_epoch_end = [&](const EpochRecord&) {
      seen.push_back(val());
      return true;
    };
    auto opts = TrainOptions().epochs(12).batch_size(32).learning_rate(5e-3).validation_fraction(0.3).seed(2)
                    .ema_decay(decay);
    auto result = fit(*flow, loss, theta, x, opts, hooks);
    double best = 1e300;
    for (size_t i = 0; i < result.history.size(); ++i) {
      EXPECT_NEAR(seen[i], result.history[i].validation_loss, 1e-5);  // hooks see what was validated
      best = std::min(best, result.history[i].validation_loss);
    }
    EXPECT_NEAR(val(), best, 1e-5);
    return flow->parameters().front().detach().clone();
  };
  auto averaged = run(0.95), raw = run(0.0);
  EXPECT_FALSE(torch::allclose(averaged, raw));
  auto gen = make_generator(1);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 1).n_layers(1).hidden({4}), gen);
  auto loss = [&](const torch::Tensor& a, const torch::Tensor& b) { return flow->loss(a, b); };
  EXPECT_THROW(fit(*flow, loss, torch::randn({20, 2}), torch::randn({20, 1}), TrainOptions().ema_decay(1.0),
                   TrainHooks()),
               c10::Error);
}

TEST(Training, NonFiniteBatchesAreSkippedAndWeightsStayFinite) {
  auto gen = make_generator(4);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 1).n_layers(2).hidden({16}), gen);
  auto theta = torch::randn({400, 2}, gen), x = torch::randn({400, 1}, gen);
  int calls = 0;
  auto loss = [&](const torch::Tensor& a, const torch::Tensor& b) {
    auto l = flow->loss(a, b);
    return (++calls % 3 == 0) ? l * std::nan("") : l;  // every third batch is NaN
  };
  auto result = fit(*flow, loss, theta, x, TrainOptions().epochs(5).batch_size(50), TrainHooks());
  EXPECT_GT(result.skipped_batches, 0);
  for (const auto& p : flow->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}

TEST(Training, HooksCanStopTraining) {
  auto gen = make_generator(4);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 1).n_layers(1).hidden({8}), gen);
  auto theta = torch::randn({100, 2}, gen), x = torch::randn({100, 1}, gen);
  auto loss = [&](const torch::Tensor& a, const torch::Tensor& b) { return flow->loss(a, b); };
  TrainHooks hooks;
  hooks.on_epoch_end = [](const EpochRecord& r) { return r.epoch < 3; };
  auto result = fit(*flow, loss, theta, x, TrainOptions().epochs(50), hooks);
  EXPECT_EQ(result.history.size(), 3u);
  EXPECT_EQ(result.stop_reason, "callback");
  int polls = 0;
  TrainHooks interrupt;
  interrupt.should_stop = [&]() { return ++polls > 5; };
  result = fit(*flow, loss, theta, x, TrainOptions().epochs(50).batch_size(10), interrupt);
  EXPECT_EQ(result.stop_reason, "interrupted");
  EXPECT_EQ(result.history.size(), 1u);  // the partial first epoch is recorded
}

TEST(Training, TheOptimizerStateCarriesOverToTheNextTraining) {
  auto gen = make_generator(5);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 1).n_layers(1).hidden({8}), gen);
  auto theta = torch::randn({100, 2}, gen), x = torch::randn({100, 1}, gen);
  auto loss = [&](const std::vector<torch::Tensor>& b) { return flow->loss(b[0], b[1]); };
  auto o = TrainOptions().epochs(3).batch_size(30).validation_fraction(0.1).patience(0);  // 3 steps per epoch
  OptimizerState state;
  fit(*flow, loss, {theta, x}, o, TrainHooks(), &state);
  ASSERT_EQ(state.entries.size(), flow->parameters().size());
  EXPECT_EQ(state.entries.begin()->second.step, 9);
  const auto first = state.entries.begin()->first;
  const auto avg = state.entries.at(first).exp_avg.clone();
  EXPECT_GT(avg.abs().sum().item<double>(), 0.0);
  fit(*flow, loss, {theta, x}, o.epochs(2), TrainHooks(), &state);
  EXPECT_EQ(state.entries.at(first).step, 15);  // continued, not restarted
  OptimizerState fresh;
  fit(*flow, loss, {theta, x}, o.epochs(2), TrainHooks(), &fresh);
  EXPECT_EQ(fresh.entries.at(first).step, 6);
}


// The trainer's AdamW (one flat tensor for all parameters) makes the steps of
// torch::optim::AdamW: five full-batch steps from the same weights, with
// weight decay and a constant rate, agree to float rounding (the trainer
// sums the rows in another order); the parameters own their storage again
// afterwards.
TEST(Training, StepsAreThoseOfTorchAdamW) {
  auto options = CouplingFlowOptions(2, 1).n_layers(2).hidden({8});
  auto gen_a = make_generator(21), gen_b = make_generator(21);
  auto trained = make_coupling_flow(options, gen_a), manual = make_coupling_flow(options, gen_b);
  auto data_gen = make_generator(22);
  auto theta = torch::randn({64, 2}, data_gen), x = torch::randn({64, 1}, data_gen);
  {  // initialize the data-dependent layers on other data: at the batch they
     // were fit to, some gradients are rounding noise that Adam scales to +-lr
    torch::NoGradGuard no_grad;
    auto other = 2 * torch::randn({64, 2}, data_gen) + 1;
    trained->train();
    manual->train();
    trained->loss(other, x);
    manual->loss(other, x);
  }
  auto loss = [&](const std::vector<torch::Tensor>& b) { return trained->loss(b[0], b[1]); };
  const double lr = 1e-2, wd = 0.5;
  auto o = TrainOptions().epochs(5).batch_size(64).learning_rate(lr).weight_decay(wd).validation_fraction(0)
               .warmup_fraction(0).schedule("constant").clip_grad_norm(0).patience(0);
  std::vector<torch::Tensor> after;  // the weights after the fifth step
  TrainHooks hooks;
  hooks.on_epoch_end = [&](const EpochRecord& r) {
    if (r.epoch == 5)
      for (const auto& p : trained->parameters()) after.push_back(p.detach().clone());
    return true;
  };
  fit(*trained, loss, {theta, x}, o, hooks);

  manual->train();
  torch::optim::AdamW adamw(manual->parameters(), torch::optim::AdamWOptions(lr).weight_decay(wd));
  for (int step = 0; step < 5; ++step) {
    adamw.zero_grad();
    manual->loss(theta, x).backward();
    adamw.step();
  }
  const auto want = manual->parameters();
  ASSERT_EQ(after.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(amortized_test::float_close(after[i], want[i].detach(), 256, 1.0)) << "parameter " << i;
  }
  // every parameter has its own storage again, and no gradient is kept
  const auto params = trained->parameters();
  for (size_t i = 1; i < params.size(); ++i) {
    EXPECT_NE(params[i].data_ptr(), params[0].data_ptr());
    EXPECT_EQ(params[i].storage().nbytes(), static_cast<size_t>(params[i].numel()) * sizeof(float));
  }
  EXPECT_FALSE(params[0].grad().defined());
}

TEST(Training, LearningRateSchedules) {
  auto gen = make_generator(4);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 1).n_layers(1).hidden({8}), gen);
  auto theta = torch::randn({100, 2}, gen), x = torch::randn({100, 1}, gen);
  auto loss = [&](const torch::Tensor& a, const torch::Tensor& b) { return flow->loss(a, b); };
  auto base = TrainOptions().epochs(6).batch_size(90).learning_rate(1e-3).warmup_fraction(0).patience(0);
  auto constant = fit(*flow, loss, theta, x, TrainOptions(base).schedule("constant"), TrainHooks());
  for (const auto& r : constant.history) EXPECT_DOUBLE_EQ(r.learning_rate, 1e-3);
  auto step = fit(*flow, loss, theta, x, TrainOptions(base).schedule("step").step_epochs(2).step_gamma(0.1),
                  TrainHooks());
  EXPECT_DOUBLE_EQ(step.history[1].learning_rate, 1e-3);
  EXPECT_NEAR(step.history[2].learning_rate, 1e-4, 1e-12);
  EXPECT_NEAR(step.history[5].learning_rate, 1e-5, 1e-12);
  auto cosine = fit(*flow, loss, theta, x, base, TrainHooks());
  EXPECT_LT(cosine.history.back().learning_rate, cosine.history.front().learning_rate / 5);
  EXPECT_THROW(fit(*flow, loss, theta, x, TrainOptions(base).schedule("linear"), TrainHooks()), c10::Error);
}

TEST(Sbc, RanksCountDrawsBelowTheTruth) {
  auto draws = torch::tensor({1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0}).reshape({2, 4, 1});
  auto truth = torch::tensor({{2.5}, {50.0}});
  auto r = sbc_ranks(draws, truth);
  EXPECT_EQ(r[0][0].item<int64_t>(), 2);
  EXPECT_EQ(r[1][0].item<int64_t>(), 4);
  EXPECT_THROW(sbc_ranks(draws, torch::zeros({3, 1})), c10::Error);
}

// The ensemble is the equal mixture of its members: its density is their
// mean, its draws come from each member about equally often, and its loss
// is the members' mean loss.
TEST(Ensemble, IsTheEqualMixtureOfItsMembers) {
  auto gen = make_generator(13);
  auto a = make_coupling_flow(CouplingFlowOptions(2, 1).transform("affine").n_layers(2).hidden({8}), gen);
  auto b = make_coupling_flow(CouplingFlowOptions(2, 1).transform("affine").n_layers(2).hidden({8}), gen);
  Ensemble ens(std::vector<std::shared_ptr<InferenceNetImpl>>{a.ptr(), b.ptr()});
  torch::NoGradGuard no_grad;
  auto theta = torch::randn({50, 2}, gen), ctx = torch::randn({50, 1}, gen);
  auto want = torch::log(0.5 * (torch::exp(a->log_prob(theta, ctx)) + torch::exp(b->log_prob(theta, ctx))));
  EXPECT_TRUE(amortized_test::float_close(ens->log_prob(theta, ctx), want, 256, 10.0));
  EXPECT_NEAR(ens->loss(theta, ctx).item<double>(),
              0.5 * (a->loss(theta, ctx) + b->loss(theta, ctx)).item<double>(), 256 * amortized_test::kFloatEps * 10);
  EXPECT_EQ(ens->describe().front(), "ensemble of 2 members (equal-weight mixture)");
  EXPECT_EQ(ens->size(), 2);
  // draws: the mixture's mean is the members' mean average
  auto c1 = torch::zeros({1, 1});
  auto draws = ens->sample(40000, c1, gen)[0];
  auto ma = a->sample(40000, c1, gen)[0].mean(0), mb = b->sample(40000, c1, gen)[0].mean(0);
  EXPECT_TRUE(torch::allclose(draws.mean(0), 0.5 * (ma + mb), 0.05, 0.05));
  EXPECT_THROW(Ensemble(std::vector<std::shared_ptr<InferenceNetImpl>>{}), c10::Error);
  auto c = make_coupling_flow(CouplingFlowOptions(3, 1).transform("affine").n_layers(1).hidden({4}), gen);
  EXPECT_THROW(Ensemble(std::vector<std::shared_ptr<InferenceNetImpl>>{a.ptr(), c.ptr()}), c10::Error);
}

// The adaptive solver reaches the answer of a fine fixed-step solver, and an
// ODE with a known solution (dy/dt = -y t: y = y0 exp(-t^2 / 2)) to its
// tolerance, in either direction.
TEST(FlowMatching, AdaptiveSolverMatchesFineFixedSteps) {
  auto gen = make_generator(31);
  auto fm = std::make_shared<FlowMatchingImpl>(FlowMatchingOptions(2, 1).hidden({32, 32}).time_frequencies(2));
  fm->reset_parameters(gen);
  for (auto& p : fm->parameters()) {
    torch::NoGradGuard no_grad;
    p.mul_(3.0);  // a curved velocity field
  }
  fm->to(torch::kDouble);
  torch::NoGradGuard no_grad;
  auto ctx = torch::randn({64, 1}, torch::kDouble);
  auto z = torch::randn({64, 2}, torch::kDouble);
  auto v = [&](const Tensor& x, double t) { return fm->velocity(x, torch::full({x.size(0)}, t, x.options()), ctx); };
  auto fine = integrate_ode(v, z, 0, 1, "rk4", 2000, 0);
  auto adaptive = integrate_ode(v, z, 0, 1, "dopri5", 0, 1e-7);
  EXPECT_LT((adaptive - fine).abs().max().item<double>(), 1e-4);
  auto coarse = integrate_ode(v, z, 0, 1, "rk4", 2, 0);
  EXPECT_GT((coarse - fine).abs().max().item<double>(), 1e-3);  // the check can fail
  auto y0 = torch::tensor({{1.0}, {-2.0}}, torch::kDouble);
  auto decay = [](const Tensor& y, double t) { return -y * t; };
  auto y2 = integrate_ode(decay, y0, 0, 2, "dopri5", 0, 1e-8);
  EXPECT_TRUE(torch::allclose(y2, y0 * std::exp(-2.0), 1e-6, 1e-7));
  auto back = integrate_ode(decay, y2, 2, 0, "dopri5", 0, 1e-8);
  EXPECT_TRUE(torch::allclose(back, y0, 1e-6, 1e-7));
  EXPECT_THROW(FlowMatching(FlowMatchingOptions(2, 1).solver("euler")), c10::Error);
}

}  // namespace

// The measured thread default: 1 or the maximum, and the thread count it
// found is restored.
TEST(Threads, FastestThreadsPicksOneOrTheMaximumAndRestores) {
  set_threads(3);
  EXPECT_EQ(fastest_threads(1), 1);
  const int pick = fastest_threads(2);
  EXPECT_TRUE(pick == 1 || pick == 2) << pick;
  EXPECT_EQ(get_threads(), 3);
  set_threads(1);
}

// Bucketing by a key (the lengths of sets): every training row is seen once
// per epoch, and a batch holds rows of similar keys (little padding).
TEST(Training, BucketingGroupsBatchesBySimilarKeysAndSeesEveryRow) {
  auto gen = make_generator(5);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, 1).n_layers(1).hidden({8}), gen);
  const int64_t n = 2000;
  auto theta = torch::randn({n, 2}, gen), x = torch::randn({n, 1}, gen);
  auto key = torch::randint(5, 101, {n}, gen, torch::kLong);
  auto ids = torch::arange(n, torch::kLong);
  for (int64_t bucket : {int64_t{-1}, int64_t{2}}) {
    std::vector<int64_t> seen;
    double spread = 0;
    int batches = 0;
    BatchLossFn loss = [&](const std::vector<torch::Tensor>& b) {
      if (torch::GradMode::is_enabled()) {  // training batches (validation runs without gradients)
        auto k = b[2];
        spread += (k.max() - k.min()).item<double>();
        ++batches;
        auto i = b[3].contiguous();
        seen.insert(seen.end(), i.data_ptr<int64_t>(), i.data_ptr<int64_t>() + i.numel());
      }
      return flow->loss(b[0], b[1]);
    };
    auto result = fit(*flow, loss, {theta, x, key, ids}, TrainOptions().epochs(1).batch_size(64).bucket_by(bucket),
                      TrainHooks());
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen.size(), static_cast<size_t>(n) - result.validation_rows.size());
    EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());  // no row twice
    spread /= batches;
    if (bucket < 0) EXPECT_GT(spread, 80);  // random batches span nearly all keys
    else EXPECT_LT(spread, 15);             // windows of 32 batches sorted: ~96 / 32 keys each
  }
}
