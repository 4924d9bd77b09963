#' Define a simulator from a prior and a model written in R
#'
#' A simulator pairs a `prior`, which draws parameters, with a `model`, which
#' simulates one data set per parameter draw. Both are checked on a small call
#' (with a fixed seed, leaving your random number stream untouched) so that
#' mistakes surface here rather than during training.
#'
#' @param prior A function of `n` returning an `n`-row matrix or data frame of
#'   numeric parameters with column names (the parameter names).
#' @param model With `vectorized = TRUE` (default), a function of the `n`-row
#'   parameter matrix returning an `n`-row numeric matrix of data, one data set
#'   per row, or for data sets that are sets or series of `n_obs`
#'   observations of `dim` variables, an `[n, n_obs, dim]` array. With
#'   `vectorized = FALSE`, a function of one named parameter vector returning
#'   one data set: a numeric vector, or an `[n_obs, dim]` matrix; it is
#'   called row by row. For data from several sources (e.g. a set of trials
#'   and a time series, or a set and a few flat values), return a named list
#'   of such blocks instead (with `vectorized = FALSE`, a named list per
#'   row); each source keeps its own variables and number of observations,
#'   and [fusion()] gives each its own summary network.
#' @param vectorized Whether `model` takes all parameter rows at once.
#' @param context `NULL` or a named list of context variables, such as the
#'   number of observations per data set: each a numeric vector of values to
#'   draw from uniformly (`n_obs = 5:100`) or a function of no arguments
#'   returning one number. One value of each is drawn per chunk of
#'   simulations and passed to `model` by name (`model(theta, n_obs = 17)`),
#'   and the amortizer receives them as context. Set data may then have a
#'   different number of observations per chunk; they are padded with `NA`
#'   and their lengths recorded. A set's size reaches the network anyway,
#'   so an `n_obs` that is the size of set data is not context (unless
#'   [context_variables()] names it) and is read from the data; as a size
#'   chosen apart from the parameters, it also lets training show random
#'   subsets of the sets (see `subsets` in [train()]). Many small chunks are
#'   simulated so that many values occur.
#' @param support,truncated,symmetric,reflections,equivariances,set_structure
#'   What is known about the model, as the benchmark simulators declare it;
#'   amortizers use it unless `amortizer(use_structure = FALSE)`, and their
#'   configurator's steps take precedence. `support`: the prior's support,
#'   a named list of bounds (`list(sigma = c(0, Inf))`), used as the
#'   parameters' bounds (see [constrain()]). `truncated`: parameters whose
#'   posteriors the support cuts off sharply (a uniform prior's box): learned
#'   unbounded and truncated by rejection. `symmetric`: parameters in whose
#'   sign every posterior is even (see [symmetric()]). `reflections`: a list
#'   of mirror normals as named numbers (see [reflection()]).
#'   `equivariances`: a list of [equivariance()] declarations.
#'   `set_structure`: `c(n_obs, dim)` when flat data are an exchangeable set
#'   of `n_obs` points of `dim` values stored point after point.
#' @param log_prior `NULL` or the prior's log density: a function of a
#'   parameter matrix (named columns) returning one value per row (`-Inf`
#'   outside the support). A likelihood amortizer trained on this simulator
#'   keeps it (with `prior`, for starting points), and [sample_posterior()]
#'   then draws its posteriors by MCMC. Only functions of their arguments and
#'   of packages survive [save_amortizer()].
#' @return An `amortized_simulator` object; use it with [train()], [sbc()] and
#'   [simulate()][simulate.amortized_simulator].
#' @section Parallel and cluster simulation:
#' R simulators run in chunks, each a [future][future::future()] (on the
#' default sequential plan each chunk simply runs at once, in this session),
#' so they use whatever [future::plan()] you set: `plan(multisession, workers = 8)`
#' for the cores of your machine, `plan(cluster, workers = hosts)` for other
#' machines, or a `future.batchtools` plan for a Slurm cluster. Each chunk
#' has its own L'Ecuyer-CMRG random stream derived from the seed, so the
#' same seed gives the same simulations on every plan. Workers need nothing
#' from this package (the prior and model travel with their globals), and
#' they do not run LibTorch; prefer `multisession` to `multicore` (forking)
#' in a session that has already trained with several threads.
#' @seealso [benchmark_simulator()] for fast C++ simulators of standard tasks.
#' @family simulation
#' @examples
#' sim <- simulator(
#'   prior = function(n) cbind(mu = rnorm(n), log_sigma = rnorm(n, -1, 0.3)),
#'   model = function(theta) {
#'     n <- nrow(theta)
#'     matrix(rnorm(n * 5, theta[, "mu"], exp(theta[, "log_sigma"])), n, 5)
#'   }
#' )
#' sim
#'
#' # a set of n_obs observations, n_obs varying between data sets
#' sim <- simulator(
#'   prior = function(n) cbind(mu = rnorm(n), sigma = rexp(n)),
#'   model = function(theta, n_obs) {
#'     n <- nrow(theta)
#'     array(rnorm(n * n_obs, theta[, "mu"], theta[, "sigma"]), c(n, n_obs, 1),
#'           dimnames = list(NULL, NULL, "y"))
#'   },
#'   context = list(n_obs = 5:100)
#' )
#' sim
#' @export
simulator <- function(prior, model, vectorized = TRUE, context = NULL, support = NULL, truncated = NULL,
                      symmetric = NULL, reflections = NULL, equivariances = NULL, set_structure = NULL,
                      log_prior = NULL) {
  if (!is.function(prior)) {
    cli::cli_abort(c("{.arg prior} must be a function of {.code n} returning parameter draws.",
                     "x" = "Got {describe_value(prior)}."), class = "amortized_error_argument")
  }
  if (!is.function(model)) {
    cli::cli_abort(c("{.arg model} must be a function of the parameters returning data.",
                     "x" = "Got {describe_value(model)}."), class = "amortized_error_argument")
  }
  vectorized <- check_flag(vectorized)
  context <- check_context_spec(context, model)
  sim <- structure(list(type = "r", name = NULL, prior = prior, model = model,
                        vectorized = vectorized, parameter_names = NULL, data_names = NULL,
                        data_shape = NULL, context = context),
                   class = "amortized_simulator")
  trial <- simulate_r(sim, 3, seed = 1, call = rlang::current_env())
  sim$parameter_names <- colnames(trial$parameters)
  sim$data_names <- data_names_of(trial$data)
  sim$data_shape <- data_shape_of(trial$data)
  declared <- check_declarations(trial, support = support, truncated = truncated, symmetric = symmetric,
                                 reflections = reflections, equivariances = equivariances,
                                 set_structure = set_structure)
  sim[names(declared)] <- declared
  sim$log_prior <- check_log_prior(log_prior, trial$parameters)
  sim
}

