#include "amortized/transforms/permutation.h"

namespace amortized {

PermutationImpl::PermutationImpl(int64_t dim, bool random) : TransformImpl(dim), random_(random) {
  TORCH_CHECK(dim >= 1, "permutation needs dim >= 1, got ", dim);
  perm_ = register_buffer("perm", torch::arange(dim - 1, -1, -1, torch::kLong));
  inverse_perm_ = register_buffer("inverse_perm", torch::empty({dim}, torch::kLong));
  set(perm_.clone());
}

void PermutationImpl::set(const Tensor& perm) {
  torch::NoGradGuard no_grad;
  perm_.copy_(perm);
  inverse_perm_.copy_(torch::argsort(perm));
}

std::pair<Tensor, Tensor> PermutationImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, 0, "x");
  return {x.index_select(1, perm_.to(torch::kLong)), torch::zeros({x.size(0)}, x.options())};
}

std::pair<Tensor, Tensor> PermutationImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, 0, "y");
  return {y.index_select(1, inverse_perm_.to(torch::kLong)), torch::zeros({y.size(0)}, y.options())};
}

void PermutationImpl::reset_parameters(at::Generator& gen) {
  if (!random_) return;
  set(torch::randperm(dim(), gen, torch::kLong));
}

std::string PermutationImpl::describe() const {
  return "permutation (" + std::to_string(dim()) + ")";
}

}  // namespace amortized
