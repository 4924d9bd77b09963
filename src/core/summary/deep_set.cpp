#include "amortized/summary/deep_set.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <sstream>
#include <utility>

#include "../rows.h"

namespace amortized {

namespace {

// ---- The fused trunk --------------------------------------------------------
// Embedding, equivariant layers and mean/sd/max pooling of one set at a time
// (float, silu), so that a set's features stay in cache; LibTorch's ops
// would make a dozen passes over [batch, n, width] tensors in memory. The
// backward recomputes a set's forward (cheaper than storing it).

// Weights as the kernel reads them: *_t transposed ([in][out], rows of
// `width` outputs), *_w LibTorch's layout ([out][in]).
struct Trunk {
  int64_t d = 0, w = 0, layers = 0, n = 0;  // n: points per set in x, with padding
  const float* x = nullptr;                 // [batch, n, d]
  const int64_t* lengths = nullptr;         // [batch], or nullptr: all n
  const float *embed_t = nullptr, *embed_b = nullptr;
  std::vector<const float*> self_t, self_w, self_b, pooled_t, pooled_w;
  int64_t length(int64_t b) const { return lengths != nullptr ? lengths[b] : n; }
  // floats of scratch one thread needs
  int64_t scratch_size() const { return 2 * (layers + 1) * n * w + 2 * n * w + (layers + 7) * w; }
  // floats of the gradient, in the order trunk_gradients() reads them
  int64_t grad_size() const { return d * w + w + layers * (2 * w * w + w); }
};

// h = silu(z) over m floats (m a multiple of the lanes)
template <typename V>
AMORTIZED_LANES_INLINE void silu_into(const float* z, int64_t m, float* h) {
  constexpr int64_t kw = rows::kLanes<V>;
  for (int64_t i = 0; i < m; i += kw) {
    const V v = lanes::load<V>(z + i);
    lanes::store(h + i, lanes::silu(v));
  }
}

// g *= silu'(z) = s (1 + z (1 - s)), s = sigmoid(z), over m floats
template <typename V>
AMORTIZED_LANES_INLINE void silu_backward(const float* z, int64_t m, float* g) {
  constexpr int64_t kw = rows::kLanes<V>;
  for (int64_t i = 0; i < m; i += kw) {
    const V v = lanes::load<V>(z + i);
    const V s = lanes::sigmoid(v);
    lanes::store(g + i, lanes::load<V>(g + i) * (s * (1.0f + v * (1.0f - s))));
  }
}

// Scratch of one set: z and h [layers + 1][n][w] (pre- and post-activation),
// dh, dh2 [n][w], means [layers + 1][w], shared, sums, count [w], pooled [3w].
struct SetScratch {
  float *z, *h, *dh, *dh2, *means, *shared, *sums, *count, *pooled;
  SetScratch(const Trunk& t, float* s) {
    const int64_t block = (t.layers + 1) * t.n * t.w;
    z = s;
    h = z + block;
    dh = h + block;
    dh2 = dh + t.n * t.w;
    means = dh2 + t.n * t.w;
    shared = means + (t.layers + 1) * t.w;
    sums = shared + t.w;
    count = sums + t.w;
    pooled = count + t.w;
  }
};

// The forward of set b into s; pooled: [3w] (mean, sd, max). Returns the
// number of points.
template <typename V>
AMORTIZED_LANES_INLINE int64_t set_forward(const Trunk& t, int64_t b, const SetScratch& s, float* pooled) {
  constexpr int64_t kw = rows::kLanes<V>;
  const int64_t len = t.length(b), w = t.w, block = t.n * w;
  rows::affine<V>(t.x + b * t.n * t.d, t.d, len, t.d, t.embed_t, t.embed_b, w, s.z, w);
  silu_into<V>(s.z, len * w, s.h);
  for (int64_t i = 0; i < t.layers; ++i) {
    const float* h = s.h + i * block;
    float* mean = s.means + i * w;
    rows::column_sum<V>(h, w, len, w, 1.0f / static_cast<float>(len), false, mean);
    rows::affine<V>(mean, w, 1, w, t.pooled_t[i], t.self_b[i], w, s.shared, w);  // the set's term: c + B mean
    rows::affine<V>(h, w, len, w, t.self_t[i], s.shared, w, s.z + (i + 1) * block, w);
    silu_into<V>(s.z + (i + 1) * block, len * w, s.h + (i + 1) * block);
  }
  const float* h = s.h + t.layers * block;
  float* mean = s.means + t.layers * w;
  rows::column_sum<V>(h, w, len, w, 1.0f / static_cast<float>(len), false, mean);
  for (int64_t c = 0; c < w; c += kw) {
    const V m = lanes::load<V>(mean + c);
    V var = lanes::splat<V>(0.0f), mx = lanes::load<V>(h + c);
    for (int64_t j = 0; j < len; ++j) {
      const V v = lanes::load<V>(h + j * w + c);
      var += (v - m) * (v - m);
      mx = lanes::vmax(mx, v);
    }
    lanes::store(pooled + c, m);
    lanes::store(pooled + w + c, lanes::vsqrt(var / static_cast<float>(len) + 1e-6f));
    lanes::store(pooled + 2 * w + c, mx);
  }
  return len;
}

template <typename V>
AMORTIZED_LANES_INLINE void trunk_forward_run(const Trunk& t, int64_t begin, int64_t end, float* scratch,
                                              float* out) {
  const SetScratch s(t, scratch);
  for (int64_t b = begin; b < end; ++b) set_forward<V>(t, b, s, out + b * 3 * t.w);
}

// The gradient of sets begin..end-1 added to g (grad_size() floats), given
// that of the pooled output, gout: [batch, 3w].
template <typename V>
AMORTIZED_LANES_INLINE void trunk_backward_run(const Trunk& t, int64_t begin, int64_t end, const float* gout,
                                               float* scratch, float* g) {
  constexpr int64_t kw = rows::kLanes<V>;
  const SetScratch s(t, scratch);
  const int64_t w = t.w, block = t.n * w;
  float* g_embed_t = g;
  float* g_embed_b = g_embed_t + t.d * w;
  float* pooled = s.pooled;
  float* count = s.count;
  for (int64_t b = begin; b < end; ++b) {
    const int64_t len = set_forward<V>(t, b, s, pooled);
    const float* go = gout + b * 3 * w;
    const float* h = s.h + t.layers * block;
    const float inv = 1.0f / static_cast<float>(len);
    // pooling: mean, sd = sqrt(var + eps), max (ties share the gradient)
    for (int64_t c = 0; c < w; c += kw) {
      const V mx = lanes::load<V>(pooled + 2 * w + c);
      V k = lanes::splat<V>(0.0f);
      for (int64_t j = 0; j < len; ++j)
        k += lanes::select(lanes::load<V>(h + j * w + c) == mx, lanes::splat<V>(1.0f), lanes::splat<V>(0.0f));
      lanes::store(count + c, k);
    }
    for (int64_t c = 0; c < w; c += kw) {
      const V m = lanes::load<V>(pooled + c), mx = lanes::load<V>(pooled + 2 * w + c);
      const V gm = lanes::load<V>(go + c) * inv;
      const V gs = lanes::load<V>(go + w + c) * inv / lanes::load<V>(pooled + w + c);
      const V gx = lanes::load<V>(go + 2 * w + c) / lanes::load<V>(count + c);
      for (int64_t j = 0; j < len; ++j) {
        const V v = lanes::load<V>(h + j * w + c);
        lanes::store(s.dh + j * w + c, gm + gs * (v - m) + lanes::select(v == mx, gx, lanes::splat<V>(0.0f)));
      }
    }
    float* dh = s.dh;
    float* dh2 = s.dh2;
    for (int64_t i = t.layers; i >= 1; --i) {
      float* g_self_t = g_embed_b + w + (i - 1) * (2 * w * w + w);
      float* g_self_b = g_self_t + w * w;
      float* g_pooled_t = g_self_b + w;
      silu_backward<V>(s.z + i * block, len * w, dh);  // dh is now dz
      rows::column_sum<V>(dh, w, len, w, 1.0f, false, s.sums);
      for (int64_t c = 0; c < w; c += kw)
        lanes::store(g_self_b + c, lanes::load<V>(g_self_b + c) + lanes::load<V>(s.sums + c));
      rows::outer_add<V>(s.h + (i - 1) * block, w, dh, w, len, w, w, g_self_t);
      rows::outer_add<V>(s.means + (i - 1) * w, w, s.sums, w, 1, w, w, g_pooled_t);
      // d h_{i-1} = dz A + (sum_j dz_j) B / len
      rows::affine<V>(s.sums, w, 1, w, t.pooled_w[i - 1], nullptr, w, s.shared, w);
      for (int64_t c = 0; c < w; c += kw) lanes::store(s.shared + c, lanes::load<V>(s.shared + c) * inv);
      rows::affine<V>(dh, w, len, w, t.self_w[i - 1], s.shared, w, dh2, w);
      std::swap(dh, dh2);
    }
    silu_backward<V>(s.z, len * w, dh);
    rows::column_sum<V>(dh, w, len, w, 1.0f, true, g_embed_b);
    rows::outer_add<V>(t.x + b * t.n * t.d, t.d, dh, w, len, t.d, w, g_embed_t);
  }
}

AMORTIZED_LANES_INLINE void trunk_forward_kernel(const Trunk& t, int64_t begin, int64_t end, float* scratch,
                                                 float* out) {
  if (t.w % lanes::Lanes<float>::kWidth == 0) {
    trunk_forward_run<lanes::VF>(t, begin, end, scratch, out);
  } else {
    trunk_forward_run<float>(t, begin, end, scratch, out);
  }
}
AMORTIZED_SIMD_KERNEL(void, trunk_forward, (const Trunk& t, int64_t begin, int64_t end, float* scratch, float* out),
                      (t, begin, end, scratch, out))

AMORTIZED_LANES_INLINE void trunk_backward_kernel(const Trunk& t, int64_t begin, int64_t end, const float* gout,
                                                  float* scratch, float* g) {
  if (t.w % lanes::Lanes<float>::kWidth == 0) {
    trunk_backward_run<lanes::VF>(t, begin, end, gout, scratch, g);
  } else {
    trunk_backward_run<float>(t, begin, end, gout, scratch, g);
  }
}
AMORTIZED_SIMD_KERNEL(void, trunk_backward,
                      (const Trunk& t, int64_t begin, int64_t end, const float* gout, float* scratch, float* g),
                      (t, begin, end, gout, scratch, g))

constexpr int64_t kGrainSets = 8;

// A Trunk over x, lengths and the parameters (embed weight, bias, then for
// each layer: self weight, self bias, pooled weight), with the contiguous
// copies it points into.
struct TrunkTensors {
  Trunk t;
  std::vector<Tensor> keep;
  TrunkTensors(const Tensor& x, const Tensor& lengths, int64_t layers, at::TensorList params) {
    auto hold = [this](Tensor c) {
      keep.push_back(c);
      return static_cast<const float*>(c.data_ptr<float>());
    };
    t.n = x.size(1);
    t.d = x.size(2);
    t.w = params[0].size(0);
    t.layers = layers;
    t.x = hold(x.contiguous());
    Tensor len = lengths.to(torch::kLong).contiguous();
    keep.push_back(len);
    t.lengths = len.data_ptr<int64_t>();
    t.embed_t = hold(params[0].t().contiguous());
    t.embed_b = hold(params[1].contiguous());
    for (int64_t i = 0; i < layers; ++i) {
      const Tensor &a = params[2 + 3 * i], &c = params[3 + 3 * i], &bw = params[4 + 3 * i];
      t.self_t.push_back(hold(a.t().contiguous()));
      t.self_w.push_back(hold(a.contiguous()));
      t.self_b.push_back(hold(c.contiguous()));
      t.pooled_t.push_back(hold(bw.t().contiguous()));
      t.pooled_w.push_back(hold(bw.contiguous()));
    }
  }
};

// pooled features [batch, 3w]
Tensor trunk_pooled(const Trunk& t, int64_t batch) {
  Tensor out = torch::empty({batch, 3 * t.w}, torch::kFloat);
  float* o = out.data_ptr<float>();
  at::parallel_for(0, batch, kGrainSets, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(t.scratch_size());
    trunk_forward(t, begin, end, scratch.data(), o);
  });
  return out;
}

// The parameters' gradients (in params' order) given the pooled output's.
std::vector<Tensor> trunk_gradients(const Trunk& t, int64_t batch, const Tensor& gout) {
  Tensor go = gout.to(torch::kFloat).contiguous();
  const float* gp = go.data_ptr<float>();
  const int64_t size = t.grad_size();
  Tensor per_thread = torch::zeros({at::get_num_threads(), size}, torch::kFloat);
  float* g = per_thread.data_ptr<float>();
  at::parallel_for(0, batch, kGrainSets, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(t.scratch_size());
    trunk_backward(t, begin, end, gp, scratch.data(), g + at::get_thread_num() * size);
  });
  Tensor sum = per_thread.sum(0);
  const int64_t d = t.d, w = t.w;
  std::vector<Tensor> grads = {sum.narrow(0, 0, d * w).view({d, w}).t().contiguous(), sum.narrow(0, d * w, w)};
  for (int64_t i = 0; i < t.layers; ++i) {
    const int64_t o = d * w + w + i * (2 * w * w + w);
    grads.push_back(sum.narrow(0, o, w * w).view({w, w}).t().contiguous());
    grads.push_back(sum.narrow(0, o + w * w, w));
    grads.push_back(sum.narrow(0, o + w * w + w, w * w).view({w, w}).t().contiguous());
  }
  return grads;
}

