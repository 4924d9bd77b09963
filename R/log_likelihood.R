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
#' @inheritParams sample_posterior
#' @section Memory:
#' The pairs of data sets and parameter vectors go through the network in
#' chunks of parameter vectors that hold about 2^23 input values (64 MB;
#' option `amortized.chunk_values`), so memory stays near the size of the
#' result (8 bytes per pair); a result that cannot fit (option
#' `amortized.max_memory`) fails at once, naming its size.
#' @return A matrix of log likelihoods with one row per data set and one
#'   column per parameter vector.
#' @family inference
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(estimate = "likelihood"), sim, n_sims = 2000, epochs = 5, seed = 1)
#' log_likelihood(fit, rep(0.1, 10), rbind(rep(0, 10), rep(0.1, 10)))
#' }
#' @export
log_likelihood <- function(object, data, theta, context = NULL, threads = inference_threads(),
                           device = getOption("amortized.device", "cpu")) {
  check_amortizer(object, kind = "likelihood")
  object <- likelihood_part(object)
  if (missing(theta) || missing(data)) {
    cli::cli_abort("{.arg data} and {.arg theta} are both needed.", class = "amortized_error_argument")
  }
  threads <- check_threads(threads)
  device <- check_device(device)
  th <- as_observations(theta, object$parameter_names, arg = "theta", unit = "parameter vector")$matrix
  check_theta_support(object, th)
  obs <- observed_inputs(object, data, context)
  n <- obs$n
  m <- nrow(th)
  check_request_size(as.double(n) * m, "theta", m, copies = 1,
                     what = sprintf("the %s x %s log likelihoods", format(n, big.mark = ","), format(m, big.mark = ",")))
  # every (data set, parameter vector) pair is one row of the network's
  # input: the pairs are built for chunks of parameter vectors that hold
  # about option amortized.chunk_values values, whatever n and m are
  per_pair <- input_values(obs$inputs$x) / n + ncol(th)
  size <- max(1L, as.integer(min(m, floor(getOption("amortized.chunk_values", 2^23) / (n * per_pair)))))
  # the data side of a chunk is the same for every chunk: built once (the
  # last, shorter chunk takes its first rows)
  full <- take_input_rows(obs$inputs, rep(seq_len(n), times = size))
  out <- matrix(NA_real_, n, m)
  for (start in seq(1L, m, by = size)) {
    cols <- start:min(m, start + size - 1L)
    pairs <- if (length(cols) == size) full else take_input_rows(full, seq_len(n * length(cols)))
    out[, cols] <- core_call(.amz_nle_log_prob(model_pointer(object), th[rep(cols, each = n), , drop = FALSE],
                                               pairs$x, pairs$lengths, pairs$context, threads, device))
  }
  out
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
                    linear_residual = isTRUE(linear_residual), whiten_residual = isTRUE(linear_residual),
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
