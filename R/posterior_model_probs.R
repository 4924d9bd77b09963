#' Posterior model probabilities
#'
#' A model comparison amortizer (`amortizer(estimate = "models")`, trained
#' on a named list of candidate simulators) estimates p(model | data) for
#' any data set in one pass of its classifier. The classifier learns the
#' probabilities under the prior model probabilities of its training
#' simulations; another `prior` is applied exactly, by reweighting the
#' posterior odds: p'(m | x) is proportional to p(m | x) prior'(m) / prior(m).
#'
#' @param object A trained model comparison amortizer; or a named list of
#'   trained joint amortizers (`amortizer(estimate = "joint")`), one per
#'   candidate model, whose [log_marginal_likelihood()] estimates then give
#'   the probabilities.
#' @param data One data set or several, as [sample_posterior()] takes them.
#' @param prior `NULL` (the training prior) or prior model probabilities: a
#'   named vector with one value per model, each above 0 (normalized).
#' @param context Context variables, as for [sample_posterior()].
#' @param threads CPU threads for LibTorch.
#' @inheritParams sample_posterior
#' @param n_draws,seed For a list of joint amortizers: posterior draws per
#'   data set for each evidence, and their seed.
#' @return A data frame with one row per data set and one column per model;
#'   each row sums to 1.
#' @seealso [bayes_factor()], [calibration_curve()], [confusion_matrix()].
#' @family model comparison
#' @examples
#' \donttest{
#' null <- simulator(function(n) cbind(mu = rep(0, n)),
#'                   function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])))
#' effect <- simulator(function(n) cbind(mu = rnorm(n)),
#'                     function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])))
#' cmp <- train(amortizer(estimate = "models"), list(null = null, effect = effect),
#'              n_sims = 2000, epochs = 5, seed = 1)
#' posterior_model_probs(cmp, rbind(0.1, 2.5))
#' }
#' @export
posterior_model_probs <- function(object, data, prior = NULL, context = NULL, threads = inference_threads(),
                                  n_draws = 1000, seed = NULL, device = getOption("amortized.device", "cpu")) {
  if (is.list(object) && !inherits(object, "amortizer")) {
    return(joint_model_probs(object, data, prior, context, threads, device, n_draws, seed))
  }
  check_amortizer(object, kind = "models")
  if (missing(data)) {
    cli::cli_abort("{.arg data} is missing: give the observed data set(s).", class = "amortized_error_argument")
  }
  threads <- check_threads(threads)
  device <- check_device(device)
  if (!is.null(prior)) prior <- check_model_prior(prior, object$models)
  log_p <- model_log_probs(object, data, context, threads, device)
  as.data.frame(model_probs_from_log(log_p, object$model_prior, prior))
}

# Posterior model probabilities from the evidences of joint amortizers
# (prior NULL: equal).
joint_model_probs <- function(fits, data, prior, context, threads, device, n_draws, seed, call = rlang::caller_env()) {
  models <- names(fits)
  if (length(fits) < 2 || is.null(models) || !all(nzchar(models)) || anyDuplicated(models)) {
    cli::cli_abort(c("{.arg object} must be a model comparison amortizer or a named list of at least two joint amortizers.",
                     "x" = "Got {describe_value(fits)}."), class = "amortized_error_argument", call = call)
  }
  for (m in models) check_amortizer(fits[[m]], arg = paste0("object$", m), kind = "joint", call = call)
  prior <- check_model_prior(prior, models, call = call)
  seed <- resolve_seed(seed)
  log_ml <- do.call(cbind, lapply(models, function(m) {
    log_marginal_likelihood(fits[[m]], data, n_draws = n_draws, context = context, seed = seed,
                            threads = threads, device = device)$log_marginal_likelihood
  }))
  colnames(log_ml) <- models
  as.data.frame(model_probs_from_log(sweep(log_ml, 2, log(prior), "+"), prior))
}

# log p(model | x) under the training prior: [data sets, models] with the
# model names.
model_log_probs <- function(object, data, context, threads, device, call = rlang::caller_env()) {
  inputs <- observed_inputs(object, data, context, call = call)$inputs
  warn_outside_training(object, inputs, threads, device, call = call)
  classifier_log_probs(object, inputs, threads, device, call)
}

# The classifier's log p(model | x) for network inputs (of observed data or
# simulations): [rows, models] with the model names.
classifier_log_probs <- function(object, inputs, threads, device, call = rlang::caller_env()) {
  lp <- core_call(.amz_models_log_probs(model_pointer(object), inputs$x, inputs$lengths, inputs$context, threads,
                                        device), call = call)
  colnames(lp) <- object$models
  lp
}

# Probabilities from log probabilities under the training prior, the odds
# reweighted to another prior (NULL: none).
model_probs_from_log <- function(log_p, trained_prior, prior = NULL) {
  if (!is.null(prior)) log_p <- sweep(log_p, 2, log(prior[colnames(log_p)]) - log(trained_prior[colnames(log_p)]), "+")
  p <- exp(log_p - apply(log_p, 1, max))
  p / rowSums(p)
}

# The plan of a model comparison: the data embedding of the posterior
# plan, a classifier over `models`.
models_plan <- function(plan, models) {
  core <- plan$core
  plan$core <- list(n_models = length(models), dim_x = core$dim_x, set_shape = core$set_shape,
                    set_features = core$set_features, dim_context = core$dim_context,
                    variable_length = core$variable_length, standardize_data = core$standardize_data)
  plan$core$source_dims <- core$source_dims  # fusion only (NULL drops it)
  plan
}
