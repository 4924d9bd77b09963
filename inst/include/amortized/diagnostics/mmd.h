// Maximum mean discrepancy (MMD) between two samples, for two-sample tests
// (model misspecification: observed vs simulated data in summary space)
// and as a training penalty (summaries pulled toward a standard normal).
#pragma once

#include "amortized/common.h"

#include <string>
#include <vector>

namespace amortized {

// A characteristic kernel on R^d, normalized so that k(x, x) = 1: the mean
// over `bandwidths` h of
//   gaussian: exp(-|x - y|^2 / (2 h^2))
//   imq (inverse multiquadric): (1 + |x - y|^2 / h^2)^(-1/2)
struct MmdKernel {
  enum class Kind { Gaussian, InverseMultiquadric };
  Kind kind = Kind::Gaussian;
  std::vector<double> bandwidths{1.0};
  // "gaussian" or "imq" (anything else throws).
  static Kind parse(const std::string& name);
};

// The kernel evaluated on all pairs of rows: x [n, d], y [m, d] -> [n, m].
Tensor kernel_matrix(const Tensor& x, const Tensor& y, const MmdKernel& kernel);

// Sum of k(x_i, y_j) over all pairs, or over i != j when `skip_diagonal`
// (then x and y must be the same sample). Computed in blocks of rows, so
// memory stays bounded for large samples; differentiable (autograd) when
// gradients are enabled and an input requires them. Returns a scalar of
// x's dtype.
Tensor kernel_sum(const Tensor& x, const Tensor& y, const MmdKernel& kernel, bool skip_diagonal);

// The unbiased estimate of MMD^2 between the distributions of x [n, d] and
// y [m, d] (n, m >= 2): the mean of k over distinct pairs within x, plus
// that within y, minus twice the mean over pairs across. Near zero (and
// possibly negative) when both come from the same distribution.
Tensor mmd2(const Tensor& x, const Tensor& y, const MmdKernel& kernel);

// The median of the pairwise distances |a - b| among the rows of x and y
// together (at most `max_rows` rows, evenly spaced, when there are more):
// the median heuristic for the bandwidth. Falls back to the root mean
// squared distance when the median is 0, and to 1 when that is 0 too.
double median_distance(const Tensor& x, const Tensor& y, int64_t max_rows = 1000);

// The reference sample of a resampling test with its within-sample kernel
// mean (over distinct pairs), which is O(rows^2) and the same for the
// observed statistic and every null replicate: computed once.
struct MmdReference {
  Tensor sample;
  double within;
};
MmdReference mmd_reference(const Tensor& reference, const MmdKernel& kernel);

// The null distribution of a two-sample statistic by resampling: for each
// of n_null replicates, m rows drawn without replacement from `pool`
// (independent of `reference`) and the MMD^2 of those m rows against
// `reference`; with m = 1 the within-sample term is k(x, x) = 1 (the biased
// form; observed statistics must use mmd2_against() with the same m).
// The within-reference term is computed once. Returns [n_null] (float64).
Tensor mmd2_null(const Tensor& pool, const Tensor& reference, int64_t m, int64_t n_null, const MmdKernel& kernel,
                 at::Generator& gen);
Tensor mmd2_null(const Tensor& pool, const MmdReference& reference, int64_t m, int64_t n_null,
                 const MmdKernel& kernel, at::Generator& gen);

// The statistic of mmd2_null() for an observed sample x [m, d] against
// `reference`: unbiased MMD^2 for m >= 2, the biased within-x term for
// m = 1. Returns a float64 scalar.
double mmd2_against(const Tensor& x, const Tensor& reference, const MmdKernel& kernel);
double mmd2_against(const Tensor& x, const MmdReference& reference, const MmdKernel& kernel);

}  // namespace amortized
