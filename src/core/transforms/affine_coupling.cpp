#include "amortized/transforms/affine_coupling.h"

namespace amortized {

AffineCouplingImpl::AffineCouplingImpl(const AffineCouplingOptions& options_)
    : CouplingImpl(options_.coupling(), 2, "an affine"), options(options_) {
  TORCH_CHECK(options.clamp() > 0, "clamp must be > 0, got ", options.clamp());
}

std::pair<Tensor, Tensor> AffineCouplingImpl::element_map(const Tensor& x_a, const Tensor& params, bool inverse) {
  Tensor shift = params.select(2, 0);
  Tensor log_scale = soft_clamp(params.select(2, 1), options.clamp());
  if (inverse) return {(x_a - shift) * torch::exp(-log_scale), -log_scale};
  return {x_a * torch::exp(log_scale) + shift, log_scale};
}

std::string AffineCouplingImpl::describe() const { return "affine coupling " + describe_coupling() + ")"; }

}  // namespace amortized
