// The interface every summary network shares: it maps a data set of n
// points (an exchangeable set or a time series, padded to a common n within
// a batch) to a fixed-width vector of learned summary statistics, which the
// inference network takes as (part of) its context.
#pragma once

#include "amortized/common.h"

#include <string>
#include <vector>

namespace amortized {

class SummaryNetImpl : public torch::nn::Module {
 public:
  SummaryNetImpl(int64_t input_dim, int64_t output_dim);
  ~SummaryNetImpl() override = default;

  // x: [batch, n, input_dim]; lengths: [batch] (int64, 1 <= lengths <= n:
  // the points of data set i are x[i, :lengths[i]], the rest is padding
  // whose values never matter) or undefined (every point valid)
  // -> summaries [batch, output_dim].
  virtual Tensor forward(const Tensor& x, const Tensor& lengths) = 0;
  // Re-draws every weight from `gen`.
  virtual void reset_parameters(at::Generator& gen);
  // Lines describing the architecture.
  virtual std::vector<std::string> describe() const = 0;

  int64_t input_dim() const { return input_dim_; }
  int64_t output_dim() const { return output_dim_; }

 protected:
  // Checks x and lengths as forward() documents them.
  void check_input(const Tensor& x, const Tensor& lengths) const;
  // Checks them (check_input) and returns the mask of valid points [batch,
  // n] (float 1/0, x's dtype).
  Tensor valid_mask(const Tensor& x, const Tensor& lengths) const;

 private:
  int64_t input_dim_, output_dim_;
};

// Masked pooling over dim 1 of h: [batch, n, d] with mask [batch, n].
// Mean of the valid points: [batch, d].
Tensor masked_mean(const Tensor& h, const Tensor& mask);
// Standard deviation of the valid points (0 for one point): [batch, d].
Tensor masked_sd(const Tensor& h, const Tensor& mask);
// Maximum over the valid points: [batch, d].
Tensor masked_max(const Tensor& h, const Tensor& mask);
// The data's own moments over the valid points (a prefix of each row of the
// mask), raw and in a form free of the data's scale (but for one log per
// coordinate). With means over the valid points m_j = <x_j>, c_jk =
// <x_j x_k>, s_j = c_jj: m_j; c_jk for j <= k in row order (c_jj only beyond
// 8 coordinates); m_j / sqrt(s_j); log s_j (j = k) or c_jk / sqrt(s_j s_k)
// in the same order; then for lag = 1..lags the autocorrelations
// <x_j(t) x_j(t - lag)> / s_j of a series (sums over the steps divided by
// the length). [batch, moment_count(d, lags)].
Tensor pooled_moments(const Tensor& x, const Tensor& mask, int64_t lags = 0);
int64_t moment_count(int64_t d, int64_t lags = 0);

// Initializes every parameter of `module` deterministically from `gen`:
// matrices (and higher) U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the bias that
// follows a matrix with the same bound, 1-d weights (normalization scales)
// to 1 and their biases to 0.
void init_parameters(torch::nn::Module& module, at::Generator& gen);

}  // namespace amortized
