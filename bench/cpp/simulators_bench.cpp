// Simulations per second of the C++ benchmark simulators in the core alone
// (no R): ./build/cmake/simulators_bench [n] [threads]
#include "amortized/simulators/simulator.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 2000000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  for (const auto& name : amortized::benchmark_simulator_names()) {
    if (name == "bernoulli_glm") continue;  // needs its design matrix
    auto sim = amortized::make_benchmark_simulator(name);
    const int64_t m = (name == "sir" || name == "lotka_volterra") ? n / 20 : name == "ddm" ? n / 1000 : n;
    const auto start = std::chrono::steady_clock::now();
    auto s = amortized::simulate(*sim, m, 1, threads);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-20s %12.3g sims/s (%d thread%s)\n", name.c_str(), m / secs, threads, threads > 1 ? "s" : "");
  }
  return 0;
}
