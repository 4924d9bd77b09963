// Activation normalization (Glow): per-variable affine map with
// data-dependent initialization.
#pragma once

#include "amortized/transforms/transform.h"

namespace amortized {

// y = (x - loc) * exp(-log_scale). On the first forward call in training
// mode, loc and log_scale are set from that batch so that y has zero mean
// and unit variance; after that they are ordinary learnable parameters.
// The `initialized` flag is a buffer, saved with the model.
class ActNormImpl : public TransformImpl {
 public:
  explicit ActNormImpl(int64_t dim);
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  void reset_parameters(at::Generator& gen) override;
  std::string describe() const override;
  bool initialized() const;

 private:
  Tensor loc_, log_scale_, initialized_;
};
TORCH_MODULE(ActNorm);

}  // namespace amortized
