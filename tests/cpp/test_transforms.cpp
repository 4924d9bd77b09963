// Contract tests run over every transform of the core: invertibility,
// log-determinant against autograd's Jacobian, shape errors, batch
// independence, determinism and save/restore.
#include "amortized/nn/mlp.h"
#include "amortized/simd.h"
#include "amortized/transforms/actnorm.h"
#include "amortized/transforms/affine_coupling.h"
#include "amortized/transforms/bounded.h"
#include "amortized/transforms/composed.h"
#include "amortized/transforms/conditional_affine.h"
#include "amortized/transforms/linear_residual.h"
#include "amortized/transforms/permutation.h"
#include "amortized/transforms/rotation.h"
#include "amortized/transforms/sign_fold.h"
#include "amortized/transforms/spline_coupling.h"
#include "amortized/transforms/standardize.h"

#include <gtest/gtest.h>
#include "tolerance.h"
#include <torch/autograd.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include <functional>
#include <limits>
#include <sstream>

using namespace amortized;

namespace {

struct Case {
  std::string name;
  int64_t dim, context_dim;
  // Builds the transform with weights drawn from gen and moved away from
  // their (often identity) start, so the tests exercise a generic map.
  std::function<std::shared_ptr<TransformImpl>(at::Generator&)> make;
  // Maps N(0, 1) test inputs into the transform's domain (none: all of R^dim).
  std::function<Tensor(const Tensor&)> domain = nullptr;
};

// Shown in test names and failure messages instead of the object's bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

void perturb(torch::nn::Module& m, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) p.add_(0.3 * torch::randn(p.sizes(), gen, p.options()));
}

std::shared_ptr<TransformImpl> coupling(int64_t dim, int64_t ctx, at::Generator& gen) {
  auto t = std::make_shared<AffineCouplingImpl>(AffineCouplingOptions(dim, ctx).hidden({16, 16}));
  t->reset_parameters(gen);
  perturb(*t, gen);
  return t;
}

// tail_bound 1.5 puts some of the N(0, 1) test inputs on the linear tails.
std::shared_ptr<TransformImpl> spline(int64_t dim, int64_t ctx, at::Generator& gen, double bound = 3.0) {
  auto t = std::make_shared<SplineCouplingImpl>(
      SplineCouplingOptions(dim, ctx).hidden({16, 16}).bins(6).tail_bound(bound));
  t->reset_parameters(gen);
  perturb(*t, gen);
  return t;
}

// A rotation by 0.7 rad in the plane of coordinates 1 and 2, then a mirror of coordinate 3.
std::vector<double> rotation_3d() {
  const double c = std::cos(0.7), s = std::sin(0.7);
  return {c, -s, 0, s, c, 0, 0, 0, -1};
}

