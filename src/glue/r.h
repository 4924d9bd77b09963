// R results built safely from C++ (no LibTorch here: the simulator glue uses
// it too). R's API reports an error (out of memory, a vector too long) by a
// longjmp, which would jump over the destructors of the C++ guards and
// resources alive at the call: a leaked c10::InferenceMode leaves the whole
// R session unable to train. Every R object the glue returns is built by
// r_safe(), which turns such an error into a C++ exception
// (Rcpp::LongjumpException) that unwinds them; Rcpp resumes the R error at
// the glue's boundary.
#pragma once

#include <Rcpp.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace amortized_glue {

// Runs f, which calls R's API and returns a SEXP; an R error in it becomes a
// C++ exception. f itself must not throw.
inline SEXP r_safe(std::function<SEXP()> f) { return Rcpp::unwindProtect(std::move(f)); }

// Fails (a C++ exception) when n values cannot be one R vector.
inline void check_r_length(double n, const char* what) {
  if (!(n >= 0) || n > static_cast<double>(R_XLEN_T_MAX)) {
    throw std::length_error(std::string(what) + " would have " + std::to_string(n) +
                            " values, more than an R vector holds (2^52)");
  }
}

// A fresh R vector of type RTYPE (REALSXP, INTSXP) with the given dims (one
// dim: a plain vector, two: a matrix, more: an array); values uninitialized.
template <int RTYPE>
Rcpp::Vector<RTYPE> r_array(std::initializer_list<int64_t> dims, const char* what) {
  double n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (dims.size() > 1 && d > INT32_MAX)) {
      throw std::length_error(std::string(what) + ": a dimension out of R's range (at most 2^31 - 1)");
    }
    n *= static_cast<double>(d);
  }
  check_r_length(n, what);
  std::vector<int> dim(dims.begin(), dims.end());
  return Rcpp::Vector<RTYPE>(r_safe([&] {
    SEXP out = PROTECT(Rf_allocVector(RTYPE, static_cast<R_xlen_t>(n)));
    if (dim.size() > 1) {
      SEXP d = PROTECT(Rf_allocVector(INTSXP, static_cast<R_xlen_t>(dim.size())));
      std::copy(dim.begin(), dim.end(), INTEGER(d));
      Rf_setAttrib(out, R_DimSymbol, d);
      UNPROTECT(1);
    }
    UNPROTECT(1);
    return out;
  }));
}

inline Rcpp::NumericVector r_numeric(int64_t n, const char* what) { return r_array<REALSXP>({n}, what); }

// True when the user pressed Ctrl-C (checked without jumping out of C++),
// or when a test injected an interrupt (.amz_inject_interrupt()). Call it on
// R's thread only.
bool user_interrupted();
// Throws Rcpp's interrupt exception when user_interrupted(): C++ unwinds
// (destructors run), then R signals the interrupt. For long loops of C++
// work, between steps.
void check_interrupt();

}  // namespace amortized_glue
