// Helpers shared by the Rcpp glue files: R <-> tensor conversion and the
// one place where C++ exceptions become R errors. Not part of the core.
#pragma once

#include "glue_r.h"

#include <torch/types.h>

#include <string>

namespace amortized_glue {

// R numeric matrix (column-major, n x d) -> tensor [n, d] (a copy; float
// unless asked for double).
inline torch::Tensor matrix_to_tensor(const Rcpp::NumericMatrix& m,
                                      torch::ScalarType dtype = torch::kFloat) {
  const int64_t n = m.nrow(), d = m.ncol();
  if (n == 0 || d == 0) return torch::zeros({n, d}, dtype);
  return torch::from_blob(const_cast<double*>(m.begin()), {d, n}, torch::kDouble)
      .t()
      .to(dtype)
      .contiguous();
}

// Tensor [n, d] -> R numeric matrix n x d.
inline Rcpp::NumericMatrix tensor_to_matrix(const torch::Tensor& t, const char* what = "the result") {
  torch::Tensor c = t.to(torch::kCPU, torch::kDouble).t().contiguous();  // [d, n] row-major = column-major n x d
  Rcpp::NumericMatrix out(r_array<REALSXP>({t.size(0), t.size(1)}, what));
  std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), out.begin());
  return out;
}

// Tensor -> R numeric vector (its values in row-major order).
inline Rcpp::NumericVector tensor_to_vector(const torch::Tensor& t, const char* what = "the result") {
  torch::Tensor c = t.to(torch::kCPU, torch::kDouble).contiguous();
  Rcpp::NumericVector out = r_numeric(c.numel(), what);
  std::copy(c.data_ptr<double>(), c.data_ptr<double>() + c.numel(), out.begin());
  return out;
}

// R seeds are doubles in [0, 2^53); generators take uint64.
inline uint64_t as_seed(double seed) { return static_cast<uint64_t>(seed); }

}  // namespace amortized_glue

// Wrap a glue body: LibTorch and standard exceptions become R errors with
// the message only (no C++ backtrace); R's own conditions pass through.
#define AMZ_GLUE_BEGIN try {
#define AMZ_GLUE_END                                                  \
  }                                                                   \
  catch (Rcpp::internal::InterruptedException & e) { throw; }         \
  catch (Rcpp::LongjumpException & e) { throw; }                      \
  catch (Rcpp::exception & e) { throw; }                              \
  catch (const c10::Error& e) { Rcpp::stop(e.what_without_backtrace()); } \
  catch (const std::exception& e) { Rcpp::stop(e.what()); }
