// Tolerances derived from the arithmetic, for comparing two computations
// that are equal in exact arithmetic but take different paths (another
// instruction set, another order of operations, a transform applied before
// or after). float32 paths agree to a few hundred float32 epsilons relative
// to the values' magnitude, more for deeper computations; double paths to a
// few hundred double epsilons. Bit-for-bit equality is only asked of the
// same computation on the same machine.
#pragma once

#include <torch/types.h>

namespace amortized_test {

constexpr double kFloatEps = 1.1920928955078125e-07;   // 2^-23
constexpr double kDoubleEps = 2.220446049250313e-16;   // 2^-52

// a and b agree to `ulps` float32 epsilons, relative to each value and to
// `scale` (the magnitude of the computation's intermediates) near zero.
inline bool float_close(const torch::Tensor& a, const torch::Tensor& b, double ulps = 256, double scale = 1.0) {
  return torch::allclose(a.to(torch::kDouble), b.to(torch::kDouble), ulps * kFloatEps, ulps * kFloatEps * scale,
                         /*equal_nan=*/true);
}

// The same in double precision.
inline bool double_close(const torch::Tensor& a, const torch::Tensor& b, double ulps = 256, double scale = 1.0) {
  return torch::allclose(a, b, ulps * kDoubleEps, ulps * kDoubleEps * scale, /*equal_nan=*/true);
}

}  // namespace amortized_test
