#include "amortized/estimators/posterior_estimator.h"

namespace amortized {

PosteriorEstimatorImpl::PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net,
                                               int64_t dim_theta, int64_t dim_x)
    : net_(std::move(net)), dim_theta_(dim_theta), dim_x_(dim_x) {
  TORCH_CHECK(net_ != nullptr, "the posterior estimator needs an inference network");
  TORCH_CHECK(net_->dim() == dim_theta, "the inference network models ", net_->dim(),
              " parameters, the estimator ", dim_theta);
  TORCH_CHECK(net_->context_dim() == dim_x, "the inference network takes a context of width ",
              net_->context_dim(), ", the data have ", dim_x, " values");
  register_module("net", net_);
  theta_std_ = register_module("theta_standardize", Standardize(dim_theta));
  x_std_ = register_module("x_standardize", Standardize(dim_x));
}

void PosteriorEstimatorImpl::fit_standardization(const Tensor& theta, const Tensor& x) {
  theta_std_->fit(theta);
  x_std_->fit(x);
}

Tensor PosteriorEstimatorImpl::context(const Tensor& x) {
  check_shape(x, "x", {-1, dim_x_});
  return x_std_->apply(x);
}

Tensor PosteriorEstimatorImpl::loss(const Tensor& theta, const Tensor& x) {
  check_shape(theta, "theta", {x.size(0), dim_theta_});
  return net_->loss(theta_std_->apply(theta), context(x));
}

Tensor PosteriorEstimatorImpl::log_prob(const Tensor& theta, const Tensor& x) {
  check_shape(theta, "theta", {x.size(0), dim_theta_});
  auto [z, logdet] = theta_std_->forward(theta, Tensor());
  return net_->log_prob(z, context(x)) + logdet;
}

Tensor PosteriorEstimatorImpl::sample(int64_t n, const Tensor& x, at::Generator& gen) {
  Tensor draws = net_->sample(n, context(x), gen);  // [batch, n, dim_theta]
  const int64_t batch = draws.size(0);
  Tensor flat = theta_std_->inverse(draws.reshape({batch * n, dim_theta_}), Tensor()).first;
  return flat.reshape({batch, n, dim_theta_});
}

}  // namespace amortized
