// Neural likelihood estimation (NLE): q(x | theta), a fast surrogate of the
// simulator. An inference net over the standardized data, conditioned on
// the parameters (mapped by their bounds onto the real line) and the context
// through a ConditionNet. Flat data: q models the data vector. Set data
// ([batch, n, dim_x], iid points): q models one point, and a set's density
// is the product over its valid points, so every point of every simulated
// set is a training example and any set size can be evaluated or drawn.
#pragma once

#include "amortized/embedding/condition_net.h"
#include "amortized/estimators/estimator.h"
#include "amortized/flows/inference_net.h"
#include "amortized/transforms/bounded.h"
#include "amortized/transforms/linear_residual.h"
#include "amortized/transforms/standardize.h"

#include <memory>
#include <torch/arg.h>
#include <vector>

namespace amortized {

struct LikelihoodEstimatorOptions {
  LikelihoodEstimatorOptions(int64_t dim_theta, int64_t dim_x) : dim_theta_(dim_theta), dim_x_(dim_x) {}
  TORCH_ARG(int64_t, dim_theta);
  // Flat data: values per data set. Sets (and flat points): variables per point.
  TORCH_ARG(int64_t, dim_x);
  // The data are sets of iid points ([batch, n, dim_x] with lengths).
  TORCH_ARG(bool, sets) = false;
  // Flat data that are flat_points iid points of dim_x values each, stored
  // point after point ([batch, flat_points * dim_x]): modelled point by
  // point like a set (0: the data vector as one).
  TORCH_ARG(int64_t, flat_points) = 0;
  TORCH_ARG(int64_t, dim_context) = 0;
  // Bounds of theta (empty: unbounded), mapped onto the real line before
  // the condition is standardized.
  TORCH_ARG(std::vector<double>, lower) = {};
  TORCH_ARG(std::vector<double>, upper) = {};
  TORCH_ARG(bool, standardize_theta) = true;
  TORCH_ARG(bool, standardize_x) = true;
  // Model the residual of a least-squares regression of the (standardized)
  // data on the condition: exact for linear-Gaussian models, so the network
  // learns only the nonlinear rest (see LinearResidual).
  TORCH_ARG(bool, linear_residual) = false;
  // ... whitened by the residuals' covariance rather than scaled per dimension.
  TORCH_ARG(bool, whiten_residual) = false;
};

// The embedding of theta (and context) that a likelihood estimator is
// conditioned on.
ConditionNetOptions likelihood_condition_options(const LikelihoodEstimatorOptions& options);

class LikelihoodEstimatorImpl : public EstimatorImpl {
 public:
  // net models dim_x variables given embedding->output_dim() features; the
  // embedding's options must be likelihood_condition_options(options).
  LikelihoodEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, ConditionNet embedding,
                          const LikelihoodEstimatorOptions& options);

  // Fits the standardizations of the data (each point's variables for
  // sets), of theta after its bounds, and of the context.
  void fit_standardization(const Tensor& theta, const DataBatch& data) override;
  // Mean -log q(x_std | theta) over the data sets (flat) or over every
  // valid point (sets). theta: [batch, dim_theta] -> scalar.
  Tensor loss(const Tensor& theta, const DataBatch& data) override;
  // log q(x_i | theta_i) on the data's original scale for each row i:
  // [batch] (sets: summed over the valid points).
  Tensor log_prob(const Tensor& theta, const DataBatch& data);
  // n draws of data for each row of theta (context: [batch, dim_context] or
  // undefined): flat data [batch, n, width()]; sets of n_obs points
  // [batch, n, n_obs, dim_x].
  Tensor sample(int64_t n, const Tensor& theta, const Tensor& context, int64_t n_obs, at::Generator& gen);
  std::vector<std::string> describe() const override;

  const LikelihoodEstimatorOptions& options() const { return options_; }
  // Values per flat data set (dim_x, or flat_points * dim_x).
  int64_t width() const { return options_.flat_points() > 0 ? options_.flat_points() * options_.dim_x() : options_.dim_x(); }
  // Whether the data are modelled point by point (sets, flat points).
  bool by_point() const { return options_.sets() || options_.flat_points() > 0; }
  InferenceNetImpl& net() { return *net_; }

 private:
  // The condition for theta rows: [rows, embedding output].
  Tensor condition(const Tensor& theta, const Tensor& context);
  // theta, context and data as one row per modelled example: flat data as
  // they are; sets: every valid point with its set's theta and context.
  // -> (theta rows, context rows, x rows [m, dim_x], set index of each row).
  std::tuple<Tensor, Tensor, Tensor, Tensor> examples(const Tensor& theta, const DataBatch& data) const;
  void check(const Tensor& theta, const DataBatch& data) const;
  // Flat points as sets of that many points; other data as they are.
  DataBatch as_points(const DataBatch& data) const;
  LikelihoodEstimatorOptions options_;
  std::shared_ptr<InferenceNetImpl> net_;
  ConditionNet embedding_{nullptr};
  Bounded bounds_{nullptr};
  Standardize x_std_{nullptr};
  LinearResidual residual_{nullptr};
  // x rows [m, dim_x] on the network's scale given their condition rows,
  // with the log-determinant of the map.
  std::pair<Tensor, Tensor> to_net(const Tensor& x, const Tensor& cond);
};
TORCH_MODULE(LikelihoodEstimator);

}  // namespace amortized
