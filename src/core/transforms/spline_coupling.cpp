#include "amortized/transforms/spline_coupling.h"

#include "../lanes.h"

#include <ATen/Dispatch.h>
#include <torch/autograd.h>
#include <torch/nn/functional/activation.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <vector>

namespace amortized {
namespace {
using namespace lanes;

constexpr double kMinBinWidth = 1e-3, kMinBinHeight = 1e-3, kMinDerivative = 1e-3;
// Interior derivatives are kMinDerivative + softplus(raw + this shift), so
// that raw = 0 gives a derivative of 1.
const double kDerivativeShift = std::log(std::exp(1 - kMinDerivative) - 1);

// Knot positions from unconstrained sizes: [..., K] -> [..., K + 1], from
// -bound to bound, each bin at least min_size of 2 bound wide.
Tensor knots(const Tensor& raw, double bound, double min_size) {
  const int64_t k = raw.size(-1);
  Tensor size = min_size + (1 - min_size * static_cast<double>(k)) * torch::softmax(raw, -1);
  Tensor cum = 2 * bound * torch::cumsum(size, -1) - bound;
  // exact ends despite rounding
  return torch::cat({torch::full_like(cum.narrow(-1, 0, 1), -bound), cum.narrow(-1, 0, k - 1),
                     torch::full_like(cum.narrow(-1, 0, 1), bound)},
                    -1);
}

// Entry idx (a [..., 1] index) of v along the last dimension, as [...].
Tensor at_bin(const Tensor& v, const Tensor& idx) { return v.gather(-1, idx).squeeze(-1); }

// Knot positions cw, ch and derivatives d, each [..., K + 1], from the
// unconstrained parameters (softmax / softplus; boundary derivatives 1).
struct Knots {
  Tensor cw, ch, d;
};

Knots make_knots(const Tensor& widths, const Tensor& heights, const Tensor& derivatives, double tail_bound) {
  const int64_t k = widths.size(-1);
  TORCH_CHECK(k >= 2 && heights.size(-1) == k && derivatives.size(-1) == k - 1,
              "spline: widths and heights need K >= 2 entries and derivatives K - 1");
  Knots out;
  out.cw = knots(widths, tail_bound, kMinBinWidth);
  out.ch = knots(heights, tail_bound, kMinBinHeight);
  // Interior derivatives via softplus, shifted so that a zero input gives 1;
  // boundary derivatives are exactly 1 (matching the linear tails).
  Tensor d = kMinDerivative + torch::softplus(derivatives + kDerivativeShift);
  Tensor ones = torch::ones_like(d.narrow(-1, 0, 1));
  out.d = torch::cat({ones, d, ones}, -1);
  return out;
}

// The spline from its knots with tensor operations (any device, any
// gradient); the reference for the fused CPU kernel below.
std::pair<Tensor, Tensor> spline_from_knots(const Tensor& x, const Knots& kn, double tail_bound, bool inverse) {
  const int64_t k = kn.cw.size(-1) - 1;
  Tensor inside = (x >= -tail_bound) & (x <= tail_bound);
  Tensor xin = x.clamp(-tail_bound, tail_bound);
  Tensor w = kn.cw.narrow(-1, 1, k) - kn.cw.narrow(-1, 0, k), h = kn.ch.narrow(-1, 1, k) - kn.ch.narrow(-1, 0, k);
  const Tensor& locations = inverse ? kn.ch : kn.cw;
  Tensor idx = ((xin.unsqueeze(-1) >= locations).sum(-1, /*keepdim=*/true) - 1).clamp(0, k - 1);
  Tensor xk = at_bin(kn.cw, idx), wk = at_bin(w, idx), yk = at_bin(kn.ch, idx), hk = at_bin(h, idx);
  Tensor dk = at_bin(kn.d, idx), dk1 = at_bin(kn.d, idx + 1);
  Tensor sk = hk / wk;
  Tensor slope_sum = dk1 + dk - 2 * sk;
  Tensor theta;
  if (inverse) {
    Tensor dy = xin - yk;
    Tensor a = hk * (sk - dk) + dy * slope_sum;
    Tensor b = hk * dk - dy * slope_sum;
    Tensor c = -sk * dy;
    Tensor disc = (b.pow(2) - 4 * a * c).clamp_min(0);
    theta = (2 * c) / (-b - torch::sqrt(disc));
  } else {
    theta = (xin - xk) / wk;
  }
  Tensor t1 = theta * (1 - theta);
  Tensor denom = sk + slope_sum * t1;
  Tensor dnum = sk.pow(2) * (dk1 * theta.pow(2) + 2 * sk * t1 + dk * (1 - theta).pow(2));
  Tensor logdet = torch::log(dnum) - 2 * torch::log(denom);  // log dy/dx at this point
  Tensor out = inverse ? theta * wk + xk : yk + hk * (sk * theta.pow(2) + dk * t1) / denom;
  if (inverse) logdet = -logdet;
  return {torch::where(inside, out, x), torch::where(inside, logdet, torch::zeros_like(logdet))};
}

// ---- Fused CPU kernel: one pass per element from the raw parameters (the
// softmax / softplus knots included), with a hand-written backward.

constexpr int64_t kMaxFusedBins = 128;

// softplus(raw + shift) + the minimum: an interior derivative.
template <typename V>
AMORTIZED_LANES_INLINE V interior_derivative(const V& raw) {
  using T = Elem<V>;
  const V a = raw + static_cast<T>(kDerivativeShift);
  // softplus(a) = max(a, 0) + log(1 + exp(-|a|))
  return static_cast<T>(kMinDerivative) + vmax(a, splat<V>(T(0))) + kernel_log(T(1) + kernel_exp(-vabs(a)));
}

// For the backward: the unnormalized softmax weights of every element,
// exp(raw - row max) of its widths and of its heights, [n, 2k], the
// exponentials vectorized by LibTorch. rows: raw [n, 3k - 1].
Tensor softmax_exps(const Tensor& rows, int64_t k) {
  const int64_t n = rows.size(0), stride = rows.stride(0);
  Tensor out = torch::empty({n, 2 * k}, rows.options());
  AT_DISPATCH_FLOATING_TYPES(rows.scalar_type(), "rq_spline_exps", [&] {
    const scalar_t* r = rows.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t part = 0; part < 2; ++part) {
        const scalar_t* src = r + i * stride + part * k;
        scalar_t* dst = o + (i * 2 + part) * k;
        scalar_t m = src[0];
        for (int64_t j = 1; j < k; ++j) m = std::max(m, src[j]);
        for (int64_t j = 0; j < k; ++j) dst[j] = src[j] - m;
      }
    }
  });
  return out.exp_();
}

