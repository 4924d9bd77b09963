#' Simulate parameters and data from a simulator
#'
#' Draws `nsim` parameter vectors from the prior and one data set for each.
#' Rows whose data contain `NaN`, `NA` or infinite values are dropped with a
#' warning that counts them; they never reach training.
#'
#' R simulators ([simulator()]) run in chunks over the [future::plan()] you
#' have set (sequentially by default), with a progress bar; see
#' "Parallel and cluster simulation" in [simulator()]. C++ benchmark
#' simulators run on `threads` threads.
#'
#' @param object An `amortized_simulator` from [simulator()] or
#'   [benchmark_simulator()].
#' @param nsim Number of simulations (a whole number >= 1).
#' @param seed `NULL` or a whole number; the same seed gives the same
#'   simulations (your R random number stream is left as it was).
#' @param threads Threads for the C++ benchmark simulators (the result does
#'   not depend on it).
#' @param chunk_size For R simulators: simulations per chunk (one future
#'   each). The default depends on `nsim` only (about 100 chunks for large
#'   `nsim`); the simulations depend on the seed and the chunk size, never
#'   on the plan or the number of workers.
#' @param progress Show a progress bar while R simulators run.
#' @param ... Unused.
#' @return An `amortized_simulations` object: a list with `parameters`
#'   (an n x p matrix with named columns) and `data` (an n x d matrix, or an
#'   `[n, n_obs, dim]` array for set data such as `"ddm"`).
#' @examples
#' sims <- simulate(benchmark_simulator("gaussian_linear"), 100, seed = 1)
#' sims
#' summary(sims)
#' @importFrom stats simulate
#' @export
simulate.amortized_simulator <- function(object, nsim = 1, seed = NULL,
                                         threads = getOption("amortized.threads", 1L),
                                         chunk_size = NULL, progress = interactive(), ...) {
  nsim <- check_count(nsim)
  seed <- resolve_seed(seed)
  threads <- check_threads(threads)
  if (!is.null(chunk_size)) chunk_size <- check_count(chunk_size)
  progress <- check_flag(progress)
  raw <- simulate_raw(object, nsim, seed, threads, chunk_size = chunk_size, progress = progress)
  new_simulations(raw$parameters, raw$data, nonfinite_rows = raw$nonfinite_rows,
                  set_structure = object$set_structure)
}

# The (parameters, data) of n simulations, without dropping rows.
simulate_raw <- function(sim, n, seed, threads = 1L, chunk_size = NULL, progress = FALSE,
                         call = rlang::caller_env()) {
  if (sim$type == "benchmark") {
    o <- sim$options %||% list(n_obs = 100L, design = matrix(0, 0, 0))
    return(core_call(.amz_benchmark_simulate(sim$name, n, seed, threads, o$n_obs, o$design), call = call))
  }
  simulate_r(sim, n, seed, chunk_size = chunk_size, progress = progress, call = call)
}

# Simulations without non-finite rows; a warning counts the rows dropped.
# nonfinite_rows: those rows when already known (the C++ simulators find them).
# set_structure: c(n_obs, dim) when each flat data row is an exchangeable set.
new_simulations <- function(parameters, data, nonfinite_rows = NULL, set_structure = NULL,
                            call = rlang::caller_env()) {
  if (nrow(data) != nrow(parameters)) {
    cli::cli_abort("{.arg parameters} and {.arg data} have different numbers of rows.",
                   class = "amortized_error_data", call = call)
  }
  if (is.null(nonfinite_rows)) {
    bad <- !is.finite(rowSums(data, dims = 1L)) | !is.finite(rowSums(parameters))
    if (any(bad)) {  # a sum can also overflow: keep rows whose values are all finite
      bad[bad] <- !apply(is.finite(take_rows(data, bad)), 1, all) |
        !apply(is.finite(parameters[bad, , drop = FALSE]), 1, all)
    }
  } else {
    bad <- logical(nrow(parameters))
    bad[nonfinite_rows] <- TRUE
  }
  if (any(bad)) {
    n_bad <- sum(bad)
    cli::cli_warn(c("Dropped {n_bad} of {length(bad)} simulation{?s} with non-finite values (NaN, NA or Inf).",
                    "i" = "Such rows never reach training."),
                  class = "amortized_warning_nonfinite", call = call)
    parameters <- parameters[!bad, , drop = FALSE]
    data <- take_rows(data, !bad)
  }
  if (nrow(parameters) == 0) {
    cli::cli_abort("Every simulation had non-finite values; nothing is left.",
                   class = "amortized_error_simulator", call = call)
  }
  set_structure <- if (length(set_structure) == 2) as.integer(set_structure)
  structure(list(parameters = parameters, data = data, set_structure = set_structure),
            class = "amortized_simulations")
}

# Rows i of a matrix or of an [n, n_obs, dim] array.
take_rows <- function(x, i) if (length(dim(x)) == 3) x[i, , , drop = FALSE] else x[i, , drop = FALSE]

# The names of the data variables (the last dimension).
data_names_of <- function(data) utils::tail(dimnames(data), 1)[[1]]

#' @export
print.amortized_simulations <- function(x, ...) {
  cat("<amortized_simulations> ", nrow(x$parameters), " simulations\n", sep = "")
  cat("  parameters (", ncol(x$parameters), "): ", abbreviate_names(colnames(x$parameters)), "\n", sep = "")
  cat("  data       ", data_layout(data_names_of(x$data), dim(x$data)[-1]), "\n", sep = "")
  invisible(x)
}

#' @export
summary.amortized_simulations <- function(object, ...) {
  describe <- function(m, what) {
    data.frame(block = what, variable = colnames(m), mean = colMeans(m),
               sd = apply(m, 2, stats::sd), min = apply(m, 2, min), max = apply(m, 2, max),
               row.names = NULL)
  }
  data <- object$data
  if (length(dim(data)) == 3) {  # pool the observations of every data set
    data <- matrix(data, ncol = dim(data)[3], dimnames = list(NULL, dimnames(data)[[3]]))
  }
  rbind(describe(object$parameters, "parameters"), describe(data, "data"))
}
