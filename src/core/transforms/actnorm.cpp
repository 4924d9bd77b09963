#include "amortized/transforms/actnorm.h"

namespace amortized {

ActNormImpl::ActNormImpl(int64_t dim) : TransformImpl(dim) {
  TORCH_CHECK(dim >= 1, "actnorm needs dim >= 1, got ", dim);
  loc_ = register_parameter("loc", torch::zeros({dim}));
  log_scale_ = register_parameter("log_scale", torch::zeros({dim}));
  initialized_ = register_buffer("initialized", torch::zeros({1}));
}

bool ActNormImpl::initialized() const { return initialized_.item<float>() > 0.5f; }

std::pair<Tensor, Tensor> ActNormImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, 0, "x");
  if (is_training() && !initialized() && x.size(0) >= 2) {
    torch::NoGradGuard no_grad;
    loc_.copy_(x.mean(0));
    log_scale_.copy_(torch::log(x.std(0).clamp_min(1e-3)));
    initialized_.fill_(1.0);
  }
  Tensor y = (x - loc_) * torch::exp(-log_scale_);
  return {y, (-log_scale_.sum()).expand({x.size(0)})};
}

std::pair<Tensor, Tensor> ActNormImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, 0, "y");
  Tensor x = y * torch::exp(log_scale_) + loc_;
  return {x, log_scale_.sum().expand({y.size(0)})};
}

void ActNormImpl::reset_parameters(at::Generator& /*gen*/) {
  torch::NoGradGuard no_grad;
  loc_.zero_();
  log_scale_.zero_();
  initialized_.zero_();
}

std::string ActNormImpl::describe() const { return "actnorm (" + std::to_string(dim()) + ")"; }

}  // namespace amortized
