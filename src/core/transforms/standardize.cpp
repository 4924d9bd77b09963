#include "amortized/transforms/standardize.h"

namespace amortized {

StandardizeImpl::StandardizeImpl(int64_t dim) : TransformImpl(dim) {
  TORCH_CHECK(dim >= 1, "standardize needs dim >= 1, got ", dim);
  mean_ = register_buffer("mean", torch::zeros({dim}));
  sd_ = register_buffer("sd", torch::ones({dim}));
}

void StandardizeImpl::fit(const Tensor& x) {
  check_shape(x, "x", {-1, dim()});
  TORCH_CHECK(x.size(0) >= 2, "standardization needs at least 2 rows, got ", x.size(0));
  TORCH_CHECK(torch::isfinite(x).all().item<bool>(), "standardization data must be finite");
  torch::NoGradGuard no_grad;
  Tensor xd = x.to(torch::kDouble);
  Tensor sd = xd.std(0);
  sd = torch::where(sd > 1e-12, sd, torch::ones_like(sd));
  mean_.copy_(xd.mean(0));
  sd_.copy_(sd);
}

Tensor StandardizeImpl::apply(const Tensor& x) const { return (x - mean_) / sd_; }

std::pair<Tensor, Tensor> StandardizeImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, 0, "x");
  return {apply(x), (-torch::log(sd_).sum()).expand({x.size(0)})};
}

std::pair<Tensor, Tensor> StandardizeImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, 0, "y");
  return {y * sd_ + mean_, torch::log(sd_).sum().expand({y.size(0)})};
}

std::string StandardizeImpl::describe() const {
  return "standardize (" + std::to_string(dim()) + ")";
}

}  // namespace amortized
