// A conditional affine map y = (x - loc(context)) * exp(-log_scale(context)),
// loc and log_scale from a small MLP of the context (its last layer starts
// at zero: the identity). In front of a spline flow, whose tails beyond its
// bound are the identity, it lets those tails follow each posterior's
// location and scale instead of the prior's.
#pragma once

#include "amortized/nn/mlp.h"
#include "amortized/transforms/transform.h"

namespace amortized {

class ConditionalAffineImpl : public TransformImpl {
 public:
  ConditionalAffineImpl(int64_t dim, int64_t context_dim, std::vector<int64_t> hidden = {64});
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  void reset_parameters(at::Generator& gen) override;
  std::string describe() const override;

 private:
  // (loc, log_scale), each [batch, dim]; log_scale soft-clamped to +-5
  std::pair<Tensor, Tensor> params(const Tensor& context);
  int64_t context_dim_;
  MLP net_{nullptr};
};
TORCH_MODULE(ConditionalAffine);

}  // namespace amortized
