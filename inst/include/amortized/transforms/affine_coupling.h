// Affine coupling (RealNVP style) conditioned on a context vector.
#pragma once

#include "amortized/nn/mlp.h"
#include "amortized/transforms/transform.h"

namespace amortized {

struct AffineCouplingOptions {
  AffineCouplingOptions(int64_t dim, int64_t context_dim)
      : dim_(dim), context_dim_(context_dim) {}
  // Number of transformed variables (>= 1).
  TORCH_ARG(int64_t, dim);
  // Width of the context vector fed to the conditioner (>= 0).
  TORCH_ARG(int64_t, context_dim);
  // Hidden widths of the conditioner MLP.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{128, 128};
  // Activation of the conditioner MLP.
  TORCH_ARG(std::string, activation) = "silu";
  // Soft clamp of log-scales: s = clamp * tanh(s_raw / clamp), so |s| < clamp.
  TORCH_ARG(double, clamp) = 3.0;
};

// The first floor(dim/2) variables (passive) pass through; the conditioner
// MLP sees them and the context and gives shift t and log-scale s of the
// active rest: y_a = x_a * exp(s) + t. With dim == 1 only the context
// conditions. The conditioner's last layer starts at zero (identity map).
class AffineCouplingImpl : public TransformImpl {
 public:
  explicit AffineCouplingImpl(const AffineCouplingOptions& options);
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  void reset_parameters(at::Generator& gen) override;
  std::string describe() const override;

  AffineCouplingOptions options;

 private:
  // -> (shift, log_scale), each [batch, n_active]
  std::pair<Tensor, Tensor> conditioner(const Tensor& passive, const Tensor& context);
  int64_t n_passive_;
  MLP net_{nullptr};
};
TORCH_MODULE(AffineCoupling);

}  // namespace amortized
