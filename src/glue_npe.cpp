// Rcpp glue for neural posterior estimation: build, densities, draws, SBC
// ranks, learned summaries. Converts R objects and calls the core; the
// handle, state and training are any estimator's (glue_estimator.cpp).
#include "glue/glue.h"
#include "glue/networks.h"

#include "amortized/diagnostics/sbc.h"
#include "amortized/estimators/posterior_estimator.h"

#include <algorithm>
#include <c10/core/InferenceMode.h>

using namespace amortized;
using namespace amortized_glue;

namespace {

PosteriorEstimatorImpl& posterior(SEXP ptr, int threads, const std::string& device) {
  return for_inference<PosteriorEstimatorImpl>(ptr, "posterior", threads, device);
}

}  // namespace

namespace amortized_glue {

std::shared_ptr<PosteriorEstimatorImpl> build_posterior(const Rcpp::List& spec, SEXP summary,
                                                        const Rcpp::List& config, at::Generator& gen) {
  std::vector<Equivariance> group;
  Rcpp::List eq = config["equivariances"];  // list(list(theta =, x =), ...)
  for (R_xlen_t k = 0; k < eq.size(); ++k) {
    Rcpp::List e = eq[k];
    group.push_back({as_int64(e["theta"]), as_int64(e["x"])});
  }
  auto o = PosteriorEstimatorOptions(Rcpp::as<int>(config["dim_theta"]), Rcpp::as<int>(config["dim_x"]))
               .set_shape(as_int64(config["set_shape"]))
               .set_features(Rcpp::as<int>(config["set_features"]))
               .linear_residual(Rcpp::as<bool>(config["linear_residual"]))
               .whiten_residual(flag(config, "whiten_residual"))
               .dim_context(Rcpp::as<int>(config["dim_context"]))
               .variable_length(Rcpp::as<bool>(config["variable_length"]))
               .standardize_theta(Rcpp::as<bool>(config["standardize_parameters"]))
               .standardize_x(Rcpp::as<bool>(config["standardize_data"]))
               .lower(Rcpp::as<std::vector<double>>(config["lower"]))
               .upper(Rcpp::as<std::vector<double>>(config["upper"]))
               .symmetric(as_int64(config["symmetric"]))
               .rotation(Rcpp::as<std::vector<double>>(config["rotation"]))
               .truncate_lower(Rcpp::as<std::vector<double>>(config["truncate_lower"]))
               .truncate_upper(Rcpp::as<std::vector<double>>(config["truncate_upper"]))
               .equivariances(group);
  // a fusion network's input widths
  const Rcpp::IntegerVector source_dims = value_or(config, "source_dims", Rcpp::IntegerVector());
  // the embedding first: its networks draw their weights from gen before the inference net
  ConditionNet embedding = make_embedding(summary, condition_options(o), source_dims, gen);
  if (embedding->has_fusion()) o.sources(embedding->fusion().size());
  auto net = make_inference_net(spec, o.dim_theta(), embedding->output_dim(), gen);
  return std::make_shared<PosteriorEstimatorImpl>(net, embedding, o);
}

}  // namespace amortized_glue

// spec: the inference net; summary: NULL or the summary (or fusion) net;
// config: the estimator's dimensions and options (PosteriorEstimatorOptions),
// every one given (R brings older amortizers up to date first).
// [[Rcpp::export(.amz_npe_new)]]
SEXP amz_npe_new(Rcpp::List spec, SEXP summary, Rcpp::List config, double seed) {
  AMZ_GLUE_BEGIN
  TrainingMode training;  // the weights must be ordinary tensors that training can differentiate
  auto gen = make_generator(as_seed(seed));
  return new_handle("posterior", build_posterior(spec, summary, config, gen));
  AMZ_GLUE_END
}

