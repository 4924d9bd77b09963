#' Bayes factor of two models
#'
#' The log Bayes factor of model 1 against model 2 for each data set, by
#' one of two routes:
#' * `bayes_factor(fit1, fit2, data, n_draws = 1000, context = NULL, seed =
#'   NULL, threads =)` with two joint amortizers
#'   (`amortizer(estimate = "joint")`), one per model: the difference of
#'   their [log_marginal_likelihood()] estimates, with the standard error of
#'   the difference.
#' * `bayes_factor(cmp, data, model1, model2, context = NULL, threads =)`
#'   with a model comparison amortizer (`amortizer(estimate = "models")`):
#'   the posterior odds of the two models divided by their prior odds.
#'
#' @param fit1 A trained joint amortizer of model 1, or a trained model
#'   comparison amortizer.
#' @param ... For joint amortizers: `fit2`, the joint amortizer of model 2
#'   (with the same data variables); `data`, one data set or several as
#'   [sample_posterior()] takes them; and `n_draws`, `context`, `seed`,
#'   `threads` as for [log_marginal_likelihood()]. For a model comparison
#'   amortizer: `data`; `model1` and `model2`, the names of the two models;
#'   `context` and `threads`.
#' @return A data frame with one row per data set: `log_bayes_factor`
#'   (log p(x | model 1) - log p(x | model 2)) and `bayes_factor` (its
#'   exponential); from joint amortizers also the Monte Carlo standard error
#'   `se` and the `log_marginal_likelihood` of each model (`log_ml1`,
#'   `log_ml2`).
#' @family model comparison
#' @examples
#' \donttest{
#' narrow <- simulator(function(n) cbind(mu = rnorm(n, 0, 0.5)),
#'                     function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])),
#'                     log_prior = function(theta) dnorm(theta[, "mu"], 0, 0.5, log = TRUE))
#' wide <- simulator(function(n) cbind(mu = rnorm(n, 0, 3)),
#'                   function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])),
#'                   log_prior = function(theta) dnorm(theta[, "mu"], 0, 3, log = TRUE))
#' net <- amortizer(estimate = "joint")
#' fit1 <- train(net, narrow, n_sims = 2000, epochs = 5, seed = 1)
#' fit2 <- train(net, wide, n_sims = 2000, epochs = 5, seed = 1)
#' bayes_factor(fit1, fit2, c(y = 0.2))
#' }
#' @export
bayes_factor <- function(fit1, ...) {
  if (inherits(fit1, "amortizer") && identical(fit1$kind, "models")) return(classifier_bayes_factor(fit1, ...))
  joint_bayes_factor(fit1, ...)
}

joint_bayes_factor <- function(fit1, fit2, data, n_draws = 1000, context = NULL, seed = NULL,
                               threads = inference_threads(), device = getOption("amortized.device", "cpu")) {
  check_amortizer(fit1, kind = "joint")
  check_amortizer(fit2, kind = "joint")
  if (!identical(fit1$data_names, fit2$data_names)) {
    cli::cli_abort(c("{.arg fit1} and {.arg fit2} must model the same data variables.",
                     "x" = "{.arg fit1} has {.field {unlist(fit1$data_names)}}; {.arg fit2} has {.field {unlist(fit2$data_names)}}."),
                   class = "amortized_error_argument")
  }
  seed <- resolve_seed(seed)
  m1 <- log_marginal_likelihood(fit1, data, n_draws = n_draws, context = context, seed = seed, threads = threads,
                                device = device)
  m2 <- log_marginal_likelihood(fit2, data, n_draws = n_draws, context = context, seed = seed, threads = threads,
                                device = device)
  log_bf <- m1$log_marginal_likelihood - m2$log_marginal_likelihood
  data.frame(log_bayes_factor = log_bf, se = sqrt(m1$se^2 + m2$se^2), bayes_factor = exp(log_bf),
             log_ml1 = m1$log_marginal_likelihood, log_ml2 = m2$log_marginal_likelihood)
}

# Bayes factors from a model comparison amortizer: the posterior odds of
# model1 against model2 over their prior odds.
classifier_bayes_factor <- function(cmp, data, model1, model2, context = NULL, threads = inference_threads(),
                                    device = getOption("amortized.device", "cpu"), call = rlang::caller_env()) {
  if (missing(data) || missing(model1) || missing(model2)) {
    cli::cli_abort("{.arg data}, {.arg model1} and {.arg model2} are all needed.", class = "amortized_error_argument",
                   call = call)
  }
  threads <- check_threads(threads)
  device <- check_device(device)
  for (m in list(model1, model2)) {
    if (!is.character(m) || length(m) != 1 || !m %in% cmp$models) {
      cli::cli_abort(c("{.arg model1} and {.arg model2} must each name one of the models: {.val {cmp$models}}.",
                       "x" = "Got {describe_value(m)}."), class = "amortized_error_argument", call = call)
    }
  }
  lp <- model_log_probs(cmp, data, context, threads, device, call = call)
  log_bf <- lp[, model1] - lp[, model2] - (log(cmp$model_prior[[model1]]) - log(cmp$model_prior[[model2]]))
  data.frame(log_bayes_factor = unname(log_bf), bayes_factor = exp(unname(log_bf)))
}
