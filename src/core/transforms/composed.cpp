#include "amortized/transforms/composed.h"

namespace amortized {

ComposedImpl::ComposedImpl(int64_t dim, std::vector<std::shared_ptr<TransformImpl>> parts)
    : TransformImpl(dim), parts_(std::move(parts)) {
  for (size_t k = 0; k < parts_.size(); ++k) {
    TORCH_CHECK(parts_[k] != nullptr, "composed transform: part ", k, " is missing");
    TORCH_CHECK(parts_[k]->dim() == dim, "composed transform: part ", k, " (", parts_[k]->describe(), ") has dim ",
                parts_[k]->dim(), ", the chain ", dim);
    register_module(std::to_string(k), parts_[k]);
  }
}

std::pair<Tensor, Tensor> ComposedImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, 0, "x");
  Tensor y = x, logdet;
  for (auto& part : parts_) {
    auto [out, ld] = part->forward(y, context);
    y = out;
    logdet = logdet.defined() ? logdet + ld : ld;
  }
  if (!logdet.defined()) logdet = torch::zeros({x.size(0)}, x.options());
  return {y, logdet};
}

std::pair<Tensor, Tensor> ComposedImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, 0, "y");
  Tensor x = y, logdet;
  for (auto it = parts_.rbegin(); it != parts_.rend(); ++it) {
    auto [out, ld] = (*it)->inverse(x, context);
    x = out;
    logdet = logdet.defined() ? logdet + ld : ld;
  }
  if (!logdet.defined()) logdet = torch::zeros({y.size(0)}, y.options());
  return {x, logdet};
}

Tensor ComposedImpl::draw_inverse(const Tensor& y, const Tensor& context, at::Generator& gen) {
  check_input(y, context, 0, "y");
  Tensor x = y;
  for (auto it = parts_.rbegin(); it != parts_.rend(); ++it) x = (*it)->draw_inverse(x, context, gen);
  return x;
}

void ComposedImpl::reset_parameters(at::Generator& gen) {
  for (auto& part : parts_) part->reset_parameters(gen);
}

std::string ComposedImpl::describe() const {
  std::string out = "chain of " + std::to_string(parts_.size()) + " transforms";
  for (size_t k = 0; k < parts_.size(); ++k) out += (k == 0 ? ": " : ", ") + parts_[k]->describe();
  return out;
}

}  // namespace amortized
