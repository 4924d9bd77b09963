#include "amortized/transforms/conditional_affine.h"

namespace amortized {

ConditionalAffineImpl::ConditionalAffineImpl(int64_t dim, int64_t context_dim, std::vector<int64_t> hidden)
    : TransformImpl(dim), context_dim_(context_dim) {
  TORCH_CHECK(dim >= 1 && context_dim >= 1, "a conditional affine map needs dim >= 1 and context_dim >= 1");
  net_ = register_module("net", MLP(MLPOptions(context_dim, 2 * dim).hidden(hidden).zero_last(true)));
}

std::pair<Tensor, Tensor> ConditionalAffineImpl::params(const Tensor& context) {
  Tensor p = net_->forward(context);
  Tensor loc = p.narrow(1, 0, dim());
  Tensor log_scale = soft_clamp(p.narrow(1, dim(), dim()), 5.0);
  return {loc, log_scale};
}

std::pair<Tensor, Tensor> ConditionalAffineImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, context_dim_, "x");
  auto [loc, log_scale] = params(context);
  return {(x - loc) * torch::exp(-log_scale), -log_scale.sum(1)};
}

std::pair<Tensor, Tensor> ConditionalAffineImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, context_dim_, "y");
  auto [loc, log_scale] = params(context);
  return {y * torch::exp(log_scale) + loc, log_scale.sum(1)};
}

void ConditionalAffineImpl::reset_parameters(at::Generator& gen) { net_->reset_parameters(gen); }

std::string ConditionalAffineImpl::describe() const {
  return "conditional affine (" + std::to_string(dim()) + ", context " + std::to_string(context_dim_) + ")";
}

}  // namespace amortized