std::vector<Case> all_cases() {
  return {
      {"affine_coupling_dim1", 1, 2, [](at::Generator& g) { return coupling(1, 2, g); }},
      {"affine_coupling_dim4", 4, 3, [](at::Generator& g) { return coupling(4, 3, g); }},
      {"affine_coupling_dim5_noctx", 5, 0, [](at::Generator& g) { return coupling(5, 0, g); }},
      {"spline_coupling_dim1", 1, 2, [](at::Generator& g) { return spline(1, 2, g); }},
      {"spline_coupling_dim4", 4, 3, [](at::Generator& g) { return spline(4, 3, g); }},
      {"spline_coupling_dim5_noctx_tails", 5, 0, [](at::Generator& g) { return spline(5, 0, g, 1.5); }},
      {"permutation", 5, 0,
       [](at::Generator& g) {
         auto t = std::make_shared<PermutationImpl>(5, /*random=*/true);
         t->reset_parameters(g);
         return t;
       }},
      {"actnorm", 3, 0,
       [](at::Generator& g) {
         auto t = std::make_shared<ActNormImpl>(3);
         t->train();
         t->forward(2.0 + 3.0 * torch::randn({64, 3}, g), torch::Tensor());
         t->eval();
         perturb(*t, g);
         return t;
       }},
      {"conditional_affine", 3, 2,
       [](at::Generator& g) {
         auto t = std::make_shared<ConditionalAffineImpl>(3, 2, std::vector<int64_t>{8});
         t->reset_parameters(g);
         perturb(*t, g);  // away from the identity it starts as
         return t;
       }},
      {"linear_residual", 3, 2,
       [](at::Generator& g) {
         auto t = std::make_shared<LinearResidualImpl>(3, 2);
         auto ctx = torch::randn({200, 2}, g);
         auto x = ctx.matmul(torch::randn({2, 3}, g)) + 0.3 * torch::randn({200, 3}, g) + 1.0;
         t->fit(x, ctx);
         return t;
       }},
      {"linear_residual_whitened", 3, 2,
       [](at::Generator& g) {
         auto t = std::make_shared<LinearResidualImpl>(3, 2, /*whiten=*/true);
         auto ctx = torch::randn({200, 2}, g);
         auto noise = torch::randn({200, 3}, g).matmul(torch::tensor({{1.0, 0.8, 0.0}, {0.0, 0.6, -0.5}, {0.0, 0.0, 0.4}}));
         t->fit(ctx.matmul(torch::randn({2, 3}, g)) + noise + 1.0, ctx);
         return t;
       }},
      {"bounded", 4, 0,
       [](at::Generator&) {
         const double inf = std::numeric_limits<double>::infinity();
         return std::make_shared<BoundedImpl>(std::vector<double>{-10, -20, -inf, -inf},
                                              std::vector<double>{10, inf, 20, inf});
       }},
      {"standardize", 3, 0,
       [](at::Generator& g) {
         auto t = std::make_shared<StandardizeImpl>(3);
         t->fit(torch::randn({100, 3}, g) * torch::tensor({0.5, 2.0, 10.0}) + 4.0);
         return t;
       }},
      {"rotation", 3, 0, [](at::Generator&) { return std::make_shared<RotationImpl>(3, rotation_3d()); }},
      // on the half-space where the folded coordinates are positive, the identity
      {"sign_fold", 3, 0, [](at::Generator&) { return std::make_shared<SignFoldImpl>(3, std::vector<int64_t>{0, 2}); },
       [](const Tensor& x) { return x.abs() + 0.01; }},
      {"composed", 3, 2,
       [](at::Generator& g) {
         auto s = std::make_shared<StandardizeImpl>(3);
         s->fit(torch::randn({100, 3}, g) * 2.0 + 1.0);
         std::vector<std::shared_ptr<TransformImpl>> parts = {s, coupling(3, 2, g),
                                                              std::make_shared<RotationImpl>(3, rotation_3d())};
         return std::make_shared<ComposedImpl>(3, parts);
       }},
  };
}

class TransformContract : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    gen_ = make_generator(42);
    t_ = GetParam().make(gen_);
    t_->eval();
    x_ = torch::randn({8, GetParam().dim}, gen_);
    if (GetParam().domain) x_ = GetParam().domain(x_);
    if (GetParam().context_dim > 0) ctx_ = torch::randn({8, GetParam().context_dim}, gen_);
  }
  at::Generator gen_ = make_generator(0);
  std::shared_ptr<TransformImpl> t_;
  torch::Tensor x_, ctx_;
};

TEST_P(TransformContract, IsInvertible) {
  auto [y, ld_fwd] = t_->forward(x_, ctx_);
  auto [x_back, ld_inv] = t_->inverse(y, ctx_);
  EXPECT_LT((x_back - x_).abs().max().item<double>(), 1e-4);
  EXPECT_LT((ld_fwd + ld_inv).abs().max().item<double>(), 1e-4);
  ASSERT_EQ(ld_fwd.sizes(), torch::IntArrayRef({8}));
}

TEST_P(TransformContract, LogDetMatchesAutogradJacobian) {
  t_->to(torch::kDouble);
  const int64_t d = GetParam().dim;
  auto x = x_.to(torch::kDouble);
  auto ctx = ctx_.defined() ? ctx_.to(torch::kDouble) : ctx_;
  auto logdet = t_->forward(x, ctx).second;
  for (int64_t b = 0; b < x.size(0); ++b) {
    auto xb = x.narrow(0, b, 1).clone().set_requires_grad(true);
    auto cb = ctx.defined() ? ctx.narrow(0, b, 1) : ctx;
    auto yb = t_->forward(xb, cb).first;
    auto jac = torch::zeros({d, d}, torch::kDouble);
    for (int64_t i = 0; i < d; ++i) {
      auto g = torch::autograd::grad({yb.select(1, i).sum()}, {xb}, {}, /*retain_graph=*/true)[0];
      jac.select(0, i).copy_(g.squeeze(0));
    }
    const double expected = std::log(std::abs(torch::det(jac).item<double>()));
    EXPECT_NEAR(logdet[b].item<double>(), expected, 1e-6) << "row " << b;
  }
}

