// Internal to the core: SIMD lanes for element-wise kernels, written once for
// scalars and for vectors (a kernel is a template over the value type V:
// float or double, or Lanes<T>::V, kWidth lanes of T in a simd::Vec, vec.h).
// Comparisons give masks (bool for scalars, lane-wise -1/0 integers for
// vectors); select(), vmax() etc. are overloaded for both, so one kernel
// body serves the scalar backward and the vectorized forward.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "amortized/simd.h"
#include "vec.h"

// Everything here must be inlined into its caller, so that a kernel compiled
// for another target never calls it across the ABI.
#define AMORTIZED_LANES_INLINE inline __attribute__((always_inline))

// A SIMD kernel is compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2, FMA)
// and the baseline where GCC can, and picked at run time by simd_level():
//   AMORTIZED_LANES_INLINE void silu_kernel(float* x, int64_t n) { ... }
//   AMORTIZED_SIMD_KERNEL(void, silu, (float* x, int64_t n), (x, n))
// defines silu(); the kernel body calls only always-inline functions.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && defined(__linux__)
#define AMORTIZED_SIMD_KERNEL(ret, name, params, args)                                                 \
  __attribute__((target("arch=x86-64-v4"))) static ret name##_avx512 params { return name##_kernel args; } \
  __attribute__((target("arch=x86-64-v3"))) static ret name##_avx2 params { return name##_kernel args; }   \
  ret name params {                                                                                   \
    switch (::amortized::simd_level()) {                                                              \
      case ::amortized::SimdLevel::kAvx512: return name##_avx512 args;                                \
      case ::amortized::SimdLevel::kAvx2: return name##_avx2 args;                                    \
      default: return name##_kernel args;                                                             \
    }                                                                                                 \
  }
#else
#define AMORTIZED_SIMD_KERNEL(ret, name, params, args) \
  ret name params { return name##_kernel args; }
#endif

namespace amortized {
namespace lanes {

template <typename T>
struct Lanes;
template <>
struct Lanes<float> {
  static constexpr int kWidth = 16;
  using V = simd::Vec<float, kWidth>;
  using I = simd::Vec<int32_t, kWidth>;
};
template <>
struct Lanes<double> {
  static constexpr int kWidth = 4;
  using V = simd::Vec<double, kWidth>;
  using I = simd::Vec<int64_t, kWidth>;
};
using VF = Lanes<float>::V;
using IF = Lanes<float>::I;
using VD = Lanes<double>::V;
using ID = Lanes<double>::I;

// The element type of V.
template <typename V>
struct ElemOf {
  using type = V;
};
template <typename T, int N>
struct ElemOf<simd::Vec<T, N>> {
  using type = T;
};
template <typename V>
using Elem = typename ElemOf<V>::type;

template <typename V, typename T>
AMORTIZED_LANES_INLINE V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V, typename T>
AMORTIZED_LANES_INLINE void store(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename V, typename T>
AMORTIZED_LANES_INLINE V splat(T t) {
  if constexpr (std::is_arithmetic_v<V>) {
    return t;
  } else {
    V v = {};
    return v + t;
  }
}

// select(mask, a, b): a where mask, else b
AMORTIZED_LANES_INLINE float select(bool m, float a, float b) { return m ? a : b; }
AMORTIZED_LANES_INLINE double select(bool m, double a, double b) { return m ? a : b; }
AMORTIZED_LANES_INLINE VF select(const IF& m, const VF& a, const VF& b) {
  return simd::bit_cast<VF>((m & simd::bit_cast<IF>(a)) | (~m & simd::bit_cast<IF>(b)));
}
AMORTIZED_LANES_INLINE VD select(const ID& m, const VD& a, const VD& b) {
  return simd::bit_cast<VD>((m & simd::bit_cast<ID>(a)) | (~m & simd::bit_cast<ID>(b)));
}
AMORTIZED_LANES_INLINE bool mask_and(bool a, bool b) { return a && b; }
AMORTIZED_LANES_INLINE IF mask_and(const IF& a, const IF& b) { return a & b; }
AMORTIZED_LANES_INLINE ID mask_and(const ID& a, const ID& b) { return a & b; }
AMORTIZED_LANES_INLINE bool mask_or(bool a, bool b) { return a || b; }
AMORTIZED_LANES_INLINE IF mask_or(const IF& a, const IF& b) { return a | b; }
AMORTIZED_LANES_INLINE ID mask_or(const ID& a, const ID& b) { return a | b; }
AMORTIZED_LANES_INLINE bool mask_not(bool a) { return !a; }
AMORTIZED_LANES_INLINE IF mask_not(const IF& a) { return ~a; }
AMORTIZED_LANES_INLINE ID mask_not(const ID& a) { return ~a; }

template <typename V>
AMORTIZED_LANES_INLINE V vmax(const V& a, const V& b) {
  return select(a < b, b, a);
}
template <typename V>
AMORTIZED_LANES_INLINE V vmin(const V& a, const V& b) {
  return select(b < a, b, a);
}
template <typename V>
AMORTIZED_LANES_INLINE V vabs(const V& a) {
  return select(a < 0, -a, a);
}

// Lane by lane, for what has no vector form here.
template <typename V, typename F>
AMORTIZED_LANES_INLINE V each(const V& a, F f) {
  if constexpr (std::is_arithmetic_v<V>) {
    return f(a);
  } else {
    V out = a;
    for (int l = 0; l < V::kWidth; ++l) out.set(l, f(a[l]));
    return out;
  }
}
template <typename V>
AMORTIZED_LANES_INLINE V vsqrt(const V& a) {
  return each(a, [](auto x) { return std::sqrt(x); });
}

// exp in float: Cody-Waite range reduction and a degree-6 Taylor polynomial on
// [-ln 2 / 2, ln 2 / 2] (relative error about 2e-7, the order of float
// rounding), branch-free; in double std::exp.
// float <-> int32 lane by lane (value conversions)
AMORTIZED_LANES_INLINE int32_t to_int(float x) { return static_cast<int32_t>(x); }
AMORTIZED_LANES_INLINE IF to_int(const VF& x) { return simd::convert<IF>(x); }
AMORTIZED_LANES_INLINE float to_float(int32_t x) { return static_cast<float>(x); }
AMORTIZED_LANES_INLINE VF to_float(const IF& x) { return simd::convert<VF>(x); }

template <typename V, typename I>
AMORTIZED_LANES_INLINE V exp_float(const V& x_in) {
  const V x = vmin(vmax(x_in, splat<V>(-87.0f)), splat<V>(88.0f));
  const V n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;  // round to nearest (1.5 * 2^23 trick)
  const V r = (x - n * 0.693145752f) - n * 1.42860677e-6f;
  const V p =
      1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f + r * (8.33333333e-3f + r * 1.38888889e-3f)))));
  I bits = simd::bit_cast<I>(p);
  bits += ((to_int(n) + 127) << 23) - (127 << 23);  // times 2^n (n >= -126 after the clamp)
  return simd::bit_cast<V>(bits);
}
AMORTIZED_LANES_INLINE float kernel_exp(float x) {
  return exp_float<float, int32_t>(x);
}
AMORTIZED_LANES_INLINE VF kernel_exp(const VF& x) {
  return exp_float<VF, IF>(x);
}
AMORTIZED_LANES_INLINE double kernel_exp(double x) { return std::exp(x); }
AMORTIZED_LANES_INLINE VD kernel_exp(const VD& x) {
  return each(x, [](double v) { return std::exp(v); });
}

