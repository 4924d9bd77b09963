// Conditional flow matching (Lipman et al., 2023) with optimal-transport
// paths: a velocity network v(theta_t, t, context) is regressed onto the
// straight-line velocity from base noise to the parameters; sampling
// integrates the ODE from noise (t = 0) to the posterior (t = 1).
#pragma once

#include "amortized/flows/inference_net.h"
#include "amortized/nn/mlp.h"

#include <torch/arg.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <string>

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
  // ODE solver for sampling and log_prob: "rk4" (fixed steps) or "dopri5"
  // (adaptive Dormand-Prince 5(4), one step size for the whole batch,
  // chosen so that every row's error stays within tolerance).
  TORCH_ARG(std::string, solver) = "rk4";
  // Fixed RK4 steps.
  TORCH_ARG(int64_t, steps) = 50;
  // dopri5: relative and absolute tolerance of each step.
  TORCH_ARG(double, tolerance) = 1e-5;
};

// Integrates dy/dt = f(y, t) from t0 to t1 (either direction) for a batch of
// states y [batch, d]: with fixed RK4 steps, or adaptively with the
// Dormand-Prince 5(4) pair (one step size for the batch; a step is accepted
// when every row's RMS error, scaled by tolerance * (1 + |y|), is <= 1).
Tensor integrate_ode(const std::function<Tensor(const Tensor&, double)>& f, Tensor y, double t0, double t1,
                     const std::string& solver, int64_t steps, double tolerance);

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
