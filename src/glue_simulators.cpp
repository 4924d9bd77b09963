// Rcpp glue for the C++ benchmark simulators and the process-wide settings
// (SIMD level, malloc thresholds); no LibTorch in this file.
#include "glue/r.h"

#include "amortized/simd.h"
#include "amortized/simulators/simulator.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

using amortized_glue::r_array;
using amortized_glue::r_safe;

namespace {

// Asks Linux to back the 2 MiB-aligned part of a large fresh R vector with
// huge pages (where transparent huge pages are on "madvise"): the first
// writes then fault once per 2 MiB instead of once per 4 KiB, which
// otherwise costs more than simulating the cheapest models. Advisory only.
void advise_huge_pages(double* p, R_xlen_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{1} << 21;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(p + n) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

std::unique_ptr<amortized::Simulator> make(const std::string& name, int n_obs, const Rcpp::NumericMatrix& design) {
  amortized::BenchmarkOptions options;
  options.n_obs = n_obs;
  for (int i = 0; i < design.nrow(); ++i)  // row-major
    for (int j = 0; j < design.ncol(); ++j) options.design.push_back(design(i, j));
  return amortized::make_benchmark_simulator(name, options);
}

}  // namespace

// The SIMD level in force (AMORTIZED_SIMD may lower it) and the best this CPU has.
// [[Rcpp::export(.amz_simd_level)]]
Rcpp::CharacterVector amz_simd_level() {
  return Rcpp::CharacterVector::create(Rcpp::Named("in_force") = amortized::simd_level_name(amortized::simd_level()),
                                       Rcpp::Named("cpu") = amortized::simd_level_name(amortized::cpu_simd_level()));
}

// glibc's malloc maps each block above its mmap threshold afresh and gives
// the top of the heap back to the system above its trim threshold. LibTorch
// allocates every tensor anew, so a training step of a summary network
// (activations of a few MB) spent about a third of its time zero-filling
// fresh pages. Raises both thresholds (32 MiB, the largest the dynamic
// threshold reaches, and 256 MiB); false where the C library is not glibc.
// [[Rcpp::export(.amz_tune_malloc)]]
bool amz_tune_malloc() {
#if defined(__GLIBC__)
  return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 256 << 20) == 1;
#else
  return false;
#endif
}

// Gives freed memory at the top of the heap back to the system (glibc).
// [[Rcpp::export(.amz_release_memory)]]
void amz_release_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

// [[Rcpp::export(.amz_benchmark_names)]]
std::vector<std::string> amz_benchmark_names() { return amortized::benchmark_simulator_names(); }

