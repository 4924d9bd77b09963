// Internal to the core: dense kernels over rows of floats, written once
// over lanes (lanes.h: V is float or lanes::VF; a row's width must be a
// multiple of V's lanes). Rows are `ld` floats apart. Building blocks of
// fused layers (a deep set's points, a GRU's steps) that keep their
// features in cache instead of LibTorch's passes over memory.
#pragma once

#include "lanes.h"

namespace amortized {
namespace rows {

template <typename V>
struct LaneCount {
  static constexpr int64_t value = V::kWidth;
};
template <>
struct LaneCount<float> {
  static constexpr int64_t value = 1;
};
template <typename V>
constexpr int64_t kLanes = LaneCount<V>::value;

// out[j] = bias + in[j] wt for rows j < n (in: rows of k, `lda` apart; wt:
// [k][w]; bias: [w] or nullptr for 0; out: rows of w, `ldo` apart); four
// rows at a time share each load of wt.
template <typename V>
AMORTIZED_LANES_INLINE void affine(const float* in, int64_t lda, int64_t n, int64_t k, const float* wt,
                                   const float* bias, int64_t w, float* out, int64_t ldo) {
  using lanes::load;
  constexpr int64_t kw = kLanes<V>;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float *a0 = in + j * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
    for (int64_t c = 0; c < w; c += kw) {
      const V b0 = bias != nullptr ? load<V>(bias + c) : lanes::splat<V>(0.0f);
      V s0 = b0, s1 = b0, s2 = b0, s3 = b0;
      for (int64_t i = 0; i < k; ++i) {
        const V wv = load<V>(wt + i * w + c);
        s0 += a0[i] * wv;
        s1 += a1[i] * wv;
        s2 += a2[i] * wv;
        s3 += a3[i] * wv;
      }
      float* o = out + j * ldo + c;
      lanes::store(o, s0);
      lanes::store(o + ldo, s1);
      lanes::store(o + 2 * ldo, s2);
      lanes::store(o + 3 * ldo, s3);
    }
  }
  for (; j < n; ++j) {
    const float* a = in + j * lda;
    for (int64_t c = 0; c < w; c += kw) {
      V s = bias != nullptr ? load<V>(bias + c) : lanes::splat<V>(0.0f);
      for (int64_t i = 0; i < k; ++i) s += a[i] * load<V>(wt + i * w + c);
      lanes::store(out + j * ldo + c, s);
    }
  }
}

// g[i] += sum_j a[j][i] dz[j] over rows j < n (a: rows of k, `lda` apart; dz:
// rows of w, `ldz` apart; g: [k][w]): the gradient of a weight in [in][out]
// layout; four inputs at a time.
template <typename V>
AMORTIZED_LANES_INLINE void outer_add(const float* a, int64_t lda, const float* dz, int64_t ldz, int64_t n,
                                      int64_t k, int64_t w, float* g) {
  using lanes::load;
  constexpr int64_t kw = kLanes<V>;
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    for (int64_t c = 0; c < w; c += kw) {
      float* gi = g + i * w + c;
      V g0 = load<V>(gi), g1 = load<V>(gi + w), g2 = load<V>(gi + 2 * w), g3 = load<V>(gi + 3 * w);
      for (int64_t j = 0; j < n; ++j) {
        const V dv = load<V>(dz + j * ldz + c);
        const float* aj = a + j * lda + i;
        g0 += aj[0] * dv;
        g1 += aj[1] * dv;
        g2 += aj[2] * dv;
        g3 += aj[3] * dv;
      }
      lanes::store(gi, g0);
      lanes::store(gi + w, g1);
      lanes::store(gi + 2 * w, g2);
      lanes::store(gi + 3 * w, g3);
    }
  }
  for (; i < k; ++i) {
    for (int64_t c = 0; c < w; c += kw) {
      V gv = load<V>(g + i * w + c);
      for (int64_t j = 0; j < n; ++j) gv += a[j * lda + i] * load<V>(dz + j * ldz + c);
      lanes::store(g + i * w + c, gv);
    }
  }
}

// out = scale * sum over rows j < n of x[j] (rows of w, `ld` apart), added
// to out's values if `add`.
template <typename V>
AMORTIZED_LANES_INLINE void column_sum(const float* x, int64_t ld, int64_t n, int64_t w, float scale, bool add,
                                       float* out) {
  constexpr int64_t kw = kLanes<V>;
  for (int64_t c = 0; c < w; c += kw) {
    V s = lanes::splat<V>(0.0f);
    for (int64_t j = 0; j < n; ++j) s += lanes::load<V>(x + j * ld + c);
    s *= scale;
    if (add) s += lanes::load<V>(out + c);
    lanes::store(out + c, s);
  }
}

}  // namespace rows
}  // namespace amortized
