// Folds the signs of some coordinates: y_i = |x_i| (at least the smallest
// positive normal number, so that y_i > 0) for i in `indices`, the others
// unchanged. On the half-space where those coordinates are positive it is
// the identity (log|det| = 0) and its own inverse. A density even in those k
// coordinates is 2^-k times the density of the folded variables (the caller
// adds log_density_shift()); draws get fair random signs (draw_inverse()).
#pragma once

#include "amortized/transforms/transform.h"

#include <vector>

namespace amortized {

class SignFoldImpl : public TransformImpl {
 public:
  // indices: 0-based, distinct, in 0..dim-1.
  SignFoldImpl(int64_t dim, std::vector<int64_t> indices);
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  // The identity (y is on the positive half-space).
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  // y with a fair random sign (from gen, drawn on the CPU) on each folded coordinate.
  Tensor draw_inverse(const Tensor& y, const Tensor& context, at::Generator& gen) override;
  std::string describe() const override;
  // -k log 2.
  double log_density_shift() const;

 private:
  std::vector<int64_t> indices_;
};
TORCH_MODULE(SignFold);

}  // namespace amortized