# NULL or a vectorized log prior density: a function of a parameter matrix
# (named columns) returning one finite value per row for prior draws.
check_log_prior <- function(log_prior, parameters, call = rlang::caller_env()) {
  if (is.null(log_prior)) return(NULL)
  if (!is.function(log_prior)) {
    cli::cli_abort(c("{.arg log_prior} must be NULL or a function of a parameter matrix returning log densities.",
                     "x" = "Got {describe_value(log_prior)}."), class = "amortized_error_argument", call = call)
  }
  v <- log_prior(parameters)
  if (!is.numeric(v) || length(v) != nrow(parameters) || any(!is.finite(v))) {
    cli::cli_abort(c("{.arg log_prior} must return one finite log density per row of the parameter matrix for prior draws.",
                     "x" = "For {nrow(parameters)} prior draws it returned {describe_value(v)}."),
                   class = "amortized_error_argument", call = call)
  }
  log_prior
}

# NULL or a named list of numeric vectors / functions of no arguments, each
# name an argument `model` accepts.
check_context_spec <- function(context, model, call = rlang::caller_env()) {
  if (is.null(context)) return(NULL)
  nm <- names(context)
  if (!is.list(context) || length(context) == 0 || is.null(nm) || any(is.na(nm) | nm == "") || anyDuplicated(nm)) {
    cli::cli_abort(c("{.arg context} must be a named list of context variables, e.g. {.code list(n_obs = 5:100)}.",
                     "x" = "Got {describe_value(context)}."), class = "amortized_error_argument", call = call)
  }
  for (name in nm) {
    v <- context[[name]]
    ok <- is.function(v) || (is.numeric(v) && length(v) >= 1 && all(is.finite(v)))
    if (!ok) {
      cli::cli_abort(c("{.arg context${name}} must be a vector of finite numbers to draw from, or a function of no arguments returning one number.",
                       "x" = "Got {describe_value(v)}."), class = "amortized_error_argument", call = call)
    }
  }
  args <- names(formals(model))
  missing_args <- setdiff(nm, args)
  if (!"..." %in% args && length(missing_args) > 0) {
    cli::cli_abort(c("{.arg model} must take the context variable{?s} {.arg {missing_args}} as argument{?s}.",
                     "i" = "For example {.code function(theta, {missing_args[1]}) ...}."),
                   class = "amortized_error_argument", call = call)
  }
  context
}

