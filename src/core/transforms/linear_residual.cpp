#include "amortized/transforms/linear_residual.h"

#include <torch/linalg.h>

namespace amortized {

LinearResidualImpl::LinearResidualImpl(int64_t dim, int64_t context_dim)
    : TransformImpl(dim), context_dim_(context_dim) {
  TORCH_CHECK(dim >= 1 && context_dim >= 1, "a linear residual needs dim >= 1 and context_dim >= 1");
  weight_ = register_buffer("weight", torch::zeros({context_dim, dim}));
  bias_ = register_buffer("bias", torch::zeros({dim}));
  sd_ = register_buffer("sd", torch::ones({dim}));
}

void LinearResidualImpl::fit(const Tensor& x, const Tensor& context, double ridge) {
  check_input(x, context, context_dim_, "x");
  TORCH_CHECK(x.size(0) >= 2, "the linear residual needs at least 2 rows, got ", x.size(0));
  TORCH_CHECK(ridge >= 0, "ridge must be >= 0");
  torch::NoGradGuard no_grad;
  const int64_t n = x.size(0);
  Tensor xd = x.to(torch::kDouble), cd = context.to(torch::kDouble);
  Tensor c_mean = cd.mean(0), x_mean = xd.mean(0);
  Tensor cc = cd - c_mean, xc = xd - x_mean;
  Tensor gram = cc.t().mm(cc) + ridge * static_cast<double>(n) * torch::eye(context_dim_, torch::kDouble);
  Tensor w = torch::linalg::solve(gram, cc.t().mm(xc), /*left=*/true);  // [context_dim, dim]
  Tensor resid = xc - cc.mm(w);
  Tensor sd = resid.std(0);
  sd = torch::where(sd > 1e-12, sd, torch::ones_like(sd));
  weight_.copy_(w);
  bias_.copy_(x_mean - c_mean.matmul(w));
  sd_.copy_(sd);
}

std::pair<Tensor, Tensor> LinearResidualImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, context_dim_, "x");
  Tensor y = (x - context.matmul(weight_) - bias_) / sd_;
  return {y, (-torch::log(sd_).sum()).expand({x.size(0)})};
}

std::pair<Tensor, Tensor> LinearResidualImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, context_dim_, "y");
  return {y * sd_ + context.matmul(weight_) + bias_, torch::log(sd_).sum().expand({y.size(0)})};
}

std::string LinearResidualImpl::describe() const {
  return "linear residual (" + std::to_string(dim()) + " on context " + std::to_string(context_dim_) + ")";
}

}  // namespace amortized
