#' Simulate parameters and data from a simulator
#'
#' Draws `nsim` parameter vectors from the prior and one data set for each.
#' Rows whose data contain `NaN`, `NA` or infinite values are dropped with a
#' warning that counts them; they never reach training.
#'
#' @param object An `amortized_simulator` from [simulator()] or
#'   [benchmark_simulator()].
#' @param nsim Number of simulations (a whole number >= 1).
#' @param seed `NULL` or a whole number; the same seed gives the same
#'   simulations (your R random number stream is left as it was).
#' @param threads Threads for the C++ benchmark simulators (the result does
#'   not depend on it); R simulators run in the R session.
#' @param ... Unused.
#' @return An `amortized_simulations` object: a list with `parameters`
#'   (an n x p matrix with named columns) and `data` (an n x d matrix).
#' @examples
#' sims <- simulate(benchmark_simulator("gaussian_linear"), 100, seed = 1)
#' sims
#' @importFrom stats simulate
#' @export
simulate.amortized_simulator <- function(object, nsim = 1, seed = NULL,
                                         threads = getOption("amortized.threads", 1L), ...) {
  nsim <- check_count(nsim)
  seed <- resolve_seed(seed)
  threads <- check_threads(threads)
  raw <- simulate_raw(object, nsim, seed, threads)
  new_simulations(raw$parameters, raw$data)
}

# The (parameters, data) of n simulations, without dropping rows.
simulate_raw <- function(sim, n, seed, threads = 1L, call = rlang::caller_env()) {
  if (sim$type == "benchmark") return(.amz_benchmark_simulate(sim$name, n, seed, threads))
  with_seed(seed, simulate_r(sim, n, call = call))
}

new_simulations <- function(parameters, data, call = rlang::caller_env()) {
  bad <- !stats::complete.cases(data) | rowSums(!is.finite(data)) > 0 |
    rowSums(!is.finite(parameters)) > 0
  if (any(bad)) {
    n_bad <- sum(bad)
    cli::cli_warn(c("Dropped {n_bad} of {length(bad)} simulation{?s} with non-finite values (NaN, NA or Inf).",
                    "i" = "Such rows never reach training."),
                  class = "amortized_warning_nonfinite", call = call)
    parameters <- parameters[!bad, , drop = FALSE]
    data <- data[!bad, , drop = FALSE]
  }
  if (nrow(parameters) == 0) {
    cli::cli_abort("Every simulation had non-finite values; nothing is left.",
                   class = "amortized_error_simulator", call = call)
  }
  structure(list(parameters = parameters, data = data), class = "amortized_simulations")
}

#' @export
print.amortized_simulations <- function(x, ...) {
  cat("<amortized_simulations> ", nrow(x$parameters), " simulations\n", sep = "")
  cat("  parameters (", ncol(x$parameters), "): ", abbreviate_names(colnames(x$parameters)), "\n", sep = "")
  cat("  data       (", ncol(x$data), "): ", abbreviate_names(colnames(x$data)), "\n", sep = "")
  invisible(x)
}

#' @export
summary.amortized_simulations <- function(object, ...) {
  describe <- function(m, what) {
    data.frame(block = what, variable = colnames(m), mean = colMeans(m),
               sd = apply(m, 2, stats::sd), min = apply(m, 2, min), max = apply(m, 2, max),
               row.names = NULL)
  }
  rbind(describe(object$parameters, "parameters"), describe(object$data, "data"))
}