// log (x > 0, finite) in float: x = 2^e m with m in [sqrt(1/2), sqrt(2)),
// log m = 2 atanh(s), s = (m - 1) / (m + 1), by its series to s^9 (|s| <
// 0.172: relative error below 1e-9 before rounding), branch-free; in double
// std::log.
template <typename V, typename I>
AMORTIZED_LANES_INLINE V log_float(const V& x) {
  I bits = simd::bit_cast<I>(x);
  I e = ((bits >> 23) & 0xff) - 127;
  bits = (bits & 0x007fffff) | 0x3f800000;  // mantissa in [1, 2)
  V m = simd::bit_cast<V>(bits);
  const auto big = m > 1.41421356f;
  m = select(big, m * 0.5f, m);
  const V ef = select(big, to_float(e) + 1.0f, to_float(e));
  const V s = (m - 1) / (m + 1), s2 = s * s;
  const V series = s * (2.0f + s2 * (0.666666667f + s2 * (0.4f + s2 * (0.285714286f + s2 * 0.222222222f))));
  return series + ef * 0.693147181f;
}
AMORTIZED_LANES_INLINE float kernel_log(float x) {
  return log_float<float, int32_t>(x);
}
AMORTIZED_LANES_INLINE VF kernel_log(const VF& x) {
  return log_float<VF, IF>(x);
}
AMORTIZED_LANES_INLINE double kernel_log(double x) { return std::log(x); }
AMORTIZED_LANES_INLINE VD kernel_log(const VD& x) {
  return each(x, [](double v) { return std::log(v); });
}

// sigmoid(a) = 1 / (1 + exp(-a)) and silu(a) = a sigmoid(a) = a / (1 + exp(-a)),
// on kernel_exp (float: scalars or lanes)
template <typename V>
AMORTIZED_LANES_INLINE V sigmoid(const V& a) {
  return 1.0f / (1.0f + kernel_exp(-a));
}
template <typename V>
AMORTIZED_LANES_INLINE V silu(const V& a) {
  return a / (1.0f + kernel_exp(-a));
}

}  // namespace lanes
}  // namespace amortized
