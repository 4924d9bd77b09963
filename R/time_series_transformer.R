#' A transformer summary network for time series
#'
#' Learns summary statistics of a time series with self-attention: the
#' series is cut into patches of `patch_size` steps, each embedded as one
#' token together with a sinusoidal encoding of its time (frequencies with
#' periods from 2 to 1,000 steps); the tokens pass `blocks` attention blocks
#' and are pooled by their mean and the last token. Attention costs grow
#' with the square of the number of tokens, so patches keep long series
#' affordable. Series of different lengths train together; padding never
#' changes the result.
#'
#' @inheritParams set_transformer
#' @param time_frequencies Frequencies of the time encoding.
#' @param patch_size Steps per token.
#' @return An `amortized_summary_net` specification for [amortizer()].
#' @seealso [time_series_net()], [as_time_series()].
#' @family networks
#' @examples
#' time_series_transformer(width = 32, blocks = 2, patch_size = 8)
#' @export
time_series_transformer <- function(summary_dim = NULL, width = 32, heads = 4, blocks = 2, time_frequencies = 8,
                                    patch_size = 4) {
  width <- check_count(width)
  heads <- check_count(heads)
  check_heads(width, heads)
  new_summary_net("time_series_transformer", summary_dim, width = width, heads = heads,
                  blocks = check_count(blocks), time_frequencies = check_count(time_frequencies),
                  patch_size = check_count(patch_size))
}
