#' A set transformer as summary network for exchangeable data
#'
#' Learns summary statistics of an exchangeable set with attention (Lee et
#' al., 2019): `blocks` self-attention blocks (each observation attends to
#' all observations of its set; with `inducing_points` m > 0, through m
#' learned inducing points instead, at a cost linear in the set size), then
#' pooling by attention with `seeds` learned queries. Invariant to the order
#' of the observations and to padding. Attention can model interactions
#' between observations that a [deep_set()] only sees through their
#' moments, at a higher cost per observation.
#'
#' @inheritParams deep_set
#' @param width Width of the features and of attention (a multiple of
#'   `heads`).
#' @param heads Attention heads.
#' @param blocks Self-attention blocks (>= 0).
#' @param inducing_points 0 for full self-attention, or the number of
#'   inducing points (for large sets).
#' @param seeds Learned queries of the pooling by attention.
#' @return An `amortized_summary_net` specification for [amortizer()].
#' @family networks
#' @examples
#' set_transformer(width = 32, heads = 4, inducing_points = 16)
#' @export
set_transformer <- function(summary_dim = NULL, width = 64, heads = 4, blocks = 2, inducing_points = 0, seeds = 1) {
  width <- check_count(width)
  heads <- check_count(heads)
  check_heads(width, heads)
  new_summary_net("set_transformer", summary_dim, width = width, heads = heads,
                  blocks = check_count(blocks, min = 0), inducing_points = check_count(inducing_points, min = 0),
                  seeds = check_count(seeds))
}
