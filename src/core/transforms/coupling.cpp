#include "amortized/transforms/coupling.h"

#include <sstream>

namespace amortized {

CouplingImpl::CouplingImpl(const CouplingOptions& options, int64_t n_params, const char* kind)
    : TransformImpl(options.dim()), coupling_(options), n_params_(n_params) {
  TORCH_CHECK(options.dim() >= 1, kind, " coupling needs dim >= 1, got ", options.dim());
  TORCH_CHECK(options.context_dim() >= 0, "context_dim must be >= 0, got ", options.context_dim());
  n_passive_ = options.dim() / 2;
  TORCH_CHECK(n_passive_ + options.context_dim() >= 1, "a one-dimensional ", kind,
              " coupling needs a context (context_dim >= 1)");
  net_ = register_module("conditioner", MLP(MLPOptions(n_passive_ + options.context_dim(), n_active() * n_params)
                                                .hidden(options.hidden())
                                                .activation(options.activation())
                                                .dropout(options.dropout())
                                                .zero_last(true)));
}

std::pair<Tensor, Tensor> CouplingImpl::apply(const Tensor& x, const Tensor& context, bool inverse,
                                              const char* name) {
  check_input(x, context, coupling_.context_dim(), name);
  Tensor passive = x.narrow(1, 0, n_passive_);
  Tensor input = coupling_.context_dim() > 0 ? torch::cat({passive, context}, 1) : passive;
  // Conditioner outputs are blocks of n_active (first all of parameter 0,
  // then all of parameter 1, ...), viewed as [batch, n_active, n_params];
  // computed transposed, so that each parameter's values over the batch are
  // adjacent in memory (what the element kernels read).
  Tensor params = net_->forward_transposed(input).view({n_params_, n_active(), x.size(0)}).permute({2, 1, 0});
  auto [active, logdet] = element_map(x.narrow(1, n_passive_, n_active()), params, inverse);
  return {torch::cat({passive, active}, 1), logdet.sum(1)};
}

std::pair<Tensor, Tensor> CouplingImpl::forward(const Tensor& x, const Tensor& context) {
  return apply(x, context, false, "x");
}

std::pair<Tensor, Tensor> CouplingImpl::inverse(const Tensor& y, const Tensor& context) {
  return apply(y, context, true, "y");
}

void CouplingImpl::reset_parameters(at::Generator& gen) { net_->reset_parameters(gen); }

std::string CouplingImpl::describe_coupling() const {
  std::ostringstream out;
  out << "(" << n_passive_ << " + context " << coupling_.context_dim() << " -> " << n_active() << ", hidden";
  for (size_t i = 0; i < coupling_.hidden().size(); ++i) out << (i ? "x" : " ") << coupling_.hidden()[i];
  out << ", " << coupling_.activation();
  return out.str();
}

}  // namespace amortized
