// Rational-quadratic neural spline coupling (Durkan et al., 2019): each
// active variable is first shifted and scaled (u = x exp(s) + t, so that its
// conditional bulk lands inside the spline's interval), then goes through a
// monotone rational-quadratic spline with K bins on [-tail_bound,
// tail_bound] and the identity (linear tails) outside. The affine step
// gives each coupling the location-scale freedom a bounded spline lacks.
#pragma once

#include "amortized/transforms/coupling.h"

namespace amortized {

struct SplineCouplingOptions {
  SplineCouplingOptions(int64_t dim, int64_t context_dim) : coupling_(dim, context_dim) {}
  // Shortcuts to the conditioner settings in coupling().
  SplineCouplingOptions& hidden(std::vector<int64_t> h) { coupling_.hidden(std::move(h)); return *this; }
  SplineCouplingOptions& activation(std::string a) { coupling_.activation(std::move(a)); return *this; }
  SplineCouplingOptions& dropout(double p) { coupling_.dropout(p); return *this; }
  TORCH_ARG(CouplingOptions, coupling);
  // Number of bins K (>= 2).
  TORCH_ARG(int64_t, bins) = 10;
  // The spline acts on [-tail_bound, tail_bound] (> 0).
  TORCH_ARG(double, tail_bound) = 3.0;
  // Soft clamp of the affine step's log-scale.
  TORCH_ARG(double, clamp) = 3.0;
};

// The monotone rational-quadratic spline itself, element-wise. x: [...];
// widths, heights: [..., K] and derivatives: [..., K - 1] are unconstrained
// (softmax / softplus inside; boundary derivatives are 1, so the map is C1
// with its linear tails). All zero gives the identity. Returns (y, log|dy/dx|)
// or, with inverse = true, the inverse map and its log-determinant.
// fused = true (default) uses a one-pass CPU kernel with a hand-written
// backward where it applies (CPU tensors; no gradient through the inverse);
// fused = false, or any other case, composes tensor operations.
std::pair<Tensor, Tensor> rational_quadratic_spline(const Tensor& x, const Tensor& widths, const Tensor& heights,
                                                    const Tensor& derivatives, double tail_bound, bool inverse,
                                                    bool fused = true);
// The same with the unconstrained parameters side by side: raw [..., 3K - 1]
// = (widths K | heights K | derivatives K - 1); a strided slice of a larger
// tensor (e.g. the conditioner's output) is used without a copy.
std::pair<Tensor, Tensor> rational_quadratic_spline(const Tensor& x, const Tensor& raw, double tail_bound,
                                                    bool inverse, bool fused = true);

class SplineCouplingImpl : public CouplingImpl {
 public:
  explicit SplineCouplingImpl(const SplineCouplingOptions& options);
  std::string describe() const override;

  SplineCouplingOptions options;

 protected:
  std::pair<Tensor, Tensor> element_map(const Tensor& x_a, const Tensor& params, bool inverse) override;
};
TORCH_MODULE(SplineCoupling);

}  // namespace amortized
