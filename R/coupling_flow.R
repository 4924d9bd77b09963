#' A coupling normalizing flow as inference network
#'
#' Describes a conditional normalizing flow q(theta | x) built from affine
#' coupling blocks: each block is a data-initialized ActNorm, an affine
#' coupling whose conditioner MLP sees half of the parameters and the data,
#' and a permutation. Log-scales are soft-clamped for stability. The network
#' itself is built when training starts, when the dimensions are known.
#'
#' @param transform Coupling transform: `"affine"`.
#' @param n_layers Number of coupling blocks (>= 1).
#' @param hidden Widths of the hidden layers of each conditioner MLP.
#' @param activation `"silu"`, `"relu"`, `"gelu"`, `"elu"` or `"tanh"`.
#' @param clamp Bound on the absolute log-scale of each coupling (> 0).
#' @param actnorm Whether to put an ActNorm before each coupling.
#' @return An `amortized_inference_net` specification for [amortizer()].
#' @examples
#' coupling_flow(n_layers = 4, hidden = c(64, 64))
#' @export
coupling_flow <- function(transform = "affine", n_layers = 6, hidden = c(128, 128),
                          activation = "silu", clamp = 3, actnorm = TRUE) {
  if (!is.character(transform) || length(transform) != 1 || !transform %in% "affine") {
    cli::cli_abort(c("{.arg transform} must be {.val affine}.", "x" = "Got {describe_value(transform)}."),
                   class = "amortized_error_argument")
  }
  n_layers <- check_count(n_layers)
  if (!is.numeric(hidden) || length(hidden) < 1 || anyNA(hidden) || any(hidden < 1) ||
      any(hidden != round(hidden))) {
    cli::cli_abort(c("{.arg hidden} must be a vector of whole numbers >= 1 (layer widths).",
                     "x" = "Got {describe_value(hidden)}."), class = "amortized_error_argument")
  }
  activations <- c("silu", "relu", "gelu", "elu", "tanh")
  if (!is.character(activation) || length(activation) != 1 || !activation %in% activations) {
    cli::cli_abort(c("{.arg activation} must be one of {.val {activations}}.",
                     "x" = "Got {describe_value(activation)}."), class = "amortized_error_argument")
  }
  clamp <- check_number(clamp, lower = 0, lower_open = TRUE)
  actnorm <- check_flag(actnorm)
  structure(list(type = "coupling_flow", transform = transform, n_layers = n_layers,
                 hidden = as.integer(hidden), activation = activation, clamp = clamp,
                 actnorm = actnorm),
            class = "amortized_inference_net")
}

#' @export
format.amortized_inference_net <- function(x, ...) {
  paste0("coupling flow: ", x$n_layers, " ", x$transform, " coupling block",
         if (x$n_layers > 1) "s", ", hidden ", paste(x$hidden, collapse = "x"), ", ",
         x$activation, if (x$actnorm) ", actnorm")
}

#' @export
print.amortized_inference_net <- function(x, ...) {
  cat("<amortized_inference_net> ", format(x), "\n", sep = "")
  invisible(x)
}
