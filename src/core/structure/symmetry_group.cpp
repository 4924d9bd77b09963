// The symmetry group of declared equivariances (amortized/structure/).
#include "amortized/structure/symmetry_group.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace amortized {

namespace {

using SignedPerm = std::vector<int64_t>;

void check_signed_permutation(const SignedPerm& p, size_t size, const std::string& what, size_t k) {
  TORCH_CHECK(p.size() == size, "equivariance ", k + 1, ": ", what, " needs ", size, " entries, got ", p.size());
  std::vector<bool> seen(size, false);
  for (int64_t v : p) {
    const int64_t j = v < 0 ? -v : v;
    TORCH_CHECK(j >= 1 && j <= static_cast<int64_t>(size) && !seen[j - 1], "equivariance ", k + 1, ": ", what,
                " must be a signed permutation of 1..", size, " (each index once, any sign)");
    seen[j - 1] = true;
  }
}

// a after b: (a o b)_i = sign(a_i) b_|a_i|.
SignedPerm compose(const SignedPerm& a, const SignedPerm& b) {
  SignedPerm out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] < 0 ? -b[-a[i] - 1] : b[a[i] - 1];
  return out;
}

}  // namespace

SymmetryGroup::SymmetryGroup(const std::vector<Equivariance>& gens, int64_t dim_theta, int64_t points,
                             int64_t dim_point) {
  if (gens.empty()) return;
  const size_t dt = static_cast<size_t>(dim_theta);
  const size_t dx = static_cast<size_t>(dim_point);
  for (size_t k = 0; k < gens.size(); ++k) {
    check_signed_permutation(gens[k].theta, dt, "theta", k);
    check_signed_permutation(gens[k].x, dx, "x", k);
  }
  // the closure: every product of generators, found breadth first
  using Element = std::pair<SignedPerm, SignedPerm>;
  SignedPerm id_t(dt), id_x(dx);
  std::iota(id_t.begin(), id_t.end(), 1);
  std::iota(id_x.begin(), id_x.end(), 1);
  std::vector<Element> group{{id_t, id_x}};
  for (size_t next = 0; next < group.size(); ++next) {
    for (const auto& g : gens) {
      Element e{compose(g.theta, group[next].first), compose(g.x, group[next].second)};
      if (std::find(group.begin(), group.end(), e) != group.end()) continue;
      TORCH_CHECK(group.size() < 10000, "the equivariances generate a group of more than 10000 elements");
      group.push_back(std::move(e));
    }
  }
  // gather tables; several points: each point's variables permuted alike
  const int64_t g_n = static_cast<int64_t>(group.size());
  std::vector<int64_t> ti, xi;
  std::vector<double> ts, xs;
  for (const auto& [t, x] : group) {
    for (int64_t v : t) {
      ti.push_back((v < 0 ? -v : v) - 1);
      ts.push_back(v < 0 ? -1.0 : 1.0);
    }
    for (int64_t p = 0; p < points; ++p) {
      for (int64_t v : x) {
        xi.push_back(p * static_cast<int64_t>(dx) + (v < 0 ? -v : v) - 1);
        xs.push_back(v < 0 ? -1.0 : 1.0);
      }
    }
  }
  theta_index_ = torch::tensor(ti, torch::kLong).reshape({g_n, -1});
  theta_sign_ = torch::tensor(ts, torch::kDouble).reshape({g_n, -1});
  x_index_ = torch::tensor(xi, torch::kLong).reshape({g_n, -1});
  x_sign_ = torch::tensor(xs, torch::kDouble).reshape({g_n, -1});
}

namespace {

// The elements as CPU indices, checked.
Tensor element_index(const Tensor& elements, int64_t size) {
  const Tensor e = elements.to(torch::kCPU, torch::kLong);
  TORCH_CHECK(e.numel() == 0 || (e.min().item<int64_t>() >= 0 && e.max().item<int64_t>() < size),
              "group elements must be in 0..", size - 1);
  return e;
}

}  // namespace

Tensor SymmetryGroup::transform_theta(const Tensor& theta, const Tensor& elements) const {
  if (size() == 1) return theta;
  const Tensor e = element_index(elements, size());
  Tensor idx = theta_index_.index_select(0, e).to(theta.device());
  Tensor sign = theta_sign_.index_select(0, e).to(theta.device(), theta.scalar_type());
  return theta.gather(1, idx) * sign;
}

Tensor SymmetryGroup::untransform_theta(const Tensor& theta, const Tensor& elements) const {
  if (size() == 1) return theta;
  const Tensor e = element_index(elements, size());
  Tensor idx = theta_index_.index_select(0, e).to(theta.device());
  Tensor sign = theta_sign_.index_select(0, e).to(theta.device(), theta.scalar_type());
  return torch::zeros_like(theta).scatter(1, idx, theta * sign);  // signs are +-1: their own inverses
}

Tensor SymmetryGroup::transform_x(const Tensor& x, const Tensor& elements) const {
  if (size() == 1) return x;
  const Tensor e = element_index(elements, size());
  Tensor xi = x_index_.index_select(0, e).to(x.device());
  Tensor xs = x_sign_.index_select(0, e).to(x.device(), x.scalar_type());
  if (x.dim() == 3) {  // [batch, n, dim_point]: every point alike
    xi = xi.unsqueeze(1).expand({-1, x.size(1), -1});
    xs = xs.unsqueeze(1);
  }
  return x.gather(x.dim() - 1, xi) * xs;
}

}  // namespace amortized
