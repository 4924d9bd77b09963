#include "amortized/flows/coupling_flow.h"

#include "amortized/transforms/actnorm.h"
#include "amortized/transforms/affine_coupling.h"
#include "amortized/transforms/conditional_affine.h"
#include "amortized/transforms/permutation.h"
#include "amortized/transforms/spline_coupling.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace amortized {

ConditionalFlowImpl::ConditionalFlowImpl(int64_t dim, int64_t context_dim,
                                         std::vector<std::shared_ptr<TransformImpl>> transforms)
    : InferenceNetImpl(dim, context_dim), transforms_(std::move(transforms)) {
  TORCH_CHECK(dim >= 1, "a flow needs dim >= 1, got ", dim);
  TORCH_CHECK(!transforms_.empty(), "a flow needs at least one transform");
  for (size_t i = 0; i < transforms_.size(); ++i) {
    TORCH_CHECK(transforms_[i]->dim() == dim, "transform ", i, " has dim ", transforms_[i]->dim(),
                ", the flow has dim ", dim);
    register_module("t" + std::to_string(i), transforms_[i]);
  }
}

std::pair<Tensor, Tensor> ConditionalFlowImpl::to_latent(const Tensor& theta, const Tensor& context) {
  check_shape(theta, "theta", {-1, dim()});
  if (context_dim() > 0) check_shape(context, "context", {theta.size(0), context_dim()});
  Tensor z = theta;
  Tensor logdet = torch::zeros({theta.size(0)}, theta.options());
  for (auto& t : transforms_) {
    auto out = t->forward(z, context);
    z = out.first;
    logdet = logdet + out.second;
  }
  return {z, logdet};
}

Tensor ConditionalFlowImpl::from_latent(const Tensor& z, const Tensor& context) {
  check_shape(z, "z", {-1, dim()});
  if (context_dim() > 0) check_shape(context, "context", {z.size(0), context_dim()});
  Tensor x = z;
  for (auto it = transforms_.rbegin(); it != transforms_.rend(); ++it) {
    x = (*it)->inverse(x, context).first;
  }
  return x;
}

Tensor ConditionalFlowImpl::log_prob(const Tensor& theta, const Tensor& context) {
  auto [z, logdet] = to_latent(theta, context);
  const double log_norm = 0.5 * std::log(2.0 * M_PI) * static_cast<double>(dim());
  return -0.5 * z.pow(2).sum(1) - log_norm + logdet;
}

Tensor ConditionalFlowImpl::sample(int64_t n, const Tensor& context, at::Generator& gen) {
  return draw_in_chunks(n, context, gen, [this](const Tensor& z, const Tensor& ctx) { return from_latent(z, ctx); });
}

void ConditionalFlowImpl::reset_parameters(at::Generator& gen) {
  for (auto& t : transforms_) t->reset_parameters(gen);
}

std::vector<std::string> ConditionalFlowImpl::describe() const {
  std::vector<std::string> lines;
  for (const auto& t : transforms_) lines.push_back(t->describe());
  return lines;
}

ConditionalFlow make_coupling_flow(const CouplingFlowOptions& o, at::Generator& gen) {
  TORCH_CHECK(o.n_layers() >= 1, "n_layers must be >= 1, got ", o.n_layers());
  TORCH_CHECK(o.transform() == "affine" || o.transform() == "spline",
              "transform must be \"affine\" or \"spline\", got \"", o.transform(), "\"");
  std::vector<std::shared_ptr<TransformImpl>> ts;
  if (o.conditional_affine()) {
    TORCH_CHECK(o.context_dim() > 0, "a conditional affine map needs a context");
    ts.push_back(std::make_shared<ConditionalAffineImpl>(o.dim(), o.context_dim()));
  }
  for (int64_t i = 0; i < o.n_layers(); ++i) {
    if (o.actnorm()) ts.push_back(std::make_shared<ActNormImpl>(o.dim()));
    if (o.transform() == "spline") {
      ts.push_back(std::make_shared<SplineCouplingImpl>(SplineCouplingOptions(o.dim(), o.context_dim())
                                                            .hidden(o.hidden())
                                                            .activation(o.activation())
                                                            .dropout(o.dropout())
                                                            .bins(o.bins())
                                                            .tail_bound(o.tail_bound())
                                                            .clamp(o.clamp())));
    } else {
      ts.push_back(std::make_shared<AffineCouplingImpl>(AffineCouplingOptions(o.dim(), o.context_dim())
                                                            .hidden(o.hidden())
                                                            .activation(o.activation())
                                                            .dropout(o.dropout())
                                                            .clamp(o.clamp())));
    }
    // Between couplings: after even blocks the reversal, which swaps passive
    // and active halves so that each pair of couplings transforms every
    // variable; after odd blocks a seeded random permutation mixes them.
    if (o.dim() > 1 && i + 1 < o.n_layers()) {
      ts.push_back(std::make_shared<PermutationImpl>(o.dim(), /*random=*/i % 2 == 1));
    }
  }
  ConditionalFlow flow(o.dim(), o.context_dim(), std::move(ts));
  flow->reset_parameters(gen);
  return flow;
}

// The workload is the package's own: draws from the default posterior flow
// (4 spline couplings of 128 x 128) for 4,000 rows of context. A product
// of large matrices, measured before, ran faster on two threads on a
// machine where these draws ran two to three times slower on two.
int fastest_threads(int max_threads) {
  if (max_threads <= 1) return 1;
  torch::NoGradGuard no_grad;
  const int before = at::get_num_threads();
  auto gen = make_generator(1);
  ConditionalFlow flow = make_coupling_flow(CouplingFlowOptions(2, 8).n_layers(4).transform("spline"), gen);
  flow->eval();
  const Tensor context = torch::randn({4000, 8}, gen, torch::kFloat);
  auto seconds = [&](int n) {
    set_threads(n);
    double best = std::numeric_limits<double>::infinity();
    for (int trial = 0; trial < 2; ++trial) {
      auto draw_gen = make_generator(2);
      const auto t0 = std::chrono::steady_clock::now();
      (void)flow->sample(1, context, draw_gen).sum().item<float>();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  seconds(max_threads);  // warm-up: starts the thread pool
  const double one = seconds(1), many = seconds(max_threads);
  set_threads(before);
  return many * 1.2 < one ? max_threads : 1;
}

}  // namespace amortized
