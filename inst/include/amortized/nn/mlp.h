// Multi-layer perceptron used as conditioner and velocity network.
#pragma once

#include "amortized/common.h"

#include <torch/arg.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace amortized {

struct MLPOptions {
  MLPOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  // Input width (may be 0 only if the caller never calls forward).
  TORCH_ARG(int64_t, in_features);
  // Output width.
  TORCH_ARG(int64_t, out_features);
  // Widths of the hidden layers; default two layers of 128.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{128, 128};
  // "relu", "silu" (default), "gelu", "elu" or "tanh".
  TORCH_ARG(std::string, activation) = "silu";
  // Start the last layer at zero (so a coupling starts as the identity).
  TORCH_ARG(bool, zero_last) = false;
  // Dropout after each hidden activation, in training mode only (0: none).
  // Its masks come from LibTorch's default generator (seeded by the trainer).
  TORCH_ARG(double, dropout) = 0.0;
};

class MLPImpl : public torch::nn::Module {
 public:
  explicit MLPImpl(const MLPOptions& options);
  // x: [batch, in_features] -> [batch, out_features]
  Tensor forward(const Tensor& x);
  // forward(x) transposed, [out_features, rows] contiguous (the last layer
  // computed as W h^T + b): each output unit's values adjacent in memory.
  Tensor forward_transposed(const Tensor& x);
  // Re-draws all weights from `gen` (zeroing the last layer if zero_last).
  void reset_parameters(at::Generator& gen);

  MLPOptions options;

 private:
  // The activations before the last layer: [batch, last hidden width].
  Tensor hidden(const Tensor& x);
  std::vector<torch::nn::Linear> layers_;
  int activation_;
};
TORCH_MODULE(MLP);

// Applies the activation called `name` ("relu", "silu", "gelu", "elu",
// "tanh"); an unknown name is an error that lists them.
Tensor activate(const Tensor& x, const std::string& name);
// Throws unless `name` is a known activation.
void check_activation(const std::string& name);

}  // namespace amortized
