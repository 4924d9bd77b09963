#' amortized: amortized Bayesian inference with neural networks
#'
#' Train a conditional normalizing flow on simulations once with [train()],
#' then draw posterior samples for any new data set in milliseconds with
#' [sample_posterior()], and check calibration with [sbc()].
#'
#' @section The workflow:
#' 1. **Simulate**: a [simulator()] (an R prior and model) or a
#'    [benchmark_simulator()]; [simulate()][simulate.amortized_simulator]
#'    draws simulations (in parallel on `future` plans; `store =` keeps
#'    them on disk and resumes), [write_simulations()] /
#'    [read_simulations()] keep them.
#' 2. **Configure**: [amortizer()] with an inference network
#'    ([coupling_flow()], [flow_matching()], [ensemble()]), a summary
#'    network for sets or series ([deep_set()], [set_transformer()],
#'    [time_series_net()], [time_series_transformer()], [fusion()]) and a
#'    [configurator()] (bounds, data steps, structure); `estimate =`
#'    `"posterior"`, `"likelihood"`, `"joint"` or `"models"`.
#' 3. **Train**: [train()] (offline, online, in rounds; early stopping;
#'    checkpoints).
#' 4. **Infer**: [sample_posterior()], [posterior_log_density()],
#'    [log_likelihood()], [log_marginal_likelihood()], [bayes_factor()],
#'    [posterior_model_probs()], [learned_summaries()].
#' 5. **Check**: [diagnostics()] or each of [sbc()], [recovery()],
#'    [coverage()], [calibration_error()], [z_score_contraction()] on
#'    held-out simulations; [posterior_predictive()] and
#'    [misspecification_test()] against the observed data;
#'    [calibration_curve()] and [confusion_matrix()] for model comparison;
#'    [c2st()] against reference draws.
#' 6. **Save**: [save_amortizer()], [load_amortizer()].
#'
#' @section Conditions:
#' Errors and warnings carry classes, for `tryCatch()` and
#' `withCallingHandlers()`:
#' * `amortized_error_argument`: a bad argument (the message names it and
#'   what was expected); `amortized_error_memory` (also an argument error):
#'   a request too large for the memory budget;
#' * `amortized_error_data`: data that do not fit the amortizer or a data
#'   step;
#' * `amortized_error_simulator`: a simulator that fails or returns the
#'   wrong shape; `amortized_error_simulator_chunks`: chunks of a run that
#'   failed twice (the others are kept);
#' * `amortized_error_untrained`, `amortized_error_training`,
#'   `amortized_error_file` (an unreadable amortizer file),
#'   `amortized_error_device`, `amortized_error_dependency`,
#'   `amortized_error_core` (an error inside the C++ core);
#' * warnings `amortized_warning_nonfinite` (simulations dropped),
#'   `amortized_warning_outside_training` and
#'   `amortized_warning_extrapolation` (data unlike the training
#'   simulations), `amortized_warning_rhat` (MCMC not converged),
#'   `amortized_warning_interrupted` (training stopped by Ctrl-C, the best
#'   weights kept); message `amortized_message_code_dropped`
#'   ([load_amortizer()] without `trust`).
#'
#' @section Options:
#' * `amortized.threads` (default 1): CPU threads for training; one thread
#'   is fastest for the small networks and batches of most amortizers.
#' * `amortized.inference_threads`: CPU threads for draws, densities and
#'   the checks (each verb's `threads` argument overrides it). Unset, the
#'   package measures once per session, at the first use (about 0.1 s): the
#'   physical cores (at most 4) when they draw from a default posterior flow
#'   at least 1.2 times faster than one thread, else 1, so that the default
#'   does not lose to one thread (on shared or hyperthreaded cores more
#'   threads can be slower). Set it, e.g. `options(amortized.inference_threads
#'   = 1)`, for reproducible timings or when other work shares the cores.
#' * `amortized.max_memory` (bytes): the budget that requests for draws and
#'   simulations are checked against; default the memory available.
#' * `amortized.chunk_values`: how many values of draws or network inputs
#'   the checks and [log_likelihood()] hold at once (default 2^23).
#' * `amortized.device`: `"cpu"` (default), `"cuda"` or `"auto"`, for
#'   training and sampling.
#' * `amortized.tune_malloc` (read when the package loads; default `TRUE`):
#'   on Linux with glibc, raise malloc's mmap and trim thresholds to 32 and
#'   256 MiB for the session. LibTorch allocates every tensor anew, and with
#'   glibc's defaults the activations of a summary network are mapped and
#'   zero-filled afresh at every training step (a third of the time of a
#'   deep set's step, up to five sixths with batches of 256 sets). Freed
#'   memory goes back to the system after each [train()]. Set it to `FALSE`
#'   before loading the package to keep glibc's defaults.
#'
#' Environment variable `AMORTIZED_SIMD` (`"baseline"`, `"avx2"` or
#' `"avx512"`, read once, at first use): caps the instruction set of the
#' core's SIMD kernels, which otherwise use the best this CPU has. Results on
#' different paths agree to float32 rounding, not bit for bit; a seed gives
#' bit-identical results on the same machine, path and thread count.
#'
#' @useDynLib amortized, .registration = TRUE
#' @importFrom Rcpp evalCpp
#' @importFrom rlang .data %||%
#' @seealso The vignettes, one per workflow: `vignette("amortized")` (getting
#'   started), `vignette("sets-and-series")`, `vignette("checking")`,
#'   `vignette("model-comparison")`, `vignette("scale")` and
#'   `vignette("benchmarks")`.
"_PACKAGE"

.onLoad <- function(libname, pkgname) {
  if (is.null(getOption("amortized.threads"))) options(amortized.threads = 1L)
  if (!isFALSE(getOption("amortized.tune_malloc"))) .amz_tune_malloc()
  simd <- Sys.getenv("AMORTIZED_SIMD")
  if (nzchar(simd) && !simd %in% c("baseline", "avx2", "avx512")) {
    warning("AMORTIZED_SIMD is \"", simd, "\"; expected \"baseline\", \"avx2\" or \"avx512\". Ignored: ",
            "the SIMD kernels use the best this CPU has.", call. = FALSE)
  }
  invisible()
}