TEST_P(TransformContract, RejectsWrongShapes) {
  const int64_t d = GetParam().dim;
  auto bad = torch::randn({4, d + 1});
  try {
    t_->forward(bad, ctx_.defined() ? ctx_.narrow(0, 0, 4) : ctx_);
    FAIL() << "expected a shape error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("must have shape"), std::string::npos)
        << e.what_without_backtrace();
  }
  if (GetParam().context_dim > 0) {
    EXPECT_THROW(t_->forward(x_, torch::randn({8, GetParam().context_dim + 2})), c10::Error);
    EXPECT_THROW(t_->inverse(x_, torch::randn({3, GetParam().context_dim})), c10::Error);
  }
}

TEST_P(TransformContract, RowsAreIndependent) {
  auto full = t_->forward(x_, ctx_);
  for (int64_t b : {0, 5}) {
    auto one = t_->forward(x_.narrow(0, b, 1), ctx_.defined() ? ctx_.narrow(0, b, 1) : ctx_);
    EXPECT_TRUE(amortized_test::float_close(one.first, full.first.narrow(0, b, 1), 256, 10.0));
    EXPECT_TRUE(amortized_test::float_close(one.second, full.second.narrow(0, b, 1), 256, 10.0));
  }
}

TEST_P(TransformContract, SameSeedSameTransform) {
  auto gen = make_generator(42);
  auto again = GetParam().make(gen);
  again->eval();
  auto y1 = t_->forward(x_, ctx_).first;
  auto y2 = again->forward(x_, ctx_).first;
  EXPECT_TRUE(torch::equal(y1, y2));
}

TEST_P(TransformContract, SaveRestoreGivesIdenticalOutputs) {
  std::stringstream buffer;
  {
    torch::serialize::OutputArchive archive;
    t_->save(archive);
    archive.save_to(buffer);
  }
  auto gen = make_generator(7);  // different weights before loading
  auto fresh = GetParam().make(gen);
  fresh->eval();
  torch::serialize::InputArchive archive;
  archive.load_from(buffer);
  fresh->load(archive);
  EXPECT_TRUE(torch::equal(t_->forward(x_, ctx_).first, fresh->forward(x_, ctx_).first));
  EXPECT_TRUE(torch::equal(t_->inverse(x_, ctx_).first, fresh->inverse(x_, ctx_).first));
}

