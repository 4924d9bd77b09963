// mcmc/: posterior draws by Markov chain Monte Carlo where no posterior
// network exists (a learned likelihood times a prior). This file: slice
// sampling (Neal, 2003) of many chains at once, coordinate by coordinate
// with stepping out and shrinkage or in a hyperrectangle, every chain in lockstep so that one
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
  // Draws kept per chain.
  TORCH_ARG(int64_t, draws) = 100;
  // Iterations per kept draw after the warmup (the others are discarded).
  TORCH_ARG(int64_t, thin) = 1;
  // Initial step width of every coordinate.
  TORCH_ARG(double, width) = 1.0;
  // Steps out of the slice on each side before giving up widening.
  TORCH_ARG(int64_t, max_steps_out) = 10;
  // Shrinkage proposals before a chain keeps its point for this coordinate.
  TORCH_ARG(int64_t, max_shrinks) = 50;
  // Update all coordinates at once inside a hyperrectangle of the step
  // widths, shrunk towards the current point after each rejection (Neal,
  // 2003, section 5.1), instead of one coordinate after the other with
  // stepping out: a few density calls per iteration instead of a few per
  // coordinate, once the widths have adapted to the posterior's scale.
  TORCH_ARG(bool, hyperrectangle) = false;
};

// log_density(x, chain): x [m, dim] -> [m] (-inf outside the support),
// where chain [m] (int64) is the chain of each row (the sampler evaluates
// some chains, or points of both ends of each chain's interval, at once;
// a chain's data go with its index). init: [chains, dim], each with a finite log
// density. Returns the draws [chains, draws, dim] (double).
using ChainLogDensity = std::function<Tensor(const Tensor& x, const Tensor& chain)>;
Tensor slice_sample(const ChainLogDensity& log_density, const Tensor& init,
                    const SliceSamplerOptions& options, at::Generator& gen);

// Split-R-hat (Gelman et al., 2013, with split chains) of draws
// [chains, draws, dim]: [dim]. Near 1 when the chains agree.
Tensor split_rhat(const Tensor& draws);

}  // namespace amortized
