// The interface of every bijection of the core: one small class per
// transform, knowing forward and inverse and nothing else.
//
// Convention: `forward` maps the data side (parameters theta) towards the
// latent side (base noise z); `inverse` maps back. Both return the
// transformed tensor and log|det J| of the map they apply, per row.
#pragma once

#include "amortized/common.h"

#include <string>
#include <utility>

namespace amortized {

class TransformImpl : public torch::nn::Module {
 public:
  explicit TransformImpl(int64_t dim) : dim_(dim) {}
  ~TransformImpl() override = default;

  // x: [batch, dim], context: [batch, context_dim] (may be undefined for
  // transforms that take none) -> (y: [batch, dim], logdet: [batch]).
  virtual std::pair<Tensor, Tensor> forward(const Tensor& x,
                                            const Tensor& context) = 0;
  // y: [batch, dim] -> (x: [batch, dim], log|det dx/dy|: [batch]).
  virtual std::pair<Tensor, Tensor> inverse(const Tensor& y,
                                            const Tensor& context) = 0;
  // The inverse as draws take it: a map that is not one-to-one (a fold)
  // picks one of its preimages at random from gen. Default: inverse().
  virtual Tensor draw_inverse(const Tensor& y, const Tensor& context, at::Generator& /*gen*/) {
    return inverse(y, context).first;
  }
  // Re-draws learnable state from `gen` (default: nothing to draw).
  virtual void reset_parameters(at::Generator& /*gen*/) {}
  // One line for print(): e.g. "affine coupling (5 -> 5, hidden 128x128)".
  virtual std::string describe() const = 0;

  int64_t dim() const { return dim_; }

 protected:
  // Checks x: [batch, dim] and, when `context_dim` > 0, context: [batch, context_dim].
  void check_input(const Tensor& x, const Tensor& context, int64_t context_dim,
                   const char* x_name) const;

 private:
  int64_t dim_;
};

// bound * tanh(x / bound): x kept within (-bound, bound), the identity near
// 0; the soft clamp of the affine maps' log-scales.
Tensor soft_clamp(const Tensor& x, double bound);

}  // namespace amortized