INSTANTIATE_TEST_SUITE_P(AllTransforms, TransformContract, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(LinearResidual, RecoversALinearGaussianRelation) {
  auto gen = make_generator(12);
  auto ctx = torch::randn({5000, 2}, gen, torch::kDouble);
  auto w = torch::tensor({{1.0, -2.0}, {0.5, 0.0}}, torch::kDouble);
  auto x = ctx.matmul(w) + torch::tensor({3.0, -1.0}, torch::kDouble) +
           torch::tensor({0.1, 2.0}, torch::kDouble) * torch::randn({5000, 2}, gen, torch::kDouble);
  LinearResidual t(2, 2);
  t->to(torch::kDouble);
  t->fit(x, ctx, 0.0);
  auto [y, logdet] = t->forward(x, ctx);
  EXPECT_LT(y.mean(0).abs().max().item<double>(), 1e-6);              // residuals centered
  EXPECT_LT((y.std(0) - 1).abs().max().item<double>(), 1e-6);         // and scaled
  EXPECT_NEAR(logdet[0].item<double>(), -std::log(0.1 * 2.0), 0.02);  // -log(sd1 sd2)
  EXPECT_LT((y.t().matmul(ctx) / 5000).abs().max().item<double>(), 0.03);  // uncorrelated with ctx
}

TEST(LinearResidual, WhitensCorrelatedResiduals) {
  auto gen = make_generator(13);
  const int64_t n = 20000;
  auto ctx = torch::randn({n, 2}, gen, torch::kDouble);
  auto w = torch::tensor({{1.0, -2.0, 0.0}, {0.5, 0.0, 1.0}}, torch::kDouble);
  // residual covariance L L^T, L lower triangular with diagonal 0.5, 1, 0.2
  auto l = torch::tensor({{0.5, 0.0, 0.0}, {0.9, 1.0, 0.0}, {-0.3, 0.4, 0.2}}, torch::kDouble);
  auto x = ctx.matmul(w) + 2.0 + torch::randn({n, 3}, gen, torch::kDouble).matmul(l.t());
  LinearResidual t(3, 2, /*whiten=*/true);
  t->to(torch::kDouble);
  t->fit(x, ctx, 0.0);
  auto [y, logdet] = t->forward(x, ctx);
  auto cov = y.t().matmul(y) / (n - 1);
  EXPECT_LT((cov - torch::eye(3, torch::kDouble)).abs().max().item<double>(), 1e-4);  // white
  EXPECT_NEAR(logdet[0].item<double>(), -std::log(0.5 * 1.0 * 0.2), 0.03);  // -log det L
  EXPECT_LT((y.t().matmul(ctx) / n).abs().max().item<double>(), 1e-6);   // uncorrelated with ctx
  // a constant dimension stays finite: left unscaled and uncorrelated
  auto x2 = torch::cat({x.narrow(1, 0, 2), torch::full({n, 1}, 3.0, torch::kDouble)}, 1);
  LinearResidual t2(3, 2, /*whiten=*/true);
  t2->to(torch::kDouble);
  t2->fit(x2, ctx, 0.0);
  auto y2 = t2->forward(x2, ctx).first;
  EXPECT_TRUE(torch::isfinite(y2).all().item<bool>());
  EXPECT_LT(y2.select(1, 2).abs().max().item<double>(), 1e-9);
}

TEST(ActNorm, InitializesFromFirstTrainingBatch) {
  auto gen = make_generator(1);
  ActNorm t(3);
  EXPECT_FALSE(t->initialized());
  auto x = 5.0 + 2.0 * torch::randn({500, 3}, gen);
  t->train();
  auto y = t->forward(x, torch::Tensor()).first;
  EXPECT_TRUE(t->initialized());
  EXPECT_LT(y.mean(0).abs().max().item<double>(), 1e-4);
  EXPECT_LT((y.std(0) - 1).abs().max().item<double>(), 1e-3);
}

TEST(AffineCoupling, LogScalesAreSoftClamped) {
  auto gen = make_generator(3);
  AffineCoupling t(AffineCouplingOptions(2, 0).hidden({8}).clamp(1.5));
  t->reset_parameters(gen);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : t->parameters()) p.add_(50.0 * torch::randn(p.sizes(), gen));
  }
  auto logdet = t->forward(100 * torch::randn({32, 2}, gen), torch::Tensor()).second;
  EXPECT_LE(logdet.abs().max().item<double>(), 1.5);  // one active variable
  EXPECT_TRUE(torch::isfinite(logdet).all().item<bool>());
}

TEST(Spline, ZeroParametersGiveTheIdentity) {
  auto x = torch::linspace(-4, 4, 101, torch::kDouble);
  auto zeros = torch::zeros({101, 8}, torch::kDouble);
  auto [y, ld] = rational_quadratic_spline(x, zeros, zeros, torch::zeros({101, 7}, torch::kDouble), 3.0, false);
  EXPECT_LT((y - x).abs().max().item<double>(), 1e-12);
  EXPECT_LT(ld.abs().max().item<double>(), 1e-12);
}

TEST(Spline, MonotoneContinuousAndInvertibleForExtremeParameters) {
  auto gen = make_generator(5);
  const int64_t n = 2001, k = 8;
  auto x = torch::linspace(-3.5, 3.5, n, torch::kDouble);
  // one spline for all points, with large unconstrained parameters
  auto w = (4 * torch::randn({1, k}, gen, torch::kDouble)).expand({n, k});
  auto h = (4 * torch::randn({1, k}, gen, torch::kDouble)).expand({n, k});
  auto d = (4 * torch::randn({1, k - 1}, gen, torch::kDouble)).expand({n, k - 1});
  auto [y, ld] = rational_quadratic_spline(x, w, h, d, 3.0, false);
  auto steps = y.narrow(0, 1, n - 1) - y.narrow(0, 0, n - 1);
  EXPECT_GT(steps.min().item<double>(), 0);                 // strictly increasing
  EXPECT_NEAR(y[0].item<double>(), -3.5, 1e-12);            // identity on the tails
  EXPECT_NEAR(y[n - 1].item<double>(), 3.5, 1e-12);
  // continuous where the spline meets its tails
  auto edge = torch::tensor({-3 + 1e-10, 3 - 1e-10}, torch::kDouble);
  auto y_edge = rational_quadratic_spline(edge, w.narrow(0, 0, 2), h.narrow(0, 0, 2), d.narrow(0, 0, 2), 3.0,
                                          false).first;
  EXPECT_LT((y_edge - edge).abs().max().item<double>(), 1e-6);
  auto [x_back, ld_inv] = rational_quadratic_spline(y, w, h, d, 3.0, true);
  EXPECT_LT((x_back - x).abs().max().item<double>(), 1e-9);
  EXPECT_LT((ld + ld_inv).abs().max().item<double>(), 1e-9);
}

