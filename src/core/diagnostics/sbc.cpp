#include "amortized/diagnostics/sbc.h"

namespace amortized {

Tensor sbc_ranks(const Tensor& draws, const Tensor& truth) {
  check_shape(draws, "draws", {-1, -1, -1});
  check_shape(truth, "truth", {draws.size(0), draws.size(2)});
  return (draws < truth.unsqueeze(1)).sum(1).to(torch::kLong);
}

}  // namespace amortized
