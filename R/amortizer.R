#' Create an amortized posterior estimator
#'
#' An amortizer holds a neural posterior estimator: an inference network
#' q(theta | x) over standardized parameters, conditioned on standardized data.
#' Create it here, fit it with [train()], then draw posteriors for any data set
#' with [sample_posterior()]. `amortizer()` with no arguments is a good default.
#'
#' A trained amortizer keeps a copy of its weights as plain R data, so it
#' survives `saveRDS()`/`readRDS()`, `serialize()` and being sent to
#' `future` workers: the C++ model is rebuilt on first use in a new R
#' session. [save_amortizer()] writes one versioned, checksummed file.
#'
#' @param inference_net An inference network specification, e.g.
#'   [coupling_flow()] (default) or [flow_matching()].
#' @param summary_net `NULL` or a summary network that learns summary
#'   statistics of set or time-series data, trained jointly with the
#'   inference network: [deep_set()], [set_transformer()],
#'   [time_series_net()] or [time_series_transformer()]. `NULL` (default):
#'   none for flat data, [deep_set()] for `[n, n_obs, dim]` data ([as_set()],
#'   the default) and [time_series_net()] for [as_time_series()] data. For a
#'   simulator that declares its flat data a set (such as
#'   `benchmark_simulator("slcp")`), a summary net given here replaces the
#'   fixed canonical features of `use_structure`. For multi-source data
#'   (a simulator whose model returns a named list of blocks), [fusion()]
#'   with one summary network per source (the default: `fusion()` with
#'   [deep_set()] for every set source).
#' @param configurator `NULL` or a [configurator()]: parameter bounds, data
#'   transforms, structure and context. `NULL`: inferred from the
#'   simulations.
#' @param use_structure Use the structure a simulator declares about its
#'   data and parameters (with `FALSE`, a set that [configurator()] finds
#'   in flat data is still used, unless `configurator(.auto_set = FALSE)`). Data that are an exchangeable set of points (e.g.
#'   `benchmark_simulator("slcp")`, 4 points of 2) have each data set's points
#'   put in a canonical order (sorted by their first coordinate), and the
#'   set's mean, log standard deviations and correlations appended as
#'   permutation-invariant features, before they reach the network, so the
#'   network need not learn that order does not matter, nor that scales
#'   matter on a log scale. Observations keep their flat layout.
#'   Parameters are bounded by the prior's support where the simulator
#'   declares it (the benchmark simulators with uniform or log-normal priors
#'   do), as [constrain()] would bound them (a `constrain()` step overrides
#'   it per parameter), so draws never leave the support: mapped onto the
#'   real line, or, for parameters whose posterior the simulator declares
#'   cut off sharply by the bounds (two_moons' crescents run into the
#'   corners of its box), truncated by rejection (`.how = "truncate"`).
#'   Parameters in whose sign the posterior is even (slcp's theta_3 and
#'   theta_4) are learned as absolute values and drawn with random signs (as
#'   [symmetric()] does; a `symmetric()` step in the configurator replaces
#'   the simulator's declaration), and mirror symmetries across other planes
#'   (two_moons: (t1, t2) -> (-t2, -t1)) are learned on one side of the
#'   mirror, as [reflection()] does, where the parameters they mix are not
#'   mapped by bounds. Equivariances, transformations of the parameters
#'   together with the data that leave their joint distribution unchanged
#'   (slcp: flipping a coordinate of the points flips its mean and the
#'   correlation; swapping the coordinates swaps the means and the scales),
#'   are used as [equivariance()] does: training sees every simulation
#'   transformed at random (as if there were 8 times more slcp
#'   simulations), and draws and densities are averaged over the
#'   transformations, so the posterior is exactly equivariant.
#' @param linear_residual Let the network model the residual of a linear
#'   regression of the parameters on the data (fitted by least squares on the
#'   training simulations and whitened by the residuals' covariance) rather
#'   than the parameters themselves. The regression takes over whatever is
#'   linear-Gaussian in the posterior, exactly so for linear-Gaussian models,
#'   including the posterior's correlations, and leaves the network the
#'   nonlinear rest; densities and draws stay on the original scale. Not used
#'   with a summary network. (Models saved before whitening existed scale the
#'   residual per parameter instead of whitening it, and keep doing so.)
#' @param estimate What the amortizer learns: `"posterior"` (default), a
#'   network of q(theta | x) for [sample_posterior()]; `"likelihood"`, a
#'   network of q(x | theta) (the data vector, or one observation of a set),
#'   a fast surrogate of the simulator for [log_likelihood()],
#'   [simulate()][simulate.amortizer] and posteriors by MCMC in
#'   [sample_posterior()]; or `"joint"`, both networks trained together on
#'   the same simulations (the sum of their losses, one trainer, one file),
#'   which adds marginal likelihoods ([log_marginal_likelihood()],
#'   [bayes_factor()]). A likelihood amortizer takes no `summary_net`; a
#'   joint one uses it for its posterior network. Or `"models"`: a classifier
#'   over candidate models (trained on a named list of simulators) for
#'   [posterior_model_probs()]; its network is a [classifier_net()] (the
#'   default for it).
#' @return An `amortizer` object (untrained).
#' @family workflow
#' @examples
#' amortizer()
#' amortizer(coupling_flow(n_layers = 4, hidden = c(64, 64)))
#' amortizer(summary_net = deep_set(), configurator = configurator(constrain(sigma = c(0, Inf))))
#' @export
amortizer <- function(inference_net = coupling_flow(), summary_net = NULL, configurator = NULL,
                      use_structure = TRUE, linear_residual = TRUE, estimate = c("posterior", "likelihood", "joint", "models")) {
  estimate <- check_choice(estimate, c("posterior", "likelihood", "joint", "models"))
  if (estimate == "models" && missing(inference_net)) inference_net <- classifier_net()
  if (!inherits(inference_net, "amortized_inference_net")) {
    cli::cli_abort(c("{.arg inference_net} must be an inference network such as {.code coupling_flow()}.",
                     "x" = "Got {describe_value(inference_net)}."), class = "amortized_error_argument")
  }
  if ((estimate == "models") != identical(inference_net$type, "classifier")) {
    cli::cli_abort(c(if (estimate == "models") "A model comparison amortizer's network is a {.fn classifier_net}." else
                       "A {.fn classifier_net} is for model comparison: {.code amortizer(estimate = \"models\")}.",
                     "x" = "Got {format(inference_net)}."), class = "amortized_error_argument")
  }
  if (!is.null(summary_net) && !is_summary_net(summary_net)) {
    cli::cli_abort(c("{.arg summary_net} must be NULL or a summary network such as {.code deep_set()}.",
                     "x" = "Got {describe_value(summary_net)}."), class = "amortized_error_argument")
  }
  if (!is.null(configurator) && !inherits(configurator, "amortized_configurator")) {
    cli::cli_abort(c("{.arg configurator} must be NULL or a {.fn configurator}.",
                     "x" = "Got {describe_value(configurator)}."), class = "amortized_error_argument")
  }
  if (estimate == "likelihood" && !is.null(summary_net)) {
    cli::cli_abort(c("A likelihood amortizer takes no {.arg summary_net}: it models one observation of a set at a time.",
                     "x" = "Got {describe_value(summary_net)}."), class = "amortized_error_argument")
  }
  new_amortizer(inference_net, summary_net = summary_net, configurator = configurator,
                use_structure = check_flag(use_structure), linear_residual = check_flag(linear_residual),
                kind = estimate)
}

