#' amortized: amortized Bayesian inference with neural networks
#'
#' Train a conditional normalizing flow on simulations once with [train()],
#' then draw posterior samples for any new data set in milliseconds with
#' [sample_posterior()], and check calibration with [sbc()].
#'
#' Options:
#' * `amortized.threads` (default 1): CPU threads for training; one thread
#'   is fastest for the small networks and batches of most amortizers.
#' * `amortized.inference_threads`: CPU threads for draws, densities and
#'   the checks (each verb's `threads` argument overrides it). Unset, the
#'   package measures once per session, at the first use (about 0.1 s): the
#'   physical cores (at most 4) when they run a typical inference workload
#'   at least 1.2 times faster than one thread, else 1, so that the default
#'   does not lose to one thread (on shared or hyperthreaded cores more
#'   threads can be slower). Set it, e.g. `options(amortized.inference_threads
#'   = 1)`, for reproducible timings or when other work shares the cores.
#' * `amortized.max_memory` (bytes): the budget that requests for draws and
#'   simulations are checked against; default the memory available.
#' * `amortized.chunk_values`: how many values of draws or network inputs
#'   the checks and [log_likelihood()] hold at once (default 2^23).
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