// Knots of one element from its softmax exponentials e = (widths K |
// heights K) (see softmax_exps()): positions cw, ch [K + 1] and the softmax
// weights sw, sh [K] (for the backward). The derivatives d_j are
// interior_derivative(raw[2K + j - 1]) for j = 1..K - 1 and 1 at both ends;
// the kernels compute only the two of the bin they need.
template <typename T>
void element_knots(const T* e, int64_t k, T bound, T* cw, T* ch, T* sw, T* sh) {
  auto positions = [&](const T* ex, T min_size, T* pos, T* soft) {
    T sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += ex[j];
    const T scale = 1 - min_size * static_cast<T>(k), inv = 1 / sum;
    T cum = 0;
    pos[0] = -bound;
    for (int64_t j = 0; j < k; ++j) {
      soft[j] = ex[j] * inv;
      cum += min_size + scale * soft[j];
      pos[j + 1] = 2 * bound * cum - bound;
    }
    pos[k] = bound;  // exact end despite rounding
  };
  positions(e, static_cast<T>(kMinBinWidth), cw, sw);
  positions(e + k, static_cast<T>(kMinBinHeight), ch, sh);
}

// The derivative at knot j (0..k) of an element with raw parameters raw.
template <typename T>
T knot_derivative(const T* raw, int64_t k, int64_t j) {
  return (j == 0 || j == k) ? T(1) : interior_derivative(raw[2 * k + j - 1]);
}