#' Benchmark simulators in C++
#'
#' Fast, seeded, multi-threaded simulators of standard simulation-based
#' inference tasks (the definitions of the sbibm benchmark):
#' * `"gaussian_linear"`: theta ~ N(0, 0.1 I_10), x ~ N(theta, 0.1 I_10)
#'   (variances); the exact posterior is N(x / 2, 0.05 I).
#' * `"two_moons"`: theta ~ U(-1, 1)^2; x is a crescent point
#'   (r cos a + 0.25, r sin a), a ~ U(-pi/2, pi/2), r ~ N(0.1, 0.01^2),
#'   shifted by (-|theta_1 + theta_2| / sqrt 2, (theta_2 - theta_1) / sqrt 2).
#' * `"slcp"`: theta ~ U(-3, 3)^5; 4 iid 2-d normal points with mean
#'   (theta_1, theta_2), sds theta_3^2, theta_4^2 and correlation
#'   tanh(theta_5), flattened as (x11, x12, x21, ...) into 8 values. It
#'   declares its structure: the data are an exchangeable set of 4 points,
#'   and the posterior is even in the signs of theta_3 and theta_4 (they
#'   enter only squared); [amortizer()] uses both by default.
#' * `"gaussian_mixture"`: theta ~ U(-10, 10)^2,
#'   x ~ 0.5 N(theta, I) + 0.5 N(theta, 0.01 I).
#' * `"inverse_kinematics"`: theta ~ N(0, diag(1/16, 1/4, 1/4, 1/4)); x is the
#'   end point of a planar arm with segments 0.5, 0.5, 1.
#' * `"bernoulli_glm"`: a generalized linear model of a spiking neuron;
#'   theta (10) ~ N(0, P^-1) with a smoothness precision P; 100 time steps
#'   y_t ~ Bernoulli(sigmoid(X theta)) with the design matrix X shipped as
#'   `system.file("extdata", "bernoulli_glm_design_matrix.csv", package =
#'   "amortized")`; x = X'y (10 sufficient statistics).
#' * `"sir"`: an epidemic; beta ~ LogNormal(log 0.4, 0.5), gamma ~
#'   LogNormal(log 0.125, 0.2); the SIR equations with N = 10^6 and one
#'   initial infection are solved over 160 days (adaptive Dormand-Prince
#'   from Boost.Odeint, relative tolerance 1e-10), and x_k ~ Binomial(1000,
#'   I/N) on days 0, 17, ..., 153.
#' * `"lotka_volterra"`: predator-prey dynamics; (alpha, beta, gamma, delta)
#'   LogNormal with log-means (-0.125, -3, -0.125, -3) and log-sd 0.5,
#'   started at (30, 1); prey and predators at t = 0, 2.1, ..., 18.9 with
#'   log-normal noise (sd 0.1). A failed solve gives a row of NaN, which
#'   [simulate()][simulate.amortized_simulator] drops with a warning.
#' * `"ddm"`: the drift-diffusion model of two-choice response times, an
#'   example of set data. Drift v ~ U(-3, 3), boundary separation
#'   a ~ U(0.5, 2), relative start z ~ U(0.3, 0.7), non-decision time
#'   t0 ~ U(0.1, 0.5); each data set is `n_obs` trials of (rt, choice),
#'   simulated by Euler-Maruyama with step 1 ms (choice 1: upper
#'   boundary), returned as an `[n, n_obs, 2]` array.
#'
#' The simulators declare what they know about themselves, and [amortizer()]
#' uses it by default (`use_structure`): the support of the prior (the
#' uniform and log-normal priors: two_moons, slcp, gaussian_mixture, ddm,
#' sir, lotka_volterra), which bounds the draws; slcp's data as a set of 4
#' points; and parameters in whose sign the posterior is even (slcp's
#' theta_3 and theta_4). `print()` shows the declarations.
#'
#' Simulations are made in chunks (1,024 rows; 64 for the ODE tasks, 8 for
#' `"ddm"`), each with its own random stream derived from the seed and
#' spread over `threads` threads, so the same seed gives the same
#' simulations for any number of threads.
#'
#' @param name The task name.
#' @param n_obs For `"ddm"`: trials per data set: a whole number >= 1, or a
#'   vector of them to draw from, one value per block of 50 simulations (the
#'   data are then padded with `NA` to the largest, and the amortizer gets
#'   `n_obs` as context).
#' @return An `amortized_simulator` object.
#' @family simulation
#' @examples
#' sim <- benchmark_simulator("gaussian_linear")
#' sims <- simulate(sim, 5, seed = 1)
#' @export
benchmark_simulator <- function(name, n_obs = 100) {
  name <- check_choice(name, .amz_benchmark_names())
  if (!is.numeric(n_obs) || length(n_obs) == 0 || anyNA(n_obs) || any(n_obs != round(n_obs)) ||
      any(n_obs < 1) || any(!is.finite(n_obs))) {
    cli::cli_abort(c("{.arg n_obs} must be a whole number >= 1 or a vector of them.",
                     "x" = "Got {describe_value(n_obs)}."), class = "amortized_error_argument")
  }
  n_obs <- sort(unique(as.integer(n_obs)))
  options <- list(n_obs = max(n_obs), design = matrix(0, 0, 0))
  if (name == "bernoulli_glm") options$design <- bernoulli_glm_design()
  info <- core_call(.amz_benchmark_info(name, options$n_obs, options$design))
  varying <- length(n_obs) > 1 && length(info$data_shape) == 2
  structure(list(type = "benchmark", name = name, prior = NULL, model = NULL, vectorized = TRUE,
                 parameter_names = info$parameter_names, data_names = info$data_names,
                 data_shape = info$data_shape,
                 set_structure = if (length(info$set_structure)) as.integer(info$set_structure),
                 symmetric = if (length(info$symmetric)) info$parameter_names[info$symmetric + 1],
                 support = if (length(info$lower)) rbind(lower = info$lower, upper = info$upper),
                 truncated = if (length(info$truncated)) info$parameter_names[info$truncated + 1],
                 reflections = reflection_matrix(info$reflections, info$parameter_names),
                 equivariances = equivariance_list(info$equivariances),
                 options = options, context = if (varying) list(n_obs = n_obs)),
            class = "amortized_simulator")
}

