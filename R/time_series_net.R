#' A convolutional-recurrent summary network for time series
#'
#' Learns summary statistics of a time series (data sets of `[n_steps,
#' dim]`, possibly of different lengths): 1-d convolutions over time ("same"
#' padding, `filters` channels each), a GRU or LSTM, and a linear map of
#' its state at the series' last step together with its mean state to
#' `summary_dim` summaries. Series shorter than the longest of a batch are
#' padded; the padding never changes the result.
#'
#' @inheritParams deep_set
#' @param filters Channels of each convolution (`integer()`: none).
#' @param kernel_size Odd kernel size of the convolutions.
#' @param hidden Width of the recurrent state.
#' @param cell `"gru"` or `"lstm"`.
#' @return An `amortized_summary_net` specification for [amortizer()].
#' @seealso [time_series_transformer()], [as_time_series()].
#' @examples
#' time_series_net(filters = c(32, 32), hidden = 64)
#' @export
time_series_net <- function(summary_dim = NULL, filters = c(32, 32), kernel_size = 3, hidden = 64,
                            cell = c("gru", "lstm")) {
  cells <- c("gru", "lstm")
  if (identical(cell, cells)) cell <- cells[1]
  if (!is.character(cell) || length(cell) != 1 || !cell %in% cells) {
    cli::cli_abort(c("{.arg cell} must be one of {.val {cells}}.", "x" = "Got {describe_value(cell)}."),
                   class = "amortized_error_argument")
  }
  filters <- if (length(filters) == 0) integer() else check_widths(filters)
  kernel_size <- check_count(kernel_size)
  if (kernel_size %% 2 != 1) {
    cli::cli_abort(c("{.arg kernel_size} must be odd.", "x" = "Got {kernel_size}."), class = "amortized_error_argument")
  }
  new_summary_net("time_series_net", summary_dim, filters = filters, kernel_size = kernel_size,
                  hidden = check_count(hidden), cell = cell)
}
