// The registry of benchmark simulators and the seeded, threaded simulate().
#include "benchmark.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace amortized {

namespace {

// SplitMix64: decorrelated stream seeds from (seed, chunk).
uint64_t mix_seed(uint64_t seed, uint64_t chunk) {
  uint64_t state = seed + 0x9E3779B97F4A7C15ULL * chunk;
  return detail::splitmix64(state);
}

}  // namespace

std::vector<std::string> benchmark_simulator_names() {
  return {"gaussian_linear", "two_moons", "slcp", "gaussian_mixture", "inverse_kinematics",
          "bernoulli_glm", "sir", "lotka_volterra", "ddm"};
}

std::unique_ptr<Simulator> make_benchmark_simulator(const std::string& name,
                                                    const BenchmarkOptions& options) {
  if (auto sim = benchmarks::make_analytic(name)) return sim;
  if (name == "bernoulli_glm") return benchmarks::make_bernoulli_glm(options.design);
  if (name == "sir") return benchmarks::make_sir();
  if (name == "lotka_volterra") return benchmarks::make_lotka_volterra();
  if (name == "ddm") return benchmarks::make_ddm(options.n_obs);
  std::string known;
  for (const auto& k : benchmark_simulator_names()) known += (known.empty() ? "" : ", ") + k;
  throw std::invalid_argument("unknown benchmark simulator \"" + name + "\"; available: " + known);
}

namespace {

// Copies a row-major block of rows [start, start + len) of an [n, shape...]
// array into column-major storage.
void scatter_column_major(const double* block, int64_t start, int64_t len, int64_t n,
                          const std::vector<int64_t>& shape, double* out) {
  int64_t width = 1;
  for (int64_t s : shape) width *= s;
  // position of each flat row-major index f within one data set, column-major
  std::vector<int64_t> offset(static_cast<size_t>(width));
  std::vector<int64_t> index(shape.size());
  for (int64_t f = 0; f < width; ++f) {
    int64_t rest = f, col = 0, stride = 1;
    for (int64_t a = static_cast<int64_t>(shape.size()) - 1; a >= 0; --a) {
      index[a] = rest % shape[a];
      rest /= shape[a];
    }
    for (size_t a = 0; a < shape.size(); ++a) {
      col += index[a] * stride;
      stride *= shape[a];
    }
    offset[f] = col * n;
  }
  // one output column at a time: contiguous writes
  for (int64_t f = 0; f < width; ++f) {
    double* column = out + start + offset[f];
    int64_t r = 0;
#if defined(__SSE2__)
    // Streaming stores where the output is larger than the caches: writing
    // around them saves reading each line in first.
    if (n >= benchmarks::kStreamRows) {
      if (reinterpret_cast<uintptr_t>(column) % 16 != 0) {
        column[0] = block[f];
        r = 1;
      }
      for (; r + 2 <= len; r += 2)
        _mm_stream_pd(column + r, _mm_set_pd(block[(r + 1) * width + f], block[r * width + f]));
    }
#endif
    for (; r < len; ++r) column[r] = block[r * width + f];
  }
}

// Whether all n values are finite: x * 0 is 0 for a finite x and NaN for
// an infinite or NaN one, summed in 2-lane vectors (one SSE2 register each).
bool all_finite(const double* v, int64_t n) {
  typedef double V2 __attribute__((vector_size(16)));
  V2 a0 = {}, a1 = {}, a2 = {}, a3 = {};  // named: -O2 keeps them in registers
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    V2 d0, d1, d2, d3;
    std::memcpy(&d0, v + i, sizeof d0);
    std::memcpy(&d1, v + i + 2, sizeof d1);
    std::memcpy(&d2, v + i + 4, sizeof d2);
    std::memcpy(&d3, v + i + 6, sizeof d3);
    a0 += d0 * 0.0;
    a1 += d1 * 0.0;
    a2 += d2 * 0.0;
    a3 += d3 * 0.0;
  }
  const V2 total = (a0 + a1) + (a2 + a3);
  double sum = total[0] + total[1];
  for (; i < n; ++i) sum += v[i] * 0.0;
  return sum == 0.0;
}

}  // namespace

