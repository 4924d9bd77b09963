// Contract tests over every summary network: shapes and their errors,
// invariance to padding (varying numbers of points), seeds, gradients and
// save/restore; permutation invariance of the set networks; and a posterior
// estimator that learns with a summary network, bounds and context.
#include "amortized/estimators/posterior_estimator.h"
#include "amortized/flows/coupling_flow.h"
#include "amortized/simd.h"
#include "amortized/summary/deep_set.h"
#include "amortized/summary/fusion.h"
#include "amortized/summary/set_transformer.h"
#include "amortized/summary/time_series.h"
#include "amortized/train/trainer.h"

#include <gtest/gtest.h>
#include "tolerance.h"
#include <torch/serialize.h>

#include <cmath>
#include <functional>
#include <sstream>

using namespace amortized;

namespace {

struct SummaryCase {
  std::string name;
  bool set;  // permutation invariant
  std::function<std::shared_ptr<SummaryNetImpl>(int64_t in, int64_t out)> make;
};
void PrintTo(const SummaryCase& c, std::ostream* os) { *os << c.name; }

std::vector<SummaryCase> all_summary_nets() {
  return {
      {"deep_set", true,
       [](int64_t in, int64_t out) { return std::make_shared<DeepSetImpl>(DeepSetOptions(in, out).width(16)); }},
      {"deep_set_moments", true,
       [](int64_t in, int64_t out) {
         return std::make_shared<DeepSetImpl>(DeepSetOptions(in, out).width(16).moments(true));
       }},
      {"deep_set_no_equivariant", true,
       [](int64_t in, int64_t out) {
         return std::make_shared<DeepSetImpl>(DeepSetOptions(in, out).width(8).equivariant_layers(0));
       }},
      {"set_transformer", true,
       [](int64_t in, int64_t out) {
         return std::make_shared<SetTransformerImpl>(SetTransformerOptions(in, out).width(16).heads(2));
       }},
      {"set_transformer_inducing", true,
       [](int64_t in, int64_t out) {
         return std::make_shared<SetTransformerImpl>(
             SetTransformerOptions(in, out).width(16).heads(2).inducing_points(3).seeds(2));
       }},
      {"time_series_gru", false,
       [](int64_t in, int64_t out) {
         return std::make_shared<TimeSeriesNetImpl>(TimeSeriesNetOptions(in, out).filters({8, 8}).hidden(12));
       }},
      {"time_series_gru_moments", false,
       [](int64_t in, int64_t out) {
         return std::make_shared<TimeSeriesNetImpl>(
             TimeSeriesNetOptions(in, out).filters({8, 8}).hidden(12).moment_lags(2));
       }},
      {"time_series_lstm_no_conv", false,
       [](int64_t in, int64_t out) {
         return std::make_shared<TimeSeriesNetImpl>(
             TimeSeriesNetOptions(in, out).filters({}).hidden(12).cell("lstm"));
       }},
      {"time_series_gru_strided", false,
       [](int64_t in, int64_t out) {
         return std::make_shared<TimeSeriesNetImpl>(
             TimeSeriesNetOptions(in, out).filters({8, 8}).strides({2, 1}).hidden(12));
       }},
      {"time_series_transformer_patches", false,
       [](int64_t in, int64_t out) {
         return std::make_shared<TimeSeriesTransformerImpl>(
             TimeSeriesTransformerOptions(in, out).width(16).heads(2).time_frequencies(3).patch_size(3));
       }},
      {"time_series_transformer", false,
       [](int64_t in, int64_t out) {
         return std::make_shared<TimeSeriesTransformerImpl>(
             TimeSeriesTransformerOptions(in, out).width(16).heads(2).time_frequencies(3));
       }},
  };
}

class SummaryContract : public ::testing::TestWithParam<SummaryCase> {
 protected:
  void SetUp() override {
    net_ = GetParam().make(3, 5);
    auto gen = make_generator(7);
    net_->reset_parameters(gen);
    net_->eval();
    net_->to(torch::kDouble);
  }
  std::shared_ptr<SummaryNetImpl> net_;
};

TEST_P(SummaryContract, GivesOneSummaryPerDataSetAndChecksShapes) {
  auto gen = make_generator(1);
  auto x = torch::randn({4, 6, 3}, gen).to(torch::kDouble);
  auto s = net_->forward(x, torch::Tensor());
  EXPECT_EQ(s.sizes(), torch::IntArrayRef({4, 5}));
  EXPECT_TRUE(torch::isfinite(s).all().item<bool>());
  EXPECT_THROW(net_->forward(torch::randn({4, 6, 2}).to(torch::kDouble), torch::Tensor()), c10::Error);
  EXPECT_THROW(net_->forward(torch::randn({4, 3}).to(torch::kDouble), torch::Tensor()), c10::Error);
  EXPECT_THROW(net_->forward(x, torch::tensor({1, 2, 3, 7}, torch::kLong)), c10::Error);  // > n
  EXPECT_THROW(net_->forward(x, torch::tensor({0, 2, 3, 6}, torch::kLong)), c10::Error);  // < 1
  EXPECT_THROW(net_->forward(x, torch::tensor({1, 2}, torch::kLong)), c10::Error);        // not [batch]
}

// A data set of L points gives the same summary alone or padded to n with
// any values, so batches can mix data sets of different sizes.
TEST_P(SummaryContract, PaddingNeverMatters) {
  auto gen = make_generator(2);
  const std::vector<int64_t> lengths = {1, 4, 7, 9};
  auto padded = torch::randn({4, 9, 3}, gen).to(torch::kDouble);
  auto garbage = padded.clone();
  for (int64_t i = 0; i < 4; ++i) garbage[i].narrow(0, lengths[i], 9 - lengths[i]).fill_(1e3);
  auto len = torch::tensor(lengths, torch::kLong);
  auto a = net_->forward(padded, len), b = net_->forward(garbage, len);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-9);
  for (int64_t i = 0; i < 4; ++i) {
    auto alone = net_->forward(padded[i].narrow(0, 0, lengths[i]).unsqueeze(0), torch::Tensor());
    EXPECT_LT((alone[0] - a[i]).abs().max().item<double>(), 1e-9) << "data set " << i;
  }
}

