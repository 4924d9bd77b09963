#' Simulations from several candidate models
#'
#' `simulate()` on a named list of simulators (the candidate models of a
#' model comparison) draws `nsim` simulations in all: from each model in
#' proportion to its prior probability (rounded, so that the counts sum to
#' `nsim`), stacked and shuffled. The parameters are replaced by one column
#' `.model`, the index of the model that produced the row (the models'
#' parameters may differ); `$models` names the models and `$model_prior`
#' holds their prior. Such simulations train a model comparison amortizer
#' (`amortizer(estimate = "models")`) as the list itself would.
#'
#' The candidates' data must have the same layout: the same variables and,
#' for flat data, the same values; sets and time series may differ in their
#' number of observations, and the models share their context variables.
#'
#' @param object A named list of simulators ([simulator()],
#'   [benchmark_simulator()]).
#' @param nsim Simulations in all.
#' @param seed `NULL` or a whole number.
#' @param prior Prior model probabilities: a named vector with one value
#'   per model (any order, normalized to sum to 1); `NULL`: equal.
#' @param threads Threads for the C++ simulators.
#' @param ... Unused; unknown arguments are an error.
#' @return Simulations (`amortized_simulations`) with `.model` as their
#'   parameter, `$models` and `$model_prior`.
#' @family simulation
#' @examples
#' null <- simulator(function(n) cbind(mu = rep(0, n)),
#'                   function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])))
#' effect <- simulator(function(n) cbind(mu = rnorm(n)),
#'                     function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])))
#' sims <- simulate(list(null = null, effect = effect), 100, seed = 1)
#' table(sims$parameters[, ".model"])
#' @export
simulate.list <- function(object, nsim = 1, seed = NULL, prior = NULL, threads = 1L, ...) {
  rlang::check_dots_empty()
  nsim <- check_count(nsim, arg = "nsim")
  model_simulations(object, nsim, prior, resolve_seed(seed), check_threads(threads), arg = "object")
}

# The training simulations of a model comparison: `models` is a named list
# of simulators (simulated here, n_sims in all) or simulations of them
# (simulate() on the list). Parameters: .model, the 1-based model index.
model_simulations <- function(models, n_sims, prior, seed, threads, keep_nonfinite = FALSE, arg = "simulator",
                              call = rlang::caller_env()) {
  if (inherits(models, "amortized_simulations")) {
    if (is.null(models$models)) {
      cli::cli_abort(c("{.arg {arg}} must be a named list of candidate simulators, or their simulations.",
                       "i" = "Simulate the candidates with {.code simulate(list(a = sim_a, b = sim_b), n)}."),
                     class = "amortized_error_argument", call = call)
    }
    if (!is.null(prior)) {
      cli::cli_abort("Simulations of the candidates carry their prior; give {.arg prior} where they are simulated.",
                     class = "amortized_error_argument", call = call)
    }
    return(models)
  }
  check_model_list(models, arg, call)
  prior <- check_model_prior(prior, names(models), call = call)
  exact <- n_sims * prior
  counts <- floor(exact)
  extra <- n_sims - sum(counts)
  if (extra > 0) {  # the largest remainders get one more
    top <- order(exact - counts, decreasing = TRUE)[seq_len(extra)]
    counts[top] <- counts[top] + 1
  }
  parts <- list()
  for (k in which(counts > 0)) {
    s <- training_simulations(models[[k]], counts[k], (seed + 7919 * k) %% 2147483647, threads,
                              keep_nonfinite = keep_nonfinite, call = call)
    s$parameters <- matrix(as.double(k), nrow(s$parameters), 1, dimnames = list(NULL, ".model"))
    s[c("symmetric", "support", "truncated", "reflections", "equivariances", "set_structure")] <- list(NULL)
    parts[[length(parts) + 1]] <- s
  }
  check_same_layout(parts, names(models)[counts > 0], call)
  sims <- Reduce(combine_simulations, parts)
  sims <- subset_simulations(sims, with_seed(seed, sample.int(nrow(sims$parameters))))
  sims$models <- names(models)
  sims$model_prior <- prior
  sims
}

check_model_list <- function(models, arg, call) {
  ok <- is.list(models) && !inherits(models, "amortized_simulator") && length(models) >= 2 &&
    !is.null(names(models)) && all(nzchar(names(models))) && !anyDuplicated(names(models))
  if (!ok) {
    cli::cli_abort(c("{.arg {arg}} must be a named list of at least two candidate simulators (unique names).",
                     "x" = "Got {describe_value(models)}."), class = "amortized_error_argument", call = call)
  }
  bad <- names(models)[!vapply(models, is_simulator, TRUE)]
  if (length(bad)) {
    cli::cli_abort(c("Every candidate in {.arg {arg}} must be a simulator ({.fn simulator}, {.fn benchmark_simulator}).",
                     "x" = "Not a simulator: {.val {bad}}."), class = "amortized_error_argument", call = call)
  }
  invisible(models)
}

# Prior model probabilities: a named vector over `models`, each > 0,
# normalized; NULL: equal.
check_model_prior <- function(prior, models, arg = "prior", call = rlang::caller_env()) {
  if (is.null(prior)) return(stats::setNames(rep(1 / length(models), length(models)), models))
  if (!is.numeric(prior) || anyNA(prior) || any(!is.finite(prior)) || is.null(names(prior)) ||
      !setequal(names(prior), models) || length(prior) != length(models)) {
    cli::cli_abort(c("{.arg {arg}} must be a named vector of prior probabilities, one for each model: {.val {models}}.",
                     "x" = "Got {describe_value(prior)}."), class = "amortized_error_argument", call = call)
  }
  if (any(prior <= 0)) {
    cli::cli_abort(c("Every model needs a prior probability above 0.",
                     "x" = "{.arg {arg}} gives {.val {names(prior)[prior <= 0]}} probability {prior[prior <= 0]}."),
                   class = "amortized_error_argument", call = call)
  }
  prior <- prior[models]
  prior / sum(prior)
}

# The candidates' simulations must have one data layout.
check_same_layout <- function(parts, models, call) {
  layout <- function(s) {
    list(names = data_names_of(s$data), width = if (is_multi_source(s$data)) NULL else
      if (length(dim(s$data)) == 3) c("set", dim(s$data)[3]) else c("flat", ncol(s$data)),
      context = colnames(s$context))
  }
  first <- layout(parts[[1]])
  for (k in seq_along(parts)[-1]) {
    if (!identical(layout(parts[[k]]), first)) {
      describe <- function(l) paste0(paste(unlist(l$names), collapse = ", "),
                                     if (length(l$context)) paste0(" (context ", paste(l$context, collapse = ", "), ")"))
      cli::cli_abort(c("The candidate models' data must have the same layout.",
                       "x" = "{.val {models[1]}}: {describe(first)}; {.val {models[k]}}: {describe(layout(parts[[k]]))}.",
                       "i" = "Sets may differ in their number of observations only."),
                     class = "amortized_error_argument", call = call)
    }
  }
}
