#' Define a simulator from a prior and a model written in R
#'
#' A simulator pairs a `prior`, which draws parameters, with a `model`, which
#' simulates one data set per parameter draw. Both are checked on a small call
#' (with a fixed seed, leaving your random number stream untouched) so that
#' mistakes surface here rather than during training.
#'
#' @param prior A function of `n` returning an `n`-row matrix or data frame of
#'   numeric parameters with column names (the parameter names).
#' @param model With `vectorized = TRUE` (default), a function of the `n`-row
#'   parameter matrix returning an `n`-row numeric matrix of data, one data set
#'   per row. With `vectorized = FALSE`, a function of one named parameter
#'   vector returning one numeric data vector; it is called row by row.
#' @param vectorized Whether `model` takes all parameter rows at once.
#' @return An `amortized_simulator` object; use it with [train()], [sbc()] and
#'   [simulate()][simulate.amortized_simulator].
#' @seealso [benchmark_simulator()] for fast C++ simulators of standard tasks.
#' @examples
#' sim <- simulator(
#'   prior = function(n) cbind(mu = rnorm(n), log_sigma = rnorm(n, -1, 0.3)),
#'   model = function(theta) {
#'     n <- nrow(theta)
#'     matrix(rnorm(n * 5, theta[, "mu"], exp(theta[, "log_sigma"])), n, 5)
#'   }
#' )
#' sim
#' @export
simulator <- function(prior, model, vectorized = TRUE) {
  if (!is.function(prior)) {
    cli::cli_abort(c("{.arg prior} must be a function of {.code n} returning parameter draws.",
                     "x" = "Got {describe_value(prior)}."), class = "amortized_error_argument")
  }
  if (!is.function(model)) {
    cli::cli_abort(c("{.arg model} must be a function of the parameters returning data.",
                     "x" = "Got {describe_value(model)}."), class = "amortized_error_argument")
  }
  vectorized <- check_flag(vectorized)
  sim <- structure(list(type = "r", name = NULL, prior = prior, model = model,
                        vectorized = vectorized, parameter_names = NULL, data_names = NULL),
                   class = "amortized_simulator")
  trial <- with_seed(1, simulate_r(sim, 3, call = rlang::current_env()))
  sim$parameter_names <- colnames(trial$parameters)
  sim$data_names <- colnames(trial$data)
  sim
}

#' Benchmark simulators in C++
#'
#' Fast, seeded, multi-threaded simulators of standard simulation-based
#' inference tasks (the definitions of the sbibm benchmark):
#' * `"gaussian_linear"`: theta ~ N(0, 0.1 I_10), x ~ N(theta, 0.1 I_10)
#'   (variances); the exact posterior is N(x / 2, 0.05 I).
#' * `"two_moons"`: theta ~ U(-1, 1)^2; x is a crescent point
#'   (r cos a + 0.25, r sin a), a ~ U(-pi/2, pi/2), r ~ N(0.1, 0.01^2),
#'   shifted by (-|theta_1 + theta_2| / sqrt 2, (theta_2 - theta_1) / sqrt 2).
#' * `"slcp"`: theta ~ U(-3, 3)^5; 4 iid 2-d normal points with mean
#'   (theta_1, theta_2), sds theta_3^2, theta_4^2 and correlation
#'   tanh(theta_5), flattened as (x11, x12, x21, ...) into 8 values.
#' * `"gaussian_mixture"`: theta ~ U(-10, 10)^2,
#'   x ~ 0.5 N(theta, I) + 0.5 N(theta, 0.01 I).
#' * `"inverse_kinematics"`: theta ~ N(0, diag(1/16, 1/4, 1/4, 1/4)); x is the
#'   end point of a planar arm with segments 0.5, 0.5, 1.
#'
#' Simulations are made in chunks of 1,024 with their own random streams
#' derived from the seed, so the same seed gives the same simulations for any
#' number of threads.
#'
#' @param name The task name.
#' @return An `amortized_simulator` object.
#' @examples
#' sim <- benchmark_simulator("gaussian_linear")
#' sims <- simulate(sim, 5, seed = 1)
#' @export
benchmark_simulator <- function(name) {
  known <- .amz_benchmark_names()
  if (!is.character(name) || length(name) != 1 || !name %in% known) {
    cli::cli_abort(c("{.arg name} must be one of {.val {known}}.", "x" = "Got {describe_value(name)}."),
                   class = "amortized_error_argument")
  }
  info <- .amz_benchmark_info(name)
  structure(list(type = "benchmark", name = name, prior = NULL, model = NULL, vectorized = TRUE,
                 parameter_names = info$parameter_names, data_names = info$data_names),
            class = "amortized_simulator")
}

