#include "amortized/nn/mlp.h"

#include <torch/nn/functional/activation.h>

#include "../lanes.h"

namespace amortized {

namespace {
enum Activation { kRelu, kSilu, kGelu, kElu, kTanh };

int parse_activation(const std::string& name) {
  if (name == "relu") return kRelu;
  if (name == "silu") return kSilu;
  if (name == "gelu") return kGelu;
  if (name == "elu") return kElu;
  if (name == "tanh") return kTanh;
  TORCH_CHECK(false, "activation must be one of \"relu\", \"silu\", \"gelu\", \"elu\", \"tanh\"; got \"",
              name, "\"");
  return kRelu;
}

Tensor activate(const Tensor& x, int activation) {
  switch (activation) {
    case kRelu: return torch::relu(x);
    case kSilu: return torch::silu(x);
    case kGelu: return torch::gelu(x);
    case kElu: return torch::elu(x);
    default: return torch::tanh(x);
  }
}
// silu in place on n floats: x / (1 + exp(-x)), a vector of lanes at a time
// (several times faster than LibTorch's, whose exp is accurate to 1 ulp).
AMORTIZED_LANES_INLINE void silu_floats_kernel(float* x, int64_t n) {
  using lanes::VF;
  constexpr int64_t w = lanes::Lanes<float>::kWidth;
  int64_t i = 0;
  for (; i + w <= n; i += w) {
    const VF v = lanes::load<VF>(x + i);
    lanes::store(x + i, lanes::silu(v));
  }
  for (; i < n; ++i) x[i] = lanes::silu(x[i]);
}
AMORTIZED_SIMD_KERNEL(void, silu_floats, (float* x, int64_t n), (x, n))

// activate() of a tensor nobody else holds: in place when no gradient is
// recorded (no graph needs the pre-activation; saves a pass over memory).
Tensor activate_own(Tensor x, int activation) {
  if (torch::GradMode::is_enabled()) return activate(x, activation);
  switch (activation) {
    case kRelu: return x.relu_();
    case kSilu:
      if (x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.is_contiguous()) {
        silu_floats(x.data_ptr<float>(), x.numel());
        return x;
      }
      return torch::silu_(x);
    case kTanh: return x.tanh_();
    default: return activate(x, activation);
  }
}
}  // namespace

Tensor activate(const Tensor& x, const std::string& name) { return activate(x, parse_activation(name)); }
void check_activation(const std::string& name) { parse_activation(name); }

MLPImpl::MLPImpl(const MLPOptions& options_) : options(options_) {
  TORCH_CHECK(options.in_features() >= 0, "MLP in_features must be >= 0, got ", options.in_features());
  TORCH_CHECK(options.out_features() >= 1, "MLP out_features must be >= 1, got ", options.out_features());
  TORCH_CHECK(options.dropout() >= 0 && options.dropout() < 1, "MLP dropout must be in [0, 1), got ", options.dropout());
  activation_ = parse_activation(options.activation());
  int64_t width = options.in_features();
  std::vector<int64_t> widths = options.hidden();
  widths.push_back(options.out_features());
  for (size_t i = 0; i < widths.size(); ++i) {
    TORCH_CHECK(widths[i] >= 1, "MLP hidden widths must be >= 1, got ", widths[i]);
    layers_.push_back(register_module("linear" + std::to_string(i),
                                      torch::nn::Linear(width, widths[i])));
    width = widths[i];
  }
}

Tensor MLPImpl::hidden(const Tensor& x) {
  check_shape(x, "MLP input", {-1, options.in_features()});
  Tensor h = x;
  const bool drop = options.dropout() > 0 && is_training();
  for (size_t i = 0; i + 1 < layers_.size(); ++i) {
    h = activate_own(layers_[i]->forward(h), activation_);
    if (drop) h = torch::dropout(h, options.dropout(), /*train=*/true);
  }
  return h;
}

Tensor MLPImpl::forward(const Tensor& x) { return layers_.back()->forward(hidden(x)); }

Tensor MLPImpl::forward_transposed(const Tensor& x) {
  const auto& last = layers_.back();
  return torch::addmm(last->bias.unsqueeze(1), last->weight, hidden(x).t());
}

void MLPImpl::reset_parameters(at::Generator& gen) {
  torch::NoGradGuard no_grad;
  for (auto& layer : layers_) init_linear(layer->weight, layer->bias, gen);
  if (options.zero_last()) {
    layers_.back()->weight.zero_();
    layers_.back()->bias.zero_();
  }
}

}  // namespace amortized
