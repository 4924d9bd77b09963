# The prior an amortizer keeps from the simulator it was trained on, for
# what needs its density: posteriors from a learned likelihood (MCMC) and
# marginal likelihoods. A benchmark simulator's prior is its C++ one, kept
# by name (so it survives save_amortizer()); an R simulator's is its prior
# and log_prior functions. NULL where the simulator declares no density.
prior_spec <- function(sim) {
  if (!inherits(sim, "amortized_simulator")) return(NULL)
  if (identical(sim$type, "benchmark")) {
    return(list(type = "benchmark", name = sim$name, n_obs = sim$options$n_obs, design = sim$options$design))
  }
  if (is.null(sim$log_prior)) return(NULL)
  list(type = "r", draw = sim$prior, log_density = sim$log_prior)
}

# The prior's log density at each row of theta (a matrix with the
# parameter names as columns): a double vector.
prior_log_density <- function(prior, theta) {
  if (identical(prior$type, "benchmark")) {
    return(.amz_benchmark_log_prior(prior$name, theta, prior$n_obs, prior$design))
  }
  as.double(prior$log_density(theta))
}

# n prior draws as a double matrix with the parameters `names`, from R's
# random number stream.
prior_draws <- function(prior, n, names) {
  theta <- if (identical(prior$type, "benchmark")) {
    .amz_benchmark_prior(prior$name, n, floor(stats::runif(1) * 2^31), prior$n_obs, prior$design)
  } else {
    as.matrix(prior$draw(n))
  }
  theta <- theta[, names, drop = FALSE]
  storage.mode(theta) <- "double"
  theta
}

# Fails, saying how to give one, where an amortizer has no prior density.
check_prior_known <- function(object, what, call = rlang::caller_env()) {
  if (is.null(object$prior)) {
    cli::cli_abort(c("{what} need the prior's density, which this amortizer does not know.",
                     "i" = "Train it on a {.fn benchmark_simulator} or on {.code simulator(prior, model, log_prior = function(theta) ...)}."),
                   class = "amortized_error_argument", call = call)
  }
  invisible(object$prior)
}

# Fails where a row of theta (a matrix with the parameter names) lies
# outside the support the amortizer learned on (the prior's bounds and any
# constraints of its configurator).
check_theta_support <- function(object, theta, arg = "theta", call = rlang::caller_env()) {
  lower <- object$config$core$lower
  upper <- object$config$core$upper
  if (!length(lower)) return(invisible(theta))
  outside <- sweep(theta, 2, lower, "<=") | sweep(theta, 2, upper, ">=")
  outside[is.na(outside)] <- TRUE
  bad <- which(rowSums(outside) > 0)
  if (length(bad)) {
    i <- bad[1]
    j <- which(outside[i, ])[1]
    cli::cli_abort(c("{.arg {arg}} must lie inside the prior's support.",
                     "x" = "Row {i}{if (length(bad) > 1) paste0(' (and ', length(bad) - 1, ' more)') else ''}: {.field {colnames(theta)[j]}} = {format(theta[i, j])}, outside ({format(lower[j])}, {format(upper[j])})."),
                   class = "amortized_error_argument", call = call)
  }
  invisible(theta)
}
