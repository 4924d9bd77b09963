// Multi-head attention with a key mask, and the attention block (residual
// attention + feed-forward, each followed by layer normalization) that the
// set and time-series transformers are built from.
#pragma once

#include "amortized/common.h"

#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace amortized {

class MultiHeadAttentionImpl : public torch::nn::Module {
 public:
  MultiHeadAttentionImpl(int64_t width, int64_t heads);
  // q: [batch, nq, width], kv: [batch, nk, width], key_mask: [batch, nk]
  // (1 valid, 0 ignored; undefined: all valid) -> [batch, nq, width].
  Tensor forward(const Tensor& q, const Tensor& kv, const Tensor& key_mask);

 private:
  int64_t width_, heads_;
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, out_{nullptr};
};
TORCH_MODULE(MultiHeadAttention);

// MAB(q, kv) = LN(h + FF(h)), h = LN(q + attention(q, kv)).
class AttentionBlockImpl : public torch::nn::Module {
 public:
  AttentionBlockImpl(int64_t width, int64_t heads);
  // Shapes as MultiHeadAttention::forward.
  Tensor forward(const Tensor& q, const Tensor& kv, const Tensor& key_mask);

 private:
  MultiHeadAttention attention_{nullptr};
  torch::nn::Linear ff1_{nullptr}, ff2_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
};
TORCH_MODULE(AttentionBlock);

}  // namespace amortized
