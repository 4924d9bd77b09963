// Neural posterior estimation (NPE): q(theta | x) = inference net on
// standardized theta, conditioned on standardized data.
#pragma once

#include "amortized/flows/inference_net.h"
#include "amortized/transforms/standardize.h"

#include <memory>

namespace amortized {

class PosteriorEstimatorImpl : public torch::nn::Module {
 public:
  // `net` models theta (dim_theta) given a context of width dim_x.
  PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, int64_t dim_theta,
                         int64_t dim_x);

  // Sets the standardization of theta: [n, dim_theta] and x: [n, dim_x].
  void fit_standardization(const Tensor& theta, const Tensor& x);
  // Training loss: mean -log q(theta_std | x_std) (the standardized scale).
  // theta: [batch, dim_theta], x: [batch, dim_x] -> scalar
  Tensor loss(const Tensor& theta, const Tensor& x);
  // log q(theta | x) on the original scale: [batch]
  Tensor log_prob(const Tensor& theta, const Tensor& x);
  // x: [batch, dim_x] -> draws on the original scale: [batch, n, dim_theta]
  Tensor sample(int64_t n, const Tensor& x, at::Generator& gen);

  int64_t dim_theta() const { return dim_theta_; }
  int64_t dim_x() const { return dim_x_; }
  InferenceNetImpl& net() { return *net_; }

 private:
  Tensor context(const Tensor& x);
  std::shared_ptr<InferenceNetImpl> net_;
  Standardize theta_std_{nullptr}, x_std_{nullptr};
  int64_t dim_theta_, dim_x_;
};
TORCH_MODULE(PosteriorEstimator);

}  // namespace amortized
