// The instruction set the core's SIMD kernels run on (R-free, torch-free).
// Kernels are compiled for AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and
// the baseline; each call takes the level in force. Results may differ in
// the last bits between levels (fused multiply-adds), never more.
#pragma once

namespace amortized {

enum class SimdLevel { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

// The level in force: the best this CPU runs, lowered by the environment
// variable AMORTIZED_SIMD ("baseline", "avx2" or "avx512"; read at the
// first call; other values are ignored) or by set_simd_level().
SimdLevel simd_level();

// The best level this CPU runs (baseline where the kernels have no clones).
SimdLevel cpu_simd_level();

// Sets the level in force, capped at cpu_simd_level(); returns the level
// now in force. For tests that compare the code paths in one process.
SimdLevel set_simd_level(SimdLevel level);

// "baseline", "avx2" or "avx512".
const char* simd_level_name(SimdLevel level);

// The level named by `name` (one of simd_level_name()'s); false if unknown.
bool parse_simd_level(const char* name, SimdLevel* level);

}  // namespace amortized
