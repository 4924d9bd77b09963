#' Classifier two-sample test (C2ST)
#'
#' How well can a classifier tell posterior draws from reference draws? The
#' score is its mean held-out accuracy: 0.5 means the two samples are
#' indistinguishable, 1 means disjoint. This is the protocol of the sbibm
#' benchmark: both samples are z-scored with the mean and standard deviation
#' of the reference; an MLP with two ReLU hidden layers of 10 x dim units
#' (Adam, learning rate 0.001, minibatches of 200, L2 penalty 1e-4, trained
#' until the training loss stops improving by 1e-4 for 10 epochs) is
#' cross-validated over 5 shuffled folds. The classifier runs in LibTorch;
#' the folds train together as one batched network.
#'
#' @param draws Draws to test: a numeric matrix or data frame (one row per
#'   draw), or a `posterior` draws object (e.g. from [sample_posterior()]
#'   for one observation).
#' @param reference Reference draws with the same number of columns, e.g.
#'   exact posterior samples.
#' @param seed A whole number: the folds, the classifier's initial weights
#'   and its minibatches.
#' @param folds Number of cross-validation folds (>= 2).
#' @param z_score Standardize both samples with the reference's mean and
#'   standard deviation.
#' @param max_epochs Upper limit on the classifier's training epochs.
#' @param threads CPU threads for LibTorch.
#' @return An `amortized_c2st` object, like the other checks: `score` (the
#'   C2ST accuracy, a number in \[0, 1\]), `folds` (the per-fold held-out
#'   accuracies), `epochs` (the epochs each fold's classifier trained; at
#'   `max_epochs` it did not converge), `n_draws`, `n_reference` and `dim`. `as.numeric()` gives
#'   the score; `print()`, `summary()` (a one-row data frame) and
#'   `autoplot()`/`plot()` (the folds' accuracies against chance, 0.5).
#' @family checks
#' @examples
#' \donttest{
#' a <- matrix(rnorm(2000), ncol = 2)
#' b <- matrix(rnorm(2000, mean = 1), ncol = 2)
#' c2st(a, b)  # about pnorm(0.5) = 0.69
#' }
#' @export
c2st <- function(draws, reference, seed = 1, folds = 5, z_score = TRUE, max_epochs = 1000,
                 threads = getOption("amortized.threads", 1L)) {
  est <- as_sample_matrix(draws)
  ref <- as_sample_matrix(reference)
  if (ncol(est) != ncol(ref)) {
    cli::cli_abort(c("{.arg draws} and {.arg reference} must have the same number of columns.",
                     "x" = "{.arg draws} has {ncol(est)}, {.arg reference} has {ncol(ref)}."),
                   class = "amortized_error_argument")
  }
  seed <- resolve_seed(seed)
  folds <- check_count(folds, min = 2)
  z_score <- check_flag(z_score)
  max_epochs <- check_count(max_epochs)
  threads <- check_threads(threads)
  for (x in list(list(est, "draws"), list(ref, "reference"))) {
    if (nrow(x[[1]]) < folds) {
      cli::cli_abort("{.arg {x[[2]]}} needs at least {folds} rows (one per fold); it has {nrow(x[[1]])}.",
                     class = "amortized_error_argument")
    }
  }
  res <- core_call(.amz_c2st(est, ref, list(folds = folds, max_epochs = max_epochs, z_score = z_score,
                                            seed = seed, threads = threads)))
  structure(list(score = res$accuracy, folds = res$fold_accuracy, epochs = res$fold_epochs,
                 n_draws = nrow(est), n_reference = nrow(ref),
                 dim = ncol(est)), class = "amortized_c2st")
}

#' @export
as.double.amortized_c2st <- function(x, ...) x$score

#' @export
print.amortized_c2st <- function(x, ...) {
  cat(sprintf("<amortized_c2st> %.3f (%d draws vs %d reference draws in %d dimension%s; %d folds %.3f-%.3f)\n",
              x$score, x$n_draws, x$n_reference, x$dim, if (x$dim == 1) "" else "s", length(x$folds),
              min(x$folds), max(x$folds)))
  cat("0.5: indistinguishable from the reference; 1: disjoint.\n")
  invisible(x)
}

#' @rdname c2st
#' @param object,x An `amortized_c2st` object.
#' @param ... Unused.
#' @export
summary.amortized_c2st <- function(object, ...) {
  data.frame(score = object$score, fold_min = min(object$folds), fold_max = max(object$folds),
             n_draws = object$n_draws, n_reference = object$n_reference, dim = object$dim)
}

#' @rdname c2st
#' @export
autoplot.amortized_c2st <- function(object, ...) {
  d <- data.frame(fold = seq_along(object$folds), accuracy = object$folds)
  ggplot2::ggplot(d, ggplot2::aes(x = .data$fold, y = .data$accuracy)) +
    ggplot2::geom_hline(yintercept = 0.5, colour = "grey50", linetype = 2) +
    ggplot2::geom_hline(yintercept = object$score, colour = "#1f4e79") +
    ggplot2::geom_point(colour = "#1f4e79", size = 2) +
    ggplot2::scale_y_continuous(limits = c(0.4, 1)) +
    ggplot2::labs(x = "fold", y = "held-out accuracy",
                  title = sprintf("C2ST %.3f", object$score), subtitle = "dashed: chance (indistinguishable samples)") +
    theme_amortized()
}

#' @rdname c2st
#' @export
plot.amortized_c2st <- function(x, ...) autoplot.amortized_c2st(x, ...)

# A numeric matrix of draws (rows) from a matrix, data frame or draws object.
as_sample_matrix <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  if (posterior::is_draws(x)) {
    x <- posterior::as_draws_matrix(x)
    x <- matrix(unclass(x), nrow(x), dimnames = list(NULL, posterior::variables(x)))
  }
  if (is.data.frame(x)) {
    if (!all(vapply(x, is.numeric, logical(1)))) {
      cli::cli_abort("{.arg {arg}} has non-numeric columns.", class = "amortized_error_argument", call = call)
    }
    x <- as.matrix(x)
  }
  if (is.numeric(x) && is.null(dim(x))) x <- matrix(x, ncol = 1)
  if (!is.matrix(x) || !is.numeric(x) || ncol(x) < 1) {
    cli::cli_abort(c("{.arg {arg}} must be a numeric matrix, a data frame or a draws object.",
                     "x" = "Got {describe_value(x)}."), class = "amortized_error_argument", call = call)
  }
  if (any(!is.finite(x))) {
    cli::cli_abort("{.arg {arg}} has non-finite values (NA, NaN or Inf).",
                   class = "amortized_error_argument", call = call)
  }
  storage.mode(x) <- "double"
  x
}