class TrunkFunction : public torch::autograd::Function<TrunkFunction> {
 public:
  // -> {pooled [batch, 3w]}
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const Tensor& x,
                                                const Tensor& lengths, int64_t layers, at::TensorList params) {
    std::vector<Tensor> saved = {x, lengths};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["layers"] = layers;
    const TrunkTensors tt(x, lengths, layers, params);
    return {trunk_pooled(tt.t, x.size(0))};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const int64_t layers = ctx->saved_data["layers"].toInt();
    const std::vector<Tensor> params(saved.begin() + 2, saved.end());
    const TrunkTensors tt(saved[0], saved[1], layers, params);
    std::vector<Tensor> out = {Tensor(), Tensor(), Tensor()};
    for (auto& g : trunk_gradients(tt.t, saved[0].size(0), grads[0])) out.push_back(g);
    return out;
  }
};

}  // namespace

DeepSetImpl::DeepSetImpl(const DeepSetOptions& o)
    : SummaryNetImpl(o.input_dim(), o.output_dim()), options(o), activation_(o.activation()) {
  TORCH_CHECK(o.width() >= 1, "deep set width must be >= 1, got ", o.width());
  TORCH_CHECK(o.equivariant_layers() >= 0, "deep set equivariant_layers must be >= 0, got ",
              o.equivariant_layers());
  check_activation(o.activation());
  embed_ = register_module("embed", torch::nn::Linear(o.input_dim(), o.width()));
  self_ = register_module("self", torch::nn::ModuleList());
  pooled_ = register_module("pooled", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.equivariant_layers(); ++i) {
    self_->push_back(torch::nn::Linear(o.width(), o.width()));
    pooled_->push_back(torch::nn::Linear(torch::nn::LinearOptions(o.width(), o.width()).bias(false)));
  }
  head_ = register_module("head", MLP(MLPOptions(3 * o.width() + n_moments(), o.output_dim())
                                          .hidden(o.hidden())
                                          .activation(o.activation())));
}

