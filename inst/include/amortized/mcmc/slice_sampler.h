// mcmc/: posterior draws by Markov chain Monte Carlo where no posterior
// network exists (a learned likelihood times a prior). This file: slice
// sampling (Neal, 2003) of many chains at once, coordinate by coordinate
// with stepping out and shrinkage, every chain in lockstep so that one
// batched call of the log density serves them all (a network evaluates a
// batch of 1,000 rows about as fast as one). R-free.
#pragma once

#include "amortized/common.h"

#include <functional>
#include <torch/arg.h>

namespace amortized {

struct SliceSamplerOptions {
  // Iterations discarded at the start, while each chain's step widths adapt.
  TORCH_ARG(int64_t, warmup) = 100;
  // Iterations kept per chain.
  TORCH_ARG(int64_t, draws) = 100;
  // Initial step width of every coordinate.
  TORCH_ARG(double, width) = 1.0;
  // Steps out of the slice on each side before giving up widening.
  TORCH_ARG(int64_t, max_steps_out) = 10;
  // Shrinkage proposals before a chain keeps its point for this coordinate.
  TORCH_ARG(int64_t, max_shrinks) = 50;
};

// log_density: x [chains, dim] -> [chains] (-inf outside the support;
// chains are independent rows). init: [chains, dim], each with a finite log
// density. Returns the draws [chains, draws, dim] (double).
Tensor slice_sample(const std::function<Tensor(const Tensor&)>& log_density, const Tensor& init,
                    const SliceSamplerOptions& options, at::Generator& gen);

// Split-R-hat (Gelman et al., 2013, with split chains) of draws
// [chains, draws, dim]: [dim]. Near 1 when the chains agree.
Tensor split_rhat(const Tensor& draws);

}  // namespace amortized
