// Neural posterior estimation (NPE): q(theta | x) = an inference net over
// bounded-then-standardized theta, conditioned on the data embedding
// (ConditionNet: flat data standardized, or set / time-series data
// summarized by a summary network, multi-source data by a FusionNet, plus
// standardized context variables).
#pragma once

#include "amortized/embedding/condition_net.h"
#include "amortized/estimators/estimator.h"
#include "amortized/flows/inference_net.h"
#include "amortized/structure/equivariance.h"
#include "amortized/structure/symmetry_group.h"
#include "amortized/structure/truncation.h"
#include "amortized/transforms/bounded.h"
#include "amortized/transforms/composed.h"
#include "amortized/transforms/rotation.h"
#include "amortized/transforms/sign_fold.h"
#include "amortized/transforms/linear_residual.h"
#include "amortized/transforms/standardize.h"

#include <memory>
#include <torch/arg.h>

namespace amortized {

struct PosteriorEstimatorOptions {
  PosteriorEstimatorOptions(int64_t dim_theta, int64_t dim_x) : dim_theta_(dim_theta), dim_x_(dim_x) {}
  TORCH_ARG(int64_t, dim_theta);
  // Flat data: values per data set. With a summary network: variables per
  // point (or time step). With a fusion network: the flat values beside the
  // sources (may be 0).
  TORCH_ARG(int64_t, dim_x);
  // With a fusion network: its number of sources (0: no fusion network).
  TORCH_ARG(int64_t, sources) = 0;
  // Flat data only: {n_obs, dim} (n_obs * dim == dim_x) declares an
  // exchangeable set of n_obs points stored point after point. Each data
  // set's points are sorted by their first coordinate (a lossless canonical
  // order) and permutation-invariant features of the set are appended (see
  // set_features), before standardization. Empty: plain flat data.
  TORCH_ARG(std::vector<int64_t>, set_shape) = {};
  // The features appended to a set (dim + dim (dim + 1) / 2 of them):
  // 2: its mean, log standard deviations and correlations (location, scale
  // and dependence on the scales a network learns from easily); 1: its mean
  // and mean products x_i x_j (i <= j), as models saved by amortized 0.1.0
  // were trained with.
  TORCH_ARG(int64_t, set_features) = 2;
  // Flat data only: the net models the standardized residual of a linear
  // regression of theta on the standardized data (see LinearResidual).
  TORCH_ARG(bool, linear_residual) = false;
  // ... whitened by the residuals' covariance (a Cholesky factor) rather than
  // scaled per dimension (models saved before whitening existed: not whitened).
  TORCH_ARG(bool, whiten_residual) = false;
  // Context variables passed to the inference net (standardized).
  TORCH_ARG(int64_t, dim_context) = 0;
  // With a summary network: the number of valid points varies between data
  // sets; sqrt(length) is then a (standardized) context feature (one per
  // source of a fusion network).
  TORCH_ARG(bool, variable_length) = false;
  // Standardize theta (after the bounds) and the data (flat values, or each
  // variable of the points) with their training mean and sd; when false
  // they reach the networks as they are. Context is always standardized.
  TORCH_ARG(bool, standardize_theta) = true;
  TORCH_ARG(bool, standardize_x) = true;
  // Bounds of theta (empty: unbounded); see Bounded.
  TORCH_ARG(std::vector<double>, lower) = {};
  TORCH_ARG(std::vector<double>, upper) = {};
  // Sign symmetries: 0-based indices of parameters in whose sign the
  // posterior is even for every data set (the likelihood depends on them
  // only through |theta_i| and the prior is even in them). The net models
  // |theta_i| (bounds (0, upper): the given bounds must be symmetric,
  // lower = -upper), draws get a fair random sign, and the density is half
  // that of |theta_i| per symmetric parameter.
  TORCH_ARG(std::vector<int64_t>, symmetric) = {};
  // An orthogonal matrix Q (dim_theta x dim_theta, row-major; empty: the
  // identity): the net models Q theta, and symmetric, lower and upper refer
  // to its coordinates (the truncation to theta's). With a row of Q in
  // `symmetric`, the posterior is even under the reflection of theta in the
  // plane orthogonal to that row (two_moons: (t1, t2) -> (-t2, -t1), the row
  // (1, 1) / sqrt 2). |det Q| = 1, so densities need no correction.
  TORCH_ARG(std::vector<double>, rotation) = {};
  // Truncation to the prior's support (empty: none): the net models theta
  // without these bounds (give them as lower/upper to transform instead),
  // draws outside them are rejected and drawn again, and log_prob is
  // renormalized by the net's mass inside them for each data set, a Monte
  // Carlo estimate from truncation_draws draws (a fixed stream, so that
  // log_prob is deterministic). Suits posteriors that the support cuts off
  // sharply (a uniform prior's box), where a transform distorts them.
  TORCH_ARG(std::vector<double>, truncate_lower) = {};
  TORCH_ARG(std::vector<double>, truncate_upper) = {};
  TORCH_ARG(int64_t, truncation_draws) = 4096;
  // Equivariances of the joint distribution (empty: none). Training
  // batches (the module in training mode) have each row transformed by a
  // random element of the group they generate, as if there were that many
  // times more simulations, and the standardization is fitted over the
  // group. For groups of at most 64 elements, draws and densities are those
  // of the equal mixture of g^-1 q(. | g x) over the group's elements g, an
  // exactly equivariant posterior (densities cost G evaluations). The
  // transformed parameters must stay inside the bounds and the truncation
  // (the prior is invariant), and context variables must be invariant. Not
  // with a fusion network; the group has at most 10000 elements.
  TORCH_ARG(std::vector<Equivariance>, equivariances) = {};
};

// The data embedding's options from the estimator's.
ConditionNetOptions condition_options(const PosteriorEstimatorOptions& options);

class PosteriorEstimatorImpl : public EstimatorImpl {
 public:
  // `net` models theta (dim_theta) given the embedding's output
  // (embedding->output_dim() wide); the embedding's options must be
  // condition_options(options).
  PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, ConditionNet embedding,
                         const PosteriorEstimatorOptions& options);
  // The same with the embedding built here from condition_options(options):
  // `summary` may be null (flat data).
  PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, std::shared_ptr<SummaryNetImpl> summary,
                         const PosteriorEstimatorOptions& options);
  // Multi-source data: `fusion` summarizes data.sources; options.sources()
  // must be fusion->size().
  PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, FusionNet fusion,
                         const PosteriorEstimatorOptions& options);
  // Flat data without summary network or context (the common case).
  PosteriorEstimatorImpl(std::shared_ptr<InferenceNetImpl> net, int64_t dim_theta, int64_t dim_x,
                         std::vector<int64_t> set_shape = {}, bool linear_residual = false);

  // Fits the standardizations of theta [n, dim_theta] and of the data
  // (flat data, the points of set / time-series data, context) on training
  // data, and the linear residual.
  void fit_standardization(const Tensor& theta, const DataBatch& data) override;
  // Training loss: mean -log q(theta_std | data) (the standardized scale).
  // theta: [batch, dim_theta] -> scalar
  Tensor loss(const Tensor& theta, const DataBatch& data) override;
  // log q(theta | data) on the original scale (bounds included; -inf
  // outside them and outside the truncation): [batch]
  Tensor log_prob(const Tensor& theta, const DataBatch& data);
  // Draws on the original scale: [batch, n, dim_theta] (symmetric
  // parameters with random signs from gen; with a truncation, only draws
  // inside it: an error names the data set whose draws almost never are).
  Tensor sample(int64_t n, const DataBatch& data, at::Generator& gen);
  // log of the net's mass inside the truncation for each data set: [batch]
  // (zeros without a truncation).
  Tensor log_support_mass(const DataBatch& data);
  // The number of elements of the group the equivariances generate (1:
  // none).
  int64_t group_size() const { return group_.size(); }
  // theta and the data with row i transformed by group element
  // elements[i] (0: the identity; see group_size()).
  std::pair<Tensor, DataBatch> transform(const Tensor& theta, const DataBatch& data, const Tensor& elements) const;
  // Seeds the random choice of group elements of training batches.
  void seed_augmentation(uint64_t seed) override { augment_gen_ = make_generator(seed); }
  // What the inference net is conditioned on: the embedding's output
  // [batch, embedding().output_dim()].
  Tensor condition(const DataBatch& data) { return embedding_->forward(data); }

  // Flat-data shorthands (x: [batch, dim_x]).
  void fit_standardization(const Tensor& theta, const Tensor& x) { fit_standardization(theta, DataBatch{x, {}, {}}); }
  Tensor loss(const Tensor& theta, const Tensor& x) { return loss(theta, DataBatch{x, {}, {}}); }
  Tensor log_prob(const Tensor& theta, const Tensor& x) { return log_prob(theta, DataBatch{x, {}, {}}); }
  Tensor sample(int64_t n, const Tensor& x, at::Generator& gen) { return sample(n, DataBatch{x, {}, {}}, gen); }

  int64_t dim_theta() const { return options_.dim_theta(); }
  int64_t dim_x() const { return options_.dim_x(); }
  const PosteriorEstimatorOptions& options() const { return options_; }
  InferenceNetImpl& net() { return *net_; }
  ConditionNetImpl& embedding() { return *embedding_; }
  // The number of learned summary statistics (0 without a summary network).
  int64_t summary_dim() const override { return embedding_->summary_dim(); }
  ConditionNetImpl* data_embedding() override { return embedding_.get(); }
  const std::vector<int64_t>& set_shape() const { return options_.set_shape(); }
  // Lines describing the whole pipeline (bounds, summary net, inference net).
  std::vector<std::string> describe() const override;

 private:
  void check_options();
  // n untruncated draws on the original scale for each row of cond:
  // [rows, n, dim_theta].
  Tensor draw(int64_t n, const Tensor& cond, at::Generator& gen);
  Truncation::DrawFn draw_fn();
  Tensor loss_of(const Tensor& theta, const DataBatch& data);
  // Draws and densities of the net itself (sample() and log_prob() average
  // them over a group of at most 64 elements).
  Tensor sample_of(int64_t n, const DataBatch& data, at::Generator& gen);
  Tensor log_prob_of(const Tensor& theta, const DataBatch& data);
  // The data alone, transformed as by transform().
  DataBatch transform_data(const DataBatch& data, const Tensor& elements) const;
  bool symmetrized() const { return group_size() > 1 && group_size() <= 64; }
  PosteriorEstimatorOptions options_;
  std::shared_ptr<InferenceNetImpl> net_;
  ConditionNet embedding_{nullptr};
  // theta -> what the net models, in two chains: the symmetric structure
  // (rotation Q, sign fold; fixed by the options) and the fitted chain
  // (bounds, standardization, linear residual given the condition). The
  // chains hold the modules registered below; they are not registered
  // themselves (the state keeps the modules' names).
  Composed structure_{nullptr}, theta_chain_{nullptr};
  SignFold fold_{nullptr};
  Bounded bounds_{nullptr};
  Standardize theta_std_{nullptr};
  LinearResidual residual_{nullptr};
  SymmetryGroup group_;    // of the equivariances (the identity alone: none)
  Truncation truncation_;  // to the prior's support (inactive: none)
  at::Generator augment_gen_ = make_generator(0);
};
TORCH_MODULE(PosteriorEstimator);

}  // namespace amortized
