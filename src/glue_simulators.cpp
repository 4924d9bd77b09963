// Rcpp glue for the C++ benchmark simulators (no LibTorch in this file).
#include <Rcpp.h>

#include "amortized/simulators/simulator.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#if defined(__linux__)
#include <sys/mman.h>
#endif

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
    Rcpp::NumericMatrix normals(static_cast<int>(mirrors.size()), static_cast<int>(sim->dim_theta()));
    for (size_t k = 0; k < mirrors.size(); ++k)
      for (size_t j = 0; j < mirrors[k].size(); ++j) normals(k, j) = mirrors[k][j];
    Rcpp::List equivariances;
    for (const auto& e : sim->equivariances()) {
      equivariances.push_back(Rcpp::List::create(Rcpp::Named("theta") = std::vector<double>(e.theta.begin(), e.theta.end()),
                                                 Rcpp::Named("x") = std::vector<double>(e.x.begin(), e.x.end())));
    }
    return Rcpp::List::create(Rcpp::Named("parameter_names") = sim->parameter_names(),
                              Rcpp::Named("data_names") = sim->data_names(),
                              Rcpp::Named("data_shape") = shape,
                              Rcpp::Named("set_structure") = std::vector<double>(set.begin(), set.end()),
                              Rcpp::Named("symmetric") = std::vector<double>(sym.begin(), sym.end()),
                              Rcpp::Named("lower") = support.lower, Rcpp::Named("upper") = support.upper,
                              Rcpp::Named("truncated") = std::vector<double>(cut.begin(), cut.end()),
                              Rcpp::Named("reflections") = normals, Rcpp::Named("equivariances") = equivariances);
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

namespace {

// The simulations as R objects: data with dims and names, and the 1-based
// rows with a non-finite value (so that R need not search them).
Rcpp::List simulations_to_r(const amortized::Simulator& sim, int n, Rcpp::NumericMatrix theta,
                            Rcpp::NumericVector x, const std::vector<int64_t>& nonfinite_rows) {
  Rcpp::colnames(theta) = Rcpp::wrap(sim.parameter_names());
  Rcpp::IntegerVector dim = Rcpp::IntegerVector::create(n);
  Rcpp::List dimnames = Rcpp::List::create(R_NilValue);
  for (int64_t s : sim.data_shape()) {
    dim.push_back(static_cast<int>(s));
    dimnames.push_back(R_NilValue);
  }
  dimnames[dimnames.size() - 1] = Rcpp::wrap(sim.data_names());
  x.attr("dim") = dim;
  x.attr("dimnames") = dimnames;
  Rcpp::IntegerVector bad_rows(nonfinite_rows.size());
  for (size_t i = 0; i < nonfinite_rows.size(); ++i) bad_rows[i] = static_cast<int>(nonfinite_rows[i] + 1);
  return Rcpp::List::create(Rcpp::Named("parameters") = theta, Rcpp::Named("data") = x,
                            Rcpp::Named("nonfinite_rows") = bad_rows);
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
    Rcpp::NumericMatrix t = Rcpp::clone(theta);
    Rcpp::NumericVector x(Rcpp::no_init(static_cast<R_xlen_t>(n) * sim->dim_x()));
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
    Rcpp::NumericMatrix theta(Rcpp::no_init(n, static_cast<int>(sim->dim_theta())));
    Rcpp::NumericVector x(Rcpp::no_init(static_cast<R_xlen_t>(n) * sim->dim_x()));
    advise_huge_pages(theta.begin(), theta.size());
    advise_huge_pages(x.begin(), x.size());
    std::vector<int64_t> bad;
    amortized::simulate_to(*sim, n, static_cast<uint64_t>(seed), threads, theta.begin(), x.begin(), true, false,
                           &bad);
    return simulations_to_r(*sim, n, theta, x, bad);
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

// [[Rcpp::export(.amz_is_null_pointer)]]
bool amz_is_null_pointer(SEXP ptr) {
  return TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrAddr(ptr) == nullptr;
}