TEST_P(SummaryContract, OrderMattersOnlyForTimeSeries) {
  auto gen = make_generator(3);
  auto x = torch::randn({3, 8, 3}, gen).to(torch::kDouble);
  auto perm = torch::randperm(8, gen, torch::kLong);
  auto d = (net_->forward(x, torch::Tensor()) - net_->forward(x.index_select(1, perm), torch::Tensor()))
               .abs()
               .max()
               .item<double>();
  if (GetParam().set) {
    EXPECT_LT(d, 1e-5);
  } else {
    EXPECT_GT(d, 1e-4);
  }
}

TEST_P(SummaryContract, SameSeedSameNetworkAndEveryWeightLearns) {
  auto a = GetParam().make(3, 5), b = GetParam().make(3, 5);
  auto g1 = make_generator(9), g2 = make_generator(9);
  a->reset_parameters(g1);
  b->reset_parameters(g2);
  auto x = torch::randn({5, 6, 3}, g1);
  auto len = torch::tensor({6, 5, 4, 3, 2}, torch::kLong);
  auto sa = a->forward(x, len);
  EXPECT_TRUE(torch::equal(sa, b->forward(x, len)));
  sa.square().sum().backward();
  for (const auto& p : a->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key() << " gets no gradient";
  }
}

TEST_P(SummaryContract, SavesAndRestoresIdentically) {
  std::stringstream buffer;
  torch::serialize::OutputArchive out;
  net_->save(out);
  out.save_to(buffer);
  auto other = GetParam().make(3, 5);
  other->to(torch::kDouble);
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  other->load(in);
  other->eval();
  auto x = torch::randn({2, 5, 3}).to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(net_->forward(x, torch::Tensor()), other->forward(x, torch::Tensor())));
}

INSTANTIATE_TEST_SUITE_P(AllSummaryNets, SummaryContract, ::testing::ValuesIn(all_summary_nets()),
                         [](const ::testing::TestParamInfo<SummaryCase>& info) { return info.param.name; });

TEST(SummaryNets, DescribeThemselves) {
  for (const auto& c : all_summary_nets()) {
    auto lines = c.make(2, 4)->describe();
    ASSERT_FALSE(lines.empty());
    EXPECT_NE(lines[0].find("4 summaries"), std::string::npos) << lines[0];
  }
}

TEST(SummaryNets, RejectBadOptions) {
  EXPECT_THROW(DeepSet(DeepSetOptions(0, 4)), c10::Error);
  EXPECT_THROW(DeepSet(DeepSetOptions(2, 4).activation("sigmoidal")), c10::Error);
  EXPECT_THROW(SetTransformer(SetTransformerOptions(2, 4).width(10).heads(4)), c10::Error);
  EXPECT_THROW(TimeSeriesNet(TimeSeriesNetOptions(2, 4).kernel_size(4)), c10::Error);
  EXPECT_THROW(TimeSeriesNet(TimeSeriesNetOptions(2, 4).cell("rnn")), c10::Error);
  EXPECT_THROW(TimeSeriesNet(TimeSeriesNetOptions(2, 4).filters({4, 4}).strides({2})), c10::Error);
  EXPECT_THROW(TimeSeriesTransformer(TimeSeriesTransformerOptions(2, 4).patch_size(0)), c10::Error);
}

