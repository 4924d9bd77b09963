// Elementwise map of bounded parameters onto the real line, so that a flow
// (whose draws are unbounded) models them: (a, b) -> logit((x - a)/(b - a)),
// (a, inf) -> log(x - a), (-inf, b) -> log(b - x), (-inf, inf) -> x.
#pragma once

#include "amortized/transforms/transform.h"

#include <vector>

namespace amortized {

class BoundedImpl : public TransformImpl {
 public:
  // lower, upper: one bound per variable (+-infinity: unbounded), lower < upper.
  BoundedImpl(const std::vector<double>& lower, const std::vector<double>& upper);
  // x (inside the bounds) -> (unbounded z, log|dz/dx|). Computed in double.
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  // z -> (x strictly inside the bounds, log|dx/dz|): draws never reach a
  // bound, even where the map saturates in floating point, and are finite.
  std::pair<Tensor, Tensor> inverse(const Tensor& z, const Tensor& context) override;
  std::string describe() const override;
  // x: [batch, dim] -> [batch] bool: every variable strictly inside its bounds.
  Tensor inside(const Tensor& x) const;
  // True when some variable has a finite bound.
  bool any_bounded() const;

 private:
  Tensor lower_, upper_;      // [dim] double
  Tensor inside_lo_, inside_hi_;  // the nearest finite floats inside the bounds
};
TORCH_MODULE(Bounded);

}  // namespace amortized
