// structure/: what is known about a model beyond its simulations, as the
// estimators use it (equivariances and the symmetry group they generate;
// truncation to the prior's support). This file: equivariances,
// transformations of the parameters together with the data that leave
// their joint distribution unchanged. R-free and torch-free.
#pragma once

#include <cstdint>
#include <vector>

namespace amortized {

// A transformation g of the parameters together with the data that leaves
// their joint distribution (prior times likelihood) unchanged, so that the
// posterior is equivariant: p(g theta | g x) = p(theta | x). slcp: flipping
// the sign of the points' first coordinate flips theta_1 and theta_5;
// swapping the coordinates swaps theta_1 with theta_2 and theta_3 with
// theta_4. Both parts are signed permutations, 1-based: entry i = +-j means
// that component i of the transformed vector is +-component j of the
// original.
struct Equivariance {
  std::vector<int64_t> theta;  // one entry per parameter
  // The data values (flat data), or each point's variables (set and
  // time-series data, flat sets included).
  std::vector<int64_t> x;
};

}  // namespace amortized
