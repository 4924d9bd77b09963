// Private to the simulators: random numbers in SIMD lanes for the cheap
// simulators, where drawing one number at a time costs more than the model.
// kLanes xoshiro256++ streams run side by side in GCC/Clang vector
// extensions (one AVX-512 register, two AVX2 or four SSE2 ones); the
// uniform, normal and (sin, cos) draws they feed are branch-free
// polynomials accurate to double rounding. Kernels built on them may be
// compiled for several instruction sets (AMORTIZED_SIMD_KERNEL, ../lanes.h),
// whose fused multiply-adds can change the last bit of a draw: a seed gives
// the same draws on the same kind of CPU and SIMD level.
#pragma once

#include "amortized/simulators/simulator.h"
#include "../vec.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace amortized {
namespace benchmarks {
namespace random_lanes {

constexpr int kLanes = 8;
using U = simd::Vec<uint64_t, kLanes>;
using D = simd::Vec<double, kLanes>;

AMORTIZED_ALWAYS_INLINE D as_double(const U& u) { return simd::bit_cast<D>(u); }
AMORTIZED_ALWAYS_INLINE U as_bits(const D& d) { return simd::bit_cast<U>(d); }
AMORTIZED_ALWAYS_INLINE D splat(double v) {
  D d = {};
  return d + v;
}
AMORTIZED_ALWAYS_INLINE D vabs(const D& d) { return as_double(as_bits(d) & ~(U{} + (1ULL << 63))); }

// Two vectors holding rows of two values (a1, b1, a2, b2, ...), split into
// the a and the b values.
static_assert(kLanes == 8, "the shuffles below are written for 8 lanes");
typedef int64_t Index __attribute__((vector_size(8 * kLanes)));
AMORTIZED_ALWAYS_INLINE D evens(const D& lo, const D& hi) {
  return {__builtin_shuffle(lo.v, hi.v, Index{0, 2, 4, 6, 8, 10, 12, 14})};
}
AMORTIZED_ALWAYS_INLINE D odds(const D& lo, const D& hi) {
  return {__builtin_shuffle(lo.v, hi.v, Index{1, 3, 5, 7, 9, 11, 13, 15})};
}

// Writes the first m lanes of v to dst. With stream, a whole vector at a
// 16-byte boundary bypasses the caches (for outputs far larger than them:
// saves reading each line in first).
AMORTIZED_ALWAYS_INLINE void store_lanes(double* dst, const D& v, int m, bool stream) {
#if defined(__SSE2__)
  if (stream && m == kLanes && reinterpret_cast<uintptr_t>(dst) % 16 == 0) {
    for (int l = 0; l < kLanes; l += 2) {
      __m128d pair;
      std::memcpy(&pair, reinterpret_cast<const double*>(&v) + l, sizeof pair);
      _mm_stream_pd(dst + l, pair);
    }
    return;
  }
#else
  (void)stream;
#endif
  std::memcpy(dst, &v, sizeof(double) * m);
}

// sin and cos of a, |a| <= pi / 2, from those of the half angle h (|h| <=
// pi / 4) by the double-angle formulas. sin h = h + h^3 P(h^2), cos h = 1 -
// h^2 / 2 + h^4 Q(h^2), P and Q of degree 5 fitted (weighted least squares
// on Chebyshev nodes, 50 digits) to errors below 4e-18 on that range.
AMORTIZED_ALWAYS_INLINE void sincos_half_turn(const D& a, D& s, D& c) {
  const D h = a * 0.5, z = h * h;
  const D p = -1.66666666666666309642e-1 + z * (8.33333333332221806455e-3 + z * (-1.9841269829682217226e-4 +
      z * (2.75573136553292865307e-6 + z * (-2.5050753161004455872e-8 + z * 1.58965422077867220491e-10))));
  const D q = 4.16666666666665960403e-2 + z * (-1.38888888888736194879e-3 + z * (2.4801587289206565355e-5 +
      z * (-2.75573142811671420632e-7 + z * (2.08757144931844331791e-9 + z * -1.13592303771641804623e-11))));
  const D sh = h + h * z * p, ch = 1.0 - 0.5 * z + z * z * q;
  s = 2.0 * sh * ch;
  c = (ch - sh) * (ch + sh);
}

// log u for u in (0, 1] with an exponent field > 0: u = 2^e m, m in
// [sqrt(1/2), sqrt(2)), log m = 2 atanh(t), t = (m - 1) / (m + 1), by its
// series to t^21 (|t| < 0.172: remainder below 1e-18).
AMORTIZED_ALWAYS_INLINE D log_unit(const D& u) {
  const U bits = as_bits(u);
  // the biased exponent as a double, exactly: 2^52 + e has e in its mantissa
  const D e_biased = as_double((bits >> 52) | (U{} + 0x4330000000000000ULL)) - 4503599627370496.0;
  D m = as_double((bits & (U{} + 0x000FFFFFFFFFFFFFULL)) | (U{} + 0x3FF0000000000000ULL));
  const auto big = m > 1.4142135623730951;  // lane masks: -1 or 0
  const D half = as_double(as_bits(m * 0.5) & simd::bit_cast<U>(big)) + as_double(as_bits(m) & ~simd::bit_cast<U>(big));
  const D e = e_biased - 1023.0 + as_double(as_bits(splat(1.0)) & simd::bit_cast<U>(big));
  const D t = (half - 1.0) / (half + 1.0), t2 = t * t;
  const D series =
      2.0 * t * (1.0 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (1.0 / 9 + t2 * (1.0 / 11 +
          t2 * (1.0 / 13 + t2 * (1.0 / 15 + t2 * (1.0 / 17 + t2 * (1.0 / 19 + t2 * (1.0 / 21)))))))))));
  // ln 2 in two parts: e * kLn2Hi is exact for |e| < 2^11
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  return e * kLn2Hi + (series + e * kLn2Lo);
}

