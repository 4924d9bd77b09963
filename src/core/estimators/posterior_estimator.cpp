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
  const int64_t width = context_width(dim_x, set_shape_);
  TORCH_CHECK(net_->context_dim() == width, "the inference network takes a context of width ",
              net_->context_dim(), ", the data give ", width, " features");
  register_module("net", net_);
  theta_std_ = register_module("theta_standardize", Standardize(dim_theta));
  x_std_ = register_module("x_standardize", Standardize(width));
  if (linear_residual) residual_ = register_module("linear_residual", LinearResidual(dim_theta, width));
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

int64_t PosteriorEstimatorImpl::context_width(int64_t dim_x, const std::vector<int64_t>& set_shape) {
  if (set_shape.size() != 2) return dim_x;
  const int64_t d = set_shape[1];
  return dim_x + d + d * (d + 1) / 2;
}

Tensor PosteriorEstimatorImpl::canonical(const Tensor& x) const {
  if (set_shape_.empty()) return x;
  const int64_t b = x.size(0), n = set_shape_[0], d = set_shape_[1];
  Tensor points = x.reshape({b, n, d});
  Tensor order = std::get<1>(points.select(2, 0).sort(1));  // [b, n]
  Tensor sorted = points.gather(1, order.unsqueeze(2).expand({b, n, d})).reshape({b, n * d});
  // moments: the mean point and the mean of x_i x_j for i <= j
  std::vector<Tensor> features = {sorted, points.mean(1)};
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = i; j < d; ++j) features.push_back((points.select(2, i) * points.select(2, j)).mean(1, true));
  return torch::cat(features, 1);
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
    const int64_t width = ctx.size(1);
    Tensor rows = ctx.unsqueeze(1).expand({batch, n, width}).reshape({batch * n, width});
    flat = residual_->inverse(flat, rows).first;
  }
  flat = theta_std_->inverse(flat, Tensor()).first;
  return flat.reshape({batch, n, dim_theta_});
}

}  // namespace amortized
