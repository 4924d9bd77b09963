// Rcpp glue for the diagnostics that need no trained model (C2ST).
#include "glue/glue.h"

#include "amortized/diagnostics/c2st.h"

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