// The deep set's fused CPU kernel computes what LibTorch's ops compute, with
// the same gradients, on every SIMD path: widths that fill whole vectors and
// widths that do not, 0..2 equivariant layers, sets of 1..n points, and tied
// maxima (repeated points share the max's gradient).
TEST(DeepSetFused, MatchesLibTorchOpsAndTheirGradients) {
  struct Config {
    int64_t d, width, layers;
    bool moments = false;
  };
  const SimdLevel start = simd_level();
  for (SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level > cpu_simd_level()) continue;
    set_simd_level(level);
    for (Config c : {Config{1, 32, 2}, Config{2, 16, 1}, Config{3, 12, 2}, Config{2, 8, 0}, Config{2, 16, 1, true}}) {
      SCOPED_TRACE(std::string(simd_level_name(level)) + ", width " + std::to_string(c.width) + ", layers " +
                   std::to_string(c.layers));
      auto make = [&](bool fused) {
        auto net = std::make_shared<DeepSetImpl>(
            DeepSetOptions(c.d, 4).width(c.width).equivariant_layers(c.layers).hidden({8}).fused(fused).moments(
                c.moments));
        auto gen = make_generator(11);
        net->reset_parameters(gen);
        return net;
      };
      auto fused = make(true), reference = make(false);
      auto gen = make_generator(12);
      auto x = torch::randn({7, 9, c.d}, gen);
      x[2].narrow(0, 3, 3).copy_(x[2][0].expand({3, c.d}));  // ties: set 2 repeats its first point
      auto len = torch::tensor({9, 1, 9, 5, 2, 8, 3}, torch::kLong);
      auto weights = torch::randn({7, 4}, gen);
      auto a = fused->forward(x, len), b = reference->forward(x, len);
      EXPECT_TRUE(amortized_test::float_close(a, b, 256)) << (a - b).abs().max().item<double>();
      (a * weights).sum().backward();
      (b * weights).sum().backward();
      auto pa = fused->named_parameters(), pb = reference->named_parameters();
      for (const auto& item : pa) {
        const Tensor ga = item.value().grad(), gb = pb[item.key()].grad();
        ASSERT_TRUE(ga.defined() && gb.defined()) << item.key();
        const double scale = gb.abs().max().item<double>();
        EXPECT_TRUE(amortized_test::float_close(ga, gb, 1024, scale)) << item.key() << ": differs by "
                                                                     << (ga - gb).abs().max().item<double>();
      }
      torch::NoGradGuard no_grad;  // inference takes the kernel without autograd
      EXPECT_TRUE(amortized_test::float_close(fused->forward(x, len), b.detach(), 256));
      EXPECT_TRUE(amortized_test::float_close(fused->forward(x, Tensor()), reference->forward(x, Tensor()), 256));
    }
  }
  set_simd_level(start);
}

// The pooled data moments are the means of the coordinates and of their
// pairwise products over the valid points (padding left out); beyond 8
// coordinates the squares only.
TEST(DeepSet, PoolsTheDataMoments) {
  DeepSet net(DeepSetOptions(2, 3).moments(true));
  EXPECT_EQ(net->n_moments(), 10);
  auto x = torch::tensor({1.f, 2.f, 3.f, 4.f, 100.f, -100.f}).view({1, 3, 2});
  auto m = net->data_moments(x, torch::tensor({2}, torch::kLong));
  const float r5 = std::sqrt(5.f), r10 = std::sqrt(10.f);
  // means, mean products (a^2, ab, b^2), then free of the scale: means / rms, log mean a^2, ab / (rms a rms b),
  // log mean b^2
  EXPECT_TRUE(torch::allclose(m, torch::tensor({{2.f, 3.f, 5.f, 7.f, 10.f, 2 / r5, 3 / r10, std::log(5.f),
                                                 7 / (r5 * r10), std::log(10.f)}})))
      << m;
  m = net->data_moments(x, Tensor());  // no lengths: all three points
  EXPECT_NEAR(m[0][2].item<double>(), (1 + 9 + 10000) / 3.0, 1e-2);
  EXPECT_NEAR(m[0][7].item<double>(), std::log((1 + 9 + 10000) / 3.0), 1e-5);
  EXPECT_EQ(DeepSet(DeepSetOptions(9, 3).moments(true))->n_moments(), 36);  // squares only
  EXPECT_EQ(DeepSet(DeepSetOptions(2, 3))->n_moments(), 0);
  // the moments reach the MLP after pooling
  EXPECT_EQ(net->named_parameters()["head.linear0.weight"].size(1), 3 * 64 + 10);
}

// A series' moments: mean, square and autocovariances over its valid steps
// (a lag beyond the series' length gives 0, padding never counts).
TEST(PooledMoments, AutocovariancesOfASeries) {
  auto x = torch::tensor({1.f, 2.f, 3.f, 100.f}).view({1, 4, 1});
  auto mask = torch::tensor({1.f, 1.f, 1.f, 0.f}).view({1, 4});
  EXPECT_EQ(moment_count(1, 3), 7);
  auto m = pooled_moments(x, mask, 3);
  EXPECT_TRUE(torch::allclose(
      m, torch::tensor({{2.f, 14.f / 3, 2 / std::sqrt(14.f / 3), std::log(14.f / 3), 8.f / 14, 3.f / 14, 0.f}})))
      << m;
  // two channels: means, mean products a^2, ab, b^2, then means / rms, log mean a^2, the correlation-like
  // ab / (rms a rms b), log mean b^2, then the lag-1 autocovariances over the mean squares
  auto y = torch::tensor({1.f, 2.f, 3.f, 4.f}).view({1, 2, 2});
  const float r5 = std::sqrt(5.f), r10 = std::sqrt(10.f);
  m = pooled_moments(y, torch::ones({1, 2}), 1);
  EXPECT_TRUE(torch::allclose(
      m, torch::tensor({{2.f, 3.f, 5.f, 7.f, 10.f, 2 / r5, 3 / r10, std::log(5.f), 7 / (r5 * r10), std::log(10.f),
                         1.5f / 5, 4.f / 10}})))
      << m;
  // the second half does not change with the data's scale, but for the log mean squares
  Tensor scaled = pooled_moments(y * 10, torch::ones({1, 2}), 1);
  EXPECT_TRUE(torch::allclose((scaled - m).narrow(1, 5, 7),
                              torch::tensor({{0.f, 0.f, std::log(100.f), 0.f, std::log(100.f), 0.f, 0.f}}), 1e-4, 1e-4));
  TimeSeriesNet net(TimeSeriesNetOptions(1, 3).moment_lags(4));
  EXPECT_EQ(net->named_parameters()["head.weight"].size(1), 2 * 64 + moment_count(1, 4));
  EXPECT_EQ(TimeSeriesNet(TimeSeriesNetOptions(1, 3))->named_parameters()["head.weight"].size(1), 2 * 64);
  EXPECT_THROW(TimeSeriesNet(TimeSeriesNetOptions(1, 3).moment_lags(-2)), c10::Error);
}

