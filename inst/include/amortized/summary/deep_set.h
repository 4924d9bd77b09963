// DeepSet: a permutation-invariant summary of an exchangeable set.
#pragma once

#include "amortized/nn/mlp.h"
#include "amortized/summary/summary_net.h"

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>

namespace amortized {

struct DeepSetOptions {
  DeepSetOptions(int64_t input_dim, int64_t output_dim)
      : input_dim_(input_dim), output_dim_(output_dim) {}
  TORCH_ARG(int64_t, input_dim);
  // Number of learned summary statistics.
  TORCH_ARG(int64_t, output_dim);
  // Width of the per-point features.
  TORCH_ARG(int64_t, width) = 64;
  // Permutation-equivariant layers h_i <- act(A h_i + B mean_j h_j + c).
  TORCH_ARG(int64_t, equivariant_layers) = 2;
  // Hidden widths of the MLP after pooling.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{64};
  TORCH_ARG(std::string, activation) = "silu";
  // Also pool the data's own moments over the valid points (means, mean
  // squares and products of pairs of coordinates, see pooled_moments()) and
  // hand them to the MLP with the learned features: the sufficient
  // statistics of normal (also correlated) and exponential models without
  // having to learn them.
  TORCH_ARG(bool, moments) = false;
  // Run the points' layers and the pooling as one CPU kernel where it
  // applies (float, silu); false: LibTorch's ops (the reference).
  TORCH_ARG(bool, fused) = true;
};

// Points are embedded, mixed by equivariant layers, pooled by their mean,
// standard deviation and maximum over the valid points, and mapped to the
// summaries by an MLP: invariant to the order of the points and to padding.
class DeepSetImpl : public SummaryNetImpl {
 public:
  explicit DeepSetImpl(const DeepSetOptions& options);
  Tensor forward(const Tensor& x, const Tensor& lengths) override;
  std::vector<std::string> describe() const override;
  DeepSetOptions options;
  // [batch, n_moments()]: the data's moments over the valid points
  // (pooled_moments()); n_moments() is 0 without options.moments().
  Tensor data_moments(const Tensor& x, const Tensor& lengths) const;
  int64_t n_moments() const;

 private:
  // embed weight and bias, then per equivariant layer: self weight, self
  // bias, pooled weight (the fused kernel's order)
  std::vector<Tensor> trunk_parameters();
  torch::nn::Linear embed_{nullptr};
  torch::nn::ModuleList self_{nullptr}, pooled_{nullptr};
  MLP head_{nullptr};
  std::string activation_;
};
TORCH_MODULE(DeepSet);

}  // namespace amortized