template <typename T>
int64_t find_bin(const T* loc, int64_t k, T v) {
  int64_t b = 0;
  while (b + 1 < k && v >= loc[b + 1]) ++b;
  return b;
}

// ---- Forward / inverse map (no gradients; its backward is below), in
// blocks of kBlock elements: each block's parameters are gathered into a
// structure of arrays [parameter][element], and every step works on W
// elements at once, branch-free, in SIMD lanes (lanes.h); the float kernel
// also has AVX-512 and AVX2 clones.
constexpr int64_t kBlock = 64;

// One block: p holds the raw parameters [(3k - 1) x kBlock] (the widths and
// heights rows are overwritten by their softmax exponentials), v the
// inputs; W lanes at a time.
template <typename T, bool Inverse>
AMORTIZED_LANES_INLINE void spline_block(int64_t k, T bound, T* p, const T* v_in, T* y, T* logdet) {
  using V = typename Lanes<T>::V;
  constexpr int64_t B = kBlock, W = Lanes<T>::kWidth;
  const T min_w = static_cast<T>(kMinBinWidth), min_h = static_cast<T>(kMinBinHeight);
  const T scale_w = 1 - min_w * static_cast<T>(k), scale_h = 1 - min_h * static_cast<T>(k), span = 2 * bound;
  const V zero = splat<V>(T(0)), one = splat<V>(T(1)), lower = splat<V>(-bound), upper = splat<V>(bound);
  const auto all = zero == zero, none = zero != zero;
  for (int64_t g = 0; g < B; g += W) {
    T* pw = p + g;
    T* ph = p + k * B + g;
    const T* pd = p + 2 * k * B + g;
    V m_w = load<V>(pw), m_h = load<V>(ph);
    for (int64_t j = 1; j < k; ++j) {
      m_w = vmax(m_w, load<V>(pw + j * B));
      m_h = vmax(m_h, load<V>(ph + j * B));
    }
    V sum_w = zero, sum_h = zero;
    for (int64_t j = 0; j < k; ++j) {
      const V ew = kernel_exp(load<V>(pw + j * B) - m_w), eh = kernel_exp(load<V>(ph + j * B) - m_h);
      store(pw + j * B, ew);
      store(ph + j * B, eh);
      sum_w += ew;
      sum_h += eh;
    }
    const V a_w = scale_w / sum_w, a_h = scale_h / sum_h;
    // Walk the interior knots: the bin of v is [x0, x1] x [y0, y1], with the
    // raw derivative parameters r0, r1 at its ends (end0, end1: a boundary
    // knot, derivative 1).
    const V v = load<V>(v_in + g);
    V x0 = lower, y0 = lower, x1 = upper, y1 = upper, r0 = zero, r1 = zero, cum_w = zero, cum_h = zero;
    auto end0 = all, end1 = all, found = none;
    for (int64_t j = 0; j + 1 < k; ++j) {
      cum_w += min_w + load<V>(pw + j * B) * a_w;
      cum_h += min_h + load<V>(ph + j * B) * a_h;
      const V nw = span * cum_w - bound, nh = span * cum_h - bound, d = load<V>(pd + j * B);
      const auto passed = v >= (Inverse ? nh : nw), take = mask_and(mask_not(passed), mask_not(found));
      x0 = select(passed, nw, x0);
      y0 = select(passed, nh, y0);
      r0 = select(passed, d, r0);
      end0 = mask_and(end0, mask_not(passed));
      x1 = select(take, nw, x1);
      y1 = select(take, nh, y1);
      r1 = select(take, d, r1);
      end1 = mask_and(end1, mask_not(take));
      found = mask_or(found, mask_not(passed));
    }
    const V d0 = select(end0, one, interior_derivative(r0)), d1 = select(end1, one, interior_derivative(r1));
    const V w = x1 - x0, h = y1 - y0, s = h / w, slope_sum = d1 + d0 - 2 * s;
    V theta;
    if constexpr (Inverse) {
      const V dy = v - y0;
      const V a = h * (s - d0) + dy * slope_sum, bb = h * d0 - dy * slope_sum, c = -s * dy;
      theta = (2 * c) / (-bb - vsqrt(vmax(bb * bb - 4 * a * c, zero)));
    } else {
      theta = (v - x0) / w;
    }
    const V t1 = theta * (1 - theta), den = s + slope_sum * t1;
    const V q = d1 * theta * theta + 2 * s * t1 + d0 * (1 - theta) * (1 - theta);
    const V ld = kernel_log(s * s * q / (den * den));
    const V out = Inverse ? theta * w + x0 : y0 + h * (s * theta * theta + d0 * t1) / den;
    const auto inside = mask_and(v >= lower, v <= upper);  // tails (and NaN) pass through
    store(y + g, select(inside, out, v));
    store(logdet + g, select(inside, Inverse ? -ld : ld, zero));
  }
}