// theta ~ N(0, 1), x_1..x_n ~ N(theta, 1) with n from 2 to 30: the exact
// posterior is N(sum x / (n + 1), 1 / (n + 1)). An estimator with a deep set
// learns it for every n, so the posterior sd must shrink with n.
TEST(PosteriorEstimatorWithSummary, LearnsAPosteriorThatShrinksWithTheNumberOfPoints) {
  torch::manual_seed(0);
  auto gen = make_generator(5);
  const int64_t n_sims = 6000, n_max = 30;
  auto theta = torch::randn({n_sims, 1}, gen);
  auto lengths = torch::randint(2, n_max + 1, {n_sims}, gen, torch::kLong);
  auto x = theta.unsqueeze(2) + torch::randn({n_sims, n_max, 1}, gen);
  auto summary = std::make_shared<DeepSetImpl>(DeepSetOptions(1, 4).width(16).hidden({16}));
  summary->reset_parameters(gen);
  auto o = PosteriorEstimatorOptions(1, 1).variable_length(true);
  ConditionNet embedding(condition_options(o), summary);
  EXPECT_EQ(embedding->output_dim(), 4 + 1);  // summaries, sqrt(length)
  auto flow = make_coupling_flow(
      CouplingFlowOptions(1, embedding->output_dim()).transform("affine").n_layers(2).hidden({32}), gen);
  PosteriorEstimator est(flow.ptr(), embedding, o);
  est->fit_standardization(theta, DataBatch{x, lengths, {}});
  auto loss = [&](const std::vector<torch::Tensor>& b) { return est->loss(b[0], DataBatch{b[1], b[2], {}}); };
  auto res = fit(*est, loss, {theta, x, lengths}, TrainOptions().epochs(25).batch_size(128).learning_rate(2e-3).seed(1),
                 TrainHooks());
  ASSERT_GT(res.history.size(), 5u);
  est->eval();
  torch::NoGradGuard no_grad;
  // Observed sets with mean 0.6 of n = 3 and n = 30 points.
  for (int64_t n : {3, 30}) {
    auto obs = (0.6 + torch::zeros({1, n_max, 1}));
    auto draws = est->sample(4000, DataBatch{obs, torch::tensor({n}, torch::kLong), {}}, gen).reshape({-1});
    const double mean = draws.mean().item<double>(), sd = draws.std().item<double>();
    const double want_mean = 0.6 * n / (n + 1.0), want_sd = 1.0 / std::sqrt(n + 1.0);
    EXPECT_NEAR(mean, want_mean, 0.12) << "n = " << n;
    EXPECT_NEAR(sd / want_sd, 1.0, 0.25) << "n = " << n;
  }
}

// With bounds, log_prob is a density on the original scale: for theta in
// (0, 2) it integrates to one over (0, 2), and draws stay inside.
TEST(PosteriorEstimatorWithSummary, BoundedParametersHaveAProperDensityAndDrawsInside) {
  auto gen = make_generator(8);
  auto o = PosteriorEstimatorOptions(1, 2).dim_context(1).lower({0.0}).upper({2.0});
  auto summary = std::make_shared<SetTransformerImpl>(SetTransformerOptions(2, 3).width(8).heads(2));
  summary->reset_parameters(gen);
  auto flow = make_coupling_flow(
      CouplingFlowOptions(1, ConditionNet(condition_options(o), summary)->output_dim()).transform("spline").n_layers(2).hidden({8}),
      gen);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : flow->parameters()) p.add_(0.3 * torch::randn(p.sizes(), gen));
  }
  PosteriorEstimator est(flow.ptr(), summary, o);
  auto theta = 2.0 * torch::rand({200, 1}, gen);
  auto x = torch::randn({200, 5, 2}, gen), ctx = torch::randn({200, 1}, gen);
  est->fit_standardization(theta, DataBatch{x, {}, ctx});
  est->eval();
  est->to(torch::kDouble);
  torch::NoGradGuard no_grad;
  const int64_t m = 40001;
  auto grid = torch::linspace(1e-6, 2 - 1e-6, m, torch::kDouble).unsqueeze(1);
  auto obs = DataBatch{x[0].unsqueeze(0).expand({m, 5, 2}).to(torch::kDouble), {},
                       ctx[0].unsqueeze(0).expand({m, 1}).to(torch::kDouble)};
  auto dens = torch::exp(est->log_prob(grid, obs));
  EXPECT_NEAR(torch::trapz(dens, grid.squeeze(1)).item<double>(), 1.0, 5e-3);
  auto draws = est->sample(5000, DataBatch{x.narrow(0, 0, 3).to(torch::kDouble), {}, ctx.narrow(0, 0, 3).to(torch::kDouble)}, gen);
  EXPECT_TRUE((draws > 0).all().item<bool>() && (draws < 2).all().item<bool>());
  EXPECT_EQ(est->describe().front().rfind("bounded", 0), 0u);
  auto outside = est->log_prob(torch::tensor({{-0.5}, {2.5}, {1.0}}, torch::kDouble),
                               DataBatch{x.narrow(0, 0, 3).to(torch::kDouble), {}, ctx.narrow(0, 0, 3).to(torch::kDouble)});
  EXPECT_TRUE(std::isinf(outside[0].item<double>()) && outside[0].item<double>() < 0);
  EXPECT_TRUE(std::isinf(outside[1].item<double>()));
  EXPECT_TRUE(std::isfinite(outside[2].item<double>()));
}