// [[Rcpp::export(.amz_benchmark_info)]]
Rcpp::List amz_benchmark_info(std::string name, int n_obs, Rcpp::NumericMatrix design) {
  try {
    auto sim = make(name, n_obs, design);
    const auto dims = sim->data_shape();
    std::vector<double> shape(dims.begin(), dims.end());
    const auto set = sim->set_structure();
    const auto sym = sim->symmetric_parameters();
    const auto support = sim->prior_support();
    const auto cut = sim->truncated_parameters();
    const auto mirrors = sim->reflections();
    const auto group = sim->equivariances();
    const auto parameter_names = sim->parameter_names(), data_names = sim->data_names();
    const int dim_theta = static_cast<int>(sim->dim_theta());
    return r_safe([&] {
      Rcpp::NumericMatrix normals(static_cast<int>(mirrors.size()), dim_theta);
      for (size_t k = 0; k < mirrors.size(); ++k)
        for (size_t j = 0; j < mirrors[k].size(); ++j) normals(k, j) = mirrors[k][j];
      Rcpp::List equivariances(group.size());
      for (size_t k = 0; k < group.size(); ++k) {
        equivariances[k] = Rcpp::List::create(
            Rcpp::Named("theta") = std::vector<double>(group[k].theta.begin(), group[k].theta.end()),
            Rcpp::Named("x") = std::vector<double>(group[k].x.begin(), group[k].x.end()));
      }
      return Rcpp::List::create(Rcpp::Named("parameter_names") = parameter_names,
                                Rcpp::Named("data_names") = data_names, Rcpp::Named("data_shape") = shape,
                                Rcpp::Named("set_structure") = std::vector<double>(set.begin(), set.end()),
                                Rcpp::Named("symmetric") = std::vector<double>(sym.begin(), sym.end()),
                                Rcpp::Named("lower") = support.lower, Rcpp::Named("upper") = support.upper,
                                Rcpp::Named("truncated") = std::vector<double>(cut.begin(), cut.end()),
                                Rcpp::Named("reflections") = normals, Rcpp::Named("equivariances") = equivariances);
    });
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

namespace {

// The simulations as R objects: data with dims and names, and the 1-based
// rows with a non-finite value (so that R need not search them).
Rcpp::List simulations_to_r(const amortized::Simulator& sim, int n, Rcpp::NumericMatrix theta,
                            Rcpp::NumericVector x, const std::vector<int64_t>& nonfinite_rows) {
  const auto parameter_names = sim.parameter_names(), data_names = sim.data_names();
  const auto shape = sim.data_shape();
  return r_safe([&] {
    Rcpp::colnames(theta) = Rcpp::wrap(parameter_names);
    Rcpp::IntegerVector dim(shape.size() + 1);
    dim[0] = n;
    for (size_t k = 0; k < shape.size(); ++k) dim[k + 1] = static_cast<int>(shape[k]);
    Rcpp::List dimnames(shape.size() + 1);
    dimnames[shape.size()] = Rcpp::wrap(data_names);
    x.attr("dim") = dim;
    x.attr("dimnames") = dimnames;
    Rcpp::IntegerVector bad_rows(nonfinite_rows.size());
    for (size_t i = 0; i < nonfinite_rows.size(); ++i) bad_rows[i] = static_cast<int>(nonfinite_rows[i] + 1);
    return Rcpp::List::create(Rcpp::Named("parameters") = theta, Rcpp::Named("data") = x,
                              Rcpp::Named("nonfinite_rows") = bad_rows);
  });
}

}  // namespace

// Data simulated for given parameters (an n x dim_theta matrix), e.g. for
// posterior predictive checks.
// [[Rcpp::export(.amz_benchmark_simulate_given)]]
Rcpp::List amz_benchmark_simulate_given(std::string name, Rcpp::NumericMatrix theta, double seed, int threads,
                                        int n_obs, Rcpp::NumericMatrix design) {
  try {
    auto sim = make(name, n_obs, design);
    const int n = theta.nrow();
    if (theta.ncol() != sim->dim_theta()) {
      Rcpp::stop("theta must have %d columns for %s, got %d", static_cast<int>(sim->dim_theta()), name,
                 theta.ncol());
    }
    Rcpp::NumericMatrix t(r_safe([&] { return Rf_duplicate(theta); }));
    Rcpp::NumericVector x(r_array<REALSXP>({int64_t{n} * sim->dim_x()}, "the data"));
    std::vector<int64_t> bad;
    amortized::simulate_to(*sim, n, static_cast<uint64_t>(seed), threads, t.begin(), x.begin(), true, true, &bad);
    return simulations_to_r(*sim, n, t, x, bad);
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

// [[Rcpp::export(.amz_benchmark_simulate)]]
Rcpp::List amz_benchmark_simulate(std::string name, int n, double seed, int threads, int n_obs,
                                  Rcpp::NumericMatrix design) {
  try {
    auto sim = make(name, n_obs, design);
    Rcpp::NumericMatrix theta(r_array<REALSXP>({n, sim->dim_theta()}, "the parameters"));
    Rcpp::NumericVector x(r_array<REALSXP>({int64_t{n} * sim->dim_x()}, "the data"));
    advise_huge_pages(theta.begin(), theta.size());
    advise_huge_pages(x.begin(), x.size());
    std::vector<int64_t> bad;
    // large runs answer Ctrl-C (this thread polls while workers simulate)
    const bool large = n >= 16 * sim->chunk_size();
    amortized::simulate_to(*sim, n, static_cast<uint64_t>(seed), threads, theta.begin(), x.begin(), true, false,
                           &bad, large ? std::function<bool()>(amortized_glue::user_interrupted) : nullptr);
    return simulations_to_r(*sim, n, theta, x, bad);
  } catch (const amortized::SimulationInterrupted&) {
    throw Rcpp::internal::InterruptedException();
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

namespace {

// The values of an R matrix row after row, as the simulators take them.
std::vector<double> row_major(const Rcpp::NumericMatrix& m) {
  const int64_t n = m.nrow(), d = m.ncol();
  std::vector<double> out(n * d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) out[i * d + j] = m[i + n * j];
  return out;
}

}  // namespace

// The prior's log density at each row of theta (an n x dim_theta matrix).
// [[Rcpp::export(.amz_benchmark_log_prior)]]
Rcpp::NumericVector amz_benchmark_log_prior(std::string name, Rcpp::NumericMatrix theta, int n_obs,
                                            Rcpp::NumericMatrix design) {
  try {
    auto sim = make(name, n_obs, design);
    const int64_t n = theta.nrow(), d = sim->dim_theta();
    if (theta.ncol() != d) {
      Rcpp::stop("theta must have %d columns for %s, got %d", static_cast<int>(d), name, theta.ncol());
    }
    const std::vector<double> rows = row_major(theta);
    std::vector<double> out(n);
    sim->log_prior(n, rows.data(), out.data());
    return r_safe([&] { return Rcpp::wrap(out); });
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

// The exact log likelihood of each row of x (n x dim_x) under the same row
// of theta (n x dim_theta), for the tasks where it is tractable; an error
// for the others.
// [[Rcpp::export(.amz_benchmark_log_likelihood)]]
Rcpp::NumericVector amz_benchmark_log_likelihood(std::string name, Rcpp::NumericMatrix theta, Rcpp::NumericMatrix x,
                                                 int n_obs, Rcpp::NumericMatrix design) {
  try {
    auto sim = make(name, n_obs, design);
    const int64_t n = theta.nrow(), d = sim->dim_theta(), dx = sim->dim_x();
    if (theta.ncol() != d || x.ncol() != dx || x.nrow() != n) {
      Rcpp::stop("theta and x must be %d x %d and %d x %d for %s", static_cast<int>(n), static_cast<int>(d),
                 static_cast<int>(n), static_cast<int>(dx), name);
    }
    const std::vector<double> rows = row_major(theta), data = row_major(x);
    std::vector<double> out(n);
    if (!sim->log_likelihood(n, rows.data(), data.data(), out.data())) {
      Rcpp::stop("%s has no tractable likelihood", name);
    }
    return r_safe([&] { return Rcpp::wrap(out); });
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

// n prior draws (an n x dim_theta matrix with the parameter names).
// [[Rcpp::export(.amz_benchmark_prior)]]
Rcpp::NumericMatrix amz_benchmark_prior(std::string name, int n, double seed, int n_obs, Rcpp::NumericMatrix design) {
  try {
    auto sim = make(name, n_obs, design);
    const int64_t d = sim->dim_theta();
    std::vector<double> rows(static_cast<int64_t>(n) * d);
    amortized::Rng rng(static_cast<uint64_t>(seed));
    sim->sample_prior(n, rng, rows.data());
    const auto names = sim->parameter_names();
    return r_safe([&] {
      Rcpp::NumericMatrix theta(n, static_cast<int>(d));
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < d; ++j) theta[i + int64_t{n} * j] = rows[i * d + j];
      Rcpp::colnames(theta) = Rcpp::wrap(names);
      return theta;
    });
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

// [[Rcpp::export(.amz_is_null_pointer)]]
bool amz_is_null_pointer(SEXP ptr) {
  return TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrAddr(ptr) == nullptr;
}
