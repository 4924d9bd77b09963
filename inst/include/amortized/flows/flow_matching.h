// Conditional flow matching (Lipman et al., 2023) with optimal-transport
// paths: a velocity network v(theta_t, t, context) is regressed onto the
// straight-line velocity from base noise to the parameters; sampling
// integrates the ODE from noise (t = 0) to the posterior (t = 1).
#pragma once

#include "amortized/flows/inference_net.h"
#include "amortized/nn/mlp.h"

#include <torch/arg.h>
#include <torch/nn/pimpl.h>

namespace amortized {

struct FlowMatchingOptions {
  FlowMatchingOptions(int64_t dim, int64_t context_dim) : dim_(dim), context_dim_(context_dim) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, context_dim);
  // Hidden widths and activation of the velocity MLP.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>(5, 256);
  TORCH_ARG(std::string, activation) = "silu";
  // Fourier frequencies of the time embedding: t, sin(2^k pi t), cos(2^k pi t), k < n.
  TORCH_ARG(int64_t, time_frequencies) = 4;
  // Width of the path at t = 1: theta_t = (1 - (1 - sigma_min) t) z + t theta.
  TORCH_ARG(double, sigma_min) = 1e-4;
  // Fixed RK4 steps for sampling and for log_prob.
  TORCH_ARG(int64_t, steps) = 50;
};

class FlowMatchingImpl : public InferenceNetImpl {
 public:
  explicit FlowMatchingImpl(const FlowMatchingOptions& options);
  // theta_t: [batch, dim], t: [batch], context: [batch, context_dim] -> [batch, dim]
  Tensor velocity(const Tensor& theta_t, const Tensor& t, const Tensor& context);
  // The flow-matching regression loss (scalar). Its noise comes from the
  // module's own generator (seeded by reset_parameters); in eval mode that
  // generator restarts at the same seed each call, so validation losses
  // are comparable between epochs.
  Tensor loss(const Tensor& theta, const Tensor& context) override;
  // Log density by the instantaneous change of variables, integrating the
  // exact divergence (dim backward passes per evaluation) from t = 1 to 0.
  Tensor log_prob(const Tensor& theta, const Tensor& context) override;
  Tensor sample(int64_t n, const Tensor& context, at::Generator& gen) override;
  void reset_parameters(at::Generator& gen) override;
  std::vector<std::string> describe() const override;

  FlowMatchingOptions options;

 private:
  MLP net_{nullptr};
  uint64_t loss_seed_ = 0;
  at::Generator loss_gen_;
};
TORCH_MODULE(FlowMatching);

}  // namespace amortized