template <typename T>
AMORTIZED_LANES_INLINE void spline_block_any(bool inverse, int64_t k, T bound, T* p, const T* v,
                                                            T* y, T* logdet) {
  if (inverse) {
    spline_block<T, true>(k, bound, p, v, y, logdet);
  } else {
    spline_block<T, false>(k, bound, p, v, y, logdet);
  }
}

AMORTIZED_LANES_INLINE void spline_block_dispatch_kernel(bool inverse, int64_t k, float bound, float* p,
                                                         const float* v, float* y, float* logdet) {
  spline_block_any(inverse, k, bound, p, v, y, logdet);  // the float kernel, one clone per SIMD level
}
AMORTIZED_SIMD_KERNEL(void, spline_block_dispatch,
                      (bool inverse, int64_t k, float bound, float* p, const float* v, float* y, float* logdet),
                      (inverse, k, bound, p, v, y, logdet))
void spline_block_dispatch(bool inverse, int64_t k, double bound, double* p, const double* v, double* y,
                           double* logdet) {
  spline_block_any(inverse, k, bound, p, v, y, logdet);
}

// The raw parameters of the elements as [rows, cols, 3k - 1] with any
// strides; x is [rows, cols] row-major.
template <typename T>
struct RawLayout {
  const T* data;
  int64_t cols, s_row, s_col, s_param;
};

template <typename T>
void spline_map(int64_t n, int64_t k, const T* x, RawLayout<T> raw, T bound, bool inverse, T* y, T* logdet) {
  constexpr int64_t B = kBlock;
  const int64_t n_raw = 3 * k - 1, rows = n / raw.cols;
  // Elements go down the columns when rows are adjacent in memory (the
  // couplings' layout: the conditioner's output transposed), so that a
  // block's parameters are contiguous; else along the rows.
  const bool down = raw.s_row == 1;
  std::vector<T> p(static_cast<size_t>(n_raw * B));
  T v[B], yb[B], lb[B];
  int64_t offset[B], index[B];
  int64_t row = 0, col = 0;
  for (int64_t start = 0; start < n; start += B) {
    const int64_t m = std::min(B, n - start);
    for (int64_t i = 0; i < m; ++i) {
      offset[i] = row * raw.s_row + col * raw.s_col;
      index[i] = row * raw.cols + col;
      v[i] = x[index[i]];
      if (down && ++row == rows) {
        row = 0;
        ++col;
      } else if (!down && ++col == raw.cols) {
        col = 0;
        ++row;
      }
    }
    const bool contiguous = down && offset[m - 1] - offset[0] == m - 1;
    for (int64_t q = 0; q < n_raw; ++q) {  // parameter by parameter
      const T* src = raw.data + q * raw.s_param;
      T* dst = p.data() + q * B;
      if (contiguous) {
        std::copy(src + offset[0], src + offset[0] + m, dst);
      } else {
        for (int64_t i = 0; i < m; ++i) dst[i] = src[offset[i]];
      }
      std::fill(dst + m, dst + B, T(0));  // padding of the last block
    }
    std::fill(v + m, v + B, T(0));
    spline_block_dispatch(inverse, k, bound, p.data(), v, yb, lb);
    for (int64_t i = 0; i < m; ++i) {
      y[index[i]] = yb[i];
      logdet[index[i]] = lb[i];
    }
  }
}

