#' Learned summary statistics of data sets
#'
#' Passes data through a trained amortizer's summary network and returns
#' the summary statistics the inference network is conditioned on: the
#' learned summaries of a [deep_set()], [set_transformer()],
#' [time_series_net()] or [time_series_transformer()]; for an amortizer
#' without summary network, the standardized data features. Use them to
#' inspect what the network extracts, or to compare observed with simulated
#' data (model misspecification shows as observed summaries far from the
#' simulated ones).
#'
#' @param object A trained [amortizer()].
#' @param data Observed data as for [sample_posterior()], or an
#'   `amortized_simulations` object.
#' @param context Context variables, as for [sample_posterior()] (ignored
#'   for simulations, which carry theirs).
#' @param threads CPU threads for LibTorch; default: option
#'   `amortized.inference_threads`, else the physical cores (at most 4).
#' @return A numeric matrix with one row per data set and columns
#'   `summary_1`, `summary_2`, ...; with a [fusion()] of summary networks,
#'   the summaries of each source side by side, named by source
#'   (`trials_1`, ..., `series_1`, ...).
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("ddm", n_obs = 20:60)
#' fit <- train(amortizer(summary_net = deep_set(summary_dim = 8)), sim, n_sims = 2000, epochs = 3)
#' summarise(fit, simulate(sim, 5, seed = 1))
#' }
#' @export
summarise <- function(object, data, context = NULL, threads = inference_threads()) {
  check_amortizer(object)
  if (missing(data)) {
    cli::cli_abort("{.arg data} is missing: give data sets to summarise.", class = "amortized_error_argument")
  }
  threads <- check_threads(threads)
  if (inherits(data, "amortized_simulations")) {
    check_same_variables(object, data, arg = "data")
    inputs <- simulation_inputs(object$config, data)
  } else {
    inputs <- observed_inputs(object, data, context)$inputs
  }
  ptr <- model_pointer(object)
  out <- core_call(.amz_npe_summaries(ptr, inputs$x, inputs$lengths, inputs$context, threads, "cpu"))
  k <- ncol(out)
  nets <- object$config$summary_net$nets
  colnames(out) <- if (identical(object$config$structure, "fusion")) {  # by source: trials_1, ..., series_1, ...
    unlist(lapply(names(nets), function(b) paste0(b, "_", seq_len(nets[[b]]$summary_dim))))
  } else {
    paste0("summary_", seq_len(k))
  }
  out
}