# kind: what the amortizer estimates ("posterior"); format_version: the
# format of the object (upgrade_amortizer() brings older ones forward).
new_amortizer <- function(inference_net, summary_net = NULL, configurator = NULL, parameter_names = NULL,
                          data_names = NULL, config = NULL, state = NULL, history = NULL, info = NULL,
                          use_structure = TRUE, linear_residual = TRUE, kind = "posterior",
                          format_version = amortizer_format_version, prior = NULL) {
  structure(list(kind = kind, format_version = format_version, prior = prior,
                 inference_net = inference_net,
                 summary_net = summary_net, configurator = configurator,
                 parameter_names = parameter_names, data_names = data_names, config = config,
                 state = state, history = history, info = info,
                 use_structure = use_structure, linear_residual = linear_residual,
                 .handle = new.env(parent = emptyenv())),
            class = "amortizer")
}

# The C++ estimator for an amortizer's spec and resolved configuration.
new_model <- function(x, seed = 0) {
  switch(x$kind %||% "posterior",
    likelihood = core_call(.amz_nle_new(x$inference_net, x$config$core, seed)),
    models = core_call(.amz_models_new(x$inference_net, x$config$summary_net, x$config$core, seed)),
    joint = core_call(.amz_joint_new(x$inference_net, x$config$summary_net, x$config$core, x$config$likelihood$core,
                                     x$config$likelihood_context, seed)),
    core_call(.amz_npe_new(x$inference_net, x$config$summary_net, x$config$core, seed)))
}

