#' Surrogate simulations from a learned likelihood
#'
#' A likelihood amortizer (`amortizer(estimate = "likelihood")`) is a fast
#' surrogate of its simulator: `simulate()` draws `nsim` data sets from the
#' learned q(x | theta) for each parameter vector, returned like the
#' simulations of the simulator itself, on the scale the amortizer learned
#' (after the configurator's data steps, if any).
#'
#' @param object A trained likelihood amortizer.
#' @param nsim Data sets per parameter vector.
#' @param seed `NULL` or a whole number; the same seed gives the same draws.
#' @param theta A named parameter vector, or a matrix or data frame with one
#'   parameter vector per row.
#' @param n_obs For set data: observations per data set (any number: the
#'   network models one observation at a time).
#' @param context Context variables, as for [sample_posterior()] (one value
#'   each, or one row per parameter vector).
#' @param threads CPU threads for LibTorch.
#' @inheritParams sample_posterior
#' @param ... Unused; unknown arguments are an error.
#' @return Simulations (as from [simulate()] on a simulator): `nsim` rows for
#'   the first parameter vector, then `nsim` for the second, and so on.
#' @family inference
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(estimate = "likelihood"), sim, n_sims = 2000, epochs = 5, seed = 1)
#' surrogate <- simulate(fit, 100, seed = 1, theta = rep(0.2, 10))
#' colMeans(surrogate$data)
#' }
#' @export
simulate.amortizer <- function(object, nsim = 1, seed = NULL, theta, n_obs = NULL, context = NULL,
                               threads = inference_threads(), device = getOption("amortized.device", "cpu"), ...) {
  rlang::check_dots_empty()
  check_amortizer(object, kind = "likelihood")
  object <- likelihood_part(object)
  nsim <- check_count(nsim, arg = "nsim")
  seed <- resolve_seed(seed)
  threads <- check_threads(threads)
  device <- check_device(device)
  if (missing(theta)) {
    cli::cli_abort("{.arg theta} is missing: give the parameter vectors to simulate for.",
                   class = "amortized_error_argument")
  }
  th <- as_observations(theta, object$parameter_names, arg = "theta", unit = "parameter vector")$matrix
  check_theta_support(object, th)
  plan <- object$config
  sets <- isTRUE(plan$core$sets)
  if (sets) {
    if (is.null(n_obs)) {
      cli::cli_abort("{.arg n_obs} is missing: set data need the number of observations per data set.",
                     class = "amortized_error_argument")
    }
    n_obs <- check_count(n_obs)
  } else if (!is.null(n_obs)) {
    cli::cli_abort("{.arg n_obs} is for set data; these data are flat.", class = "amortized_error_argument")
  }
  k <- nrow(th)
  ctx <- observed_context(plan, context, k, if (sets) rep(n_obs, k))
  ctx_matrix <- context_matrix(plan, ctx, k)
  draws <- core_call(.amz_nle_sample(model_pointer(object), th, ctx_matrix, nsim, n_obs %||% 0L, seed, threads, device))
  dims <- dim(draws)  # [nsim, k, (n_obs,) dim]: rows of one parameter vector together
  data <- array(draws, c(nsim * k, dims[-(1:2)]))
  names_now <- plan$data_names
  if (sets) dimnames(data) <- list(NULL, NULL, names_now) else colnames(data) <- names_now
  rows <- rep(seq_len(k), each = nsim)
  new_simulations(th[rows, , drop = FALSE], data, lengths = if (sets) rep(n_obs, nsim * k),
                  context = if (!is.null(ctx)) ctx[rows, , drop = FALSE], keep_nonfinite = TRUE)
}