// Gradients of (y, logdet) of the forward map, given their upstream
// gradients gy, gl, into gx [n] and graw [n, 3k - 1] (zeroed, contiguous);
// raw rows `stride` apart.
template <typename T>
void spline_kernel_backward(int64_t n, int64_t k, const T* x, const T* raw, int64_t stride, const T* exps, T bound,
                            const T* gy, const T* gl, T* gx, T* graw) {
  T cw[kMaxFusedBins + 1], ch[kMaxFusedBins + 1], sw[kMaxFusedBins], sh[kMaxFusedBins];
  T gcw[kMaxFusedBins + 1], gch[kMaxFusedBins + 1];
  const T shift = static_cast<T>(kDerivativeShift);
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i], g_y = gy ? gy[i] : T(0), g_l = gl ? gl[i] : T(0);
    if (!(v >= -bound && v <= bound)) {
      gx[i] = g_y;
      continue;
    }
    const T* r = raw + i * stride;
    T* gr = graw + i * (3 * k - 1);
    element_knots(exps + i * 2 * k, k, bound, cw, ch, sw, sh);
    const int64_t b = find_bin(cw, k, v);
    const T x0 = cw[b], w = cw[b + 1] - cw[b], h = ch[b + 1] - ch[b];
    const T d0 = knot_derivative(r, k, b), d1 = knot_derivative(r, k, b + 1), s = h / w,
            slope_sum = d1 + d0 - 2 * s;
    const T theta = (v - x0) / w, t1 = theta * (1 - theta), dt1 = 1 - 2 * theta;
    const T den = s + slope_sum * t1, num = h * (s * theta * theta + d0 * t1);
    const T p = d1 * theta * theta + 2 * s * t1 + d0 * (1 - theta) * (1 - theta);
    const T den2 = den * den;
    // partials of y = y0 + num / den and of logdet = log(s^2 p) - 2 log(den)
    const T dy_dtheta = (h * (2 * s * theta + d0 * dt1) * den - num * slope_sum * dt1) / den2;
    const T dy_ds = (h * theta * theta * den - num * (1 - 2 * t1)) / den2;
    const T dy_dh = (s * theta * theta + d0 * t1) / den;
    const T dy_dd0 = (h * t1 * den - num * t1) / den2, dy_dd1 = -num * t1 / den2;
    const T dp_dtheta = 2 * d1 * theta + 2 * s * dt1 - 2 * d0 * (1 - theta);
    const T dl_dtheta = dp_dtheta / p - 2 * slope_sum * dt1 / den;
    const T dl_ds = 2 / s + 2 * t1 / p - 2 * (1 - 2 * t1) / den;
    const T dl_dd0 = (1 - theta) * (1 - theta) / p - 2 * t1 / den, dl_dd1 = theta * theta / p - 2 * t1 / den;
    const T g_theta = g_y * dy_dtheta + g_l * dl_dtheta, g_s = g_y * dy_ds + g_l * dl_ds, g_h = g_y * dy_dh;
    // theta = (x - x0) / w, s = h / w, w = x1 - x0, h = y1 - y0
    gx[i] = g_theta / w;
    for (int64_t j = 0; j <= k; ++j) gcw[j] = gch[j] = 0;
    gcw[b] = g_theta * (theta - 1) / w + g_s * s / w;
    gcw[b + 1] = -g_theta * theta / w - g_s * s / w;
    gch[b] = g_y - g_h - g_s / w;
    gch[b + 1] = g_h + g_s / w;
    // positions 1..k-1 are -bound + 2 bound cumsum(sizes); the ends are fixed
    auto back_to_raw = [&](const T* g_pos, const T* soft, T min_size, T* g_raw) {
      const T scale = 1 - min_size * static_cast<T>(k);
      T g_soft[kMaxFusedBins], tail = 0, dot = 0;
      for (int64_t j = k - 1; j >= 0; --j) {  // g_size_j = 2 bound sum_{m = j + 1}^{k - 1} g_pos_m
        g_soft[j] = 2 * bound * tail * scale;
        if (j >= 1) tail += g_pos[j];
      }
      for (int64_t j = 0; j < k; ++j) dot += soft[j] * g_soft[j];
      for (int64_t j = 0; j < k; ++j) g_raw[j] = soft[j] * (g_soft[j] - dot);
    };
    back_to_raw(gcw, sw, static_cast<T>(kMinBinWidth), gr);
    back_to_raw(gch, sh, static_cast<T>(kMinBinHeight), gr + k);
    const T gd[2] = {g_y * dy_dd0 + g_l * dl_dd0, g_y * dy_dd1 + g_l * dl_dd1};
    for (int64_t e = 0; e < 2; ++e) {
      const int64_t j = b + e;  // interior derivatives j = 1..k-1 come from raw[2k + j - 1]
      if (j >= 1 && j <= k - 1) {
        const T a = r[2 * k + j - 1] + shift;
        gr[2 * k + j - 1] = gd[e] / (1 + kernel_exp(-a));  // softplus' = sigmoid
      }
    }
  }
}