TEST(PosteriorEstimatorWithSummary, ChecksItsInputs) {
  auto gen = make_generator(1);
  auto summary = std::make_shared<DeepSetImpl>(DeepSetOptions(2, 3));
  auto o = PosteriorEstimatorOptions(1, 2).dim_context(2);
  auto flow = make_coupling_flow(CouplingFlowOptions(1, ConditionNet(condition_options(o), summary)->output_dim()), gen);
  PosteriorEstimator est(flow.ptr(), summary, o);
  auto x = torch::randn({4, 5, 2});
  EXPECT_THROW(est->log_prob(torch::randn({4, 1}), DataBatch{x, {}, {}}), c10::Error);          // no context
  EXPECT_THROW(est->log_prob(torch::randn({4, 1}), DataBatch{x.flatten(1), {}, torch::randn({4, 2})}),
               c10::Error);                                                                     // flat x
  EXPECT_NO_THROW(est->log_prob(torch::randn({4, 1}), DataBatch{x, {}, torch::randn({4, 2})}));
  // the summary must fit the data and the flow the summary
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), summary, PosteriorEstimatorOptions(1, 3).dim_context(2)), c10::Error);
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), summary, PosteriorEstimatorOptions(1, 2)), c10::Error);
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), summary, o.linear_residual(true)), c10::Error);
}

// A fusion network's summaries are its nets' summaries side by side, each
// source with its own padding.
TEST(FusionNet, ConcatenatesTheSummariesOfItsSources) {
  auto gen = make_generator(3);
  auto a = std::make_shared<DeepSetImpl>(DeepSetOptions(2, 3).width(8));
  auto b = std::make_shared<TimeSeriesNetImpl>(TimeSeriesNetOptions(1, 4).filters({4}).hidden(6));
  FusionNet fusion(std::vector<std::shared_ptr<SummaryNetImpl>>{a, b}, std::vector<std::string>{"trials", "series"});
  fusion->reset_parameters(gen);
  fusion->eval();
  EXPECT_EQ(fusion->output_dim(), 7);
  EXPECT_EQ(fusion->size(), 2);
  torch::NoGradGuard no_grad;
  auto xa = torch::randn({5, 6, 2}, gen), xb = torch::randn({5, 9, 1}, gen);
  auto la = torch::tensor({6, 2, 3, 6, 1}, torch::kLong), lb = torch::tensor({9, 9, 4, 7, 5}, torch::kLong);
  auto out = fusion->forward({{xa, la}, {xb, lb}});
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 7}));
  EXPECT_TRUE(amortized_test::float_close(out.narrow(1, 0, 3), a->forward(xa, la)));
  EXPECT_TRUE(amortized_test::float_close(out.narrow(1, 3, 4), b->forward(xb, lb)));
  // padding of either source never matters
  auto pa = xa.clone(), pb = xb.clone();
  pa.narrow(1, 3, 3).fill_(100.0);
  pb.narrow(1, 7, 2).fill_(-100.0);
  auto padded = fusion->forward({{pa, la}, {pb, lb}});
  auto keep = torch::tensor({2, 4}, torch::kLong);  // the data sets whose padding alone changed
  EXPECT_TRUE(amortized_test::float_close(padded.index_select(0, keep), out.index_select(0, keep)));
  EXPECT_FALSE(torch::allclose(padded.narrow(0, 0, 2), out.narrow(0, 0, 2), 1e-3, 1e-3));
  EXPECT_THROW(fusion->forward({{xa, la}}), c10::Error);                                         // one source short
  EXPECT_THROW(fusion->forward({{xa, la}, {xb.narrow(0, 0, 3), lb.narrow(0, 0, 3)}}), c10::Error);  // rows differ
  EXPECT_THROW(fusion->forward({{xb, lb}, {xa, la}}), c10::Error);                               // swapped
  auto lines = fusion->describe();
  ASSERT_EQ(lines.size(), 1 + a->describe().size() + b->describe().size());
  EXPECT_EQ(lines[1].rfind("trials: ", 0), 0u);
  EXPECT_THROW(FusionNet(std::vector<std::shared_ptr<SummaryNetImpl>>{}), c10::Error);
  EXPECT_THROW(FusionNet(std::vector<std::shared_ptr<SummaryNetImpl>>{a}, std::vector<std::string>{"x", "y"}),
               c10::Error);
}

