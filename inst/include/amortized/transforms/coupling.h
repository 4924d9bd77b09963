// Coupling transforms conditioned on a context vector: the first
// floor(dim/2) variables (passive) pass through; a conditioner MLP sees them
// and the context and gives the parameters of an element-wise bijection of
// the active rest. With dim == 1 only the context conditions. The
// conditioner's last layer starts at zero, and each element map is the
// identity at zero parameters, so a new coupling is the identity.
#pragma once

#include "amortized/nn/mlp.h"
#include "amortized/transforms/transform.h"

#include <string>
#include <vector>

namespace amortized {

struct CouplingOptions {
  CouplingOptions(int64_t dim, int64_t context_dim) : dim_(dim), context_dim_(context_dim) {}
  // Number of transformed variables (>= 1).
  TORCH_ARG(int64_t, dim);
  // Width of the context vector fed to the conditioner (>= 0).
  TORCH_ARG(int64_t, context_dim);
  // Hidden widths and activation of the conditioner MLP.
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{128, 128};
  TORCH_ARG(std::string, activation) = "silu";
  // Dropout in the conditioner's hidden layers while training.
  TORCH_ARG(double, dropout) = 0.0;
};

class CouplingImpl : public TransformImpl {
 public:
  std::pair<Tensor, Tensor> forward(const Tensor& x, const Tensor& context) override;
  std::pair<Tensor, Tensor> inverse(const Tensor& y, const Tensor& context) override;
  void reset_parameters(at::Generator& gen) override;

  const CouplingOptions& coupling_options() const { return coupling_; }

 protected:
  // n_params: conditioner outputs per active variable.
  CouplingImpl(const CouplingOptions& options, int64_t n_params, const char* kind);
  // The element-wise map of the active variables, x_a: [batch, n_active],
  // params: [batch, n_active, n_params] -> (y_a, log|dy/dx| per element);
  // with inverse = true the inverse map and its log-determinant.
  virtual std::pair<Tensor, Tensor> element_map(const Tensor& x_a, const Tensor& params, bool inverse) = 0;
  // "(2 + context 3 -> 3, hidden 128x128, silu" for describe().
  std::string describe_coupling() const;
  int64_t n_passive() const { return n_passive_; }
  int64_t n_active() const { return dim() - n_passive_; }

 private:
  std::pair<Tensor, Tensor> apply(const Tensor& x, const Tensor& context, bool inverse, const char* name);
  CouplingOptions coupling_;
  int64_t n_passive_, n_params_;
  MLP net_{nullptr};
};

}  // namespace amortized
