#' Combine summary networks for multi-source data
#'
#' Data sets often come from several sources at once: a set of trials and a
#' time series, two sets of different sizes, or a set plus a few flat
#' measurements. A multi-source simulator's `model` returns a named list of
#' blocks, one per source (see [simulator()]). `fusion()` gives each set or
#' time-series source its own summary network; the summaries of all
#' sources are concatenated, together with the flat sources' values
#' (standardized), and the inference network is conditioned on all of them.
#' Everything is trained jointly, end to end. Each source keeps its own
#' number of observations, which may vary between data sets independently
#' of the other sources.
#'
#' Sources not named here get a default: [deep_set()], or
#' [time_series_net()] when the configurator declares [as_time_series()].
#' Flat sources (`n x d` matrices) take no summary network. With
#' `amortizer(summary_net = NULL)`, multi-source data get `fusion()` with
#' every default.
#'
#' @param ... Summary networks by source name, e.g.
#'   `fusion(trials = set_transformer(), series = time_series_net())`.
#' @return An `amortized_summary_net` specification for [amortizer()].
#' @seealso [learned_summaries()] for the learned summaries (of every source, side
#'   by side).
#' @family networks
#' @examples
#' fusion(trials = deep_set(summary_dim = 6), series = time_series_net())
#' @export
fusion <- function(...) {
  nets <- list(...)
  nm <- names(nets)
  if (length(nets) > 0 && (is.null(nm) || any(is.na(nm) | nm == "") || anyDuplicated(nm))) {
    cli::cli_abort(c("{.fn fusion} takes summary networks named by their data source.",
                     "i" = "For example {.code fusion(trials = deep_set(), series = time_series_net())}."),
                   class = "amortized_error_argument")
  }
  for (name in nm) {
    if (!is_summary_net(nets[[name]]) || identical(nets[[name]]$type, "fusion")) {
      cli::cli_abort(c("Each argument of {.fn fusion} must be a summary network such as {.code deep_set()}.",
                       "x" = "{.arg {name}} is {describe_value(nets[[name]])}."), class = "amortized_error_argument")
    }
  }
  new_summary_net("fusion", NULL, nets = nets)
}

# The fusion network for multi-source data: one resolved summary network
# per array source, in the order of `sources` (the defaults: deep sets, or
# time-series nets when series is TRUE).
resolve_fusion <- function(spec, sources, flat, series, n_parameters, call = rlang::caller_env()) {
  if (!is.null(spec) && !identical(spec$type, "fusion")) {
    cli::cli_abort(c("Multi-source data need {.fn fusion} as summary network (one network per source).",
                     "i" = "For example {.code fusion({sources[1]} = {spec$type}())}."),
                   class = "amortized_error_argument", call = call)
  }
  given <- if (!is.null(spec)) spec$nets else list()
  on_flat <- intersect(names(given), flat)
  if (length(on_flat) > 0) {
    cli::cli_abort(c("{.fn fusion} names flat source{?s} {.val {on_flat}}; only sets and time series take a summary network.",
                     "i" = "Flat sources ({.code n x d} matrices) reach the inference network directly."),
                   class = "amortized_error_argument", call = call)
  }
  unknown <- setdiff(names(given), sources)
  if (length(unknown) > 0) {
    cli::cli_abort(c("{.fn fusion} names source{?s} the simulations do not have: {.val {unknown}}.",
                     "i" = "Sources with sets or time series: {.val {sources}}."),
                   class = "amortized_error_argument", call = call)
  }
  if (length(sources) == 0) {
    cli::cli_abort("Multi-source data need a source with sets or time series ({.code [n, n_obs, dim]} arrays); these sources are all flat.",
                   class = "amortized_error_argument", call = call)
  }
  nets <- lapply(stats::setNames(sources, sources), function(b) {
    resolve_summary_dim(given[[b]] %||% if (series) time_series_net() else deep_set(), n_parameters)
  })
  new_summary_net("fusion", NULL, nets = nets)
}
