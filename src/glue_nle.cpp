// Rcpp glue for neural likelihood estimation: build, densities of data
// given parameters, surrogate simulations. The handle, state and training
// are any estimator's (glue_estimator.cpp).
#include "glue/glue.h"
#include "glue/networks.h"

#include "amortized/estimators/joint_estimator.h"
#include "amortized/mcmc/slice_sampler.h"

#include <c10/core/InferenceMode.h>
#include <limits>

using namespace amortized;
using namespace amortized_glue;

namespace {

LikelihoodEstimatorImpl& likelihood(SEXP ptr, int threads, const std::string& device) {
  return for_inference<LikelihoodEstimatorImpl>(ptr, "likelihood", threads, device);
}

}  // namespace

namespace amortized_glue {

std::shared_ptr<LikelihoodEstimatorImpl> build_likelihood(const Rcpp::List& spec, const Rcpp::List& config,
                                                          at::Generator& gen) {
  auto o = LikelihoodEstimatorOptions(Rcpp::as<int>(config["dim_theta"]), Rcpp::as<int>(config["dim_x"]))
               .sets(Rcpp::as<bool>(config["sets"]))
               .flat_points(value_or<int>(config, "flat_points", 0))
               .dim_context(Rcpp::as<int>(config["dim_context"]))
               .lower(Rcpp::as<std::vector<double>>(config["lower"]))
               .upper(Rcpp::as<std::vector<double>>(config["upper"]))
               .standardize_theta(Rcpp::as<bool>(config["standardize_parameters"]))
               .standardize_x(Rcpp::as<bool>(config["standardize_data"]))
               .linear_residual(flag(config, "linear_residual"))
               .whiten_residual(flag(config, "whiten_residual"));
  ConditionNet embedding(likelihood_condition_options(o), std::shared_ptr<SummaryNetImpl>());
  auto net = make_inference_net(spec, o.dim_x(), embedding->output_dim(), gen);
  return std::make_shared<LikelihoodEstimatorImpl>(net, embedding, o);
}

}  // namespace amortized_glue

// spec: the inference net (of the data); config: LikelihoodEstimatorOptions,
// every one given.
// [[Rcpp::export(.amz_nle_new)]]
SEXP amz_nle_new(Rcpp::List spec, Rcpp::List config, double seed) {
  AMZ_GLUE_BEGIN
  TrainingMode training;  // the weights must be ordinary tensors that training can differentiate
  auto gen = make_generator(as_seed(seed));
  return new_handle("likelihood", build_likelihood(spec, config, gen));
  AMZ_GLUE_END
}

// A joint estimator: the posterior of (spec, summary, config) as
// .amz_npe_new() builds it, and the likelihood of (spec, likelihood_config)
// as .amz_nle_new() does, conditioned on the context columns
// likelihood_context (1-based) of the posterior's.
// [[Rcpp::export(.amz_joint_new)]]
SEXP amz_joint_new(Rcpp::List spec, SEXP summary, Rcpp::List config, Rcpp::List likelihood_config,
                   Rcpp::IntegerVector likelihood_context, double seed) {
  AMZ_GLUE_BEGIN
  TrainingMode training;
  auto gen = make_generator(as_seed(seed));
  auto posterior = build_posterior(spec, summary, config, gen);
  auto likelihood = build_likelihood(spec, likelihood_config, gen);
  std::vector<int64_t> columns;
  for (int c : likelihood_context) columns.push_back(c - 1);
  return new_handle("joint", std::make_shared<JointEstimatorImpl>(posterior, likelihood, columns));
  AMZ_GLUE_END
}

// log q(x_i | theta_i) on the data's scale for each row i (sets: summed
// over their valid points).
// [[Rcpp::export(.amz_nle_log_prob)]]
Rcpp::NumericVector amz_nle_log_prob(SEXP ptr, Rcpp::NumericMatrix theta, SEXP x, Rcpp::IntegerVector lengths,
                                     Rcpp::NumericMatrix context, int threads, std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = likelihood(ptr, threads, device);
  torch::Tensor t;
  DataBatch data;
  std::tie(t, data) = density_inputs(est, theta, x, lengths, context);
  torch::Tensor lp;
  {
    c10::InferenceMode inference;
    std::vector<torch::Tensor> parts;
    const int64_t per_row = data.x.dim() == 3 ? data.x.size(1) : 1;
    for_chunks(rows(data), per_row, [&](int64_t start, int64_t len) {
      parts.push_back(est.log_prob(t.narrow(0, start, len), narrow(data, start, len)).to(torch::kCPU));
    });
    lp = torch::cat(parts, 0);
  }
  return tensor_to_vector(lp, "the log likelihoods");
  AMZ_GLUE_END
}

