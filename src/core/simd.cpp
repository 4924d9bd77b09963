// Which SIMD clone of the kernels runs (amortized/simd.h).
#include "amortized/simd.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace amortized {

namespace {

SimdLevel detect() {
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) && defined(__linux__)
  __builtin_cpu_init();
  const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
                  __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("movbe") && __builtin_cpu_supports("f16c");
  const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vl");
  return v4 ? SimdLevel::kAvx512 : v3 ? SimdLevel::kAvx2 : SimdLevel::kBaseline;
#else
  return SimdLevel::kBaseline;
#endif
}

SimdLevel from_environment() {
  SimdLevel level = cpu_simd_level();
  const char* name = std::getenv("AMORTIZED_SIMD");
  SimdLevel asked;
  if (name != nullptr && parse_simd_level(name, &asked)) level = std::min(level, asked);
  return level;
}

std::atomic<int>& current() {
  static std::atomic<int> level(static_cast<int>(from_environment()));
  return level;
}

}  // namespace

SimdLevel cpu_simd_level() {
  static const SimdLevel level = detect();
  return level;
}

SimdLevel simd_level() { return static_cast<SimdLevel>(current().load(std::memory_order_relaxed)); }

SimdLevel set_simd_level(SimdLevel level) {
  const SimdLevel capped = std::min(level, cpu_simd_level());
  current().store(static_cast<int>(capped));
  return capped;
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return "avx512";
    case SimdLevel::kAvx2: return "avx2";
    default: return "baseline";
  }
}

bool parse_simd_level(const char* name, SimdLevel* level) {
  for (SimdLevel l : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (std::strcmp(name, simd_level_name(l)) == 0) {
      *level = l;
      return true;
    }
  }
  return false;
}

}  // namespace amortized