int64_t DeepSetImpl::n_moments() const { return options.moments() ? moment_count(options.input_dim()) : 0; }

Tensor DeepSetImpl::data_moments(const Tensor& x, const Tensor& lengths) const {
  return pooled_moments(x, valid_mask(x, lengths));
}

std::vector<Tensor> DeepSetImpl::trunk_parameters() {
  std::vector<Tensor> p = {embed_->weight, embed_->bias};
  for (size_t i = 0; i < self_->size(); ++i) {
    p.push_back(self_[i]->as<torch::nn::Linear>()->weight);
    p.push_back(self_[i]->as<torch::nn::Linear>()->bias);
    p.push_back(pooled_[i]->as<torch::nn::Linear>()->weight);
  }
  return p;
}

Tensor DeepSetImpl::forward(const Tensor& x, const Tensor& lengths) {
  const std::vector<Tensor> params = trunk_parameters();
  const bool grad = torch::GradMode::is_enabled();
  bool fused = options.fused() && activation_ == "silu" && x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
               !(grad && x.requires_grad());
  bool needs_grad = false;
  for (const auto& p : params) {
    fused = fused && p.device().is_cpu() && p.scalar_type() == torch::kFloat;
    needs_grad = needs_grad || (grad && p.requires_grad());
  }
  if (fused) {
    check_input(x, lengths);  // (the mask below checks them on the other path)
    const int64_t layers = static_cast<int64_t>(self_->size());
    const Tensor len = lengths.defined() ? lengths : torch::full({x.size(0)}, x.size(1), torch::kLong);
    Tensor pooled;
    if (needs_grad) {
      pooled = TrunkFunction::apply(x, len, layers, at::TensorList(params))[0];
    } else {
      const TrunkTensors tt(x, len, layers, params);
      pooled = trunk_pooled(tt.t, x.size(0));
    }
    if (options.moments()) pooled = torch::cat({pooled, data_moments(x, lengths)}, 1);
    return head_->forward(pooled);
  }
  const Tensor mask = valid_mask(x, lengths);
  Tensor h = activate(embed_->forward(x), activation_);
  for (size_t i = 0; i < self_->size(); ++i) {
    Tensor pooled = masked_mean(h, mask).unsqueeze(1);
    h = activate(self_[i]->as<torch::nn::Linear>()->forward(h) +
                     pooled_[i]->as<torch::nn::Linear>()->forward(pooled),
                 activation_);
  }
  std::vector<Tensor> pooled = {masked_mean(h, mask), masked_sd(h, mask), masked_max(h, mask)};
  if (options.moments()) pooled.push_back(data_moments(x, lengths));
  return head_->forward(torch::cat(pooled, 1));
}

std::vector<std::string> DeepSetImpl::describe() const {
  std::ostringstream s;
  s << "deep set (" << input_dim() << " per point -> " << output_dim() << " summaries; width "
    << options.width() << ", " << options.equivariant_layers()
    << " equivariant layers, mean/sd/max pooling" << (options.moments() ? ", data moments" : "") << ")";
  return {s.str()};
}

}  // namespace amortized
