// Set transformer: attention between the points of a set, pooled by
// attention (permutation invariant).
#pragma once

#include "amortized/summary/attention.h"
#include "amortized/summary/summary_net.h"

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>

namespace amortized {

struct SetTransformerOptions {
  SetTransformerOptions(int64_t input_dim, int64_t output_dim)
      : input_dim_(input_dim), output_dim_(output_dim) {}
  TORCH_ARG(int64_t, input_dim);
  TORCH_ARG(int64_t, output_dim);
  // Width of the point features and of attention.
  TORCH_ARG(int64_t, width) = 64;
  TORCH_ARG(int64_t, heads) = 4;
  // Self-attention blocks.
  TORCH_ARG(int64_t, blocks) = 2;
  // 0: full self-attention (cost n^2); m > 0: induced attention through m
  // learned inducing points (cost n m), for large sets.
  TORCH_ARG(int64_t, inducing_points) = 0;
  // Learned seed vectors of the pooling by attention.
  TORCH_ARG(int64_t, seeds) = 1;
};

class SetTransformerImpl : public SummaryNetImpl {
 public:
  explicit SetTransformerImpl(const SetTransformerOptions& options);
  Tensor forward(const Tensor& x, const Tensor& lengths) override;
  std::vector<std::string> describe() const override;
  SetTransformerOptions options;

 private:
  torch::nn::Linear embed_{nullptr}, head_{nullptr};
  torch::nn::ModuleList blocks_{nullptr}, induced_{nullptr};
  std::vector<Tensor> inducing_;
  Tensor seeds_;
  AttentionBlock pool_{nullptr};
};
TORCH_MODULE(SetTransformer);

}  // namespace amortized
