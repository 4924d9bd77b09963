#' A coupling normalizing flow as inference network
#'
#' Describes a conditional normalizing flow q(theta | x) built from coupling
#' blocks: each block is a data-initialized ActNorm, a coupling whose
#' conditioner MLP sees half of the parameters and the data, and a
#' permutation. The network itself is built when training starts, when the
#' dimensions are known.
#'
#' Two coupling transforms:
#' * `"spline"`: an affine step (shift and scale) followed by a
#'   monotone rational-quadratic spline (Durkan et al., 2019) with `bins`
#'   bins on \[-`tail_bound`, `tail_bound`\] (in the standardized scale) and
#'   the identity outside; flexible enough for multimodal and sharply curved
#'   posteriors.
#' * `"affine"`: shift and scale (RealNVP), with log-scales soft-clamped to
#'   (-`clamp`, `clamp`); cheaper per layer.
#'
#' `"auto"` (default) picks one when training starts: `"affine"` for a
#' posterior of 8 or more parameters, else `"spline"` (and `"spline"` for
#' likelihoods and joint amortizers). At 10,000 simulations the splines
#' overfit posteriors of many parameters within a few epochs: bernoulli_glm
#' (10 parameters) held-out negative log density 2.435 with splines
#' (best epoch 13), 2.208 with affine couplings (best epoch 47), C2ST 0.681
#' -> 0.657; gaussian_linear (10) -0.763 (best epoch 2) -> -0.783, C2ST 0.505
#' either way, in 17 s instead of 28. With 2-5 parameters the splines were
#' better on every benchmark task (slcp 1.836 against 2.010, lotka_volterra
#' -15.97 against -15.08, two_moons -3.759 against -3.730;
#' `bench/README.md`).
#'
#' @param transform Coupling transform: `"auto"`, `"spline"` or `"affine"`.
#' @param n_layers Number of coupling blocks (>= 1).
#' @param hidden Widths of the hidden layers of each conditioner MLP.
#' @param activation `"silu"`, `"relu"`, `"gelu"`, `"elu"` or `"tanh"`.
#' @param bins Spline bins (>= 2).
#' @param tail_bound Half-width of the spline interval (> 0), in the
#'   standardized scale of the parameters (after the map of bounded ones to
#'   the real line). 5 rather than 3: posteriors near a bound of the prior
#'   sit 3 or more prior sds out there (a binomial proportion at 0 of 200
#'   successes: sd 3.2 times the exact one with 3, 1.4 with 5), and held-out
#'   negative log densities fell on every spline task of `bench/recipe.R`
#'   (slcp 1.836 -> 1.790, lotka_volterra -15.97 -> -16.05,
#'   gaussian_mixture 1.142 -> 1.119, two_moons -3.759 -> -3.767, sir
#'   -7.883 -> -7.890) but the README normal model's (-0.815 -> -0.800).
#' @param clamp Bound on the absolute log-scale of each affine step (> 0).
#' @param actnorm Whether to put an ActNorm before each coupling.
#' @param dropout Dropout rate in the conditioners' hidden layers while
#'   training (0: none); a regularizer against overfitting small simulation
#'   budgets. Draws and densities never drop units.
#' @param conditional_affine Put a conditional affine map in front of the
#'   blocks: a location and scale per parameter from a small MLP of the data
#'   (the identity at the start), so that the flow's tails (the identity
#'   beyond `tail_bound`) follow each posterior's location and scale instead
#'   of the prior's. Off by default for now: it lowered the held-out
#'   negative log density of bernoulli_glm (2.73 -> 2.61) and set posteriors'
#'   sd outliers (an exponential rate at n = 8: sd 1.9 -> 1.15 times the
#'   exact one), but raised the README normal model's (-0.738 -> -0.713).
#'   Needs data (a context).
#' @return An `amortized_inference_net` specification for [amortizer()].
#' @family networks
#' @examples
#' coupling_flow(n_layers = 4, hidden = c(64, 64))
#' coupling_flow("affine")
#' @export
coupling_flow <- function(transform = c("auto", "spline", "affine"), n_layers = 4, hidden = c(128, 128),
                          activation = "silu", bins = 10, tail_bound = 5, clamp = 3, actnorm = TRUE,
                          dropout = 0, conditional_affine = FALSE) {
  transform <- check_choice(transform, c("auto", "spline", "affine"))
  n_layers <- check_count(n_layers)
  hidden <- check_widths(hidden)
  activation <- check_activation(activation)
  bins <- check_count(bins, min = 2)
  tail_bound <- check_number(tail_bound, lower = 0, lower_open = TRUE)
  clamp <- check_number(clamp, lower = 0, lower_open = TRUE)
  actnorm <- check_flag(actnorm)
  dropout <- check_number(dropout, lower = 0, upper = 1, upper_open = TRUE)
  conditional_affine <- check_flag(conditional_affine)
  structure(list(type = "coupling_flow", transform = transform, n_layers = n_layers,
                 hidden = hidden, activation = activation, bins = bins,
                 tail_bound = tail_bound, clamp = clamp, actnorm = actnorm, dropout = dropout,
                 conditional_affine = conditional_affine),
            class = "amortized_inference_net")
}

