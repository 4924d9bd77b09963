#' A deep set as summary network for exchangeable data
#'
#' Learns summary statistics of a data set that is an exchangeable set of
#' observations (the order of the observations carries no information): each
#' observation is embedded, mixed with the set's mean by
#' permutation-equivariant layers, h_i <- act(A h_i + B mean(h) + c), pooled
#' by the mean, standard deviation and maximum over the observations, and
#' mapped by an MLP to `summary_dim` summaries. The summaries are invariant
#' to the order and to the number of padding rows, so data sets of
#' different sizes train together. Trained jointly with the inference
#' network; see [amortizer()].
#'
#' @param summary_dim Number of learned summary statistics; `NULL`: twice
#'   the number of parameters, at least 8.
#' @param width Width of the per-observation features.
#' @param equivariant_layers Number of permutation-equivariant layers (>= 0).
#' @param hidden Hidden widths of the MLP after pooling.
#' @param activation `"silu"`, `"relu"`, `"gelu"`, `"elu"` or `"tanh"`.
#' @param moments Also pool the data's own moments over the observations and
#'   pass them to the MLP with the learned features: the mean of each
#'   coordinate and of each product of two (squares only beyond 8
#'   coordinates), and the same free of the data's scale (means over root
#'   mean squares, the logs of the mean squares, products over the two root
#'   mean squares). They are the sufficient statistics of normal (also
#'   correlated) and exponential models, which a network otherwise has to
#'   learn. The data are those the network sees, after the configurator's
#'   transforms and standardization. Off by default: in
#'   `bench/summary_nets.R` they changed the errors of set posteriors by
#'   little more than the noise (correlation 0.098 -> 0.082 posterior sds),
#'   and the summaries learned beside them were less sensitive to heavy
#'   tails, which cost [misspecification_test()] power (Student-t(3) noise
#'   under a normal model, 3 sets of 50: rejected in 84% of tests, 90% or
#'   more without).
#' @return An `amortized_summary_net` specification for [amortizer()].
#' @seealso [set_transformer()], [time_series_net()], [learned_summaries()].
#' @family networks
#' @examples
#' deep_set()
#' amortizer(summary_net = deep_set(summary_dim = 10, width = 32))
#' @export
deep_set <- function(summary_dim = NULL, width = 32, equivariant_layers = 2, hidden = 64, activation = "silu",
                     moments = FALSE) {
  new_summary_net("deep_set", summary_dim, width = check_count(width),
                  equivariant_layers = check_count(equivariant_layers, min = 0),
                  hidden = check_widths(hidden), activation = check_activation(activation),
                  moments = check_flag(moments))
}
