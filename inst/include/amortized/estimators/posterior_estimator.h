// Neural posterior estimation (NPE): q(theta | x) = inference net on
// standardized theta, conditioned on standardized data.
#pragma once

#include "amortized/flows/inference_net.h"
#include "amortized/transforms/linear_residual.h"
#include "amortized/transforms/standardize.h"

#include <memory>

namespace amortized {

class PosteriorEstimatorImpl : public torch::nn::Module {
 public:
  // `net` models theta (dim_theta) given a context of width dim_x.
  // set_shape {n_obs, dim} (n_obs * dim == dim_x) declares the data an
  // exchangeable set of n_obs points, stored point after point: each data
  // set's points are then sorted by their first coordinate, a lossless
  // canonical order, and the set's first and second moments (mean, and the
  // mean of each product of two coordinates) are appended as
  // permutation-invariant features, before standardization. Empty: flat
  // data. The net's context width is context_width(dim_x, set_shape).
  // linear_residual: the net models the standardized residual of a linear
  // regression of theta on the (standardized) data, fitted with the
  // standardization (see LinearResidual); exact for linear-Gaussian models.
  PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, int64_t dim_theta,
                         int64_t dim_x, std::vector<int64_t> set_shape = {},
                         bool linear_residual = false);

  // Sets the standardization of theta: [n, dim_theta] and x: [n, dim_x]
  // (and fits the linear residual).
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
  // Width of the context the inference net sees.
  static int64_t context_width(int64_t dim_x, const std::vector<int64_t>& set_shape);
  InferenceNetImpl& net() { return *net_; }
  const std::vector<int64_t>& set_shape() const { return set_shape_; }

 private:
  Tensor context(const Tensor& x);
  // theta -> (what the net models, log|det| of that map) given the context.
  std::pair<Tensor, Tensor> to_net(const Tensor& theta, const Tensor& ctx);
  // x with each set's points in canonical order and the set's moments
  // appended (x itself for flat data).
  Tensor canonical(const Tensor& x) const;
  std::shared_ptr<InferenceNetImpl> net_;
  Standardize theta_std_{nullptr}, x_std_{nullptr};
  LinearResidual residual_{nullptr};
  int64_t dim_theta_, dim_x_;
  std::vector<int64_t> set_shape_;
};
TORCH_MODULE(PosteriorEstimator);

}  // namespace amortized
