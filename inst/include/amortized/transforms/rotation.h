// An orthogonal linear map y = Q x (rows: y = x Q'); |det Q| = 1, so its
// log-determinant is 0. Q is fixed by its options (not learned or saved):
// the posterior estimator models Q theta, whose coordinates along a mirror's
// normal are then folded (SignFold).
#pragma once

#include "amortized/transforms/transform.h"

#include <vector>

namespace amortized {

class RotationImpl : public TransformImpl {
 public:
  // q: dim x dim, row-major, orthogonal (Q Q' = I up to 1e-6).
  RotationImpl(int64_t dim, const std::vector<double>& q);
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  std::string describe() const override;

 private:
  Tensor q_;  // [dim, dim] double
};
TORCH_MODULE(Rotation);

}  // namespace amortized
