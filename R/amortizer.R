#' Create an amortized posterior estimator
#'
#' An amortizer holds a neural posterior estimator: an inference network
#' q(theta | x) over standardized parameters, conditioned on standardized data.
#' Create it here, fit it with [train()], then draw posteriors for any data set
#' with [sample_posterior()]. `amortizer()` with no arguments is a good default.
#'
#' A trained amortizer keeps a serialized copy of its weights, so it survives
#' `saveRDS()`/`readRDS()` and `serialize()`: the C++ model is rebuilt on first
#' use in a new R session.
#'
#' @param inference_net An inference network specification, e.g.
#'   [coupling_flow()] (default) or [flow_matching()].
#' @param use_structure Use the structure a simulator declares about its
#'   data. So far: data that are an exchangeable set of points (e.g.
#'   `benchmark_simulator("slcp")`, 4 points of 2) have each data set's points
#'   put in a canonical order (sorted by their first coordinate), and the
#'   set's mean and second moments appended as permutation-invariant
#'   features, before they reach the network, so the network need not learn
#'   that order does not matter. Observations keep their flat layout.
#' @param linear_residual Let the network model the residual of a linear
#'   regression of the parameters on the data (fitted by least squares on the
#'   training simulations and standardized) rather than the parameters
#'   themselves. The regression takes over whatever is linear-Gaussian in
#'   the posterior, exactly so for linear-Gaussian models, and leaves the
#'   network the nonlinear rest; densities and draws stay on the original
#'   scale.
#' @return An `amortizer` object (untrained).
#' @examples
#' amortizer()
#' amortizer(coupling_flow(n_layers = 4, hidden = c(64, 64)))
#' @export
amortizer <- function(inference_net = coupling_flow(), use_structure = TRUE, linear_residual = TRUE) {
  if (!inherits(inference_net, "amortized_inference_net")) {
    cli::cli_abort(c("{.arg inference_net} must be an inference network such as {.code coupling_flow()}.",
                     "x" = "Got {describe_value(inference_net)}."), class = "amortized_error_argument")
  }
  new_amortizer(inference_net, use_structure = check_flag(use_structure),
                linear_residual = check_flag(linear_residual))
}

new_amortizer <- function(inference_net, parameter_names = NULL, data_names = NULL, state = NULL,
                          history = NULL, info = NULL, use_structure = TRUE, set_shape = integer(),
                          linear_residual = TRUE) {
  structure(list(inference_net = inference_net, parameter_names = parameter_names,
                 data_names = data_names, state = state, history = history, info = info,
                 use_structure = use_structure, set_shape = as.integer(set_shape),
                 linear_residual = linear_residual,
                 .handle = new.env(parent = emptyenv())),
            class = "amortizer")
}

# The C++ estimator for an amortizer's spec, dimensions and data structure.
new_model <- function(x, seed = 0) {
  core_call(.amz_npe_new(x$inference_net, length(x$parameter_names), length(x$data_names), seed,
                         x$set_shape %||% integer(), isTRUE(x$linear_residual)))
}

is_trained <- function(x) inherits(x, "amortizer") && !is.null(x$state)

check_amortizer <- function(x, arg = rlang::caller_arg(x), trained = TRUE, call = rlang::caller_env()) {
  if (!inherits(x, "amortizer")) {
    cli::cli_abort(c("{.arg {arg}} must be an {.cls amortizer} (see {.fn amortizer}).",
                     "x" = "Got {describe_value(x)}."), class = "amortized_error_argument", call = call)
  }
  if (trained && !is_trained(x)) {
    cli::cli_abort(c("{.arg {arg}} is not trained yet.",
                     "i" = "Train it first: {.code train({arg}, simulator, n_sims = 10000)}."),
                   class = "amortized_error_untrained", call = call)
  }
  invisible(x)
}

# The C++ model behind an amortizer: built on first use (also after readRDS,
# when the external pointer comes back null) from the spec and saved weights.
model_pointer <- function(x) {
  ptr <- x$.handle$ptr
  if (is.null(ptr) || .amz_is_null_pointer(ptr)) {
    ptr <- new_model(x)
    if (!is.null(x$state)) core_call(.amz_npe_deserialize(ptr, x$state))
    x$.handle$ptr <- ptr
  }
  ptr
}

#' @export
print.amortizer <- function(x, ...) {
  cat("<amortizer> neural posterior estimator", if (is_trained(x)) "" else " (untrained)", "\n", sep = "")
  cat("  inference net: ", format(x$inference_net), "\n", sep = "")
  if (!is_trained(x)) {
    cat("  train it with train(<amortizer>, <simulator>, n_sims = 10000)\n")
    return(invisible(x))
  }
  info <- .amz_npe_info(model_pointer(x))
  cat("  parameters (", length(x$parameter_names), "): ", abbreviate_names(x$parameter_names), "\n", sep = "")
  cat("  data       (", length(x$data_names), "): ", abbreviate_names(x$data_names), "\n", sep = "")
  if (length(x$set_shape) == 2) {
    cat("  structure: ", set_layout(x$set_shape), ", in canonical order with its moments\n", sep = "")
  }
  cat("  weights: ", format(info$n_parameters, big.mark = ","), "\n", sep = "")
  h <- x$history
  best <- x$info$best_epoch
  cat("  trained on ", format(x$info$n_sims, big.mark = ","), " simulations: ", nrow(h), " epochs (",
      gsub("_", " ", x$info$stop_reason), "), best validation loss ",
      format(h$validation_loss[best], digits = 4), " at epoch ", best, ", ",
      format(sum(h$seconds), digits = 3), " s\n", sep = "")
  invisible(x)
}

#' @export
summary.amortizer <- function(object, ...) {
  check_amortizer(object)
  info <- .amz_npe_info(model_pointer(object))
  structure(list(inference_net = format(object$inference_net), layers = info$layers,
                 n_weights = info$n_parameters, parameter_names = object$parameter_names,
                 data_names = object$data_names, history = object$history, info = object$info),
            class = "summary.amortizer")
}

#' @export
print.summary.amortizer <- function(x, ...) {
  cat("Amortized neural posterior estimator\n")
  cat("Inference net:", x$inference_net, "\n")
  cat(paste0("  ", seq_along(x$layers), ". ", x$layers, collapse = "\n"), "\n")
  cat("Weights:", format(x$n_weights, big.mark = ","), "\n")
  cat("Training: ", nrow(x$history), " epochs, stopped by ", gsub("_", " ", x$info$stop_reason),
      "; best epoch ", x$info$best_epoch, "\n", sep = "")
  print(utils::tail(x$history, 5), row.names = FALSE, digits = 4)
  invisible(x)
}