// Two sources and flat values, each informative about its own parameter:
// mu from a set of 2..20 points N(mu, 1); nu from a set of 6 points
// N(nu, 1) and two flat values N(nu, 0.5^2). The posterior is exact:
// independent normals (prior N(0, 1)).
TEST(PosteriorEstimatorWithFusion, LearnsFromEverySource) {
  torch::manual_seed(0);
  auto gen = make_generator(11);
  const int64_t n_sims = 8000, n_max = 20, m = 6;
  auto theta = torch::randn({n_sims, 2}, gen);
  auto mu = theta.narrow(1, 0, 1), nu = theta.narrow(1, 1, 1);
  auto la = torch::randint(2, n_max + 1, {n_sims}, gen, torch::kLong);
  auto xa = mu.unsqueeze(2) + torch::randn({n_sims, n_max, 1}, gen);
  auto xb = nu.unsqueeze(2) + torch::randn({n_sims, m, 1}, gen);
  auto z = nu + 0.5 * torch::randn({n_sims, 2}, gen);
  std::vector<std::shared_ptr<SummaryNetImpl>> nets = {
      std::make_shared<DeepSetImpl>(DeepSetOptions(1, 4).width(16).hidden({16})),
      std::make_shared<DeepSetImpl>(DeepSetOptions(1, 4).width(16).hidden({16}))};
  FusionNet fusion(nets, std::vector<std::string>{"a", "b"});
  fusion->reset_parameters(gen);
  auto o = PosteriorEstimatorOptions(2, 2).sources(2).variable_length(true);
  ConditionNet embedding(condition_options(o), fusion);
  const int64_t width = embedding->output_dim();
  EXPECT_EQ(width, 8 + 2 + 2);  // summaries, flat values, sqrt(length) per source
  EXPECT_EQ(embedding->data_dim(), 8 + 2);
  auto flow = make_coupling_flow(CouplingFlowOptions(2, width).transform("affine").n_layers(4).hidden({32}), gen);
  PosteriorEstimator est(flow.ptr(), embedding, o);
  auto batch = [](const std::vector<torch::Tensor>& b) {
    return DataBatch{b[1], {}, {}, {{b[2], b[3]}, {b[4], {}}}};
  };
  std::vector<torch::Tensor> rows = {theta, z, xa, la, xb};
  est->fit_standardization(theta, batch(rows));
  auto loss = [&](const std::vector<torch::Tensor>& b) { return est->loss(b[0], batch(b)); };
  auto res = fit(*est, loss, rows, TrainOptions().epochs(30).batch_size(128).learning_rate(2e-3).seed(1),
                 TrainHooks());
  ASSERT_GT(res.history.size(), 5u);
  est->eval();
  torch::NoGradGuard no_grad;
  for (int64_t n : {3, 18}) {
    // set a: n points with mean 0.5; set b: mean -0.4; flat: both 0.2
    auto obs = DataBatch{torch::full({1, 2}, 0.2), {}, {},
                         {{torch::full({1, n_max, 1}, 0.5), torch::tensor({n}, torch::kLong)},
                          {torch::full({1, m, 1}, -0.4), {}}}};
    auto draws = est->sample(4000, obs, gen)[0];  // [4000, 2]
    const double want_mu = 0.5 * n / (n + 1.0), sd_mu = 1.0 / std::sqrt(n + 1.0);
    const double prec_nu = 1.0 + m + 2 * 4.0, want_nu = (-0.4 * m + 4.0 * 0.4) / prec_nu;
    EXPECT_NEAR(draws.select(1, 0).mean().item<double>(), want_mu, 0.12) << "n = " << n;
    EXPECT_NEAR(draws.select(1, 0).std().item<double>() / sd_mu, 1.0, 0.25) << "n = " << n;
    EXPECT_NEAR(draws.select(1, 1).mean().item<double>(), want_nu, 0.1) << "n = " << n;
    EXPECT_NEAR(draws.select(1, 1).std().item<double>() * std::sqrt(prec_nu), 1.0, 0.25) << "n = " << n;
  }
  EXPECT_EQ(est->summary_dim(), 8);
  EXPECT_THROW(est->log_prob(torch::zeros({1, 2}), DataBatch{torch::zeros({1, 2}), {}, {}}), c10::Error);
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), fusion, PosteriorEstimatorOptions(2, 2).sources(1)), c10::Error);
  EXPECT_THROW(PosteriorEstimator(flow.ptr(), fusion, PosteriorEstimatorOptions(2, 3).sources(2).variable_length(true)),
               c10::Error);
}

}  // namespace

