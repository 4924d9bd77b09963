#' Maximum mean discrepancy between two samples
#'
#' The unbiased estimate of the squared maximum mean discrepancy (MMD^2)
#' between the distributions of two samples: the mean kernel value over
#' distinct pairs within `x`, plus that within `y`, minus twice the mean over
#' pairs across. It is near zero (and can be slightly negative) when both
#' samples come from one distribution, and positive when they do not. Used by
#' [misspecification_test()] in the learned summary space.
#'
#' Computed in C++ in blocks of rows (memory stays bounded), in double
#' precision: 10,000 x 10,000 rows of 10 columns take about a second on one
#' thread.
#'
#' @param x,y Numeric matrices (or data frames, or vectors for one column)
#'   with the same columns; each row is a point. At least 2 rows each, all
#'   values finite.
#' @param kernel `"gaussian"`, exp(-|a - b|^2 / (2 h^2)), or `"imq"` (inverse
#'   multiquadric), (1 + |a - b|^2 / h^2)^(-1/2), whose heavier tails keep it
#'   sensitive to distant outliers.
#' @param bandwidth The kernel's bandwidth h: `NULL` (default) for the median
#'   heuristic (the median distance between rows of both samples, from at
#'   most 1,000 rows), or positive numbers; several give the mean of their
#'   kernels (a mixture of bandwidths).
#' @param threads CPU threads for LibTorch; default: option
#'   `amortized.inference_threads`, else measured at the first use: the physical cores (at most 4) where they beat one thread, else 1 (see [amortized-package]).
#' @return The MMD^2 estimate, a number, with the bandwidth(s) used as
#'   attribute `"bandwidth"`.
#' @family model comparison
#' @examples
#' set.seed(1)
#' x <- matrix(rnorm(2000), ncol = 2)
#' mmd(x, matrix(rnorm(2000), ncol = 2))            # near 0
#' mmd(x, matrix(rnorm(2000, sd = 2), ncol = 2))    # clearly positive
#' mmd(x, matrix(rnorm(2000, sd = 2), ncol = 2), kernel = "imq", bandwidth = c(0.5, 1, 2))
#' @export
mmd <- function(x, y, kernel = c("gaussian", "imq"), bandwidth = NULL, threads = inference_threads()) {
  x <- as_point_matrix(x)
  y <- as_point_matrix(y)
  if (ncol(x) != ncol(y)) {
    cli::cli_abort(c("{.arg x} and {.arg y} must have the same number of columns.",
                     "x" = "{.arg x} has {ncol(x)}, {.arg y} has {ncol(y)}."), class = "amortized_error_argument")
  }
  kernel <- check_choice(kernel, c("gaussian", "imq"))
  threads <- check_threads(threads)
  bandwidth <- if (is.null(bandwidth)) .amz_median_distance(x, y) else check_bandwidth(bandwidth)
  structure(core_call(.amz_mmd(x, y, kernel, bandwidth, threads)), bandwidth = bandwidth)
}

# A sample (rows are points) as a finite numeric matrix with >= 2 rows.
as_point_matrix <- function(x, arg = rlang::caller_arg(x), min_rows = 2, call = rlang::caller_env()) {
  if (is.data.frame(x) && all(vapply(x, is.numeric, logical(1)))) x <- as.matrix(x)
  if (is.numeric(x) && is.null(dim(x))) x <- matrix(x, ncol = 1)
  if (!is.numeric(x) || length(dim(x)) != 2) {
    cli::cli_abort(c("{.arg {arg}} must be a numeric matrix or data frame (one point per row), or a numeric vector.",
                     "x" = "Got {describe_value(x)}."), class = "amortized_error_argument", call = call)
  }
  if (nrow(x) < min_rows || ncol(x) < 1) {
    cli::cli_abort(c("{.arg {arg}} must have at least {min_rows} row{?s} and a column.",
                     "x" = "It has {nrow(x)} row{?s} and {ncol(x)} column{?s}."),
                   class = "amortized_error_argument", call = call)
  }
  if (!all(is.finite(x))) {
    cli::cli_abort("{.arg {arg}} must have only finite values (it has {sum(!is.finite(x))} that are not).",
                   class = "amortized_error_argument", call = call)
  }
  storage.mode(x) <- "double"
  x
}

check_bandwidth <- function(bandwidth, arg = rlang::caller_arg(bandwidth), call = rlang::caller_env()) {
  if (!is.numeric(bandwidth) || length(bandwidth) < 1 || !all(is.finite(bandwidth)) || any(bandwidth <= 0)) {
    cli::cli_abort(c("{.arg {arg}} must be NULL (the median heuristic) or positive finite numbers.",
                     "x" = "Got {describe_value(bandwidth)}."), class = "amortized_error_argument", call = call)
  }
  as.numeric(bandwidth)
}