bernoulli_glm_design <- function() {
  path <- system.file("extdata", "bernoulli_glm_design_matrix.csv", package = "amortized")
  if (!nzchar(path)) {
    cli::cli_abort("The bernoulli_glm design matrix is missing from the installed package.",
                   class = "amortized_error_simulator")
  }
  unname(as.matrix(utils::read.csv(path, header = FALSE)))
}

#' @export
print.amortized_simulator <- function(x, ...) {
  what <- if (x$type == "benchmark") paste0("benchmark simulator ", x$name, " (C++)") else
    paste0("R simulator (", if (x$vectorized) "vectorized" else "row by row", ")")
  cat("<amortized_simulator> ", what, "\n", sep = "")
  cat("  parameters (", length(x$parameter_names), "): ", abbreviate_names(x$parameter_names), "\n", sep = "")
  if (is.list(x$data_names)) {
    cat("  data       ", length(x$data_names), " sources\n", sep = "")
    for (b in names(x$data_names)) {
      cat("    ", b, ": ", data_layout(x$data_names[[b]], x$data_shape[[b]], varying = length(x$context) > 0), "\n",
          sep = "")
    }
  } else {
    cat("  data       ", data_layout(x$data_names, x$data_shape, varying = length(x$context) > 0), "\n", sep = "")
  }
  if (length(x$set_structure) == 2) {
    cat("  structure: ", set_layout(x$set_structure), "\n", sep = "")
  }
  if (length(x$support) > 0) {
    cat("  prior support: ", describe_support(x$parameter_names, x$support),
        if (length(x$truncated)) paste0(" (posteriors cut off at the bounds of ", paste(x$truncated, collapse = ", "), ")"),
        "\n", sep = "")
  }
  if (length(x$symmetric) > 0) {
    cat("  symmetric: the posterior is even in the sign of ", paste(x$symmetric, collapse = ", "), "\n", sep = "")
  }
  for (k in seq_len(NROW(x$reflections))) {
    n <- x$reflections[k, ]
    cat("  reflection: the posterior is even under the mirror with normal ", format_normal(n[n != 0]), "\n", sep = "")
  }
  for (e in x$equivariances) {
    per_point <- length(x$set_structure) == 2 || length(x$data_shape) == 2
    cat("  equivariance: ", format_equivariance(e, x$parameter_names, if (!per_point && !is.list(x$data_names)) x$data_names),
        "\n", sep = "")
  }
  if (length(x$context) > 0) {
    cat("  context: ", paste(vapply(names(x$context), function(n) describe_context(n, x$context[[n]]), ""),
                             collapse = "; "), "\n", sep = "")
  }
  invisible(x)
}