// sqrt(v) for v >= 0 (below 2^-1020: 0) without scalar libm calls: y = 1 /
// sqrt(v) from a bit-level first guess (relative error < 3.5%) and three
// Newton steps (each squares the error: 4e-11), then s = v y and one Newton
// step for sqrt itself, s + y (v - s^2) / 2, to about an ulp.
AMORTIZED_ALWAYS_INLINE D sqrt_nonneg(const D& v) {
  D y = as_double((U{} + 0x5FE6EB50C7B537A9ULL) - (as_bits(v) >> 1));
  const D half = v * 0.5;
  for (int k = 0; k < 3; ++k) y = y * (1.5 - half * y * y);
  const D s = v * y, root = s + 0.5 * y * (v - s * s);
  const auto tiny = v < 0x1.0p-1020;  // lanes where the guess overflows
  return as_double(as_bits(root) & ~simd::bit_cast<U>(tiny));
}

// kLanes independent xoshiro256++ streams, seeded from a scalar stream.
class LaneRng {
 public:
  explicit LaneRng(Rng& rng) {
    for (int l = 0; l < kLanes; ++l) {  // each lane seeded as Xoshiro256 seeds itself
      uint64_t seed = rng();
      for (auto& s : s_) s.set(l, detail::splitmix64(seed));
    }
  }
  AMORTIZED_ALWAYS_INLINE U bits() { return detail::xoshiro256pp(s_); }
  // Uniform on [0, 1) from the top 52 bits (1 + u written as a double, less 1).
  AMORTIZED_ALWAYS_INLINE D uniform() { return unit_from(bits()) - 1.0; }
  // Standard normal draws, kLanes at a time: Box-Muller on pairs, the
  // angle uniform on a half turn and its half chosen by a spare random bit.
  AMORTIZED_ALWAYS_INLINE D normal() {
    if (cached_) {
      cached_ = false;
      return spare_;
    }
    const U b = bits();
    const D radius = sqrt_nonneg(-2.0 * log_unit(2.0 - unit_from(b)));  // 1 - u in (0, 1]
    D s, c;
    sincos_half_turn((uniform() - 0.5) * M_PI, s, c);
    const U flip = (b & 1) << 63;  // (cos, sin) of the angle plus pi: both negated
    const D r = as_double(as_bits(radius) ^ flip);
    spare_ = r * s;
    cached_ = true;
    return r * c;
  }

 private:
  // 1 + (top 52 bits) / 2^52, in [1, 2)
  static AMORTIZED_ALWAYS_INLINE D unit_from(const U& b) {
    return as_double((b >> 12) | (U{} + 0x3FF0000000000000ULL));
  }
  U s_[4];
  D spare_ = {};
  bool cached_ = false;
};

// n standard normal draws into out, kLanes at a time (lane_random.cpp:
// compiled for AVX-512, AVX2 and the baseline, picked at run time).
void fill_normals(LaneRng& rng, double* out, int64_t n);

// Standard normal draws one at a time for simulators that consume them
// sequentially (ddm's random walks), made in blocks by fill_normals(): a
// drop-in for std::normal_distribution<double>(0, 1) at about a tenth of its
// cost.
class NormalStream {
 public:
  explicit NormalStream(Rng& rng) : lanes_(rng) {}
  double operator()() {
    if (next_ == kBlock) {
      fill_normals(lanes_, block_, kBlock);
      next_ = 0;
    }
    return block_[next_++];
  }

 private:
  static constexpr int kBlock = 512;
  LaneRng lanes_;
  double block_[kBlock];
  int next_ = kBlock;
};

// n draws from U(lo, hi) into out, kLanes at a time.
inline void fill_uniform_lanes(int64_t n, double lo, double hi, LaneRng& rng, double* out) {
  const double width = hi - lo;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const D v = lo + width * rng.uniform();
    std::memcpy(out + i, &v, sizeof v);
  }
  if (i < n) {
    const D v = lo + width * rng.uniform();
    for (int l = 0; i + l < n; ++l) out[i + l] = v[l];
  }
}

}  // namespace random_lanes
}  // namespace benchmarks
}  // namespace amortized
