// Rcpp glue for the diagnostics that need no trained model (C2ST).
#include "glue/glue.h"

#include "amortized/diagnostics/c2st.h"
#include "amortized/diagnostics/mmd.h"

using amortized_glue::matrix_to_tensor;

// [[Rcpp::export(.amz_c2st)]]
Rcpp::List amz_c2st(Rcpp::NumericMatrix estimate, Rcpp::NumericMatrix reference, Rcpp::List options) {
  AMZ_GLUE_BEGIN
  amortized::set_threads(Rcpp::as<int>(options["threads"]));
  auto opts = amortized::C2stOptions()
                  .folds(Rcpp::as<int64_t>(options["folds"]))
                  .max_epochs(Rcpp::as<int64_t>(options["max_epochs"]))
                  .z_score(Rcpp::as<bool>(options["z_score"]))
                  .seed(amortized_glue::as_seed(Rcpp::as<double>(options["seed"])));
  auto r = amortized::c2st(matrix_to_tensor(estimate, torch::kDouble), matrix_to_tensor(reference, torch::kDouble),
                           opts);
  return amortized_glue::r_safe([&] {
    return Rcpp::List::create(Rcpp::Named("accuracy") = r.accuracy, Rcpp::Named("fold_accuracy") = r.fold_accuracy,
                              Rcpp::Named("fold_epochs") = r.fold_epochs);
  });
  AMZ_GLUE_END
}

namespace {

amortized::MmdKernel mmd_kernel(const std::string& kind, const Rcpp::NumericVector& bandwidths) {
  return amortized::MmdKernel{amortized::MmdKernel::parse(kind),
                              std::vector<double>(bandwidths.begin(), bandwidths.end())};
}

}  // namespace

// [[Rcpp::export(.amz_mmd)]]
double amz_mmd(Rcpp::NumericMatrix x, Rcpp::NumericMatrix y, std::string kernel, Rcpp::NumericVector bandwidths,
               int threads) {
  AMZ_GLUE_BEGIN
  amortized::set_threads(threads);
  torch::NoGradGuard no_grad;
  return amortized::mmd2(matrix_to_tensor(x, torch::kDouble), matrix_to_tensor(y, torch::kDouble),
                         mmd_kernel(kernel, bandwidths))
      .item<double>();
  AMZ_GLUE_END
}

// [[Rcpp::export(.amz_median_distance)]]
double amz_median_distance(Rcpp::NumericMatrix x, Rcpp::NumericMatrix y) {
  AMZ_GLUE_BEGIN
  return amortized::median_distance(matrix_to_tensor(x, torch::kDouble), matrix_to_tensor(y, torch::kDouble));
  AMZ_GLUE_END
}

// The statistic of `observed` against `reference` and its null distribution
// from n_null replicates of nrow(observed) rows of `pool`.
// [[Rcpp::export(.amz_mmd_test)]]
Rcpp::List amz_mmd_test(Rcpp::NumericMatrix observed, Rcpp::NumericMatrix pool, Rcpp::NumericMatrix reference,
                        std::string kernel, Rcpp::NumericVector bandwidths, int n_null, double seed, int threads) {
  AMZ_GLUE_BEGIN
  amortized::set_threads(threads);
  const auto k = mmd_kernel(kernel, bandwidths);
  const amortized::MmdReference ref = amortized::mmd_reference(matrix_to_tensor(reference, torch::kDouble), k);
  const double statistic = amortized::mmd2_against(matrix_to_tensor(observed, torch::kDouble), ref, k);
  auto gen = amortized::make_generator(amortized_glue::as_seed(seed));
  const torch::Tensor null =
      amortized::mmd2_null(matrix_to_tensor(pool, torch::kDouble), ref, observed.nrow(), n_null, k, gen);
  return amortized_glue::r_safe([&] {
    return Rcpp::List::create(Rcpp::Named("statistic") = statistic,
                              Rcpp::Named("null") = amortized_glue::tensor_to_vector(null, "the null distribution"));
  });
  AMZ_GLUE_END
}
