// The networks and the data embedding of an amortizer's R spec (lists with
// `type`). Every option comes from R explicitly: the defaults live in the R
// constructors (coupling_flow(), deep_set(), ...) alone.
#pragma once

#include <Rcpp.h>

#include "amortized/embedding/condition_net.h"
#include "amortized/flows/inference_net.h"
#include "amortized/summary/summary_net.h"

#include <memory>

namespace amortized {
class PosteriorEstimatorImpl;
class LikelihoodEstimatorImpl;
}  // namespace amortized

namespace amortized_glue {

std::shared_ptr<amortized::SummaryNetImpl> make_summary_net(const Rcpp::List& spec, int64_t input_dim,
                                                            at::Generator& gen);
// For dim variables given a condition of `context` features.
std::shared_ptr<amortized::InferenceNetImpl> make_inference_net(const Rcpp::List& spec, int64_t dim, int64_t context,
                                                                at::Generator& gen);
// The data embedding: summary is NULL (flat data), a summary network's spec,
// or a fusion network's (one net per source, their input widths source_dims).
amortized::ConditionNet make_embedding(SEXP summary, const amortized::ConditionNetOptions& options,
                                       const Rcpp::IntegerVector& source_dims, at::Generator& gen);

// The estimators of an amortizer's spec and resolved core configuration
// (glue_npe.cpp, glue_nle.cpp): weights drawn from gen.
std::shared_ptr<amortized::PosteriorEstimatorImpl> build_posterior(const Rcpp::List& spec, SEXP summary,
                                                                   const Rcpp::List& config, at::Generator& gen);
std::shared_ptr<amortized::LikelihoodEstimatorImpl> build_likelihood(const Rcpp::List& spec,
                                                                     const Rcpp::List& config, at::Generator& gen);

}  // namespace amortized_glue
