#' Log likelihood of data under a learned likelihood
#'
#' A likelihood amortizer (`amortizer(estimate = "likelihood")`) learns
#' q(x | theta), a fast surrogate of the simulator's likelihood.
#' `log_likelihood()` evaluates log q(data | theta) for every pair of a data
#' set and a parameter vector, in one batched pass. For set data the network
#' models one observation, and a set's log likelihood is the sum over its
#' observations, so sets of any size can be evaluated (the context variable
#' `n_obs`, the size of a set, is therefore not part of the condition).
#'
#' @param object A trained likelihood amortizer.
#' @param data One data set or several, as [sample_posterior()] takes them.
#' @param theta A named parameter vector, or a matrix or data frame with one
#'   parameter vector per row (columns matched by name).
#' @param context Context variables of the data sets, as for
#'   [sample_posterior()].
#' @param threads CPU threads for LibTorch.
#' @return A matrix of log likelihoods with one row per data set and one
#'   column per parameter vector.
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(estimate = "likelihood"), sim, n_sims = 2000, epochs = 5, seed = 1)
#' log_likelihood(fit, rep(0.1, 10), rbind(rep(0, 10), rep(0.1, 10)))
#' }
#' @export
log_likelihood <- function(object, data, theta, context = NULL, threads = inference_threads()) {
  check_amortizer(object, kind = "likelihood")
  if (missing(theta) || missing(data)) {
    cli::cli_abort("{.arg data} and {.arg theta} are both needed.", class = "amortized_error_argument")
  }
  threads <- check_threads(threads)
  th <- as_observations(theta, object$parameter_names, arg = "theta", unit = "parameter vector")$matrix
  obs <- observed_inputs(object, data, context)
  n <- obs$n
  m <- nrow(th)
  pairs <- take_input_rows(obs$inputs, rep(seq_len(n), times = m))
  lp <- core_call(.amz_nle_log_prob(model_pointer(object), th[rep(seq_len(m), each = n), , drop = FALSE],
                                    pairs$x, pairs$lengths, pairs$context, threads, "cpu"))
  matrix(lp, n, m)
}

# The plan of a likelihood amortizer from the resolved configuration: the
# data are modelled as a vector (flat data) or one observation at a time
# (sets), conditioned on the parameters inside all their bounds.
likelihood_plan <- function(plan, call = rlang::caller_env()) {
  if (!plan$structure %in% c("flat", "flat_set", "set")) {
    cli::cli_abort(c("Likelihood estimation supports flat and set data.",
                     "x" = "These data are {gsub('_', ' ', plan$structure)} data."),
                   class = "amortized_error_argument", call = call)
  }
  core <- plan$core
  lower <- core$lower
  upper <- core$upper
  if (length(core$truncate_lower)) {
    lower <- pmax(lower, core$truncate_lower)
    upper <- pmin(upper, core$truncate_upper)
  }
  plan$summary_net <- NULL
  # one observation of a set is modelled: its density does not depend on the set's size
  if (plan$structure == "set") plan$context_names <- setdiff(plan$context_names, "n_obs")
  if (plan$structure == "flat_set") plan$structure <- "flat"  # the data vector as one variable block
  plan$core <- list(dim_theta = core$dim_theta, dim_x = core$dim_x, sets = plan$structure == "set",
                    dim_context = length(plan$context_names), lower = lower, upper = upper,
                    standardize_parameters = core$standardize_parameters, standardize_data = core$standardize_data)
  plan
}
