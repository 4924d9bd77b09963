#' Classifier network for amortized model comparison
#'
#' The network of a model comparison amortizer (`amortizer(estimate =
#' "models")`): an MLP from the data's embedding (the summary network's
#' output for set or time-series data, the standardized data otherwise) to
#' one logit per candidate model; its softmax estimates the posterior model
#' probabilities.
#'
#' @param hidden Widths of the hidden layers.
#' @param activation `"silu"`, `"relu"`, `"gelu"`, `"elu"` or `"tanh"`.
#' @return An `amortized_inference_net` for [amortizer()].
#' @family networks
#' @examples
#' amortizer(classifier_net(hidden = c(64, 64)), estimate = "models")
#' @export
classifier_net <- function(hidden = c(128, 128), activation = "silu") {
  structure(list(type = "classifier", hidden = check_widths(hidden), activation = check_activation(activation)),
            class = "amortized_inference_net")
}
