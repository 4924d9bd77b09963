// Simulation-based calibration: pure functions of draws and truths.
#pragma once

#include "amortized/common.h"

namespace amortized {

// Rank of each true value among its posterior draws: the number of draws
// strictly below it. draws: [batch, n_draws, dim], truth: [batch, dim]
// -> ranks in 0..n_draws: [batch, dim] (int64).
Tensor sbc_ranks(const Tensor& draws, const Tensor& truth);

}  // namespace amortized
