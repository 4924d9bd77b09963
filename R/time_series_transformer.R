#' A transformer summary network for time series
#'
#' Learns summary statistics of a time series with self-attention: each
#' step is embedded together with a sinusoidal encoding of its index (time
#' frequencies with periods from 2 to 1,000 steps), passes `blocks`
#' attention blocks over the valid steps, and is pooled by the mean over the
#' steps and the last step. Series of different lengths train together;
#' padding never changes the result.
#'
#' @inheritParams set_transformer
#' @param time_frequencies Frequencies of the time encoding.
#' @return An `amortized_summary_net` specification for [amortizer()].
#' @seealso [time_series_net()], [as_time_series()].
#' @examples
#' time_series_transformer(width = 32, blocks = 2)
#' @export
time_series_transformer <- function(summary_dim = NULL, width = 64, heads = 4, blocks = 2, time_frequencies = 8) {
  width <- check_count(width)
  heads <- check_count(heads)
  check_heads(width, heads)
  new_summary_net("time_series_transformer", summary_dim, width = width, heads = heads,
                  blocks = check_count(blocks), time_frequencies = check_count(time_frequencies))
}
