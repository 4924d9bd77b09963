// Rcpp glue for amortized model comparison: build the classifier, posterior
// model probabilities. The handle, state and training are any estimator's
// (glue_estimator.cpp).
#include "glue/glue.h"
#include "glue/networks.h"

#include "amortized/estimators/model_classifier.h"

#include <c10/core/InferenceMode.h>

using namespace amortized;
using namespace amortized_glue;

// spec: the classifier head (list(hidden, activation)); summary: NULL or
// the summary (or fusion) net; config: n_models and the data embedding's
// options (dim_x, set_shape, set_features, dim_context, variable_length,
// standardize_data; source_dims for fusion).
// [[Rcpp::export(.amz_models_new)]]
SEXP amz_models_new(Rcpp::List spec, SEXP summary, Rcpp::List config, double seed) {
  AMZ_GLUE_BEGIN
  TrainingMode training;
  auto gen = make_generator(as_seed(seed));
  auto options = ConditionNetOptions(Rcpp::as<int>(config["dim_x"]))
                     .set_shape(as_int64(config["set_shape"]))
                     .set_features(Rcpp::as<int>(config["set_features"]))
                     .dim_context(Rcpp::as<int>(config["dim_context"]))
                     .variable_length(Rcpp::as<bool>(config["variable_length"]))
                     .standardize(Rcpp::as<bool>(config["standardize_data"]));
  const Rcpp::IntegerVector source_dims = value_or(config, "source_dims", Rcpp::IntegerVector());
  ConditionNet embedding = make_embedding(summary, options, source_dims, gen);
  const int64_t n_models = Rcpp::as<int>(config["n_models"]);
  MLP head(MLPOptions(embedding->output_dim(), n_models)
               .hidden(as_int64(spec["hidden"]))
               .activation(Rcpp::as<std::string>(spec["activation"])));
  head->reset_parameters(gen);
  return new_handle("models", std::make_shared<ModelClassifierImpl>(embedding, head, n_models));
  AMZ_GLUE_END
}

// log p(model | x) for every row of x: a matrix [rows, n_models].
// [[Rcpp::export(.amz_models_log_probs)]]
Rcpp::NumericMatrix amz_models_log_probs(SEXP ptr, SEXP x, Rcpp::IntegerVector lengths, Rcpp::NumericMatrix context,
                                         int threads, std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = for_inference<ModelClassifierImpl>(ptr, "models", threads, device);
  DataBatch data = as_batch(x, lengths, context);
  torch::Tensor out;
  {
    c10::InferenceMode inference;
    std::vector<torch::Tensor> parts;
    const int64_t per_row = data.x.dim() == 3 ? data.x.size(1) : 1;
    for_chunks(rows(data), per_row, [&](int64_t start, int64_t len) {
      parts.push_back(est.log_probs(to_device(narrow(data, start, len), device_of(est))).to(torch::kCPU));
    });
    out = torch::cat(parts, 0);
  }
  return tensor_to_matrix(out, "the model probabilities");
  AMZ_GLUE_END
}
