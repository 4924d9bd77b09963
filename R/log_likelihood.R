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
  object <- likelihood_part(object)
  if (missing(theta) || missing(data)) {
    cli::cli_abort("{.arg data} and {.arg theta} are both needed.", class = "amortized_error_argument")
  }
  threads <- check_threads(threads)
  th <- as_observations(theta, object$parameter_names, arg = "theta", unit = "parameter vector")$matrix
  check_theta_support(object, th)
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
# (sets, and flat data that the simulator declares a set of iid points),
# conditioned on the parameters inside all their bounds; with
# linear_residual, the residual of a linear regression of the data on them.
likelihood_plan <- function(plan, linear_residual = TRUE, call = rlang::caller_env()) {
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
  # a declared flat set (the simulator's set_structure) is modelled point by point, as iid points
  flat_points <- if (plan$structure == "flat_set") as.integer(core$set_shape[1]) else 0L
  if (plan$structure == "flat_set") plan$structure <- "flat"
  plan$core <- list(dim_theta = core$dim_theta, dim_x = if (flat_points > 0) as.integer(core$set_shape[2]) else core$dim_x,
                    flat_points = flat_points, sets = plan$structure == "set",
                    dim_context = length(plan$context_names), lower = lower, upper = upper,
                    linear_residual = isTRUE(linear_residual),
                    standardize_parameters = core$standardize_parameters, standardize_data = core$standardize_data)
  plan
}

# The plan of a joint amortizer: the posterior's, with the likelihood's
# plan inside and the (1-based) columns of the posterior's context that
# condition the likelihood.
joint_plan <- function(plan, linear_residual = TRUE, call = rlang::caller_env()) {
  plan$likelihood <- likelihood_plan(plan, linear_residual, call = call)
  plan$likelihood_context <- match(plan$likelihood$context_names, plan$context_names)
  plan
}
