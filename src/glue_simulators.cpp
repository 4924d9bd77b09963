// Rcpp glue for the C++ benchmark simulators (no LibTorch in this file).
#include <Rcpp.h>

#include "amortized/simulators/simulator.h"

#include <stdexcept>

namespace {

// Row-major [n, d] -> R matrix n x d with column names.
Rcpp::NumericMatrix to_matrix(const std::vector<double>& v, int64_t n,
                              const std::vector<std::string>& names) {
  const int64_t d = static_cast<int64_t>(names.size());
  Rcpp::NumericMatrix out(n, d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) out(i, j) = v[i * d + j];
  Rcpp::colnames(out) = Rcpp::wrap(names);
  return out;
}

}  // namespace

// [[Rcpp::export(.amz_benchmark_names)]]
std::vector<std::string> amz_benchmark_names() { return amortized::benchmark_simulator_names(); }

// [[Rcpp::export(.amz_benchmark_info)]]
Rcpp::List amz_benchmark_info(std::string name) {
  try {
    auto sim = amortized::make_benchmark_simulator(name);
    return Rcpp::List::create(Rcpp::Named("parameter_names") = sim->parameter_names(),
                              Rcpp::Named("data_names") = sim->data_names());
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

// [[Rcpp::export(.amz_benchmark_simulate)]]
Rcpp::List amz_benchmark_simulate(std::string name, int n, double seed, int threads) {
  try {
    auto sim = amortized::make_benchmark_simulator(name);
    auto s = amortized::simulate(*sim, n, static_cast<uint64_t>(seed), threads);
    return Rcpp::List::create(Rcpp::Named("parameters") = to_matrix(s.theta, n, sim->parameter_names()),
                              Rcpp::Named("data") = to_matrix(s.x, n, sim->data_names()));
  } catch (const std::invalid_argument& e) {
    Rcpp::stop(e.what());
  }
}

// [[Rcpp::export(.amz_is_null_pointer)]]
bool amz_is_null_pointer(SEXP ptr) {
  return TYPEOF(ptr) != EXTPTRSXP || R_ExternalPtrAddr(ptr) == nullptr;
}
