#include "amortized/transforms/transform.h"

namespace amortized {

void TransformImpl::check_input(const Tensor& x, const Tensor& context,
                                int64_t context_dim, const char* x_name) const {
  check_shape(x, x_name, {-1, dim_});
  if (context_dim > 0) {
    check_shape(context, "context", {x.size(0), context_dim});
  }
}

Tensor soft_clamp(const Tensor& x, double bound) { return bound * torch::tanh(x / bound); }

}  // namespace amortized
