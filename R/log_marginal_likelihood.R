#' Log marginal likelihood (evidence) from a joint amortizer
#'
#' A joint amortizer (`amortizer(estimate = "joint")`) holds a posterior
#' network q(theta | x) and a likelihood network q(x | theta) trained on the
#' same simulations. For any theta, log p(x) = log p(theta) + log p(x |
#' theta) - log p(theta | x); with the networks in place of the exact
#' densities, `log_marginal_likelihood()` estimates log p(x) by importance
#' sampling with the posterior network as the proposal: `n_draws` draws
#' theta_k ~ q(theta | x), weights w_k = log p(theta_k) + log q(x | theta_k)
#' - log q(theta_k | x), and log p(x) = log mean exp(w_k).
#'
#' The spread of the w_k (their standard deviation) is a diagnostic of both
#' networks: were both exact, every w_k would equal log p(x). A spread well
#' above 0.5 nats says that the networks disagree, and the estimate is then
#' less trustworthy than its Monte Carlo standard error suggests.
#'
#' The evidence is that of the data on the scale the amortizer learned
#' (after the configurator's data steps, if any): compare models whose
#' amortizers see the data the same way.
#'
#' @param object A trained joint amortizer; its simulator must declare the
#'   prior's density (the benchmark simulators do; for an R simulator see
#'   `simulator(log_prior =)`).
#' @param data One data set or several, as [sample_posterior()] takes them.
#' @param n_draws Posterior draws per data set for the estimate.
#' @param context Context variables, as for [sample_posterior()].
#' @param seed `NULL` or a whole number; the same seed gives the same estimate.
#' @param threads CPU threads for LibTorch.
#' @inheritParams sample_posterior
#' @return A data frame with one row per data set: `log_marginal_likelihood`,
#'   its Monte Carlo standard error `se`, and `spread`, the standard
#'   deviation of the identity over the draws.
#' @seealso [bayes_factor()] to compare two models.
#' @family model comparison
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(estimate = "joint"), sim, n_sims = 2000, epochs = 5, seed = 1)
#' log_marginal_likelihood(fit, rep(0.1, 10))
#' }
#' @export
log_marginal_likelihood <- function(object, data, n_draws = 1000, context = NULL, seed = NULL,
                                    threads = inference_threads(), device = getOption("amortized.device", "cpu")) {
  check_amortizer(object, kind = "joint")
  if (missing(data)) {
    cli::cli_abort("{.arg data} is missing: give the observed data set(s).", class = "amortized_error_argument")
  }
  n_draws <- check_count(n_draws)
  if (n_draws < 2) {
    cli::cli_abort(c("{.arg n_draws} must be at least 2.", "x" = "Got {.val {n_draws}}."), class = "amortized_error_argument")
  }
  seed <- resolve_seed(seed)
  threads <- check_threads(threads)
  device <- check_device(device)
  prior <- check_prior_known(object, "Marginal likelihoods")
  w <- evidence_weights(object, data, n_draws, context, seed, threads, device, prior)
  top <- apply(w, 2, max)
  ratio <- exp(sweep(w, 2, top))  # the weights relative to each data set's largest
  mean_ratio <- colMeans(ratio)
  data.frame(log_marginal_likelihood = top + log(mean_ratio),
             se = apply(ratio, 2, stats::sd) / (sqrt(n_draws) * mean_ratio),
             spread = apply(w, 2, function(v) stats::sd(v[is.finite(v)])))
}

# The importance weights log p(theta) + log q(x | theta) - log q(theta | x)
# at n_draws posterior-network draws for each data set: [n_draws, data sets].
evidence_weights <- function(object, data, n_draws, context, seed, threads, device, prior, call = rlang::caller_env()) {
  ptr <- model_pointer(object)
  obs <- observed_inputs(object, data, context, call = call)
  n <- obs$n
  arr <- core_call(.amz_npe_sample(ptr, obs$inputs$x, obs$inputs$lengths, obs$inputs$context, n_draws, seed,
                                   threads, device), call = call)  # [draw, data set, parameter]
  theta <- matrix(arr, n_draws * n, dim(arr)[3], dimnames = list(NULL, object$parameter_names))
  rows <- rep(seq_len(n), each = n_draws)  # data set i's draws together
  post <- take_input_rows(obs$inputs, rows)
  log_q_theta <- core_call(.amz_npe_log_prob(ptr, theta, post$x, post$lengths, post$context, threads, device),
                           call = call)
  lik <- take_input_rows(observed_inputs(likelihood_part(object), data, context, call = call)$inputs, rows)
  log_q_x <- core_call(.amz_nle_log_prob(ptr, theta, lik$x, lik$lengths, lik$context, threads, device), call = call)
  matrix(prior_log_density(prior, theta) + log_q_x - log_q_theta, n_draws, n)
}