# The likelihood of a likelihood or joint amortizer as a likelihood
# amortizer: a joint one's view with the likelihood's plan, sharing its
# model (built first, so that the view never builds one of its own).
likelihood_part <- function(x) {
  if (!identical(x$kind, "joint")) return(x)
  model_pointer(x)
  x$config <- x$config$likelihood
  x$kind <- "likelihood"
  x
}

is_trained <- function(x) inherits(x, "amortizer") && !is.null(x$state)

# kind: what the verb needs the amortizer to estimate (NULL: anything); a
# joint amortizer estimates both the posterior and the likelihood.
check_amortizer <- function(x, arg = rlang::caller_arg(x), trained = TRUE, kind = "posterior",
                            call = rlang::caller_env()) {
  if (!inherits(x, "amortizer")) {
    cli::cli_abort(c("{.arg {arg}} must be an {.cls amortizer} (see {.fn amortizer}).",
                     "x" = "Got {describe_value(x)}."), class = "amortized_error_argument", call = call)
  }
  if (!inherits(x$inference_net, "amortized_inference_net")) {  # e.g. a damaged object from readRDS()
    cli::cli_abort(c("{.arg {arg}} is not a valid {.cls amortizer}: its inference network is missing or damaged.",
                     "i" = "Create one with {.fn amortizer}, or read a saved one with {.fn load_amortizer}."),
                   class = "amortized_error_argument", call = call)
  }
  estimates <- x$kind %||% "posterior"
  covers <- if (estimates == "joint") c("joint", "posterior", "likelihood") else estimates
  if (!is.null(kind) && !kind %in% covers) {
    what <- switch(estimates, joint = "the posterior and the likelihood", models = "posterior model probabilities",
                   paste("the", estimates))
    needs <- if (kind == "joint") "a joint amortizer (posterior and likelihood)" else paste("an amortizer of the", kind)
    cli::cli_abort(c("{.arg {arg}} estimates {what}; this needs {needs}.",
                     "i" = if (estimates == "likelihood") "For a likelihood amortizer use {.fn log_likelihood}." else
                       "Create one with {.code amortizer(estimate = \"{kind}\")}."),
                   class = "amortized_error_argument", call = call)
  }
  if (trained && !is_trained(x)) {
    cli::cli_abort(c("{.arg {arg}} is not trained yet.",
                     "i" = "Train it first: {.code train({arg}, simulator, n_sims = 10000)}."),
                   class = "amortized_error_untrained", call = call)
  }
  invisible(x)
}

# The C++ model behind an amortizer: built on first use (also after readRDS,
# when the external pointer comes back null) from the spec and saved weights,
# of an older format brought up to date.
model_pointer <- function(x) {
  ptr <- x$.handle$ptr
  if (is.null(ptr) || .amz_is_null_pointer(ptr)) {
    x <- upgrade_amortizer(x)
    ptr <- new_model(x)
    if (!is.null(x$state)) core_call(.amz_estimator_set_state(ptr, x$state))
    x$.handle$ptr <- ptr
  }
  ptr
}

