#include "amortized/estimators/posterior_estimator.h"

namespace amortized {

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net,
                                               int64_t dim_theta, int64_t dim_x, std::vector<int64_t> set_shape,
                                               bool linear_residual)
    : net_(std::move(net)), dim_theta_(dim_theta), dim_x_(dim_x), set_shape_(std::move(set_shape)) {
  TORCH_CHECK(set_shape_.empty() || (set_shape_.size() == 2 && set_shape_[0] >= 1 && set_shape_[1] >= 1 &&
                                     set_shape_[0] * set_shape_[1] == dim_x),
              "set_shape must be {n_obs, dim} with n_obs * dim equal to the ", dim_x, " data values");
  TORCH_CHECK(net_ != nullptr, "the posterior estimator needs an inference network");
  TORCH_CHECK(net_->dim() == dim_theta, "the inference network models ", net_->dim(),
              " parameters, the estimator ", dim_theta);
  TORCH_CHECK(net_->context_dim() == dim_x, "the inference network takes a context of width ",
              net_->context_dim(), ", the data have ", dim_x, " values");
  register_module("net", net_);
  theta_std_ = register_module("theta_standardize", Standardize(dim_theta));
  x_std_ = register_module("x_standardize", Standardize(dim_x));
  if (linear_residual) residual_ = register_module("linear_residual", LinearResidual(dim_theta, dim_x));
}

void PosteriorEstimatorImpl::fit_standardization(const Tensor& theta, const Tensor& x) {
  check_shape(x, "x", {-1, dim_x_});
  theta_std_->fit(theta);
  x_std_->fit(canonical(x));
  if (residual_) residual_->fit(theta_std_->apply(theta), context(x));
}

std::pair<Tensor, Tensor> PosteriorEstimatorImpl::to_net(const Tensor& theta, const Tensor& ctx) {
  auto [t, logdet] = theta_std_->forward(theta, Tensor());
  if (!residual_) return {t, logdet};
  auto [r, ld] = residual_->forward(t, ctx);
  return {r, logdet + ld};
}

Tensor PosteriorEstimatorImpl::canonical(const Tensor& x) const {
  if (set_shape_.empty()) return x;
  const int64_t b = x.size(0), n = set_shape_[0], d = set_shape_[1];
  Tensor points = x.reshape({b, n, d});
  Tensor order = std::get<1>(points.select(2, 0).sort(1));  // [b, n]
  return points.gather(1, order.unsqueeze(2).expand({b, n, d})).reshape({b, n * d});
}

Tensor PosteriorEstimatorImpl::context(const Tensor& x) {
  check_shape(x, "x", {-1, dim_x_});
  return x_std_->apply(canonical(x));
}

Tensor PosteriorEstimatorImpl::loss(const Tensor& theta, const Tensor& x) {
  check_shape(theta, "theta", {x.size(0), dim_theta_});
  Tensor ctx = context(x);
  return net_->loss(to_net(theta, ctx).first, ctx);
}

Tensor PosteriorEstimatorImpl::log_prob(const Tensor& theta, const Tensor& x) {
  check_shape(theta, "theta", {x.size(0), dim_theta_});
  Tensor ctx = context(x);
  auto [z, logdet] = to_net(theta, ctx);
  return net_->log_prob(z, ctx) + logdet;
}

Tensor PosteriorEstimatorImpl::sample(int64_t n, const Tensor& x, at::Generator& gen) {
  Tensor ctx = context(x);
  Tensor draws = net_->sample(n, ctx, gen);  // [batch, n, dim_theta]
  const int64_t batch = draws.size(0);
  Tensor flat = draws.reshape({batch * n, dim_theta_});
  if (residual_) {
    Tensor rows = ctx.unsqueeze(1).expand({batch, n, dim_x_}).reshape({batch * n, dim_x_});
    flat = residual_->inverse(flat, rows).first;
  }
  flat = theta_std_->inverse(flat, Tensor()).first;
  return flat.reshape({batch, n, dim_theta_});
}

}  // namespace amortized