# The normals of declared reflections as a k x dim matrix with the
# parameter names as column names; NULL for none.
reflection_matrix <- function(normals, names) {
  if (length(normals) == 0) return(NULL)
  m <- matrix(as.numeric(normals), ncol = length(names), dimnames = list(NULL, names))
  if (anyNA(m) || nrow(m) == 0) {
    cli::cli_abort("The normals of the reflections need one value per parameter.", class = "amortized_error_data")
  }
  m
}

# Declared equivariances as a list of list(parameters, data) signed
# permutations (integer vectors; see equivariance()); NULL for none. Each
# comes from C++ as list(theta, x), from R or JSON as list(parameters, data).
equivariance_list <- function(eq) {
  if (length(eq) == 0) return(NULL)
  lapply(eq, function(e) {
    p <- e$parameters %||% e$theta
    d <- e$data %||% e$x
    if (!is_signed_permutation(p) || !is_signed_permutation(d)) {
      cli::cli_abort("An equivariance must be two signed permutations (parameters, data).",
                     class = "amortized_error_data")
    }
    list(parameters = as.integer(unlist(p)), data = as.integer(unlist(d)))
  })
}

is_signed_permutation <- function(p) {
  p <- unlist(p)
  is.numeric(p) && length(p) >= 1 && !anyNA(p) && all(p == round(p)) && setequal(abs(p), seq_along(p)) &&
    !anyDuplicated(abs(p))
}

# "(theta_1, theta_2) -> (theta_2, theta_1) with data (x_1, x_2) -> (x_1, -x_2)"
format_equivariance <- function(e, parameter_names, data_names = NULL) {
  signed <- function(p, names) paste0(ifelse(p < 0, "-", ""), names[abs(p)])
  moved <- which(e$parameters != seq_along(e$parameters))
  dn <- data_names %||% paste0("v", seq_along(e$data))
  dmoved <- which(e$data != seq_along(e$data))
  paste0("(", paste(parameter_names[moved], collapse = ", "), ") -> (",
         paste(signed(e$parameters[moved], parameter_names), collapse = ", "), ") with ",
         if (is.null(data_names)) "each point's variables " else "data ",
         if (length(dmoved)) paste0("(", paste(dn[dmoved], collapse = ", "), ") -> (",
                                    paste(signed(e$data[dmoved], dn), collapse = ", "), ")") else "unchanged")
}

# "theta_1 in (-3, 3), ..." for the bounded parameters of a support
# (a 2-row matrix: lower, upper).
describe_support <- function(names, support) {
  bounded <- is.finite(support[1, ]) | is.finite(support[2, ])
  paste0(names[bounded], " in (", support[1, bounded], ", ", support[2, bounded], ")", collapse = ", ")
}

# "n_obs in 5..100" / "rate drawn by a function".
describe_context <- function(name, v) {
  if (is.function(v)) return(paste(name, "drawn by a function"))
  if (length(v) == 1) return(paste(name, "=", format(v)))
  if (is.numeric(v) && all(v == round(v)) && identical(as.numeric(v), as.numeric(seq(min(v), max(v))))) {
    return(paste0(name, " in ", min(v), "..", max(v)))
  }
  paste0(name, " from ", length(v), " values in [", format(min(v)), ", ", format(max(v)), "]")
}

# "(d): names" for flat data, "n_obs observations of (d): names" for set data.
data_layout <- function(names, shape, lengths = NULL, varying = FALSE) {
  flat <- paste0("(", length(names), "): ", abbreviate_names(names))
  if (length(shape) < 2) return(flat)
  n <- if (varying) "a varying number of" else
    if (length(lengths) > 0 && min(lengths) < max(lengths)) paste0(min(lengths), "..", max(lengths)) else shape[1]
  paste0(n, " observations of ", flat)
}

# "an exchangeable set of 4 points of 2" for set_shape c(4, 2).
set_layout <- function(set_shape) {
  paste0("an exchangeable set of ", set_shape[1], " points of ", set_shape[2])
}

abbreviate_names <- function(names, max = 6) {
  if (length(names) <= max) return(paste(names, collapse = ", "))
  paste(c(names[seq_len(max - 1)], "...", names[length(names)]), collapse = ", ")
}

is_simulator <- function(x) inherits(x, "amortized_simulator")