#' @export
print.amortizer <- function(x, ...) {
  what <- kind_label(x$kind)
  cat("<amortizer> neural ", what, " estimator", if (is_trained(x)) "" else " (untrained)", "\n", sep = "")
  cat("  inference net: ", format(x$inference_net), "\n", sep = "")
  summary_net <- x$config$summary_net %||% x$summary_net
  if (!is.null(summary_net)) cat("  summary net:   ", format(summary_net), "\n", sep = "")
  if (!is_trained(x)) {
    if (!is.null(x$configurator)) cat("  configurator: ", paste(vapply(x$configurator$steps, format, ""), collapse = "; "), "\n", sep = "")
    cat("  train it with train(<amortizer>, <simulator>, n_sims = 10000)\n")
    return(invisible(x))
  }
  info <- .amz_estimator_info(model_pointer(x))
  if (identical(x$kind, "models")) {
    cat("  models (", length(x$models), "): ", paste0(x$models, " (prior ", format(x$model_prior, digits = 3), ")",
                                                     collapse = ", "), "\n", sep = "")
  } else {
    cat("  parameters (", length(x$parameter_names), "): ", abbreviate_names(x$parameter_names), "\n", sep = "")
  }
  if (is.list(x$data_names)) {
    cat("  data       ", length(x$data_names), " sources: ",
        paste0(names(x$data_names), " (", lengths(x$data_names), ")", collapse = ", "), "\n", sep = "")
  } else {
    cat("  data       (", length(x$data_names), "): ", abbreviate_names(x$data_names), "\n", sep = "")
  }
  for (line in describe_plan(x$config, x$parameter_names)) cat("  ", line, "\n", sep = "")
  cat("  weights: ", format(info$n_parameters, big.mark = ","), "\n", sep = "")
  h <- x$history
  best <- x$info$best_epoch
  cat("  trained on ", format(x$info$n_sims, big.mark = ","), " simulations",
      if (isTRUE(x$info$subsets)) {
        if (identical(x$config$structure, "time_series")) " and random prefixes of their series" else
          " and random subsets of their sets"
      }, ": ", nrow(h), " epochs (",
      gsub("_", " ", x$info$stop_reason), "), best validation loss ",
      format(h$validation_loss[best], digits = 4), " at epoch ", best, ", ",
      format(sum(h$seconds), digits = 3), " s\n", sep = "")
  invisible(x)
}

#' @export
summary.amortizer <- function(object, ...) {
  check_amortizer(object, kind = NULL)
  info <- .amz_estimator_info(model_pointer(object))
  structure(list(kind = object$kind %||% "posterior", inference_net = format(object$inference_net), layers = info$layers,
                 n_weights = info$n_parameters, parameter_names = object$parameter_names,
                 data_names = object$data_names, history = object$history, info = object$info),
            class = "summary.amortizer")
}

#' @export
print.summary.amortizer <- function(x, ...) {
  cat("Amortized neural ", kind_label(x$kind), " estimator\n", sep = "")
  cat("Inference net:", x$inference_net, "\n")
  cat(paste0("  ", seq_along(x$layers), ". ", x$layers, collapse = "\n"), "\n")
  cat("Weights:", format(x$n_weights, big.mark = ","), "\n")
  cat("Training: ", nrow(x$history), " epochs, stopped by ", gsub("_", " ", x$info$stop_reason),
      "; best epoch ", x$info$best_epoch, "\n", sep = "")
  print(utils::tail(x$history, 5), row.names = FALSE, digits = 4)
  invisible(x)
}

# What an amortizer of this kind estimates, for print().
kind_label <- function(kind) {
  switch(kind %||% "posterior", joint = "joint posterior and likelihood", models = "model comparison", kind)
}
