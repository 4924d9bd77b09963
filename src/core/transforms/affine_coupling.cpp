#include "amortized/transforms/affine_coupling.h"

#include <sstream>

namespace amortized {

AffineCouplingImpl::AffineCouplingImpl(const AffineCouplingOptions& options_)
    : TransformImpl(options_.dim()), options(options_) {
  TORCH_CHECK(options.dim() >= 1, "affine coupling needs dim >= 1, got ", options.dim());
  TORCH_CHECK(options.context_dim() >= 0, "context_dim must be >= 0, got ", options.context_dim());
  TORCH_CHECK(options.clamp() > 0, "clamp must be > 0, got ", options.clamp());
  n_passive_ = options.dim() / 2;
  const int64_t n_active = options.dim() - n_passive_;
  TORCH_CHECK(n_passive_ + options.context_dim() >= 1,
              "a one-dimensional affine coupling needs a context (context_dim >= 1)");
  net_ = register_module("conditioner",
                         MLP(MLPOptions(n_passive_ + options.context_dim(), 2 * n_active)
                                 .hidden(options.hidden())
                                 .activation(options.activation())
                                 .zero_last(true)));
}

std::pair<Tensor, Tensor> AffineCouplingImpl::conditioner(const Tensor& passive,
                                                          const Tensor& context) {
  Tensor input = options.context_dim() > 0 ? torch::cat({passive, context}, 1) : passive;
  auto h = net_->forward(input).chunk(2, 1);
  const double c = options.clamp();
  return {h[0], c * torch::tanh(h[1] / c)};
}

std::pair<Tensor, Tensor> AffineCouplingImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, options.context_dim(), "x");
  Tensor passive = x.narrow(1, 0, n_passive_);
  auto [shift, log_scale] = conditioner(passive, context);
  Tensor active = x.narrow(1, n_passive_, dim() - n_passive_) * torch::exp(log_scale) + shift;
  return {torch::cat({passive, active}, 1), log_scale.sum(1)};
}

std::pair<Tensor, Tensor> AffineCouplingImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, options.context_dim(), "y");
  Tensor passive = y.narrow(1, 0, n_passive_);
  auto [shift, log_scale] = conditioner(passive, context);
  Tensor active = (y.narrow(1, n_passive_, dim() - n_passive_) - shift) * torch::exp(-log_scale);
  return {torch::cat({passive, active}, 1), -log_scale.sum(1)};
}

void AffineCouplingImpl::reset_parameters(at::Generator& gen) { net_->reset_parameters(gen); }

std::string AffineCouplingImpl::describe() const {
  std::ostringstream out;
  out << "affine coupling (" << n_passive_ << " + context " << options.context_dim() << " -> "
      << (dim() - n_passive_) << ", hidden";
  for (size_t i = 0; i < options.hidden().size(); ++i) out << (i ? "x" : " ") << options.hidden()[i];
  out << ", " << options.activation() << ")";
  return out.str();
}

}  // namespace amortized