#' @export
print.amortized_simulator <- function(x, ...) {
  what <- if (x$type == "benchmark") paste0("benchmark simulator ", x$name, " (C++)") else
    paste0("R simulator (", if (x$vectorized) "vectorized" else "row by row", ")")
  cat("<amortized_simulator> ", what, "\n", sep = "")
  cat("  parameters (", length(x$parameter_names), "): ", abbreviate_names(x$parameter_names), "\n", sep = "")
  cat("  data       (", length(x$data_names), "): ", abbreviate_names(x$data_names), "\n", sep = "")
  invisible(x)
}

abbreviate_names <- function(names, max = 6) {
  if (length(names) <= max) return(paste(names, collapse = ", "))
  paste(c(names[seq_len(max - 1)], "...", names[length(names)]), collapse = ", ")
}

is_simulator <- function(x) inherits(x, "amortized_simulator")

# Draws n (parameters, data) pairs from an R simulator, checking every output.
simulate_r <- function(sim, n, call = rlang::caller_env()) {
  theta <- sim$prior(n)
  if (is.data.frame(theta)) {
    if (!all(vapply(theta, is.numeric, logical(1)))) {
      cli::cli_abort("{.arg prior} returned a data frame with non-numeric columns.",
                     class = "amortized_error_simulator", call = call)
    }
    theta <- as.matrix(theta)
  }
  if (is.null(dim(theta)) && is.numeric(theta) && length(theta) == n) theta <- matrix(theta, ncol = 1)
  if (!is.matrix(theta) || !is.numeric(theta)) {
    cli::cli_abort(c("{.arg prior} must return a numeric matrix or data frame.",
                     "x" = "{.code prior({n})} returned {describe_value(theta)}."),
                   class = "amortized_error_simulator", call = call)
  }
  if (nrow(theta) != n) {
    cli::cli_abort(c("{.arg prior} must return {n} rows for {.code prior({n})}.",
                     "x" = "It returned {nrow(theta)} row{?s}."),
                   class = "amortized_error_simulator", call = call)
  }
  pn <- colnames(theta)
  if (is.null(pn) || any(is.na(pn) | pn == "") || anyDuplicated(pn)) {
    cli::cli_abort(c("{.arg prior} must return columns with unique names (the parameter names).",
                     "i" = "For example {.code cbind(mu = rnorm(n), sigma = rexp(n))}."),
                   class = "amortized_error_simulator", call = call)
  }
  x <- if (isTRUE(sim$vectorized)) sim$model(theta) else simulate_rows(sim$model, theta, call)
  if (is.data.frame(x)) x <- as.matrix(x)
  if (is.null(dim(x)) && is.numeric(x) && length(x) == n) x <- matrix(x, ncol = 1)
  if (!is.matrix(x) || !is.numeric(x)) {
    cli::cli_abort(c("{.arg model} must return a numeric matrix, one data set per row.",
                     "x" = "It returned {describe_value(x)}."),
                   class = "amortized_error_simulator", call = call)
  }
  if (nrow(x) != n) {
    cli::cli_abort(c("{.arg model} must return one row per parameter row ({n}).",
                     "x" = "It returned {nrow(x)} row{?s}.",
                     "i" = "For a model that takes one parameter vector, use {.code vectorized = FALSE}."),
                   class = "amortized_error_simulator", call = call)
  }
  storage.mode(x) <- "double"
  storage.mode(theta) <- "double"
  if (is.null(colnames(x))) colnames(x) <- paste0("x_", seq_len(ncol(x)))
  if (!is.null(sim$parameter_names) && !identical(colnames(theta), sim$parameter_names)) {
    cli::cli_abort("{.arg prior} returned other parameter names than before.",
                   class = "amortized_error_simulator", call = call)
  }
  if (!is.null(sim$data_names) && ncol(x) != length(sim$data_names)) {
    cli::cli_abort("{.arg model} returned {ncol(x)} values per data set, earlier {length(sim$data_names)}.",
                   class = "amortized_error_simulator", call = call)
  }
  list(parameters = theta, data = x)
}

simulate_rows <- function(model, theta, call) {
  rows <- lapply(seq_len(nrow(theta)), function(i) {
    out <- model(theta[i, ])
    if (!is.numeric(out) || !is.null(dim(out)) && min(dim(out)) > 1) {
      cli::cli_abort(c("{.arg model} (with {.code vectorized = FALSE}) must return a numeric vector.",
                       "x" = "For parameter row {i} it returned {describe_value(out)}."),
                     class = "amortized_error_simulator", call = call)
    }
    stats::setNames(as.numeric(out), names(out))
  })
  lens <- lengths(rows)
  if (any(lens != lens[1])) {
    cli::cli_abort("{.arg model} returned data of different lengths ({unique(lens)}) for different rows.",
                   class = "amortized_error_simulator", call = call)
  }
  x <- do.call(rbind, rows)
  colnames(x) <- names(rows[[1]])
  x
}

