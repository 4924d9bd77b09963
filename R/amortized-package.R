#' amortized: amortized Bayesian inference with neural networks
#'
#' Train a conditional normalizing flow on simulations once with [train()],
#' then draw posterior samples for any new data set in milliseconds with
#' [sample_posterior()], and check calibration with [sbc()].
#'
#' Options: `amortized.threads` (default 1), the number of CPU threads
#' LibTorch uses; one thread is fastest for the small networks of most
#' amortizers.
#'
#' @keywords internal
#' @useDynLib amortized, .registration = TRUE
#' @importFrom Rcpp evalCpp
#' @importFrom rlang .data %||%
"_PACKAGE"

.onLoad <- function(libname, pkgname) {
  if (is.null(getOption("amortized.threads"))) options(amortized.threads = 1L)
  invisible()
}
