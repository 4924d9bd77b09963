// A conditional normalizing flow: a composition of transforms over a
// standard normal base distribution.
#pragma once

#include "amortized/flows/inference_net.h"
#include "amortized/transforms/transform.h"

#include <memory>
#include <torch/arg.h>
#include <torch/nn/pimpl.h>

namespace amortized {

// A flow over `dim` variables whose transforms (applied in order, data ->
// latent) may read a context of width `context_dim`.
class ConditionalFlowImpl : public InferenceNetImpl {
 public:
  ConditionalFlowImpl(int64_t dim, int64_t context_dim,
                      std::vector<std::shared_ptr<TransformImpl>> transforms);
  // theta: [batch, dim], context: [batch, context_dim] -> (z: [batch, dim], logdet: [batch])
  std::pair<Tensor, Tensor> to_latent(const Tensor& theta, const Tensor& context);
  // z: [batch, dim], context: [batch, context_dim] -> theta: [batch, dim]
  Tensor from_latent(const Tensor& z, const Tensor& context);
  Tensor log_prob(const Tensor& theta, const Tensor& context) override;
  Tensor sample(int64_t n, const Tensor& context, at::Generator& gen) override;
  void reset_parameters(at::Generator& gen) override;
  std::vector<std::string> describe() const override;
  const std::vector<std::shared_ptr<TransformImpl>>& transforms() const { return transforms_; }

 private:
  std::vector<std::shared_ptr<TransformImpl>> transforms_;
};
TORCH_MODULE(ConditionalFlow);

struct CouplingFlowOptions {
  CouplingFlowOptions(int64_t dim, int64_t context_dim)
      : dim_(dim), context_dim_(context_dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, context_dim);
  // Number of coupling blocks (each: [ActNorm], coupling, permutation).
  TORCH_ARG(int64_t, n_layers) = 6;
  // Hidden widths of each conditioner MLP.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{128, 128};
  TORCH_ARG(std::string, activation) = "silu";
  // Coupling type: "affine" or "spline" (rational-quadratic).
  TORCH_ARG(std::string, transform) = "affine";
  // Soft clamp of affine log-scales.
  TORCH_ARG(double, clamp) = 3.0;
  // Spline bins and the bound of the spline interval.
  TORCH_ARG(int64_t, bins) = 10;
  TORCH_ARG(double, tail_bound) = 3.0;
  // Insert data-initialized ActNorm before each coupling.
  TORCH_ARG(bool, actnorm) = true;
  // Dropout in the conditioners' hidden layers while training.
  TORCH_ARG(double, dropout) = 0.0;
  // Put a conditional affine map (ConditionalAffine: location and scale
  // from the context) in front of the blocks (needs context_dim > 0).
  TORCH_ARG(bool, conditional_affine) = false;
};

// Builds the coupling flow described by `options`. Weights are drawn from
// `gen`, so the same seed gives the same network.
ConditionalFlow make_coupling_flow(const CouplingFlowOptions& options, at::Generator& gen);

}  // namespace amortized