void simulate_to(const Simulator& sim, int64_t n, uint64_t seed, int threads, double* theta, double* x,
                 bool column_major, bool theta_given, std::vector<int64_t>* nonfinite_rows,
                 const std::function<bool()>& should_stop) {
  if (n < 1) throw std::invalid_argument("the number of simulations must be >= 1");
  if (threads < 1) throw std::invalid_argument("the number of threads must be >= 1");
  const int64_t dt = sim.dim_theta(), dx = sim.dim_x();
  const std::vector<int64_t> theta_shape = {dt}, x_shape = sim.data_shape();
  const int64_t chunk = sim.chunk_size();
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  std::atomic<int64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex found_mutex;
  auto worker = [&]() {
    std::vector<double> tb, xb;  // row-major chunk buffers for column-major output
    std::vector<int64_t> found;  // rows with non-finite values
    for (int64_t c = next++; c < n_chunks && !stop.load(std::memory_order_relaxed); c = next++) {
      const int64_t start = c * chunk, len = std::min(chunk, n - start);
      Rng rng(mix_seed(seed, static_cast<uint64_t>(c)));
      double* t = theta + start * dt;
      double* xs = x + start * dx;
      bool finite = true;
      if (column_major && !theta_given && x_shape.size() == 1 &&
          sim.simulate_columns(len, rng, theta + start, x + start, n, &finite)) {
        if (nonfinite_rows && !finite) {  // rare: find the rows
          for (int64_t r = start; r < start + len; ++r) {
            bool ok = true;
            for (int64_t j = 0; j < dt; ++j) ok = ok && std::isfinite(theta[r + n * j]);
            for (int64_t k = 0; k < dx; ++k) ok = ok && std::isfinite(x[r + n * k]);
            if (!ok) found.push_back(r);
          }
        }
        continue;
      }
      if (column_major) {
        tb.resize(static_cast<size_t>(len * dt));
        xb.resize(static_cast<size_t>(len * dx));
        t = tb.data();
        xs = xb.data();
      }
      if (!theta_given) {
        sim.sample_prior(len, rng, t);
      } else if (column_major) {  // gather the chunk's rows of the [n, dim_theta] matrix
        for (int64_t r = 0; r < len; ++r)
          for (int64_t j = 0; j < dt; ++j) t[r * dt + j] = theta[start + r + n * j];
      }
      sim.simulate(len, t, rng, xs);
      // rows with non-finite values, found while the chunk is in cache
      if (nonfinite_rows && !(all_finite(t, len * dt) && all_finite(xs, len * dx))) {
        for (int64_t r = 0; r < len; ++r)
          if (!all_finite(t + r * dt, dt) || !all_finite(xs + r * dx, dx)) found.push_back(start + r);
      }
      if (column_major) {
        if (!theta_given) scatter_column_major(t, start, len, n, theta_shape, theta);
        scatter_column_major(xs, start, len, n, x_shape, x);
      }
    }
#if defined(__SSE2__)
    _mm_sfence();  // the streaming stores are visible before the thread is joined
#endif
    if (nonfinite_rows && !found.empty()) {
      std::lock_guard<std::mutex> lock(found_mutex);
      nonfinite_rows->insert(nonfinite_rows->end(), found.begin(), found.end());
    }
  };
  const int64_t used = std::min<int64_t>(threads, n_chunks);
  std::vector<std::thread> pool;
  if (should_stop) {  // all chunks on workers; this thread polls should_stop (it may be R's)
    int64_t running = used;
    std::mutex m;
    std::condition_variable finished;
    for (int64_t t = 0; t < used; ++t) pool.emplace_back([&]() {
      worker();
      std::lock_guard<std::mutex> lock(m);
      if (--running == 0) finished.notify_one();
    });
    std::unique_lock<std::mutex> lock(m);
    while (!finished.wait_for(lock, std::chrono::milliseconds(20), [&] { return running == 0; })) {
      lock.unlock();
      if (!stop.load() && should_stop()) stop.store(true);
      lock.lock();
    }
  } else {
    for (int64_t t = 1; t < used; ++t) pool.emplace_back(worker);
    worker();
  }
  for (auto& th : pool) th.join();
  if (stop.load()) throw SimulationInterrupted();
  if (nonfinite_rows) std::sort(nonfinite_rows->begin(), nonfinite_rows->end());
}

Simulations simulate(const Simulator& sim, int64_t n, uint64_t seed, int threads) {
  Simulations out;
  out.n = n;
  if (n >= 1) {
    out.theta.resize(static_cast<size_t>(n * sim.dim_theta()));
    out.x.resize(static_cast<size_t>(n * sim.dim_x()));
  }
  simulate_to(sim, n, seed, threads, out.theta.data(), out.x.data(), false);
  return out;
}

}  // namespace amortized
