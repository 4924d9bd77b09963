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
#' Environment variable `AMORTIZED_SIMD` (`"baseline"`, `"avx2"` or
#' `"avx512"`, read once, at first use): caps the instruction set of the
#' core's SIMD kernels, which otherwise use the best this CPU has. Results on
#' different paths agree to float32 rounding, not bit for bit; a seed gives
#' bit-identical results on the same machine, path and thread count.
#'
#' @keywords internal
#' @useDynLib amortized, .registration = TRUE
#' @importFrom Rcpp evalCpp
#' @importFrom rlang .data %||%
"_PACKAGE"

.onLoad <- function(libname, pkgname) {
  if (is.null(getOption("amortized.threads"))) options(amortized.threads = 1L)
  simd <- Sys.getenv("AMORTIZED_SIMD")
  if (nzchar(simd) && !simd %in% c("baseline", "avx2", "avx512")) {
    warning("AMORTIZED_SIMD is \"", simd, "\"; expected \"baseline\", \"avx2\" or \"avx512\". Ignored: ",
            "the SIMD kernels use the best this CPU has.", call. = FALSE)
  }
  invisible()
}