TEST(Spline, FusedKernelMatchesTheTensorReferenceWithGradients) {
  auto gen = make_generator(8);
  const int64_t n = 300, k = 7;
  auto x = (2.5 * torch::randn({n, 3}, gen, torch::kDouble)).requires_grad_();
  auto w = torch::randn({n, 3, k}, gen, torch::kDouble).requires_grad_();
  auto h = torch::randn({n, 3, k}, gen, torch::kDouble).requires_grad_();
  auto d = torch::randn({n, 3, k - 1}, gen, torch::kDouble).requires_grad_();
  auto gy = torch::randn({n, 3}, gen, torch::kDouble), gl = torch::randn({n, 3}, gen, torch::kDouble);
  std::vector<std::vector<Tensor>> grads;
  std::vector<std::pair<Tensor, Tensor>> outs;
  for (bool fused : {true, false}) {
    auto out = rational_quadratic_spline(x, w, h, d, 2.0, false, fused);
    ((out.first * gy).sum() + (out.second * gl).sum()).backward();
    grads.push_back({x.grad().clone(), w.grad().clone(), h.grad().clone(), d.grad().clone()});
    for (auto* t : {&x, &w, &h, &d}) t->mutable_grad().zero_();
    outs.push_back({out.first.detach(), out.second.detach()});
  }
  EXPECT_TRUE(torch::allclose(outs[0].first, outs[1].first, 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(outs[0].second, outs[1].second, 1e-10, 1e-12));
  for (size_t i = 0; i < 4; ++i)
    EXPECT_TRUE(torch::allclose(grads[0][i], grads[1][i], 1e-8, 1e-10)) << "gradient " << i;
  torch::NoGradGuard no_grad;
  auto inv_fused = rational_quadratic_spline(x, w, h, d, 2.0, true, true);
  auto inv_ref = rational_quadratic_spline(x, w, h, d, 2.0, true, false);
  EXPECT_TRUE(torch::allclose(inv_fused.first, inv_ref.first, 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(inv_fused.second, inv_ref.second, 1e-10, 1e-12));
}

TEST(Spline, FloatKernelMatchesTheDoubleReferenceInEveryLayout) {
  // The float kernel runs in SIMD blocks of elements; 203 rows x 3 columns
  // make blocks that cross columns and a part-filled last block.
  auto gen = make_generator(11);
  const int64_t rows = 203, cols = 3, k = 10, n_raw = 3 * k - 1;
  auto x = 1.3 * torch::randn({rows, cols}, gen, torch::kDouble);  // a few in the tails
  x[5][1] = std::numeric_limits<double>::quiet_NaN();              // passes through
  auto out_t = torch::randn({n_raw * cols, rows}, gen, torch::kDouble);  // a conditioner's transposed output
  auto layouts = [&](torch::Dtype type) {
    auto strided = out_t.to(type).view({n_raw, cols, rows}).permute({2, 1, 0});  // rows adjacent in memory
    return std::vector<Tensor>{strided, strided.contiguous()};
  };
  torch::NoGradGuard no_grad;
  for (bool inverse : {false, true}) {
    auto ref = rational_quadratic_spline(x, out_t.view({n_raw, cols, rows}).permute({2, 1, 0}), 3.0, inverse,
                                         /*fused=*/false);
    for (const auto& raw : layouts(torch::kDouble)) {
      auto got = rational_quadratic_spline(x, raw, 3.0, inverse);
      EXPECT_TRUE(torch::allclose(got.first, ref.first, 1e-10, 1e-12, /*equal_nan=*/true)) << inverse;
      EXPECT_TRUE(torch::allclose(got.second, ref.second, 1e-10, 1e-12)) << inverse;
    }
    for (const auto& raw : layouts(torch::kFloat)) {
      auto got = rational_quadratic_spline(x.to(torch::kFloat), raw, 3.0, inverse);
      EXPECT_TRUE(torch::allclose(got.first.to(torch::kDouble), ref.first, 1e-4, 1e-5, true)) << inverse;
      EXPECT_TRUE(torch::allclose(got.second.to(torch::kDouble), ref.second, 1e-4, 1e-4)) << inverse;
    }
  }
}

TEST(MLP, InferenceModeMatchesTrainingModeAndTransposedOutput) {
  // Without gradients the hidden activations run in place (silu: our SIMD
  // kernel); the results must match the autograd path and leave the input
  // alone.
  for (std::string activation : {"silu", "relu", "tanh", "gelu"}) {
    auto gen = make_generator(3);
    MLP mlp(MLPOptions(6, 5).hidden({33, 17}).activation(activation));
    mlp->reset_parameters(gen);
    auto x = 3 * torch::randn({37, 6}, gen);
    auto x_copy = x.clone();
    auto with_grad = mlp->forward(x);
    torch::NoGradGuard no_grad;
    auto without = mlp->forward(x), transposed = mlp->forward_transposed(x);
    EXPECT_TRUE(amortized_test::float_close(without, with_grad.detach(), 256, 10.0)) << activation;
    EXPECT_TRUE(amortized_test::float_close(transposed, with_grad.detach().t(), 256, 10.0)) << activation;
    EXPECT_TRUE(transposed.is_contiguous());
    EXPECT_TRUE(torch::equal(x, x_copy)) << activation;
  }
}

TEST(MLP, DropoutOnlyInTrainingMode) {
  auto gen = make_generator(4);
  MLP mlp(MLPOptions(6, 5).hidden({64, 64}).dropout(0.5));
  mlp->reset_parameters(gen);
  MLP plain(MLPOptions(6, 5).hidden({64, 64}));
  plain->reset_parameters(gen);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < plain->parameters().size(); ++i) plain->parameters()[i].copy_(mlp->parameters()[i]);
  auto x = torch::randn({50, 6}, gen);
  mlp->eval();
  plain->eval();
  EXPECT_TRUE(torch::equal(mlp->forward(x), plain->forward(x)));  // evaluation: no unit dropped
  mlp->train();
  torch::manual_seed(1);
  auto a = mlp->forward(x);
  torch::manual_seed(1);
  auto b = mlp->forward(x);
  EXPECT_TRUE(torch::equal(a, b));                    // the same seed, the same masks
  EXPECT_FALSE(torch::allclose(a, plain->forward(x)));  // training: units dropped
  EXPECT_THROW(MLP(MLPOptions(6, 5).dropout(1.0)), c10::Error);
}

// The float kernels (spline, silu) on every SIMD level this CPU runs agree
// with the baseline to float32 rounding.
TEST(Simd, FloatKernelsAgreeAcrossLevels) {
  auto gen = make_generator(5);
  const int64_t rows = 203, cols = 3, k = 10;
  auto x = 1.3 * torch::randn({rows, cols}, gen);
  auto raw = torch::randn({rows, cols, 3 * k - 1}, gen);
  MLP mlp(MLPOptions(6, 5).hidden({33, 17}).activation("silu"));
  mlp->reset_parameters(gen);
  auto input = 3 * torch::randn({37, 6}, gen);
  torch::NoGradGuard no_grad;
  const SimdLevel start = simd_level();
  std::vector<std::vector<Tensor>> outs;
  for (SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level > cpu_simd_level()) break;
    set_simd_level(level);
    auto fwd = rational_quadratic_spline(x, raw, 3.0, false), inv = rational_quadratic_spline(x, raw, 3.0, true);
    outs.push_back({fwd.first, fwd.second, inv.first, inv.second, mlp->forward(input)});
  }
  set_simd_level(start);
  for (size_t l = 1; l < outs.size(); ++l) {
    for (size_t i = 0; i < outs[0].size(); ++i) {
      EXPECT_TRUE(amortized_test::float_close(outs[l][i], outs[0][i], 64, 10.0)) << "level " << l << ", output " << i;
    }
  }
}

