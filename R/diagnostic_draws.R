# What the simulation-based diagnostics share: checking their inputs and
# drawing posteriors for many simulated data sets in batched passes.

# The simulations a check runs on, the same way for every check: given
# simulations (from simulate(), or a finished store) as they are, or n_sims
# new ones from a simulator (with seed); checked against the amortizer.
check_simulations <- function(object, simulations, n_sims, seed, threads, call = rlang::caller_env()) {
  check_amortizer(object, arg = "object", call = call)
  if (missing(simulations)) {
    cli::cli_abort(c("{.arg simulations} is missing.",
                     "i" = "Give simulations from {.fn simulate} (ideally not the training ones), or the simulator: then {.arg n_sims} new ones are drawn."),
                   class = "amortized_error_argument", call = call)
  }
  n_sims <- check_count(n_sims, min = 2)
  sims <- training_simulations(simulations, n_sims, seed, threads, arg = "simulations",
                               keep_nonfinite = isTRUE(object$config$keep_nonfinite), call = call)
  if (nrow(sims$parameters) < 2) {
    cli::cli_abort("{.arg simulations} must hold at least 2 data sets.", class = "amortized_error_argument", call = call)
  }
  check_same_variables(object, sims, arg = "simulations", call = call)
  sims
}

# Posterior draws for every simulated data set: [n_draws, n_sims, p].
posterior_draws <- function(amortizer, sims, n_draws, seed, threads, device, call = rlang::caller_env()) {
  inputs <- simulation_inputs(amortizer$config, sims)
  core_call(.amz_npe_sample(model_pointer(amortizer), inputs$x, inputs$lengths, inputs$context,
                            n_draws, seed, threads, device), call = call)
}

# summarise_draw_array() of the posterior draws for every simulated data set,
# drawn and summarised in chunks of data sets, so that the draws held at
# once stay near 2^23 values (64 MB) whatever n_sims and n_draws are: SBC-
# style checks of 10,000 data sets x 1,000 draws need no 800 MB array.
# One chunk (the common case) draws with `seed` itself; chunk k with seed + k.
posterior_draw_summaries <- function(amortizer, sims, truth, n_draws, seed, threads, device, level = NULL,
                                     call = rlang::caller_env()) {
  n <- nrow(truth)
  size <- max(1L, as.integer(floor(getOption("amortized.chunk_values", 2^23) / (as.double(n_draws) * ncol(truth)))))
  starts <- seq(1L, n, by = size)
  parts <- lapply(seq_along(starts), function(k) {
    rows <- starts[k]:min(n, starts[k] + size - 1L)
    part <- if (length(starts) == 1) sims else subset_simulations(sims, rows)
    arr <- posterior_draws(amortizer, part, n_draws, (seed + k - 1) %% 2147483647, threads, device, call = call)
    summarise_draw_array(arr, truth[rows, , drop = FALSE], level)
  })
  if (length(parts) == 1) return(parts[[1]])
  out <- lapply(stats::setNames(names(parts[[1]]), names(parts[[1]])), function(f) do.call(rbind, lapply(parts, `[[`, f)))
  storage.mode(out$ranks) <- "integer"
  out
}

# Summaries of draws arr [n_draws, n_sims, p] against the truths [n_sims, p]
# (named columns): n_sims x p matrices of the posterior mean and sd, the
# rank of the truth (draws below it, as sbc() counts), and with a `level`
# the median and the central interval (one pass of quantiles).
summarise_draw_array <- function(arr, truth, level = NULL) {
  n_draws <- dim(arr)[1]
  n <- dim(arr)[2]
  per_parameter <- function(f) {
    out <- vapply(seq_len(ncol(truth)), function(j) f(matrix(arr[, , j], n_draws, n), truth[, j]), numeric(n))
    matrix(out, n, ncol(truth), dimnames = list(NULL, colnames(truth)))
  }
  out <- list(mean = per_parameter(function(m, t) colMeans(m)),
              sd = per_parameter(function(m, t) apply(m, 2, stats::sd)),
              ranks = per_parameter(function(m, t) colSums(m < rep(t, each = n_draws))))
  storage.mode(out$ranks) <- "integer"
  if (!is.null(level)) {
    alpha <- (1 - level) / 2
    q <- lapply(seq_len(ncol(truth)), function(j) {
      apply(matrix(arr[, , j], n_draws, n), 2, stats::quantile, probs = c(alpha, 0.5, 1 - alpha), names = FALSE)
    })
    row <- function(i) matrix(vapply(q, function(m) m[i, ], numeric(n)), n, ncol(truth),
                              dimnames = list(NULL, colnames(truth)))
    out$lower <- row(1)
    out$median <- row(2)
    out$upper <- row(3)
  }
  out
}

# A long data frame (parameter as an ordered factor) from n x p matrices
# with the same columns.
long_by_parameter <- function(...) {
  cols <- list(...)
  p <- colnames(cols[[1]])
  out <- data.frame(parameter = factor(rep(p, each = nrow(cols[[1]])), levels = p))
  for (n in names(cols)) out[[n]] <- as.vector(cols[[n]])
  out
}
