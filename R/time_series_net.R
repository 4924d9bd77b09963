#' A convolutional-recurrent summary network for time series
#'
#' Learns summary statistics of a time series (data sets of `[n_steps,
#' dim]`, possibly of different lengths): 1-d convolutions over time ("same"
#' padding, `filters` channels each; a stride s keeps every s-th step, so the
#' default strides shorten the series four-fold), a GRU or LSTM over the
#' remaining steps, and a linear map of its state at the series' last step
#' together with its mean state to `summary_dim` summaries. Series shorter
#' than the longest of a batch are padded; the padding never changes the
#' result. The recurrent layer runs step by step, so its cost grows with the
#' series length: strides keep long series affordable on a CPU.
#'
#' @inheritParams deep_set
#' @param filters Channels of each convolution (`integer()`: none).
#' @param kernel_size Odd kernel size of the convolutions.
#' @param strides Stride of each convolution (one per element of
#'   `filters`); `NULL`: 2 for the first two convolutions, 1 for the others.
#' @param hidden Width of the recurrent state. The default 16 is small because
#'   the moments (`moments = TRUE`) carry what linear dynamics leave in a
#'   series: on AR(1) series it was as accurate as 64 in about half the
#'   time (bench/README). Raise it for dynamics that the moments miss.
#' @param cell `"gru"` or `"lstm"`.
#' @param moments Also hand the linear map the series' own moments over its
#'   steps: as [deep_set()]'s (means and products of the channels, raw and
#'   free of the scale) and each channel's
#'   autocorrelations, the mean of x(t) x(t - k) over the mean of x(t)^2 at
#'   lags k = 1..`lags`: what the likelihoods of linear Gaussian
#'   (autoregressive) models depend on. The data are those the network sees,
#'   after the configurator's transforms and standardization.
#' @param lags The largest lag of the moments (with `moments = TRUE`).
#' @return An `amortized_summary_net` specification for [amortizer()].
#' @seealso [time_series_transformer()], [as_time_series()].
#' @family networks
#' @examples
#' time_series_net(filters = c(32, 32), strides = c(2, 2), hidden = 64)
#' time_series_net(filters = 16, strides = 1, cell = "lstm")
#' @export
time_series_net <- function(summary_dim = NULL, filters = c(32, 32), kernel_size = 3, strides = NULL,
                            hidden = 16, cell = c("gru", "lstm"), moments = TRUE, lags = 4) {
  cell <- check_choice(cell, c("gru", "lstm"))
  filters <- if (length(filters) == 0) integer() else check_widths(filters)
  kernel_size <- check_count(kernel_size)
  if (kernel_size %% 2 != 1) {
    cli::cli_abort(c("{.arg kernel_size} must be odd.", "x" = "Got {.val {kernel_size}}."), class = "amortized_error_argument")
  }
  if (is.null(strides)) strides <- ifelse(seq_along(filters) <= 2, 2L, 1L)
  strides <- if (length(strides) == 0) integer() else check_widths(strides)
  if (length(strides) != length(filters)) {
    cli::cli_abort(c("{.arg strides} must have one stride per convolution ({length(filters)}).",
                     "x" = "Got {length(strides)}."), class = "amortized_error_argument")
  }
  moments <- check_flag(moments)
  lags <- check_count(lags, min = 0)
  new_summary_net("time_series_net", summary_dim, filters = filters, kernel_size = kernel_size, strides = strides,
                  hidden = check_count(hidden), cell = cell, moment_lags = if (moments) lags else -1L)
}
