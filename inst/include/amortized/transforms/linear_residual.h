// A conditional affine map fitted by least squares: the residual of a
// linear regression of the parameters on the context, scaled to unit
// variance, y = (x - context W - b) / s, or whitened, y = L^-1 (x - context W
// - b) with L the Cholesky factor of the residuals' covariance. Put in front
// of a flow, it takes over the part of the posterior that is linear-Gaussian
// in the data (all of it for a linear-Gaussian model, so the flow has little
// left to learn; whitened, also the posterior's correlations, which coupling
// layers otherwise learn slowly); for other models it is a harmless
// reparameterization. Fixed after fit().
#pragma once

#include "amortized/transforms/transform.h"

namespace amortized {

class LinearResidualImpl : public TransformImpl {
 public:
  // whiten: a full Cholesky factor (buffer "chol") instead of per-dimension
  // scales (buffer "sd").
  LinearResidualImpl(int64_t dim, int64_t context_dim, bool whiten = false);
  // Ridge regression of x: [n, dim] on context: [n, context_dim] (with an
  // intercept; ridge penalty `ridge` times n on the slopes).
  void fit(const Tensor& x, const Tensor& context, double ridge = 1e-3);
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  std::string describe() const override;

 private:
  int64_t context_dim_;
  bool whiten_;
  Tensor weight_, bias_;  // [context_dim, dim], [dim]
  Tensor sd_;             // [dim] (not whitened)
  Tensor chol_;           // [dim, dim], lower triangular (whitened)
};
TORCH_MODULE(LinearResidual);

}  // namespace amortized
