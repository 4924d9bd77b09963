// Affine coupling (RealNVP style): y_a = x_a * exp(s) + t.
#pragma once

#include "amortized/transforms/coupling.h"

namespace amortized {

struct AffineCouplingOptions {
  AffineCouplingOptions(int64_t dim, int64_t context_dim) : coupling_(dim, context_dim) {}
  // Shortcuts to the conditioner settings in coupling().
  AffineCouplingOptions& hidden(std::vector<int64_t> h) { coupling_.hidden(std::move(h)); return *this; }
  AffineCouplingOptions& activation(std::string a) { coupling_.activation(std::move(a)); return *this; }
  AffineCouplingOptions& dropout(double p) { coupling_.dropout(p); return *this; }
  TORCH_ARG(CouplingOptions, coupling);
  // Soft clamp of log-scales: s = clamp * tanh(s_raw / clamp), so |s| < clamp.
  TORCH_ARG(double, clamp) = 3.0;
};

class AffineCouplingImpl : public CouplingImpl {
 public:
  explicit AffineCouplingImpl(const AffineCouplingOptions& options);
  std::string describe() const override;

  AffineCouplingOptions options;

 protected:
  std::pair<Tensor, Tensor> element_map(const Tensor& x_a, const Tensor& params, bool inverse) override;
};
TORCH_MODULE(AffineCoupling);

}  // namespace amortized
