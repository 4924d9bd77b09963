# Posterior draws of a likelihood amortizer (sample_posterior() on one):
# slice sampling of log prior + log q(data | theta), `chains` chains per data
# set started at prior draws, all data sets and chains at once in C++, the
# first `warmup` iterations discarded. n_draws is rounded up to a multiple of
# `chains`. A draws_df with .chain and .iteration; a warning when a
# parameter's R-hat exceeds 1.01. The arguments come checked from
# sample_posterior().
mcmc_posterior <- function(object, data, n_draws, context, seed, threads, chains = 4L, warmup = 200L,
                           call = rlang::caller_env()) {
  if (is.null(object$log_prior) || is.null(object$prior)) {
    cli::cli_abort(c("Posteriors from a likelihood amortizer need the prior's density.",
                     "i" = "Train it on {.code simulator(prior, model, log_prior = function(theta) ...)}."),
                   class = "amortized_error_argument", call = call)
  }
  pnames <- object$parameter_names
  obs <- observed_inputs(object, data, context, call = call)
  n <- obs$n
  per_chain <- as.integer(ceiling(n_draws / chains))
  init <- with_seed(seed, as.matrix(object$prior(n * chains)))[, pnames, drop = FALSE]  # row i + n (c - 1): chain c of data set i
  storage.mode(init) <- "double"
  inputs <- take_input_rows(obs$inputs, rep(seq_len(n), times = chains))
  log_prior <- function(theta) {
    colnames(theta) <- pnames
    as.double(object$log_prior(theta))
  }
  arr <- core_call(.amz_nle_mcmc(model_pointer(object), init, inputs$x, inputs$lengths, inputs$context, log_prior,
                                 warmup, per_chain, seed, threads), call = call)
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
                    "i" = "Draw more ({.arg n_draws}) or check the likelihood amortizer."),
                  class = "amortized_warning_rhat", call = call)
  }
  invisible(rhat)
}