// raw [..., 3k - 1] as [n, 3k - 1] rows with contiguous entries; a view
// where possible (the raw parameters are a slice of the conditioner's output).
Tensor raw_rows(const Tensor& raw, int64_t n) {
  Tensor r = raw.reshape({n, raw.size(-1)});
  return r.stride(1) == 1 ? r : r.contiguous();
}

std::pair<Tensor, Tensor> run_kernel(const Tensor& x, const Tensor& raw, double bound, bool inverse) {
  Tensor xf = x.reshape({-1}).contiguous();
  const int64_t n = xf.size(0), k = (raw.size(-1) + 1) / 3;
  Tensor r3 = raw.dim() == 3 ? raw : raw.reshape({n, 1, raw.size(-1)});
  TORCH_CHECK(r3.size(0) * r3.size(1) == n, "spline: the raw parameters need one row per element of x");
  Tensor y = torch::empty_like(xf), ld = torch::empty_like(xf);
  AT_DISPATCH_FLOATING_TYPES(xf.scalar_type(), "rq_spline", [&] {
    const RawLayout<scalar_t> layout{r3.data_ptr<scalar_t>(), r3.size(1), r3.stride(0), r3.stride(1), r3.stride(2)};
    spline_map<scalar_t>(n, k, xf.data_ptr<scalar_t>(), layout, static_cast<scalar_t>(bound), inverse,
                         y.data_ptr<scalar_t>(), ld.data_ptr<scalar_t>());
  });
  return {y.view(x.sizes()), ld.view(x.sizes())};
}

class SplineFunction : public torch::autograd::Function<SplineFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const Tensor& x,
                                                const Tensor& raw, double bound) {
    ctx->save_for_backward({x, raw});
    ctx->saved_data["bound"] = bound;
    auto out = run_kernel(x, raw, bound, false);
    return {out.first, out.second};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const double bound = ctx->saved_data["bound"].toDouble();
    const Tensor &x = saved[0], &raw = saved[1];
    Tensor xf = x.reshape({-1}).contiguous();
    Tensor rf = raw_rows(raw, xf.size(0));
    const int64_t k = (raw.size(-1) + 1) / 3;
    Tensor gy = grads[0].defined() ? grads[0].reshape({-1}).contiguous() : Tensor();
    Tensor gl = grads[1].defined() ? grads[1].reshape({-1}).contiguous() : Tensor();
    Tensor gx = torch::zeros_like(xf), graw = torch::zeros({rf.size(0), rf.size(1)}, rf.options());
    Tensor exps = softmax_exps(rf, k);
    AT_DISPATCH_FLOATING_TYPES(xf.scalar_type(), "rq_spline_backward", [&] {
      spline_kernel_backward<scalar_t>(xf.size(0), k, xf.data_ptr<scalar_t>(), rf.data_ptr<scalar_t>(),
                                       rf.stride(0), exps.data_ptr<scalar_t>(), static_cast<scalar_t>(bound),
                                       gy.defined() ? gy.data_ptr<scalar_t>() : nullptr,
                                       gl.defined() ? gl.data_ptr<scalar_t>() : nullptr, gx.data_ptr<scalar_t>(),
                                       graw.data_ptr<scalar_t>());
    });
    return {gx.view(x.sizes()), graw.view(raw.sizes()), Tensor()};
  }
};

}  // namespace

