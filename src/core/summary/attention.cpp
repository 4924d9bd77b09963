#include "amortized/summary/attention.h"

#include <cmath>
#include <limits>

namespace amortized {

MultiHeadAttentionImpl::MultiHeadAttentionImpl(int64_t width, int64_t heads) : width_(width), heads_(heads) {
  TORCH_CHECK(width >= 1 && heads >= 1 && width % heads == 0, "attention width (", width,
              ") must be a positive multiple of the number of heads (", heads, ")");
  query_ = register_module("query", torch::nn::Linear(width, width));
  key_ = register_module("key", torch::nn::Linear(width, width));
  value_ = register_module("value", torch::nn::Linear(width, width));
  out_ = register_module("out", torch::nn::Linear(width, width));
}

Tensor MultiHeadAttentionImpl::forward(const Tensor& q, const Tensor& kv, const Tensor& key_mask) {
  const int64_t b = q.size(0), nq = q.size(1), nk = kv.size(1), d = width_ / heads_;
  // [b, heads, n, d]
  auto split = [&](const Tensor& t, int64_t n) { return t.view({b, n, heads_, d}).transpose(1, 2); };
  Tensor Q = split(query_->forward(q), nq), K = split(key_->forward(kv), nk), V = split(value_->forward(kv), nk);
  Tensor scores = torch::matmul(Q, K.transpose(2, 3)) / std::sqrt(static_cast<double>(d));  // [b, h, nq, nk]
  if (key_mask.defined()) {
    Tensor ignore = key_mask.to(torch::kBool).logical_not().view({b, 1, 1, nk});
    scores = scores.masked_fill(ignore, -std::numeric_limits<float>::infinity());
  }
  Tensor out = torch::matmul(torch::softmax(scores, -1), V);  // [b, h, nq, d]
  return out_->forward(out.transpose(1, 2).reshape({b, nq, width_}));
}

AttentionBlockImpl::AttentionBlockImpl(int64_t width, int64_t heads) {
  attention_ = register_module("attention", MultiHeadAttention(width, heads));
  ff1_ = register_module("ff1", torch::nn::Linear(width, 2 * width));
  ff2_ = register_module("ff2", torch::nn::Linear(2 * width, width));
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
}

Tensor AttentionBlockImpl::forward(const Tensor& q, const Tensor& kv, const Tensor& key_mask) {
  Tensor h = norm1_->forward(q + attention_->forward(q, kv, key_mask));
  return norm2_->forward(h + ff2_->forward(torch::silu(ff1_->forward(h))));
}

}  // namespace amortized
