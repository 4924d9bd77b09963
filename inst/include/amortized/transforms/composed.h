// A chain of transforms: forward applies them in order, inverse in reverse
// order, and their log-determinants add up; the context goes to each (those
// that take none ignore it).
#pragma once

#include "amortized/transforms/transform.h"

#include <memory>
#include <vector>

namespace amortized {

class ComposedImpl : public TransformImpl {
 public:
  // parts: each of dimension dim; registered as "0", "1", ... (an empty
  // chain is the identity).
  ComposedImpl(int64_t dim, std::vector<std::shared_ptr<TransformImpl>> parts);
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  Tensor draw_inverse(const Tensor& y, const Tensor& context, at::Generator& gen) override;
  void reset_parameters(at::Generator& gen) override;
  std::string describe() const override;
  int64_t size() const { return static_cast<int64_t>(parts_.size()); }

 private:
  std::vector<std::shared_ptr<TransformImpl>> parts_;
};
TORCH_MODULE(Composed);

}  // namespace amortized
