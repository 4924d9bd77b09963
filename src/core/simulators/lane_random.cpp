// The SIMD kernels of lane_random.h that are not inlined into simulators.
#include "lane_random.h"

#include "../lanes.h"

namespace amortized {
namespace benchmarks {
namespace random_lanes {

AMORTIZED_ALWAYS_INLINE void fill_normals_kernel(LaneRng& rng, double* out, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const D z = rng.normal();
    std::memcpy(out + i, &z, sizeof z);
  }
  if (i < n) {
    const D z = rng.normal();
    std::memcpy(out + i, &z, sizeof(double) * static_cast<size_t>(n - i));
  }
}
AMORTIZED_SIMD_KERNEL(void, fill_normals, (LaneRng & rng, double* out, int64_t n), (rng, out, n))

}  // namespace random_lanes
}  // namespace benchmarks
}  // namespace amortized
