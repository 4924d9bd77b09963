#include "amortized/flows/inference_net.h"

#include <algorithm>

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

Tensor InferenceNetImpl::draw_in_chunks(int64_t n, const Tensor& context, at::Generator& gen,
                                        const std::function<Tensor(const Tensor&, const Tensor&)>& to_draws) const {
  auto [ctx, z] = repeat_for_draws(n, context, gen);
  const int64_t batch = context.size(0), rows = z.size(0);
  const int64_t chunk = z.device().is_cpu() ? 2048 : rows;
  if (rows <= chunk) return to_draws(z, ctx).reshape({batch, n, dim_});
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < rows; start += chunk) {
    const int64_t len = std::min(chunk, rows - start);
    parts.push_back(to_draws(z.narrow(0, start, len), ctx.narrow(0, start, len)));
  }
  return torch::cat(parts, 0).reshape({batch, n, dim_});
}

}  // namespace amortized
