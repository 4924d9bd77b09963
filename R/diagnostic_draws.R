# What the simulation-based diagnostics share: checking their inputs and
# drawing posteriors for many simulated data sets in batched passes.

# Checks (amortizer, simulations) and returns the simulations, checked
# against the amortizer's variables.
diagnostic_simulations <- function(amortizer, simulations, call = rlang::caller_env()) {
  check_amortizer(amortizer, arg = "amortizer", call = call)
  if (!inherits(simulations, "amortized_simulations")) {
    cli::cli_abort(c("{.arg simulations} must be simulations from {.fn simulate}.",
                     "x" = "Got {describe_value(simulations)}.",
                     "i" = "For example {.code simulate(simulator, 1000, seed = 1)}."),
                   class = "amortized_error_argument", call = call)
  }
  if (nrow(simulations$parameters) < 2) {
    cli::cli_abort("{.arg simulations} must hold at least 2 data sets.", class = "amortized_error_argument", call = call)
  }
  check_same_variables(amortizer, simulations, arg = "simulations", call = call)
  simulations
}

# Posterior summaries of every simulated data set from n_draws draws each:
# list(mean, sd, median, lower, upper) of n_sims x p matrices (central
# interval at `level`).
posterior_summaries <- function(amortizer, sims, n_draws, level, seed, threads, call = rlang::caller_env()) {
  inputs <- simulation_inputs(amortizer$config, sims)
  arr <- core_call(.amz_npe_sample(model_pointer(amortizer), inputs$x, inputs$lengths, inputs$context,
                                   n_draws, seed, threads, "cpu"), call = call)  # [n_draws, n_sims, p]
  p <- dim(arr)[3]
  stat <- function(f) {
    out <- vapply(seq_len(p), function(j) f(arr[, , j, drop = TRUE]), numeric(dim(arr)[2]))
    matrix(out, ncol = p, dimnames = list(NULL, amortizer$parameter_names))
  }
  alpha <- (1 - level) / 2
  q <- function(prob) function(m) apply(m, 2, stats::quantile, probs = prob, names = FALSE, type = 7)
  list(mean = stat(function(m) colMeans(m)),
       sd = stat(function(m) apply(m, 2, stats::sd)),
       median = stat(q(0.5)), lower = stat(q(alpha)), upper = stat(q(1 - alpha)))
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