// The data embedding owns its width: every kind of data gives a condition
// of output_dim() columns, its data part first; it checks its inputs.
TEST(ConditionNet, OwnsItsWidthForEveryKindOfData) {
  auto gen = make_generator(4);
  auto width_of = [&](ConditionNet& e, const DataBatch& d) {
    e->fit(d);
    e->eval();
    torch::NoGradGuard no_grad;
    auto c = e->forward(d);
    EXPECT_EQ(c.size(0), rows(d));
    EXPECT_TRUE(torch::isfinite(c).all().item<bool>());
    return c.size(1);
  };
  ConditionNet flat(ConditionNetOptions(3).dim_context(2), std::shared_ptr<SummaryNetImpl>());
  DataBatch flat_data{torch::randn({10, 3}, gen), {}, torch::randn({10, 2}, gen)};
  EXPECT_EQ(width_of(flat, flat_data), flat->output_dim());
  EXPECT_EQ(flat->output_dim(), 3 + 2);
  EXPECT_EQ(flat->data_dim(), 3);
  EXPECT_EQ(flat->summary_dim(), 0);
  ConditionNet set(ConditionNetOptions(6).set_shape({3, 2}), std::shared_ptr<SummaryNetImpl>());
  DataBatch set_data{torch::randn({10, 6}, gen), {}, {}};
  EXPECT_EQ(width_of(set, set_data), set->output_dim());
  EXPECT_EQ(set->output_dim(), ConditionNetImpl::flat_width(6, {3, 2}));
  auto deep = std::make_shared<DeepSetImpl>(DeepSetOptions(2, 5));
  deep->reset_parameters(gen);
  ConditionNet summarized(ConditionNetOptions(2).variable_length(true).dim_context(1), deep);
  DataBatch sets{torch::randn({10, 7, 2}, gen), torch::randint(1, 8, {10}, gen, torch::kLong), torch::randn({10, 1}, gen)};
  EXPECT_EQ(width_of(summarized, sets), summarized->output_dim());
  EXPECT_EQ(summarized->output_dim(), 5 + 1 + 1);  // summaries, sqrt(length), context
  EXPECT_EQ(summarized->summary_dim(), 5);
  EXPECT_EQ(summarized->describe(), deep->describe());
  // shape errors name the tensor
  EXPECT_THROW(flat->forward(DataBatch{torch::randn({4, 2}), {}, torch::randn({4, 2})}), c10::Error);
  EXPECT_THROW(flat->forward(DataBatch{torch::randn({4, 3}), {}, {}}), c10::Error);  // context missing
  EXPECT_THROW(summarized->forward(DataBatch{torch::randn({4, 7, 3}), {}, torch::randn({4, 1})}), c10::Error);
  EXPECT_THROW(ConditionNet(ConditionNetOptions(5).set_shape({2, 2}), std::shared_ptr<SummaryNetImpl>()), c10::Error);
  EXPECT_THROW(ConditionNet(ConditionNetOptions(2).variable_length(true), std::shared_ptr<SummaryNetImpl>()), c10::Error);
}

// The summary penalty: zero outside training or without weight, the MMD^2
// of the summaries against standard normal draws (times the weight) while
// training, with gradients into the summary network; an error without a
// summary network.
TEST(SummaryPenalty, AddsTheWeightedMmdWhileTrainingOnly) {
  auto gen = make_generator(21);
  auto summary = std::make_shared<DeepSetImpl>(DeepSetOptions(1, 3).width(8).hidden({8}));
  summary->reset_parameters(gen);
  auto o = PosteriorEstimatorOptions(1, 1);
  ConditionNet embedding(condition_options(o), summary);
  auto x = 3.0 + 2.0 * torch::randn({64, 10, 1}, gen);
  embedding->fit(DataBatch{x, {}, {}});
  embedding->train();
  Tensor cond = embedding->forward(DataBatch{x, {}, {}});
  EXPECT_EQ(embedding->summary_penalty(cond).item<double>(), 0.0);  // no weight
  embedding->set_summary_penalty(2.0, 7);
  Tensor penalty = embedding->summary_penalty(cond);
  EXPECT_GT(penalty.item<double>(), 0.0);
  // the same draws (seed 7) give twice the weight-1 MMD^2
  embedding->set_summary_penalty(1.0, 7);
  EXPECT_NEAR(embedding->summary_penalty(cond).item<double>(), penalty.item<double>() / 2, 1e-6);
  penalty.backward();
  double grad = 0;
  for (auto& p : summary->parameters()) grad += p.grad().defined() ? p.grad().abs().sum().item<double>() : 0;
  EXPECT_GT(grad, 0);
  embedding->eval();
  EXPECT_EQ(embedding->summary_penalty(cond).item<double>(), 0.0);
  ConditionNet flat(ConditionNetOptions(3), std::shared_ptr<SummaryNetImpl>());
  EXPECT_THROW(flat->set_summary_penalty(1.0, 1), c10::Error);
  EXPECT_THROW(embedding->set_summary_penalty(-1.0, 1), c10::Error);
}

// The lengths of an augmented batch: sets shorter than min_length kept
// whole, the others cut to min_length .. their length, some cut; the
// length's context column (0) follows.
namespace {
void expect_subset_lengths(const DataBatch& a, const Tensor& lengths, int64_t min_length) {
  Tensor small = lengths < min_length;
  EXPECT_TRUE(a.lengths.masked_select(small).equal(lengths.masked_select(small)));
  EXPECT_TRUE((a.lengths.masked_select(~small) >= min_length).all().item<bool>());
  EXPECT_TRUE((a.lengths <= lengths).all().item<bool>());
  EXPECT_TRUE((a.lengths < lengths).any().item<bool>());
  EXPECT_TRUE(a.context.select(1, 0).equal(a.lengths.to(torch::kFloat)));
}
}  // namespace

