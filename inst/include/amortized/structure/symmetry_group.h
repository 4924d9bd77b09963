// The group that equivariances generate (structure/equivariance.h): its
// elements as gather tables of theta and of the data, and the maps of theta
// and the data by chosen elements.
#pragma once

#include "amortized/common.h"
#include "amortized/structure/equivariance.h"

#include <vector>

namespace amortized {

class SymmetryGroup {
 public:
  // The trivial group (the identity alone).
  SymmetryGroup() = default;
  // The closure of `generators` (checked: signed permutations of the
  // dim_theta parameters and of each point's dim_point variables; at most
  // 10000 elements), identity first. The data hold `points` points of
  // dim_point variables one after the other (flat data: 1 point of dim_x),
  // or [batch, n, dim_point] with a summary network.
  SymmetryGroup(const std::vector<Equivariance>& generators, int64_t dim_theta, int64_t points, int64_t dim_point);

  int64_t size() const { return theta_index_.defined() ? theta_index_.size(0) : 1; }
  // theta [rows, dim_theta] with row i mapped by element elements[i].
  Tensor transform_theta(const Tensor& theta, const Tensor& elements) const;
  // theta with row i mapped back by the inverse of element elements[i].
  Tensor untransform_theta(const Tensor& theta, const Tensor& elements) const;
  // x ([rows, width] or [rows, n, dim_point]) with row i mapped by elements[i].
  Tensor transform_x(const Tensor& x, const Tensor& elements) const;

 private:
  Tensor theta_index_, theta_sign_, x_index_, x_sign_;  // [G, width]; undefined: the trivial group
};

}  // namespace amortized
