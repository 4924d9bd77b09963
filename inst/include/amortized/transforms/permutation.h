// A fixed permutation of the variables (log-determinant 0).
#pragma once

#include "amortized/transforms/transform.h"

namespace amortized {

// y = x[:, perm]. The permutation is a buffer, so it is saved with the model.
// The reversal, or (random = true) a permutation that reset_parameters(gen)
// draws at random (the reversal until then).
class PermutationImpl : public TransformImpl {
 public:
  explicit PermutationImpl(int64_t dim, bool random = false);
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  void reset_parameters(at::Generator& gen) override;
  std::string describe() const override;

 private:
  void set(const Tensor& perm);
  bool random_;
  Tensor perm_, inverse_perm_;
};
TORCH_MODULE(Permutation);

}  // namespace amortized