// Subsets of sets: in training mode each set becomes a random subset of its
// own valid points (no padding value, no point twice), of a size between the
// minimum length and its length (shorter sets stay whole); the length's
// context column follows; outside training, or with the minimum 0, the data
// pass unchanged; bad settings are errors.
TEST(SubsetAugmentation, DrawsSubsetsOfTheValidPointsWhileTrainingOnly) {
  auto summary = std::make_shared<DeepSetImpl>(DeepSetOptions(2, 3).width(8).hidden({8}));
  ConditionNet embedding(ConditionNetOptions(2).dim_context(2).variable_length(true), summary);
  const int64_t b = 1200, n = 12;
  Tensor lengths = torch::arange(b, torch::kLong).remainder(n) + 1;  // 1..12
  // point j of set i: (i, j) for valid points, NaN in the padding
  Tensor x = torch::stack({torch::arange(b, torch::kDouble).unsqueeze(1).expand({b, n}),
                           torch::arange(n, torch::kDouble).unsqueeze(0).expand({b, n})}, 2).to(torch::kFloat);
  x = torch::where((torch::arange(n).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2), x,
                   torch::full_like(x, std::nan("")));
  Tensor context = torch::stack({lengths.to(torch::kFloat), torch::full({b}, 7.0f)}, 1);
  const DataBatch d{x, lengths, context};
  embedding->fit(d);
  embedding->train();
  EXPECT_TRUE(embedding->augment(d).lengths.equal(lengths));  // off by default
  embedding->set_subsets(4, 0, 5);
  DataBatch a = embedding->augment(d);
  ASSERT_EQ(a.x.sizes(), x.sizes());
  expect_subset_lengths(a, lengths, 4);
  EXPECT_TRUE(a.context.select(1, 1).equal(context.select(1, 1)));
  int64_t sizes_seen = 0;
  std::vector<bool> seen(n + 1, false);
  for (int64_t i = 0; i < b; ++i) {
    const int64_t m = a.lengths[i].item<int64_t>();
    Tensor pts = a.x[i].narrow(0, 0, m);
    ASSERT_FALSE(pts.isnan().any().item<bool>()) << "set " << i;
    EXPECT_TRUE((pts.select(1, 0) == static_cast<float>(i)).all().item<bool>());
    Tensor idx = std::get<0>(torch::_unique(pts.select(1, 1)));
    EXPECT_EQ(idx.numel(), m) << "a point twice in set " << i;
    EXPECT_LT(idx.max().item<float>(), lengths[i].item<int64_t>());
    if (lengths[i].item<int64_t>() == n && !seen[m]) {
      seen[m] = true;
      ++sizes_seen;
    }
  }
  EXPECT_EQ(sizes_seen, n - 4 + 1);  // every size 4..12 among the full sets
  // the summaries of an augmented batch are finite (padding is ignored)
  EXPECT_TRUE(torch::isfinite(embedding->forward(a)).all().item<bool>());
  // another draw differs; the same seed repeats
  EXPECT_FALSE(embedding->augment(d).lengths.equal(a.lengths));
  embedding->set_subsets(4, 0, 5);
  EXPECT_TRUE(embedding->augment(d).lengths.equal(a.lengths));
  embedding->eval();
  EXPECT_TRUE(embedding->augment(d).lengths.equal(lengths));
  EXPECT_THROW(embedding->set_subsets(-1, -1, 1), c10::Error);
  EXPECT_THROW(embedding->set_subsets(2, 2, 1), c10::Error);
  ConditionNet flat(ConditionNetOptions(3), std::shared_ptr<SummaryNetImpl>());
  EXPECT_THROW(flat->set_subsets(2, -1, 1), c10::Error);
}

// Prefixes of series: the steps stay in place, only the lengths shrink (to a
// length between the minimum and the series' own), the length's context
// column follows, and the summaries equal those of the cut series.
TEST(SubsetAugmentation, PrefixesOfSeriesKeepTheFirstSteps) {
  auto summary = std::make_shared<TimeSeriesNetImpl>(TimeSeriesNetOptions(1, 3).filters({4}).hidden(4));
  ConditionNet embedding(ConditionNetOptions(1).dim_context(1).variable_length(true), summary);
  const int64_t b = 400, n = 10;
  torch::manual_seed(3);
  Tensor lengths = torch::arange(b, torch::kLong).remainder(n) + 1;  // 1..10
  Tensor x = torch::randn({b, n, 1});
  Tensor context = lengths.to(torch::kFloat).unsqueeze(1);
  const DataBatch d{x, lengths, context};
  embedding->fit(d);
  embedding->train();
  embedding->set_subsets(3, 0, 7, /*prefixes=*/true);
  DataBatch a = embedding->augment(d);
  EXPECT_TRUE(a.x.equal(x));
  expect_subset_lengths(a, lengths, 3);
  // the summaries of the augmented batch are those of the series cut by hand
  Tensor cut = torch::where(torch::arange(n).unsqueeze(0).lt(a.lengths.unsqueeze(1)).unsqueeze(2), x,
                            torch::full_like(x, 1e6));
  embedding->eval();
  Tensor want = embedding->forward(DataBatch{cut, a.lengths, a.context});
  EXPECT_TRUE(torch::allclose(embedding->forward(a), want, 1e-5, 1e-6));
}
