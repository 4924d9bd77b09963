// The data embedding: turns a DataBatch into the one condition vector an
// estimator's network is conditioned on. Flat data are standardized (an
// exchangeable flat set first put in canonical order with its features
// appended); set or time-series data go through a summary network, several
// sources through a fusion network; then the extra context (sqrt of each
// source's length when lengths vary, the context variables), standardized.
// It owns its output width: nobody else computes it.
#pragma once

#include "amortized/embedding/data_batch.h"
#include "amortized/summary/fusion.h"
#include "amortized/summary/summary_net.h"
#include "amortized/transforms/standardize.h"

#include <memory>
#include <string>
#include <torch/arg.h>
#include <vector>

namespace amortized {

struct ConditionNetOptions {
  explicit ConditionNetOptions(int64_t dim_x) : dim_x_(dim_x) {}
  // Flat data: values per data set. With a summary network: variables per
  // point (or time step). With a fusion network: the flat values beside the
  // sources (may be 0).
  TORCH_ARG(int64_t, dim_x);
  // Flat data only: {n_obs, dim} (n_obs * dim == dim_x) declares an
  // exchangeable set stored point after point: sorted by the first
  // coordinate, with set_features() appended. Empty: plain flat data.
  TORCH_ARG(std::vector<int64_t>, set_shape) = {};
  // The features of a flat set: 2, mean, log sds and correlations; 1, mean
  // and mean products (models saved by amortized 0.1.0).
  TORCH_ARG(int64_t, set_features) = 2;
  TORCH_ARG(int64_t, dim_context) = 0;
  // With a summary network: lengths vary, so sqrt(length) of each source is
  // an extra feature.
  TORCH_ARG(bool, variable_length) = false;
  // Standardize the data (flat values, or each variable of the points) with
  // their training mean and sd; context is always standardized.
  TORCH_ARG(bool, standardize) = true;
};

class ConditionNetImpl : public torch::nn::Module {
 public:
  // `summary` may be null (flat data).
  ConditionNetImpl(const ConditionNetOptions& options, std::shared_ptr<SummaryNetImpl> summary);
  // Multi-source data: `fusion` summarizes data.sources.
  ConditionNetImpl(const ConditionNetOptions& options, FusionNet fusion);

  // Fits the standardizations on training data.
  void fit(const DataBatch& data);
  // The condition: [rows(data), output_dim()].
  Tensor forward(const DataBatch& data);
  // Throws (TORCH_CHECK) unless data fit this embedding; the message names
  // the tensor and the shape expected.
  void check(const DataBatch& data) const;

  int64_t output_dim() const;
  // Width of the data part (the first columns): the learned summaries (and
  // a fusion network's flat values), or the flat data's features.
  int64_t data_dim() const;
  // The number of learned summary statistics (0 without a summary network).
  int64_t summary_dim() const;
  const ConditionNetOptions& options() const { return options_; }
  bool has_summary_net() const { return summary_ != nullptr; }
  SummaryNetImpl& summary_net() { return *summary_; }
  bool has_fusion() const { return !fusion_.is_empty(); }
  FusionNetImpl& fusion() { return *fusion_; }
  std::vector<std::string> describe() const;

  // The summary penalty: while training, summary_penalty() adds `weight`
  // times the MMD^2 between the learned summaries of a batch and as many
  // standard normal draws (a mixture of Gaussian kernels), pulling the
  // summaries of simulations toward N(0, I), where observed data that no
  // simulation resembles stand out. 0 (default): none. Needs a summary or
  // fusion network; not part of the state (set it for each training).
  void set_summary_penalty(double weight, uint64_t seed);
  double summary_penalty_weight() const { return penalty_weight_; }
  // The penalty of a batch's condition (forward()'s output): a scalar, 0
  // outside training mode or without weight.
  Tensor summary_penalty(const Tensor& condition);

  // Subsets of exchangeable sets, a training augmentation (not part of the
  // state; set it for each training). With min_length > 0, augment() in
  // training mode replaces each set of a batch by a random subset of its
  // points, of a size drawn uniformly from min_length .. its length (a set
  // shorter than min_length stays whole), and writes the new size into
  // context column length_context (-1: none), the raw number of points
  // there. Sound when any subset of a simulated set is a simulation of the
  // model with fewer points (points independent given the parameters and
  // context, their number chosen apart from the parameters): each pass then
  // shows other data for the same parameters. 0: off. Needs a summary
  // network over one source of sets. With `prefixes` (time series) the
  // subset is the series' first `size` steps instead: sound when the series
  // is simulated forward in time and its length only says where it stops.
  void set_subsets(int64_t min_length, int64_t length_context, uint64_t seed, bool prefixes = false);
  DataBatch augment(const DataBatch& data);

  // Flat data: width of the (canonical) data features.
  static int64_t flat_width(int64_t dim_x, const std::vector<int64_t>& set_shape);
  // Flat set data x [batch, n_obs * dim] (set_shape {n_obs, dim}): each
  // set's points sorted by their first coordinate, then the set's features
  // of kind `features`: [batch, flat_width(n_obs * dim, set_shape)].
  static Tensor set_features(const Tensor& x, const std::vector<int64_t>& set_shape, int64_t features);

 private:
  void init();
  // [batch, n_extra]: sqrt(length) of each source (when lengths vary), then
  // the context, before standardization.
  Tensor raw_extra(const DataBatch& data) const;
  Tensor canonical(const Tensor& x) const;
  ConditionNetOptions options_;
  std::shared_ptr<SummaryNetImpl> summary_;
  FusionNet fusion_{nullptr};
  std::vector<Standardize> source_std_;
  Standardize x_std_{nullptr}, extra_std_{nullptr};
  int64_t n_extra_ = 0;
  double penalty_weight_ = 0;
  at::Generator penalty_gen_ = make_generator(0);
  int64_t subsets_min_ = 0, subsets_context_ = -1;
  bool subsets_prefixes_ = false;
  at::Generator subsets_gen_ = make_generator(0);
};
TORCH_MODULE(ConditionNet);

}  // namespace amortized
