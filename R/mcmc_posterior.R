# Posterior draws of a likelihood amortizer (sample_posterior() on one):
# slice sampling of log prior + log q(data | theta), `chains` chains per data
# set, all data sets and chains at once in C++; each iteration updates all
# coordinates in a hyperrectangle of adapted widths (a few density calls,
# where one coordinate after the other takes a few per coordinate), and
# every `thin`-th iteration after the first `warmup` is kept. The chains
# start at prior draws resampled by their posterior weight
# (sampling-importance-resampling), so that they start in every mode of a
# multimodal posterior about as often as its mass says. Many chains of
# about 100 draws (at least 10): one batched call of the network costs
# about the same for 100 chains as for 10. n_draws is rounded up to a
# multiple of the chains. A draws_df with .chain and .iteration; a warning
# when a parameter's R-hat exceeds 1.01. The arguments come checked from
# sample_posterior().
mcmc_posterior <- function(object, data, n_draws, context, seed, threads, device, chains = NULL, warmup = 100L,
                           thin = 4L, hyperrectangle = TRUE, call = rlang::caller_env()) {
  prior <- check_prior_known(object, "Posteriors from a likelihood amortizer", call = call)
  pnames <- object$parameter_names
  obs <- observed_inputs(object, data, context, call = call)
  n <- obs$n
  chains <- chains %||% as.integer(min(100, max(10, ceiling(n_draws / 100))))
  per_chain <- as.integer(ceiling(n_draws / chains))
  init <- with_seed(seed, resampled_starts(object, prior, obs, chains, threads, device))  # row i + n (c - 1): chain c of data set i
  inputs <- take_input_rows(obs$inputs, rep(seq_len(n), times = chains))
  log_prior <- function(theta) {
    colnames(theta) <- pnames
    prior_log_density(prior, theta)
  }
  arr <- core_call(.amz_nle_mcmc(model_pointer(object), init, inputs$x, inputs$lengths, inputs$context, log_prior,
                                 warmup, per_chain, thin, hyperrectangle, seed, threads), call = call)
  k <- length(pnames)
  a <- aperm(array(arr, c(n, chains, per_chain, k)), c(3, 2, 1, 4))  # [iteration, chain, data set, parameter]
  dim(a) <- c(per_chain, chains, n * k)
  vars <- if (obs$single) pnames else index_names(rep(pnames, each = n), rep(seq_len(n), k))
  dimnames(a) <- list(NULL, NULL, vars)
  draws <- posterior::as_draws_df(posterior::as_draws_array(a))
  warn_unmixed(draws, call)
  draws
}

# Warns (amortized_warning_rhat) when some variable's R-hat exceeds 1.01.
warn_unmixed <- function(draws, call = rlang::caller_env()) {
  vars <- posterior::variables(draws)
  rhat <- vapply(vars, function(v) posterior::rhat(posterior::extract_variable_matrix(draws, v)), 0)
  if (any(rhat > 1.01, na.rm = TRUE)) {
    worst <- vars[which.max(rhat)]
    cli::cli_warn(c("The chains have not mixed: R-hat of {.field {worst}} is {format(max(rhat, na.rm = TRUE), digits = 3)} (> 1.01).",
                    "i" = "Draw more ({.arg n_draws}) or check the likelihood amortizer; chains that stay in separate modes of a multimodal posterior show this too."),
                  class = "amortized_warning_rhat", call = call)
  }
  invisible(rhat)
}

# Starting points of `chains` chains for each of the obs$n data sets (row
# i + n (c - 1): chain c of data set i): prior draws, `chains` of every
# data set's candidates drawn without replacement with probability in
# proportion to their likelihood (the prior's own draws weigh the prior
# in). Enough candidates that the resampling sees the posterior's modes,
# while the batched density pass stays near a million data points.
resampled_starts <- function(object, prior, obs, chains, threads, device) {
  n <- obs$n
  pnames <- object$parameter_names
  points <- if (length(dim(obs$inputs$x)) == 3) dim(obs$inputs$x)[2] else 1
  m <- as.integer(max(4 * chains, min(1000, ceiling(1e6 / (n * points)))))
  theta <- prior_draws(prior, n * m, pnames)  # rows (i - 1) m + 1 .. i m: data set i's candidates
  rows <- rep(seq_len(n), each = m)
  inputs <- take_input_rows(obs$inputs, rows)
  lq <- core_call(.amz_nle_log_prob(model_pointer(object), theta, inputs$x, inputs$lengths, inputs$context, threads,
                                    device))
  lq <- matrix(lq, m, n)
  pick <- vapply(seq_len(n), function(i) {
    w <- lq[, i]
    w[!is.finite(w)] <- -Inf
    p <- if (any(is.finite(w))) exp(w - max(w)) else rep(1, m)
    p <- pmax(p, 1e-300)  # sample() without replacement needs enough nonzero weights
    (i - 1L) * m + sample.int(m, chains, prob = p)
  }, integer(chains))  # [chain, data set]
  theta[as.vector(t(pick)), , drop = FALSE]
}
