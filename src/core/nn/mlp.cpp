#include "amortized/nn/mlp.h"

#include <torch/nn/functional/activation.h>

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
}  // namespace

Tensor activate(const Tensor& x, const std::string& name) { return activate(x, parse_activation(name)); }
void check_activation(const std::string& name) { parse_activation(name); }

MLPImpl::MLPImpl(const MLPOptions& options_) : options(options_) {
  TORCH_CHECK(options.in_features() >= 0, "MLP in_features must be >= 0, got ", options.in_features());
  TORCH_CHECK(options.out_features() >= 1, "MLP out_features must be >= 1, got ", options.out_features());
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

Tensor MLPImpl::forward(const Tensor& x) {
  check_shape(x, "MLP input", {-1, options.in_features()});
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i]->forward(h);
    if (i + 1 < layers_.size()) h = activate(h, activation_);
  }
  return h;
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
