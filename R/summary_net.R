# What the summary network specifications share: the class, the summary
# width, checks and the one-line description.

new_summary_net <- function(type, summary_dim, ..., call = rlang::caller_env()) {
  if (!is.null(summary_dim)) summary_dim <- check_count(summary_dim, arg = "summary_dim", call = call)
  structure(list(type = type, summary_dim = summary_dim, ...), class = "amortized_summary_net")
}

is_summary_net <- function(x) inherits(x, "amortized_summary_net")

# Which data structure a summary network is made for.
summary_net_structure <- function(x) {
  if (x$type == "fusion") return("fusion")
  if (x$type %in% c("deep_set", "set_transformer")) "set" else "time_series"
}

# The number of summaries: given, or by default twice the parameters (at least 8).
resolve_summary_dim <- function(x, n_parameters) {
  x$summary_dim <- x$summary_dim %||% max(8L, 2L * as.integer(n_parameters))
  x
}

#' @export
format.amortized_summary_net <- function(x, ...) {
  dim <- if (is.null(x$summary_dim)) "" else paste0(x$summary_dim, " summaries, ")
  switch(x$type,
    fusion = paste0("fusion of ", length(x$nets), " source", if (length(x$nets) != 1) "s",
                    if (length(x$nets)) paste0(": ", paste0(names(x$nets), " = ", vapply(x$nets, format, ""), collapse = "; "))),
    deep_set = paste0("deep set: ", dim, "width ", x$width, ", ", x$equivariant_layers,
                      " equivariant layers, mean/sd/max pooling", if (isTRUE(x$moments)) " and data moments",
                      ", head ", paste(x$hidden, collapse = "x")),
    set_transformer = paste0("set transformer: ", dim, "width ", x$width, ", ", x$heads, " heads, ", x$blocks,
                             " blocks", if (x$inducing_points > 0) paste0(" (", x$inducing_points, " inducing points)"),
                             ", attention pooling"),
    time_series_net = paste0("time series net: ", dim, if (length(x$filters)) paste0(length(x$filters),
                             " convolutions (", paste(x$filters, collapse = ", "), " filters, kernel ",
                             x$kernel_size, ", strides ", paste(x$strides, collapse = ", "), "), "),
                             toupper(x$cell), " ", x$hidden,
                             if (isTRUE(x$moment_lags >= 0)) paste0(", moments to lag ", x$moment_lags)),
    time_series_transformer = paste0("time series transformer: ", dim, "width ", x$width, ", ", x$heads,
                                     " heads, ", x$blocks, " blocks, patches of ", x$patch_size,
                                     " steps, time encoding")
  )
}

#' @export
print.amortized_summary_net <- function(x, ...) {
  cat("<amortized_summary_net> ", format(x), "\n", sep = "")
  invisible(x)
}

check_heads <- function(width, heads, call = rlang::caller_env()) {
  if (width %% heads != 0) {
    cli::cli_abort(c("{.arg width} must be a multiple of {.arg heads}.", "x" = "Got width {width} and {heads} heads."),
                   class = "amortized_error_argument", call = call)
  }
}
