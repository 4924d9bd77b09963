// Helpers shared by the Rcpp glue files (src/glue_*.cpp hold the exports,
// which Rcpp finds in src/ only): R <-> tensor conversion, the handle of any
// estimator, its state, optimizer and training, and the one place where C++
// exceptions become R errors. Not part of the core.
#pragma once

#include "glue/r.h"

#include "amortized/embedding/data_batch.h"
#include "amortized/estimators/estimator.h"
#include "amortized/train/trainer.h"

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

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

// An R integer vector as sizes or indices for the core.
inline std::vector<int64_t> as_int64(const Rcpp::IntegerVector& v) { return std::vector<int64_t>(v.begin(), v.end()); }

// A setting of a list that files saved before the setting existed lack:
// its value, or `absent` when the list has none.
template <typename T>
T value_or(const Rcpp::List& list, const char* name, T absent) {
  return list.containsElementNamed(name) ? Rcpp::as<T>(list[name]) : absent;
}

// A logical such setting: absent means false.
inline bool flag(const Rcpp::List& list, const char* name) { return value_or<bool>(list, name, false); }

// R seeds are doubles in [0, 2^53); generators take uint64.
inline uint64_t as_seed(double seed) { return static_cast<uint64_t>(seed); }

// The C++ object behind an amortizer's external pointer: any estimator,
// and its kind ("posterior", ...).
struct EstimatorHandle {
  std::string kind;
  std::shared_ptr<amortized::EstimatorImpl> module;
};

// A new external pointer owning the estimator (in eval mode).
SEXP new_handle(const std::string& kind, std::shared_ptr<amortized::EstimatorImpl> module);
EstimatorHandle& handle(SEXP ptr);
// The estimator of `kind` behind ptr (that of a joint estimator: its part),
// as its class; an error where there is none.
template <typename T>
T& estimator_of(SEXP ptr, const char* kind) {
  EstimatorHandle& h = handle(ptr);
  T* est = h.kind == kind ? dynamic_cast<T*>(h.module.get()) : dynamic_cast<T*>(h.module->part(kind));
  if (est == nullptr) Rcpp::stop("the amortizer's model is a " + h.kind + " estimator, not a " + kind + " one");
  return *est;
}
// Moves the estimator to `device` ("cpu", "cuda" or "auto"), in eval mode,
// with LibTorch on `threads` threads.
void prepare_inference(amortized::EstimatorImpl& est, int threads, const std::string& device);
// The estimator behind ptr as the class of its kind, prepared for inference.
template <typename T>
T& for_inference(SEXP ptr, const char* kind, int threads, const std::string& device) {
  T& est = estimator_of<T>(ptr, kind);
  prepare_inference(est, threads, device);
  return est;
}
torch::Device as_device(const std::string& name);
torch::Device device_of(torch::nn::Module& module);

// The data of a batch from R: data (matrix or [n, N, d] array), lengths
// (empty: all points valid), context (0 columns: none). Multi-source data
// come as x = list(flat = matrix (maybe 0 columns), sources = list(list(x =
// array, lengths = integer), ...)).
amortized::DataBatch as_batch(SEXP x, const Rcpp::IntegerVector& lengths, const Rcpp::NumericMatrix& context);

// theta [n, dim] and the data of a batch from R, on the device of est: the
// inputs of a density.
std::pair<torch::Tensor, amortized::DataBatch> density_inputs(torch::nn::Module& est, const Rcpp::NumericMatrix& theta,
                                                              SEXP x, const Rcpp::IntegerVector& lengths,
                                                              const Rcpp::NumericMatrix& context);

// Runs f(start, len) on row chunks of n rows so that len * per_row stays
// near 2^20, checking for an interrupt before each.
template <typename F>
void for_chunks(int64_t n, int64_t per_row, F f) {
  const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 20) / std::max<int64_t>(per_row, 1));
  for (int64_t start = 0; start < n; start += chunk) {
    check_interrupt();
    f(start, std::min(chunk, n - start));
  }
}

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