// n surrogate data sets for each row of theta: flat data as an array
// [n, rows, dim_x]; sets of n_obs points as [n, rows, n_obs, dim_x].
// [[Rcpp::export(.amz_nle_sample)]]
Rcpp::NumericVector amz_nle_sample(SEXP ptr, Rcpp::NumericMatrix theta, Rcpp::NumericMatrix context, int n,
                                   int n_obs, double seed, int threads, std::string device) {
  AMZ_GLUE_BEGIN
  auto& est = likelihood(ptr, threads, device);
  auto gen = make_generator(as_seed(seed));
  const torch::Device dev = device_of(est);
  torch::Tensor t = matrix_to_tensor(theta).to(dev);
  torch::Tensor c = context.ncol() > 0 ? matrix_to_tensor(context).to(dev) : torch::Tensor();
  const bool sets = est.options().sets();
  const int64_t b = t.size(0), dx = sets ? est.options().dim_x() : est.width(), points = sets ? n_obs : 1;
  torch::Tensor draws;  // [n, b, points * dx] in R's column-major order once transposed
  {
    c10::InferenceMode inference;
    torch::Tensor x = est.sample(n, t, c, sets ? n_obs : 0, gen).to(torch::kCPU, torch::kDouble);  // [b, n, (points,) dx]
    draws = x.reshape({b, n, points, dx}).permute({3, 2, 0, 1}).contiguous();  // column-major [n, b, points, dx]
  }
  Rcpp::NumericVector out = sets ? r_array<REALSXP>({n, b, points, dx}, "the simulations")
                                 : r_array<REALSXP>({n, b, dx}, "the simulations");
  std::copy(draws.data_ptr<double>(), draws.data_ptr<double>() + draws.numel(), out.begin());
  return out;
  AMZ_GLUE_END
}

// Posterior draws by slice sampling of log q(x | theta) + log_prior(theta)
// (an R function of a parameter matrix, vectorized): init holds one row per
// chain (theta), x etc. the data set of each chain. Returns an array
// [chains, draws, dim_theta].
// [[Rcpp::export(.amz_nle_mcmc)]]
Rcpp::NumericVector amz_nle_mcmc(SEXP ptr, Rcpp::NumericMatrix init, SEXP x, Rcpp::IntegerVector lengths,
                                 Rcpp::NumericMatrix context, Rcpp::Function log_prior, int warmup, int draws,
                                 int thin, bool hyperrectangle, double seed, int threads) {
  AMZ_GLUE_BEGIN
  auto& est = likelihood(ptr, threads, "cpu");
  auto gen = make_generator(as_seed(seed));
  DataBatch data = as_batch(x, lengths, context);
  const int64_t chains = init.nrow(), dim = init.ncol();
  torch::Tensor out;
  {
    c10::InferenceMode inference;
    auto log_density = [&](const torch::Tensor& theta, const torch::Tensor& chain) {
      check_interrupt();  // a few density calls per iteration: Ctrl-C answers at once
      const int64_t rows = theta.size(0);
      torch::Tensor lq = est.log_prob(theta.to(torch::kFloat), index_rows(data, chain)).to(torch::kDouble);
      torch::Tensor t = theta.to(torch::kDouble).t().contiguous();  // column-major for R
      // the prior in R (an R error unwinds as a C++ exception)
      Rcpp::NumericMatrix m(r_array<REALSXP>({rows, dim}, "the parameters"));
      std::copy(t.data_ptr<double>(), t.data_ptr<double>() + t.numel(), m.begin());
      Rcpp::NumericVector lp = log_prior(m);
      if (lp.size() != rows) Rcpp::stop("log_prior must return one value per parameter row");
      torch::Tensor prior = torch::from_blob(lp.begin(), {rows}, torch::kDouble).clone();
      torch::Tensor total = lq + prior;
      return torch::where(torch::isfinite(total), total, torch::full_like(total, -std::numeric_limits<double>::infinity()));
    };
    out = slice_sample(log_density, matrix_to_tensor(init, torch::kDouble),
                       SliceSamplerOptions().warmup(warmup).draws(draws).thin(thin).hyperrectangle(hyperrectangle), gen)
              .permute({2, 1, 0})
              .contiguous();  // [dim, draws, chains]: R's [chains, draws, dim]
  }
  Rcpp::NumericVector result = r_array<REALSXP>({chains, draws, dim}, "the draws");
  std::copy(out.data_ptr<double>(), out.data_ptr<double>() + out.numel(), result.begin());
  return result;
  AMZ_GLUE_END
}
