#include "amortized/transforms/linear_residual.h"

#include <torch/linalg.h>

namespace amortized {

LinearResidualImpl::LinearResidualImpl(int64_t dim, int64_t context_dim, bool whiten)
    : TransformImpl(dim), context_dim_(context_dim), whiten_(whiten) {
  TORCH_CHECK(dim >= 1 && context_dim >= 1, "a linear residual needs dim >= 1 and context_dim >= 1");
  weight_ = register_buffer("weight", torch::zeros({context_dim, dim}));
  bias_ = register_buffer("bias", torch::zeros({dim}));
  if (whiten_) {
    chol_ = register_buffer("chol", torch::eye(dim));
  } else {
    sd_ = register_buffer("sd", torch::ones({dim}));
  }
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
  Tensor degenerate = sd <= 1e-12;
  sd = torch::where(degenerate, torch::ones_like(sd), sd);
  weight_.copy_(w);
  bias_.copy_(x_mean - c_mean.matmul(w));
  if (!whiten_) {
    sd_.copy_(sd);
    return;
  }
  // The correlation of the residuals (a constant dimension uncorrelated, of
  // unit scale), with a little ridge so that collinear dimensions still
  // factor; the factor of the covariance is then diag(sd) times its factor.
  Tensor r = resid / sd;
  Tensor corr = r.t().mm(r) / static_cast<double>(n - 1);
  const int64_t d = dim();
  Tensor eye = torch::eye(d, torch::kDouble);
  corr = torch::where(degenerate.unsqueeze(0) | degenerate.unsqueeze(1), eye, corr);
  corr = (corr + 1e-6 * eye) / (1 + 1e-6);
  auto [l, info] = torch::linalg_cholesky_ex(corr, /*upper=*/false, /*check_errors=*/false);
  if (info.item<int64_t>() != 0) l = eye;  // not positive definite even so: scales only
  chol_.copy_(sd.unsqueeze(1) * l);
}

std::pair<Tensor, Tensor> LinearResidualImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, context_dim_, "x");
  Tensor r = x - context.matmul(weight_) - bias_;
  if (!whiten_) return {r / sd_, (-torch::log(sd_).sum()).expand({x.size(0)})};
  // y L^T = r, i.e. y = r L^-T
  Tensor y = torch::linalg_solve_triangular(chol_.t(), r, /*upper=*/true, /*left=*/false);
  return {y, (-torch::log(chol_.diagonal()).sum()).expand({x.size(0)})};
}

std::pair<Tensor, Tensor> LinearResidualImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, context_dim_, "y");
  Tensor shift = context.matmul(weight_) + bias_;
  if (!whiten_) return {y * sd_ + shift, torch::log(sd_).sum().expand({y.size(0)})};
  return {y.matmul(chol_.t()) + shift, torch::log(chol_.diagonal()).sum().expand({y.size(0)})};
}

std::string LinearResidualImpl::describe() const {
  return std::string(whiten_ ? "whitened " : "") + "linear residual (" + std::to_string(dim()) + " on context " +
         std::to_string(context_dim_) + ")";
}

}  // namespace amortized