std::pair<Tensor, Tensor> rational_quadratic_spline(const Tensor& x, const Tensor& raw, double tail_bound,
                                                    bool inverse, bool fused) {
  const int64_t k = (raw.size(-1) + 1) / 3;
  TORCH_CHECK(k >= 2 && raw.size(-1) == 3 * k - 1,
              "spline: the raw parameters need 3K - 1 entries (widths K, heights K, derivatives K - 1), K >= 2");
  const bool needs_grad = torch::GradMode::is_enabled() && (x.requires_grad() || raw.requires_grad());
  const bool cpu = x.device().is_cpu() && raw.device().is_cpu();
  if (!fused || !cpu || k > kMaxFusedBins || (inverse && needs_grad) || raw.scalar_type() != x.scalar_type()) {
    Knots kn = make_knots(raw.narrow(-1, 0, k), raw.narrow(-1, k, k), raw.narrow(-1, 2 * k, k - 1), tail_bound);
    return spline_from_knots(x, kn, tail_bound, inverse);
  }
  if (inverse || !needs_grad) return run_kernel(x, raw, tail_bound, inverse);
  auto out = SplineFunction::apply(x, raw, tail_bound);
  return {out[0], out[1]};
}

std::pair<Tensor, Tensor> rational_quadratic_spline(const Tensor& x, const Tensor& widths, const Tensor& heights,
                                                    const Tensor& derivatives, double tail_bound, bool inverse,
                                                    bool fused) {
  const int64_t k = widths.size(-1);
  TORCH_CHECK(k >= 2 && heights.size(-1) == k && derivatives.size(-1) == k - 1,
              "spline: widths and heights need K >= 2 entries and derivatives K - 1");
  return rational_quadratic_spline(x, torch::cat({widths, heights, derivatives}, -1), tail_bound, inverse, fused);
}

SplineCouplingImpl::SplineCouplingImpl(const SplineCouplingOptions& options_)
    : CouplingImpl(options_.coupling(), 3 * options_.bins() + 1, "a spline"), options(options_) {
  TORCH_CHECK(options.bins() >= 2, "a spline needs bins >= 2, got ", options.bins());
  TORCH_CHECK(options.tail_bound() > 0, "tail_bound must be > 0, got ", options.tail_bound());
  TORCH_CHECK(options.clamp() > 0, "clamp must be > 0, got ", options.clamp());
}

std::pair<Tensor, Tensor> SplineCouplingImpl::element_map(const Tensor& x_a, const Tensor& params, bool inverse) {
  const int64_t k = options.bins();
  Tensor raw = params.narrow(2, 0, 3 * k - 1);  // widths k, heights k, derivatives k - 1
  Tensor shift = params.select(2, 3 * k - 1);
  Tensor log_scale = soft_clamp(params.select(2, 3 * k), options.clamp());
  if (inverse) {
    auto [u, ld_spline] = rational_quadratic_spline(x_a, raw, options.tail_bound(), true);
    return {(u - shift) * torch::exp(-log_scale), ld_spline - log_scale};
  }
  Tensor u = x_a * torch::exp(log_scale) + shift;
  auto [y, ld_spline] = rational_quadratic_spline(u, raw, options.tail_bound(), false);
  return {y, ld_spline + log_scale};
}

std::string SplineCouplingImpl::describe() const {
  std::ostringstream out;
  out << "spline coupling " << describe_coupling() << ", " << options.bins() << " bins on [-"
      << options.tail_bound() << ", " << options.tail_bound() << "])";
  return out.str();
}

}  // namespace amortized
