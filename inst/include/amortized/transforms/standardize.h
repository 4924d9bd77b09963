// Fixed (non-learned) standardization y = (x - mean) / sd.
#pragma once

#include "amortized/transforms/transform.h"

namespace amortized {

// mean and sd are buffers estimated by fit() from training data, so they are
// saved with the model. A constant column gets sd = 1. Starts as identity.
class StandardizeImpl : public TransformImpl {
 public:
  explicit StandardizeImpl(int64_t dim);
  // x: [n, dim]; n >= 2 rows, all finite.
  void fit(const Tensor& x);
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  std::string describe() const override;
  // Standardized x without the log-determinant: [n, dim] -> [n, dim].
  Tensor apply(const Tensor& x) const;
  const Tensor& mean() const { return mean_; }
  const Tensor& sd() const { return sd_; }

 private:
  Tensor mean_, sd_;
};
TORCH_MODULE(Standardize);

}  // namespace amortized