// log q(theta_i | x_i) on the original scale for each row i.
// [[Rcpp::export(.amz_npe_log_prob)]]
Rcpp::NumericVector amz_npe_log_prob(SEXP ptr, Rcpp::NumericMatrix theta, SEXP x, Rcpp::IntegerVector lengths,
                                     Rcpp::NumericMatrix context, int threads, std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = posterior(ptr, threads, device);
  torch::Tensor t;
  DataBatch data;
  std::tie(t, data) = density_inputs(est, theta, x, lengths, context);
  torch::Tensor lp;
  {
    torch::NoGradGuard no_grad;
    lp = est.log_prob(t, data);
  }
  return tensor_to_vector(lp, "the log densities");
  AMZ_GLUE_END
}

// Draws for every row of x; returns an array [n_draws, n_obs, dim_theta].
// [[Rcpp::export(.amz_npe_sample)]]
Rcpp::NumericVector amz_npe_sample(SEXP ptr, SEXP x, Rcpp::IntegerVector lengths, Rcpp::NumericMatrix context,
                                   int n_draws, double seed, int threads, std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = posterior(ptr, threads, device);
  auto gen = make_generator(as_seed(seed));
  DataBatch data = as_batch(x, lengths, context);
  const int64_t n_obs = rows(data), dim = est.dim_theta();
  Rcpp::NumericVector out = r_array<REALSXP>({n_draws, n_obs, dim}, "the draws");
  double* dst = out.begin();
  {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (faster than NoGradGuard); no R calls inside
    // out[d + n_draws * (i + n_obs * p)]: per chunk of observations (and of
    // draws, when one observation's draws alone exceed a chunk, so that the
    // working memory stays bounded), copy draws [len, m, dim] into place.
    const int64_t per_chunk = int64_t(1) << 18;
    const int64_t draw_chunk = std::min<int64_t>(n_draws, per_chunk);
    for_chunks(n_obs, draw_chunk, [&](int64_t start, int64_t len) {
      const DataBatch part = to_device(narrow(data, start, len), device_of(est));
      for (int64_t d0 = 0; d0 < n_draws; d0 += draw_chunk) {
        if (d0 > 0) check_interrupt();
        const int64_t m = std::min(draw_chunk, n_draws - d0);
        torch::Tensor draws = est.sample(m, part, gen).permute({2, 0, 1}).to(torch::kCPU, torch::kDouble)
                                  .contiguous();  // [dim, len, m]
        const double* src = draws.data_ptr<double>();
        for (int64_t p = 0; p < dim; ++p) {
          for (int64_t i = 0; i < len; ++i) {
            std::copy(src + (p * len + i) * m, src + (p * len + i + 1) * m, dst + d0 + n_draws * (start + i + n_obs * p));
          }
        }
      }
    });
  }
  return out;
  AMZ_GLUE_END
}

// Ranks of theta among n_draws posterior draws given x, row by row.
// [[Rcpp::export(.amz_npe_sbc_ranks)]]
Rcpp::IntegerMatrix amz_npe_sbc_ranks(SEXP ptr, Rcpp::NumericMatrix theta, SEXP x, Rcpp::IntegerVector lengths,
                                      Rcpp::NumericMatrix context, int n_draws, double seed, int threads,
                                      std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = posterior(ptr, threads, device);
  auto gen = make_generator(as_seed(seed));
  torch::Tensor tt = matrix_to_tensor(theta);
  DataBatch data = as_batch(x, lengths, context);
  const int64_t n = rows(data);
  torch::Tensor ranks;  // [dim, n]
  {
    c10::InferenceMode inference;  // no autograd bookkeeping at all (faster than NoGradGuard)
    std::vector<torch::Tensor> parts;
    for_chunks(n, n_draws, [&](int64_t start, int64_t len) {
      const torch::Device dev = device_of(est);
      parts.push_back(sbc_ranks(est.sample(n_draws, to_device(narrow(data, start, len), dev), gen),
                                tt.narrow(0, start, len).to(dev))
                          .to(torch::kCPU));
    });
    ranks = torch::cat(parts, 0).to(torch::kInt).t().contiguous();
  }
  Rcpp::IntegerMatrix out(r_array<INTSXP>({n, est.dim_theta()}, "the ranks"));
  std::copy(ranks.data_ptr<int>(), ranks.data_ptr<int>() + ranks.numel(), out.begin());
  return out;
  AMZ_GLUE_END
}

