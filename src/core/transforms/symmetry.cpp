// The maps of symmetric parameters: a rotation onto mirror normals and the
// fold of signs.
#include "amortized/transforms/rotation.h"
#include "amortized/transforms/sign_fold.h"

#include <cmath>
#include <limits>

namespace amortized {

RotationImpl::RotationImpl(int64_t dim, const std::vector<double>& q) : TransformImpl(dim) {
  TORCH_CHECK(static_cast<int64_t>(q.size()) == dim * dim, "rotation must be a ", dim, " x ", dim, " matrix (",
              dim * dim, " values), got ", q.size(), " values");
  q_ = torch::tensor(q, torch::kDouble).reshape({dim, dim});
  const double err = (q_.mm(q_.t()) - torch::eye(dim, torch::kDouble)).abs().max().item<double>();
  TORCH_CHECK(err < 1e-6, "rotation must be orthogonal (Q Q' = I), but Q Q' - I has an entry of ", err);
}

std::pair<Tensor, Tensor> RotationImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, 0, "x");
  return {x.mm(q_.t().to(x.device(), x.scalar_type())), torch::zeros({x.size(0)}, x.options())};
}

std::pair<Tensor, Tensor> RotationImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, 0, "y");
  return {y.mm(q_.to(y.device(), y.scalar_type())), torch::zeros({y.size(0)}, y.options())};
}

std::string RotationImpl::describe() const { return "rotation (" + std::to_string(dim()) + " x " + std::to_string(dim()) + ")"; }

SignFoldImpl::SignFoldImpl(int64_t dim, std::vector<int64_t> indices) : TransformImpl(dim), indices_(std::move(indices)) {
  std::vector<bool> seen(dim, false);
  for (int64_t i : indices_) {
    TORCH_CHECK(i >= 0 && i < dim, "symmetric: parameter index ", i, " is outside 0..", dim - 1);
    TORCH_CHECK(!seen[i], "symmetric: parameter index ", i, " is given twice");
    seen[i] = true;
  }
}

std::pair<Tensor, Tensor> SignFoldImpl::forward(const Tensor& x, const Tensor& context) {
  check_input(x, context, 0, "x");
  Tensor ld = torch::zeros({x.size(0)}, x.options());
  if (indices_.empty()) return {x, ld};
  Tensor idx = torch::tensor(indices_, torch::kLong).to(x.device());
  const double tiny = x.scalar_type() == torch::kDouble ? std::numeric_limits<double>::min()
                                                        : std::numeric_limits<float>::min();
  return {x.index_copy(1, idx, x.index_select(1, idx).abs().clamp_min(tiny)), ld};
}

std::pair<Tensor, Tensor> SignFoldImpl::inverse(const Tensor& y, const Tensor& context) {
  check_input(y, context, 0, "y");
  return {y, torch::zeros({y.size(0)}, y.options())};
}

Tensor SignFoldImpl::draw_inverse(const Tensor& y, const Tensor& context, at::Generator& gen) {
  check_input(y, context, 0, "y");
  if (indices_.empty()) return y;
  const int64_t k = static_cast<int64_t>(indices_.size());
  Tensor idx = torch::tensor(indices_, torch::kLong).to(y.device());
  Tensor signs = torch::randint(0, 2, {y.size(0), k}, gen, torch::TensorOptions().dtype(y.scalar_type()))
                     .mul_(2)
                     .sub_(1)
                     .to(y.device());
  return y.index_copy(1, idx, y.index_select(1, idx) * signs);
}

std::string SignFoldImpl::describe() const {
  return "sign fold of " + std::to_string(indices_.size()) + " coordinate" + (indices_.size() == 1 ? "" : "s");
}

double SignFoldImpl::log_density_shift() const { return -std::log(2.0) * static_cast<double>(indices_.size()); }

}  // namespace amortized