TEST(Spline, RejectsBadOptions) {
  EXPECT_THROW(SplineCoupling(SplineCouplingOptions(2, 0).bins(1)), c10::Error);
  EXPECT_THROW(SplineCoupling(SplineCouplingOptions(2, 0).tail_bound(0)), c10::Error);
  EXPECT_THROW(SplineCoupling(SplineCouplingOptions(1, 0)), c10::Error);
}

TEST(AffineCoupling, OneDimensionNeedsContext) {
  EXPECT_THROW(AffineCoupling(AffineCouplingOptions(1, 0)), c10::Error);
}

}  // namespace

TEST(Bounded, DrawsStayStrictlyInsideTheBoundsWhereTheMapSaturates) {
  const double inf = std::numeric_limits<double>::infinity();
  Bounded t(std::vector<double>{0.0, 0.0, -inf, 0.1}, std::vector<double>{1.0, inf, 2.0, 0.2});
  auto z = torch::tensor({-1e4f, 1e4f, -200.0f, 50.0f, 0.0f}).unsqueeze(1).expand({5, 4}).contiguous();
  auto x = t->inverse(z, torch::Tensor()).first;
  EXPECT_EQ(x.scalar_type(), torch::kFloat);
  EXPECT_TRUE((x.select(1, 0) > 0).all().item<bool>() && (x.select(1, 0) < 1).all().item<bool>());
  EXPECT_TRUE((x.select(1, 1) > 0).all().item<bool>());
  EXPECT_TRUE((x.select(1, 2) < 2).all().item<bool>());
  EXPECT_TRUE((x.to(torch::kDouble).select(1, 3) > 0.1).all().item<bool>() &&
              (x.to(torch::kDouble).select(1, 3) < 0.2).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(x).all().item<bool>());
  // the logit map of (0, 1) at 0.5 is 0, the log map of (0, inf) at 1 is 0
  auto y = t->forward(torch::tensor({{0.5f, 1.0f, 1.0f, 0.15f}}), torch::Tensor()).first;
  EXPECT_NEAR(y[0][0].item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(y[0][1].item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(y[0][3].item<double>(), 0.0, 1e-5);
}

TEST(Bounded, RejectsBoundsThatLeaveNoRoom) {
  EXPECT_THROW(Bounded(std::vector<double>{1.0}, std::vector<double>{1.0}), c10::Error);
  EXPECT_THROW(Bounded(std::vector<double>{0.0, 0.0}, std::vector<double>{1.0}), c10::Error);
  EXPECT_THROW(Bounded(std::vector<double>{std::nan("")}, std::vector<double>{1.0}), c10::Error);
}

// A fold gives any input non-negative folded coordinates and draws put fair
// random signs back; a chain's draws go through each part's draw_inverse().
TEST(SignFold, FoldsAndDrawsFairSigns) {
  auto gen = make_generator(3);
  SignFold fold(3, std::vector<int64_t>{1});
  auto x = torch::randn({4000, 3}, gen);
  auto y = fold->forward(x, Tensor()).first;
  EXPECT_TRUE(torch::equal(y.select(1, 1), x.select(1, 1).abs().clamp_min(std::numeric_limits<float>::min())));
  EXPECT_TRUE(torch::equal(y.select(1, 0), x.select(1, 0)));
  EXPECT_NEAR(fold->log_density_shift(), -std::log(2.0), 1e-15);
  Composed chain(3, std::vector<std::shared_ptr<TransformImpl>>{std::make_shared<RotationImpl>(3, rotation_3d()), fold.ptr()});
  auto draws = chain->draw_inverse(chain->forward(x, Tensor()).first, Tensor(), gen);
  // the folded coordinate of Q x got a random sign: draws are Q^-1 of it
  auto folded_back = fold->forward(RotationImpl(3, rotation_3d()).forward(draws, Tensor()).first, Tensor()).first;
  EXPECT_TRUE(amortized_test::float_close(folded_back, chain->forward(x, Tensor()).first));
  auto signs = RotationImpl(3, rotation_3d()).forward(draws, Tensor()).first.select(1, 1) > 0;
  EXPECT_NEAR(signs.to(torch::kDouble).mean().item<double>(), 0.5, 0.04);
  EXPECT_THROW(SignFold(3, std::vector<int64_t>{3}), c10::Error);
  EXPECT_THROW(SignFold(3, std::vector<int64_t>{1, 1}), c10::Error);
  EXPECT_THROW(Rotation(2, std::vector<double>{1, 1, 0, 1}), c10::Error);  // not orthogonal
  EXPECT_THROW(Composed(3, std::vector<std::shared_ptr<TransformImpl>>{std::make_shared<StandardizeImpl>(2)}), c10::Error);
}