# The inference network as it will be built: a coupling flow's transform
# "auto" becomes "affine" for posteriors of 8 or more parameters, else
# "spline" (see ?coupling_flow for the figures), also inside an ensemble.
resolve_inference_net <- function(net, kind, dim_theta) {
  if (identical(net$type, "ensemble")) {
    net$member <- resolve_inference_net(net$member, kind, dim_theta)
    return(net)
  }
  if (identical(net$type, "coupling_flow") && identical(net$transform, "auto")) {
    net$transform <- if (identical(kind, "posterior") && isTRUE(dim_theta >= 8)) "affine" else "spline"
  }
  net
}

# Layer widths: whole numbers >= 1, as integers.
check_widths <- function(hidden, arg = rlang::caller_arg(hidden), call = rlang::caller_env()) {
  if (!is.numeric(hidden) || length(hidden) < 1 || anyNA(hidden) || any(hidden < 1) ||
      any(hidden != round(hidden))) {
    cli::cli_abort(c("{.arg {arg}} must be a vector of whole numbers >= 1 (layer widths).",
                     "x" = "Got {describe_value(hidden)}."), class = "amortized_error_argument", call = call)
  }
  as.integer(hidden)
}

check_activation <- function(activation, arg = rlang::caller_arg(activation), call = rlang::caller_env()) {
  check_choice(activation, c("silu", "relu", "gelu", "elu", "tanh"), arg = arg, call = call)
}

#' @export
format.amortized_inference_net <- function(x, ...) {
  if (identical(x$type, "ensemble")) return(paste0("ensemble of ", x$members, " x ", format(x$member)))
  if (identical(x$type, "classifier")) return(paste0("classifier: MLP ", paste(x$hidden, collapse = "x"), ", ", x$activation))
  if (identical(x$type, "flow_matching")) {
    ode <- if (identical(x$solver, "dopri5")) paste0("adaptive Dormand-Prince (tolerance ", format(x$tolerance), ")") else
      paste0("RK4 with ", x$steps, " steps")
    return(paste0("flow matching: velocity MLP ", paste(x$hidden, collapse = "x"), ", ", x$activation, ", ", ode))
  }
  kind <- if (identical(x$transform, "auto")) paste0("(spline with ", x$bins, " bins; affine for 8 or more parameters)") else
    if (identical(x$transform, "spline")) paste0("(", x$bins, " bins)")
  paste0("coupling flow: ", x$n_layers, " ", if (!identical(x$transform, "auto")) paste0(x$transform, " "),
         "coupling block", if (x$n_layers > 1) "s", if (!is.null(kind)) paste0(" ", kind),
         ", hidden ", paste(x$hidden, collapse = "x"), ", ", x$activation, if (x$actnorm) ", actnorm",
         if (isTRUE(x$dropout > 0)) paste0(", dropout ", format(x$dropout)),
         if (isTRUE(x$conditional_affine)) ", conditional affine")
}

#' @export
print.amortized_inference_net <- function(x, ...) {
  cat("<amortized_inference_net> ", format(x), "\n", sep = "")
  invisible(x)
}
