#include "amortized/flows/inference_net.h"

namespace amortized {

std::pair<Tensor, Tensor> InferenceNetImpl::repeat_for_draws(int64_t n, const Tensor& context,
                                                             at::Generator& gen) const {
  TORCH_CHECK(n >= 1, "the number of draws must be >= 1, got ", n);
  check_shape(context, "context", {-1, context_dim_});
  const int64_t batch = context.size(0);
  Tensor rows = context.unsqueeze(1).expand({batch, n, context_dim_}).reshape({batch * n, context_dim_});
  // drawn on the CPU (where the generator lives), then moved: the same seed
  // gives the same noise on every device
  return {rows, torch::randn({batch * n, dim_}, gen, context.options().device(torch::kCPU)).to(context.device())};
}

}  // namespace amortized
