#' Log density of the amortized posterior
#'
#' Evaluates log q(theta | x), the trained amortizer's posterior density, on
#' the original scale of the parameters (the Jacobians of standardization
#' and of the linear residual are included). For a [flow_matching()]
#' network the density comes from the instantaneous change of variables
#' with the exact divergence, integrated with RK4.
#'
#' @param object A trained [amortizer()].
#' @param theta Parameter values: a named numeric vector (one) or a matrix
#'   or data frame with one parameter vector per row; matched to the
#'   parameter names when named.
#' @param data Observed data, as for [sample_posterior()]: one data set
#'   (used for every row of `theta`) or one data set per row of `theta`.
#' @param context Context variables, as for [sample_posterior()].
#' @param threads CPU threads for LibTorch; default: option
#'   `amortized.inference_threads`, else measured at the first use: the physical cores (at most 4) where they beat one thread, else 1 (see [amortized-package]).
#' @inheritParams sample_posterior
#' @return A numeric vector of log densities, one per row of `theta`.
#' @family inference
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(), sim, n_sims = 2000, epochs = 5, seed = 1)
#' x <- rep(0.1, 10)
#' posterior_log_density(fit, rep(0.05, 10), x)
#' }
#' @export
posterior_log_density <- function(object, theta, data, context = NULL, threads = inference_threads(),
                                  device = getOption("amortized.device", "cpu")) {
  check_amortizer(object)
  if (missing(theta) || missing(data)) {
    cli::cli_abort("{.arg theta} and {.arg data} are both needed.", class = "amortized_error_argument")
  }
  threads <- check_threads(threads)
  device <- check_device(device)
  th <- as_observations(theta, object$parameter_names, arg = "theta", unit = "parameter vector")$matrix
  obs <- observed_inputs(object, data, context)
  inputs <- obs$inputs
  if (obs$n == 1 && nrow(th) > 1) inputs <- repeat_inputs(inputs, nrow(th))
  if (input_rows(inputs) != nrow(th)) {
    cli::cli_abort(c("{.arg data} must have one data set, or one per row of {.arg theta}.",
                     "x" = "{.arg theta} has {nrow(th)} rows, {.arg data} {obs$n}."),
                   class = "amortized_error_data")
  }
  core_call(.amz_npe_log_prob(model_pointer(object), th, inputs$x, inputs$lengths, inputs$context, threads, device))
}

# Network inputs of one data set repeated k times.
repeat_inputs <- function(inputs, k) take_input_rows(inputs, rep(1L, k))
