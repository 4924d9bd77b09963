#' Configure how simulations become network inputs
#'
#' A configurator is a pipeline of small steps between what a simulator
#' returns and what the networks see, stored in the trained amortizer and
#' applied the same way to observed data. Without one, [amortizer()] infers
#' a sensible default from the simulations: parameters and data
#' standardized, `[n, n_obs, dim]` data treated as exchangeable sets, every
#' context variable of the simulator passed to the inference network.
#'
#' Steps:
#' * [constrain()]: bounds of parameters (e.g. a standard deviation in
#'   (0, Inf), a probability in (0, 1)), learned on an unbounded scale with
#'   the Jacobian included (`.how = "transform"`), or learned as they are
#'   with the draws outside the bounds rejected (`.how = "truncate"`); either
#'   way densities are on the original scale and draws always respect the
#'   bounds;
#' * [reflection()]: a mirror symmetry of the posterior across a plane
#'   through 0 (two_moons: (t1, t2) -> (-t2, -t1)), learned on one side of
#'   the mirror with draws reflected at random;
#' * [equivariance()]: a signed permutation of the parameters together with
#'   the data that leaves their joint distribution unchanged (slcp: flipping
#'   a coordinate of the points flips the mean and the correlation); the
#'   networks train on every simulation transformed at random, as if there
#'   were that many times more simulations;
#' * [symmetric()]: parameters in whose sign the posterior is even (the
#'   likelihood depends on them only through their absolute value), learned
#'   as absolute values with random signs on the draws;
#' * [standardize()]: whether parameters and data are standardized with
#'   their training means and standard deviations (default: both);
#' * [as_set()] / [as_time_series()]: what the second dimension of
#'   `[n, n_obs, dim]` data is; it picks the default summary network;
#' * [context_variables()]: which context variables reach the inference network;
#' * [drop_data()] / [keep_data()]: select data variables;
#' * [log1p_data()] / [sqrt_data()]: transform data variables;
#' * [nan_to_num()]: replace missing (non-finite) data values and add
#'   indicators of where they were.
#'
#' Data steps apply in the order given; the others are declarations.
#'
#' @param ... Steps.
#' @return An `amortized_configurator`; `print()` shows the pipeline.
#' @examples
#' configurator(constrain(sigma = c(0, Inf), p = c(0, 1)), log1p_data("counts"), as_set())
#' @export
configurator <- function(...) {
  steps <- list(...)
  for (i in seq_along(steps)) {
    if (!inherits(steps[[i]], "amortized_step")) {
      cli::cli_abort(c("Every argument of {.fn configurator} must be a step such as {.code constrain()} or {.code as_set()}.",
                       "x" = "Argument {i} is {describe_value(steps[[i]])}."), class = "amortized_error_argument")
    }
  }
  kinds <- vapply(steps, `[[`, "", "step")
  if (sum(kinds %in% c("as_set", "as_time_series")) > 1) {
    cli::cli_abort("Give at most one of {.fn as_set} and {.fn as_time_series}.", class = "amortized_error_argument")
  }
  for (k in c("standardize", "context", "nan_to_num", "symmetric")) {
    if (sum(kinds == k) > 1) cli::cli_abort("Give {.fn {k}} at most once.", class = "amortized_error_argument")
  }
  structure(list(steps = steps), class = "amortized_configurator")
}

new_step <- function(step, ...) structure(list(step = step, ...), class = "amortized_step")

#' Configurator steps
#'
#' Steps of a [configurator()].
#'
#' @param ... For `constrain()`: named bounds, each `c(lower, upper)` (use
#'   `-Inf`/`Inf` for a side without bound) or `"positive"` (`c(0, Inf)`).
#'   For `context_variables()`, `drop_data()`, `keep_data()`, `log1p_data()`,
#'   `sqrt_data()`: variable names (strings); for `symmetric()`: parameter
#'   names; for the transforms, none
#'   means every data variable, for `context_variables()` none means no context.
#' @details `symmetric()` declares parameters in whose sign the posterior is
#'   even for every data set: the model depends on them only through their
#'   absolute value (e.g. a scale that enters squared, or a sign that the
#'   data cannot identify) and the prior is even in them. The network then
#'   learns the posterior of their absolute values, which has half the
#'   modes, draws get a fair random sign, and densities are halved
#'   accordingly. Their bounds, if any, must be symmetric about 0. Without
#'   names it declares none, overriding what a simulator declares (see
#'   `use_structure` of [amortizer()]).
#' @param .how For `constrain()`: how the bounds are kept. `"transform"`
#'   maps each bounded parameter onto the real line (logit for an interval,
#'   log for a half-line) and learns it there. `"truncate"` learns it as it
#'   is and rejects draws outside the bounds (drawing again until there are
#'   enough); densities are divided by the network's mass inside the bounds,
#'   a Monte Carlo estimate for each data set. Truncation suits posteriors
#'   that the bounds cut off sharply, such as where a uniform prior's box
#'   cuts through the likelihood; the transform suits half-lines and
#'   posteriors that fade out before the bounds. A simulator's declared
#'   support (see `use_structure` of [amortizer()]) is truncated where the
#'   simulator declares its posteriors cut off by it, and transformed
#'   otherwise.
#' @param parameters,data For `standardize()`: standardize the parameters /
#'   the data.
#' @param value For `nan_to_num()`: the number that replaces non-finite
#'   data values.
#' @return An `amortized_step`.
#' @name configurator-steps
#' @examples
#' constrain(sigma = "positive", p = c(0, 1))
#' log1p_data("count")
#' @export
constrain <- function(..., .how = c("transform", "truncate")) {
  how <- check_choice(.how, c("transform", "truncate"), arg = ".how")
  bounds <- list(...)
  nm <- names(bounds)
  if (length(bounds) == 0 || is.null(nm) || any(nm == "") || anyDuplicated(nm)) {
    cli::cli_abort("{.fn constrain} takes named bounds, e.g. {.code constrain(sigma = c(0, Inf))}.",
                   class = "amortized_error_argument")
  }
  for (name in nm) {
    b <- bounds[[name]]
    if (identical(b, "positive")) b <- c(0, Inf)
    if (!is.numeric(b) || length(b) != 2 || anyNA(b) || b[1] >= b[2] || b[1] == Inf || b[2] == -Inf) {
      cli::cli_abort(c("The bounds of {.arg {name}} must be {.code c(lower, upper)} with lower < upper, or {.val positive}.",
                       "x" = "Got {describe_value(bounds[[name]])}."), class = "amortized_error_argument")
    }
    bounds[[name]] <- as.numeric(b)
  }
  new_step("constrain", bounds = bounds, how = how)
}

#' @rdname configurator-steps
#' @export
symmetric <- function(...) new_step("symmetric", names = step_names(..., fn = "symmetric"))

#' @rdname configurator-steps
#' @details `reflection()` declares a mirror symmetry: the prior and the
#'   likelihood are unchanged when theta is reflected across the plane
#'   through 0 orthogonal to the normal `n` given by the named values, theta
#'   -> theta - 2 (n . theta) n / |n|^2. For two_moons, `reflection(theta_1
#'   = 1, theta_2 = 1)`: (t1, t2) -> (-t2, -t1). The network learns the
#'   posterior of the rotated parameters with the coordinate along `n`
#'   folded to its absolute value, and draws are reflected with probability
#'   1/2; the posterior then has half the modes. Give one step per mirror
#'   (normals orthogonal to each other); `reflection()` without values
#'   declares none, overriding what a simulator declares. Parameters mixed by
#'   a reflection cannot be mapped by [constrain()]; truncate them
#'   (`.how = "truncate"`). `symmetric("a")` is `reflection(a = 1)`.
#' @export
reflection <- function(...) {
  n <- unlist(list(...))
  if (length(n) > 0 && (!is.numeric(n) || is.null(names(n)) || any(names(n) == "") || anyDuplicated(names(n)) ||
                        any(!is.finite(n)) || all(n == 0))) {
    cli::cli_abort(c("{.fn reflection} takes the normal of the mirror as named numbers, e.g. {.code reflection(theta_1 = 1, theta_2 = 1)}.",
                     "x" = "Got {describe_value(n)}."), class = "amortized_error_argument")
  }
  new_step("reflection", normal = if (length(n)) n[n != 0] / sqrt(sum(n^2)))
}

#' @rdname configurator-steps
#' @param parameters For `equivariance()`: a signed permutation of the
#'   parameters, `c(-1, 2, 3, 4, -5)` for "parameter 1 becomes minus
#'   parameter 1, parameter 5 minus parameter 5, the others stay".
#' @param data For `equivariance()`: the signed permutation of the data that
#'   goes with it: of the data values for flat data, of each point's
#'   variables for set and time-series data (also where a simulator declares
#'   its flat data a set).
#' @details `equivariance()` declares a transformation g of the parameters
#'   together with the data that leaves their joint distribution (prior times
#'   likelihood) unchanged, so that the posterior is equivariant: p(g theta |
#'   g x) = p(theta | x). Entry i of `parameters` (and of `data`) is the
#'   1-based index of the component that moves to position i, negative where
#'   its sign flips. For slcp (points of 2 coordinates): flipping the first
#'   coordinate flips the first mean and the correlation,
#'   `equivariance(c(-1, 2, 3, 4, -5), c(-1, 2))`; swapping the coordinates
#'   swaps the means and the scales, `equivariance(c(2, 1, 4, 3, 5), c(2,
#'   1))`. The steps generate a group (at most 10000 elements); in training,
#'   every batch sees each simulation transformed by a random element, as if
#'   there were that many times more simulations, and the standardization is
#'   fitted over the group. The prior must be invariant (transformed
#'   simulated parameters stay inside their bounds, which is checked), the
#'   likelihood equivariant (not checked: a wrong declaration teaches the
#'   network a wrong posterior), and context variables unchanged.
#'   `equivariance()` without arguments declares none, overriding what a
#'   simulator declares. Not with data steps that transform the data, nor
#'   with multi-source data.
#' @export
equivariance <- function(parameters = NULL, data = NULL) {
  if (is.null(parameters) && is.null(data)) return(new_step("equivariance", parameters = NULL, data = NULL))
  for (arg in c("parameters", "data")) {
    p <- get(arg)
    if (!is_signed_permutation(p)) {
      cli::cli_abort(c("{.arg {arg}} must be a signed permutation: the whole numbers 1..n in any order, each with either sign.",
                       "x" = "Got {describe_value(p)}."), class = "amortized_error_argument")
    }
  }
  new_step("equivariance", parameters = as.integer(parameters), data = as.integer(data))
}

#' @rdname configurator-steps
#' @export
standardize <- function(parameters = TRUE, data = TRUE) {
  new_step("standardize", parameters = check_flag(parameters), data = check_flag(data))
}

#' @rdname configurator-steps
#' @export
as_set <- function() new_step("as_set")

#' @rdname configurator-steps
#' @export
as_time_series <- function() new_step("as_time_series")

#' @rdname configurator-steps
#' @export
context_variables <- function(...) new_step("context", names = step_names(..., fn = "context_variables"))

#' @rdname configurator-steps
#' @export
drop_data <- function(...) new_step("drop_data", names = step_names(..., fn = "drop_data", at_least_one = TRUE))

#' @rdname configurator-steps
#' @export
keep_data <- function(...) new_step("keep_data", names = step_names(..., fn = "keep_data", at_least_one = TRUE))

#' @rdname configurator-steps
#' @export
log1p_data <- function(...) new_step("log1p_data", names = step_names(..., fn = "log1p_data"))

#' @rdname configurator-steps
#' @export
sqrt_data <- function(...) new_step("sqrt_data", names = step_names(..., fn = "sqrt_data"))

#' @rdname configurator-steps
#' @export
nan_to_num <- function(value = 0) new_step("nan_to_num", value = check_number(value))

step_names <- function(..., fn, at_least_one = FALSE, call = rlang::caller_env()) {
  nm <- unlist(list(...), use.names = FALSE)
  if ((length(nm) > 0 && (!is.character(nm) || anyNA(nm) || any(nm == ""))) || (at_least_one && length(nm) == 0)) {
    cli::cli_abort(c("{.fn {fn}} takes variable names as strings{if (at_least_one) ' (at least one)'}.",
                     "x" = "Got {describe_value(nm)}."), class = "amortized_error_argument", call = call)
  }
  unique(nm)
}

#' @export
format.amortized_step <- function(x, ...) {
  names_or_all <- function(nm) if (length(nm) == 0) "every variable" else paste(nm, collapse = ", ")
  switch(x$step,
    constrain = paste0("constrain: ", paste(vapply(names(x$bounds), function(n) {
      b <- x$bounds[[n]]
      paste0(n, " in (", format(b[1]), ", ", format(b[2]), ")")
    }, ""), collapse = ", "), if (identical(x$how, "truncate")) " (truncated)"),
    standardize = paste0("standardize: ", if (x$parameters) "parameters" else "not parameters", ", ",
                         if (x$data) "data" else "not data"),
    as_set = "as_set: observations are exchangeable",
    reflection = paste0("reflection: ", if (length(x$normal)) paste0("the posterior is even under the mirror with normal ",
                                                                     format_normal(x$normal)) else "none"),
    equivariance = paste0("equivariance: ", if (length(x$parameters))
      paste0("parameters (", paste(x$parameters, collapse = ", "), ") with data (", paste(x$data, collapse = ", "), ")")
      else "none"),
    symmetric = paste0("symmetric: ", if (length(x$names)) paste0("the posterior is even in the sign of ",
                                                                  paste(x$names, collapse = ", ")) else "none"),
    as_time_series = "as_time_series: observations are time steps",
    context = paste0("context: ", if (length(x$names)) paste(x$names, collapse = ", ") else "none"),
    drop_data = paste0("drop_data: ", paste(x$names, collapse = ", ")),
    keep_data = paste0("keep_data: ", paste(x$names, collapse = ", ")),
    log1p_data = paste0("log1p_data: ", names_or_all(x$names)),
    sqrt_data = paste0("sqrt_data: ", names_or_all(x$names)),
    nan_to_num = paste0("nan_to_num: non-finite values -> ", format(x$value), ", with indicators")
  )
}

#' @export
print.amortized_step <- function(x, ...) {
  cat("<amortized_step> ", format(x), "\n", sep = "")
  invisible(x)
}

#' @export
print.amortized_configurator <- function(x, ...) {
  cat("<amortized_configurator> ", length(x$steps), " step", if (length(x$steps) != 1) "s", "\n", sep = "")
  for (i in seq_along(x$steps)) cat("  ", i, ". ", format(x$steps[[i]]), "\n", sep = "")
  invisible(x)
}

# ---- resolution against simulations ----------------------------------------

steps_of <- function(cfg, kind) Filter(function(s) s$step == kind, cfg$steps)

# The plan of an amortizer for these simulations: everything needed to turn
# simulations or observed data into network inputs, and the C++ options.
resolve_configuration <- function(x, sims, call = rlang::caller_env()) {
  cfg <- x$configurator %||% configurator()
  pnames <- colnames(sims$parameters)
  raw_names <- data_names_of(sims$data)
  three_d <- length(dim(sims$data)) == 3

  # parameter bounds: the prior support a simulator declares (with
  # use_structure), then those of constrain()
  use_structure <- isTRUE(x$use_structure %||% TRUE)
  lower <- rep(-Inf, length(pnames))
  upper <- rep(Inf, length(pnames))
  how <- rep("transform", length(pnames))
  if (use_structure && !is.null(sims$support)) {
    lower <- unname(sims$support[1, ])
    upper <- unname(sims$support[2, ])
    how[pnames %in% sims$truncated] <- "truncate"
  }
  for (s in steps_of(cfg, "constrain")) {
    unknown <- setdiff(names(s$bounds), pnames)
    if (length(unknown) > 0) {
      cli::cli_abort(c("{.fn constrain} names {?a parameter/parameters} the simulator does not have: {.val {unknown}}.",
                       "i" = "Parameters: {abbreviate_names(pnames)}."), class = "amortized_error_argument", call = call)
    }
    i <- match(names(s$bounds), pnames)
    lower[i] <- vapply(s$bounds, `[`, 0, 1)
    upper[i] <- vapply(s$bounds, `[`, 0, 2)
    how[i] <- s$how %||% "transform"
  }
  for (j in which(is.finite(lower) | is.finite(upper))) {
    out <- sims$parameters[, j] <= lower[j] | sims$parameters[, j] >= upper[j]
    if (any(out)) {
      cli::cli_abort(c("{sum(out)} simulated value{?s} of {.field {pnames[j]}} {?is/are} not strictly inside the bounds ({lower[j]}, {upper[j]}) given in {.fn constrain}.",
                       "i" = "The prior must put all its mass inside the bounds."),
                     class = "amortized_error_argument", call = call)
    }
  }

  symmetric <- resolve_symmetric(cfg, sims, use_structure, lower, upper, call)
  bounds <- split_bounds(lower, upper, how)
  mirrors <- resolve_reflections(cfg, sims, use_structure, symmetric, bounds, call)
  symmetric <- sort(unique(c(symmetric, mirrors$symmetric)))

  # data steps, checked against the variable names as they evolve
  data_steps <- Filter(function(s) s$step %in% c("drop_data", "keep_data", "log1p_data", "sqrt_data", "nan_to_num"),
                       cfg$steps)
  context_names <- resolve_context_names(cfg, sims, call)
  if (is_multi_source(sims$data)) {
    if (any(lengths(lapply(steps_of(cfg, "equivariance"), `[[`, "parameters")) > 0)) {
      cli::cli_abort("{.fn equivariance} does not work with multi-source data.", class = "amortized_error_argument",
                     call = call)
    }
    plan <- resolve_sources(x, sims, cfg, data_steps, context_names, bounds$lower, bounds$upper, call)
    plan$core$symmetric <- symmetric
    plan$core$rotation <- mirrors$rotation
    plan$core[c("truncate_lower", "truncate_upper")] <- bounds[c("truncate_lower", "truncate_upper")]
    return(plan)
  }
  steps <- steps_for_block(data_steps, raw_names, call = call)
  names_now <- steps$names

  # structure and summary network
  declared <- steps_of(cfg, "as_set")
  series <- length(steps_of(cfg, "as_time_series")) > 0
  flat_set <- !three_d && length(sims$set_structure) == 2
  summary_net <- x$summary_net
  if (identical(summary_net$type, "fusion")) {
    cli::cli_abort(c("{.fn fusion} is for multi-source data: a simulator whose model returns a named list of data blocks.",
                     "i" = "These data are one block; give its summary network directly, e.g. {.code deep_set()}."),
                   class = "amortized_error_argument", call = call)
  }
  if (three_d) {
    structure_kind <- if (series) "time_series" else "set"
    summary_net <- summary_net %||% if (series) time_series_net() else deep_set()
  } else if (!is.null(summary_net)) {
    if (!flat_set) {
      cli::cli_abort(c("{.arg summary_net} needs set or time-series data: {.code [n, n_obs, dim]} arrays, or a simulator that declares its data a set.",
                       "x" = "These data are flat ({length(raw_names)} values per data set)."),
                     class = "amortized_error_argument", call = call)
    }
    if (!identical(names_now, raw_names)) {
      cli::cli_abort("Data steps that add, drop or reorder variables do not work with a summary network on flat set data.",
                     class = "amortized_error_argument", call = call)
    }
    structure_kind <- if (series) "time_series" else "set"
  } else {
    if (series || length(declared) > 0) {
      cli::cli_abort(c("{.fn as_set} and {.fn as_time_series} need {.code [n, n_obs, dim]} data, or a simulator that declares its data a set.",
                       "x" = "These data are flat."), class = "amortized_error_argument", call = call)
    }
    # a set as long as data steps keep its variables
    structure_kind <- if (flat_set && use_structure && identical(names_now, raw_names)) "flat_set" else "flat"
  }
  if (!is.null(summary_net)) {
    summary_net <- resolve_summary_dim(summary_net, length(pnames))
    if (structure_kind != summary_net_structure(summary_net)) {
      cli::cli_abort(c("A {summary_net$type} summary network does not suit {gsub('_', ' ', structure_kind)} data.",
                       "i" = if (structure_kind == "set") "Use {.fn deep_set} or {.fn set_transformer}, or declare the data a time series with {.fn as_time_series}." else
                         "Use {.fn time_series_net} or {.fn time_series_transformer}, or declare the data a set with {.fn as_set}."),
                     class = "amortized_error_argument", call = call)
    }
  }

  lengths <- sims$lengths
  data_steps <- steps$steps
  flat_points <- if (flat_set) sims$set_structure else NULL
  per_point <- if (three_d) length(names_now) else if (!is.null(summary_net)) flat_points[2] else length(names_now)
  variable_length <- !is.null(summary_net) && length(lengths) > 0 && min(lengths) < max(lengths)
  linear_residual <- isTRUE(x$linear_residual %||% TRUE) && is.null(summary_net)
  equivariances <- resolve_equivariances(cfg, sims, use_structure, structure_kind, length(data_steps) > 0,
                                         bounds, call)
  list(
    structure = structure_kind, summary_net = summary_net, data_steps = data_steps,
    data_names_raw = raw_names, data_names = names_now, context_names = context_names,
    flat_points = if (!is.null(summary_net) && flat_set) flat_points,
    length_range = if (length(lengths)) range(lengths),
    keep_nonfinite = length(steps_of(cfg, "nan_to_num")) > 0,
    core = c(list(dim_theta = length(pnames), dim_x = per_point,
                  set_shape = if (structure_kind == "flat_set") as.integer(sims$set_structure) else integer(),
                  set_features = 2L, linear_residual = linear_residual, dim_context = length(context_names),
                  variable_length = variable_length, symmetric = symmetric, rotation = mirrors$rotation,
                  equivariances = equivariances),
                bounds,
                standardize_flags(cfg))
  )
}

# The 0-based indices of the parameters in whose sign the posterior is even:
# those of the configurator's symmetric() step, else (with use_structure)
# those the simulator declares.
resolve_symmetric <- function(cfg, sims, use_structure, lower, upper, call) {
  pnames <- colnames(sims$parameters)
  step <- steps_of(cfg, "symmetric")
  names <- if (length(step)) step[[1]]$names else if (use_structure) sims$symmetric
  if (length(names) == 0) return(integer())
  unknown <- setdiff(names, pnames)
  if (length(unknown) > 0) {
    cli::cli_abort(c("{.fn symmetric} names {?a parameter/parameters} the simulator does not have: {.val {unknown}}.",
                     "i" = "Parameters: {abbreviate_names(pnames)}."), class = "amortized_error_argument", call = call)
  }
  i <- match(names, pnames)
  uneven <- i[lower[i] != -upper[i]]
  if (length(uneven) > 0) {
    cli::cli_abort(c("A symmetric parameter needs bounds symmetric about 0, {.code c(-b, b)}.",
                     "x" = "{.field {pnames[uneven]}} {?has/have} bounds {paste0('(', lower[uneven], ', ', upper[uneven], ')')} in {.fn constrain}."),
                   class = "amortized_error_argument", call = call)
  }
  as.integer(i - 1L)
}

# The C++ options for bounds: lower/upper for the transformed parameters,
# truncate_lower/truncate_upper for the truncated ones (empty when none is).
split_bounds <- function(lower, upper, how) {
  cut <- how == "truncate" & (is.finite(lower) | is.finite(upper))
  list(lower = ifelse(cut, -Inf, lower), upper = ifelse(cut, Inf, upper),
       truncate_lower = if (any(cut)) ifelse(cut, lower, -Inf) else numeric(),
       truncate_upper = if (any(cut)) ifelse(cut, upper, Inf) else numeric())
}

# The mirror symmetries (reflection() steps, else with use_structure the
# simulator's): list(rotation = the C++ rotation Q row-major (numeric() for
# none), symmetric = the 0-based rotated coordinates along the normals).
# Normals along one axis are sign symmetries (no rotation). The parameters
# that other normals mix get an orthonormal basis whose first vectors are
# the normals; they must not be mapped by bounds, and the reflected training
# parameters must stay inside the truncation (the prior must be symmetric).
resolve_reflections <- function(cfg, sims, use_structure, symmetric, bounds, call) {
  pnames <- colnames(sims$parameters)
  d <- length(pnames)
  steps <- steps_of(cfg, "reflection")
  normals <- if (length(steps)) {
    rows <- Filter(length, lapply(steps, `[[`, "normal"))
    unknown <- setdiff(unlist(lapply(rows, names)), pnames)
    if (length(unknown) > 0) {
      cli::cli_abort(c("{.fn reflection} names {?a parameter/parameters} the simulator does not have: {.val {unknown}}.",
                       "i" = "Parameters: {abbreviate_names(pnames)}."), class = "amortized_error_argument", call = call)
    }
    t(vapply(rows, function(n) {
      v <- stats::setNames(numeric(d), pnames)
      v[names(n)] <- n
      v
    }, numeric(d)))
  } else if (use_structure && length(sims$reflections)) {
    # a simulator's mirrors where the parameters they mix are not mapped by bounds
    fits <- apply(sims$reflections, 1, function(n) {
      mixed <- n != 0
      sum(mixed) == 1 || !any(is.finite(bounds$lower[mixed]) | is.finite(bounds$upper[mixed]))
    })
    sims$reflections[fits, , drop = FALSE]
  }
  none <- list(rotation = numeric(), symmetric = integer())
  if (length(normals) == 0 || nrow(normals) == 0) return(none)
  normals <- normals / sqrt(rowSums(normals^2))
  gram <- normals %*% t(normals)
  if (any(abs(gram[upper.tri(gram)]) > 1e-8)) {
    cli::cli_abort("The normals of the reflections must be orthogonal to each other.",
                   class = "amortized_error_argument", call = call)
  }
  # the prior must be symmetric: reflected training parameters stay inside every bound
  for (r in seq_len(nrow(normals))) {
    n <- normals[r, ]
    th <- sims$parameters - 2 * (sims$parameters %*% n) %*% t(n)
    if (outside_bounds(th, bounds)) {
      cli::cli_abort(c("The reflection with normal {format_normal(n[n != 0])} takes simulated parameters outside their bounds.",
                       "i" = "The prior must be symmetric under the reflection."),
                     class = "amortized_error_argument", call = call)
    }
  }
  axis <- rowSums(normals != 0) == 1
  sym <- unlist(lapply(which(axis), function(k) which(normals[k, ] != 0) - 1L))
  mixed <- normals[!axis, , drop = FALSE]
  if (nrow(mixed) == 0) return(list(rotation = numeric(), symmetric = as.integer(sym)))
  s <- which(colSums(mixed != 0) > 0)
  clash <- intersect(c(symmetric, sym) + 1L, s)
  if (length(clash) > 0) {
    cli::cli_abort("{.field {pnames[clash]}} {?is/are} both sign-symmetric and mixed by a reflection; declare one mirror per direction.",
                   class = "amortized_error_argument", call = call)
  }
  mapped <- s[is.finite(bounds$lower[s]) | is.finite(bounds$upper[s])]
  if (length(mapped) > 0) {
    cli::cli_abort(c("A reflection mixes {.field {pnames[mapped]}}, whose bounds map {?it/them} onto the real line.",
                     "i" = "{cli::qty(length(mapped))}Truncate {?it/them} instead: {.code constrain(..., .how = \"truncate\")}."),
                   class = "amortized_error_argument", call = call)
  }
  # an orthonormal basis of the mixed parameters whose first vectors are the normals
  block <- mixed[, s, drop = FALSE]
  k <- nrow(block)
  basis <- if (k < length(s)) qr.Q(qr(t(block)), complete = TRUE)[, (k + 1):length(s), drop = FALSE]
  q <- diag(d)
  q[s, s] <- rbind(block, t(basis))
  list(rotation = as.vector(t(q)), symmetric = as.integer(c(sym, s[seq_len(k)] - 1L)))
}

# The equivariances as the C++ options take them, list(list(theta, x), ...):
# equivariance() steps, else (with use_structure) the simulator's. The data
# permutation is per point for sets and series (flat sets as well, unless
# their structure is not used: then it is spread over every point). The
# transformed training parameters must stay inside every bound (the prior
# must be invariant). A simulator's declaration is dropped where data steps
# transform the data; a step then is an error.
resolve_equivariances <- function(cfg, sims, use_structure, structure_kind, data_steps, bounds, call) {
  steps <- steps_of(cfg, "equivariance")
  given <- length(steps) > 0
  eq <- if (given) Filter(function(e) length(e$parameters) > 0, steps) else if (use_structure) sims$equivariances
  if (length(eq) == 0) return(list())
  if (data_steps) {
    if (!given) return(list())
    cli::cli_abort("{.fn equivariance} does not work with data steps that transform the data.",
                   class = "amortized_error_argument", call = call)
  }
  pnames <- colnames(sims$parameters)
  three_d <- length(dim(sims$data)) == 3
  set <- sims$set_structure
  per_point <- if (three_d) dim(sims$data)[3] else if (length(set) == 2) set[2] else ncol(sims$data)
  what <- if (three_d || length(set) == 2) "variables per point" else "data values"
  lapply(eq, function(e) {
    if (length(e$parameters) != length(pnames) || length(e$data) != per_point) {
      cli::cli_abort(c("An equivariance needs a signed permutation of the {length(pnames)} parameters and of the {per_point} {what}.",
                       "x" = "Got {length(e$parameters)} and {length(e$data)} entries."),
                     class = "amortized_error_argument", call = call)
    }
    th <- sweep(sims$parameters[, abs(e$parameters), drop = FALSE], 2, sign(e$parameters), "*")
    if (outside_bounds(th, bounds)) {
      label <- format_equivariance(e, pnames, if (what == "data values") colnames(sims$data))
      cli::cli_abort(c("The equivariance {label} takes simulated parameters outside their bounds.",
                       "i" = "The prior must be unchanged by it."), class = "amortized_error_argument", call = call)
    }
    x <- e$data
    if (structure_kind == "flat" && !three_d && length(set) == 2) {  # every point alike
      x <- as.vector(outer(seq_len(set[2]) * 0, (seq_len(set[1]) - 1L) * set[2], "+") +
                       matrix(abs(x), set[2], set[1])) * sign(x)
    }
    list(theta = as.integer(e$parameters), x = as.integer(x))
  })
}

# Whether any of the parameters th (a matrix) is not strictly inside the
# bounds (split_bounds(): transformed and truncated ones).
outside_bounds <- function(th, bounds) {
  lo <- pmax(bounds$lower, if (length(bounds$truncate_lower)) bounds$truncate_lower else -Inf)
  hi <- pmin(bounds$upper, if (length(bounds$truncate_upper)) bounds$truncate_upper else Inf)
  any(sweep(th, 2, lo, "<=") | sweep(th, 2, hi, ">="))
}

# "(0.707 theta_1, 0.707 theta_2)"
format_normal <- function(n) paste0("(", paste(format(signif(n, 3)), names(n), collapse = ", "), ")")

# Whether parameters and data are standardized: list(standardize_parameters,
# standardize_data).
standardize_flags <- function(cfg) {
  std <- steps_of(cfg, "standardize")
  list(standardize_parameters = if (length(std)) std[[1]]$parameters else TRUE,
       standardize_data = if (length(std)) std[[1]]$data else TRUE)
}

# The context variables that reach the inference network.
resolve_context_names <- function(cfg, sims, call) {
  available <- colnames(sims$context) %||% character()
  ctx_step <- steps_of(cfg, "context")
  context_names <- if (length(ctx_step)) ctx_step[[1]]$names else available
  unknown <- setdiff(context_names, available)
  if (length(unknown) > 0) {
    cli::cli_abort(c("{.fn context_variables} names {?a variable/variables} the simulations do not have: {.val {unknown}}.",
                     "i" = if (length(available)) "Context variables: {.val {available}}." else "These simulations have no context variables (see {.arg context} of {.fn simulator})."),
                   class = "amortized_error_argument", call = call)
  }
  context_names
}

# The data steps as they apply to one block whose variables are `names`,
# and the variable names after them: list(steps, names, used) with used[[i]]
# the names of step i found in the block. With partial = TRUE (a source of
# multi-source data) a step whose names are all elsewhere is skipped, and
# named variables need only exist somewhere (the caller checks).
steps_for_block <- function(steps, names, partial = FALSE, source = NULL, call = rlang::caller_env()) {
  out <- list()
  used <- vector("list", length(steps))
  for (i in seq_along(steps)) {
    s <- steps[[i]]
    if (length(s$names) > 0) {
      used[[i]] <- intersect(s$names, names)
      unknown <- setdiff(s$names, names)
      if (!partial && length(unknown) > 0) {
        cli::cli_abort(c("{.fn {s$step}} names data variable{?s} that {?does/do} not exist at that step: {.val {unknown}}.",
                         "i" = "Data variables: {abbreviate_names(names)}."), class = "amortized_error_argument",
                       call = call)
      }
      if (length(used[[i]]) == 0) next
      s$names <- used[[i]]
    }
    names <- switch(s$step, drop_data = setdiff(names, s$names), keep_data = intersect(names, s$names),
                    nan_to_num = c(names, paste0(names, "_missing")), names)
    if (length(names) == 0) {
      cli::cli_abort("{.fn {s$step}} leaves no data variable{if (!is.null(source)) paste0(' in source ', source)}.",
                     class = "amortized_error_argument", call = call)
    }
    out <- c(out, list(s))
  }
  list(steps = out, names = names, used = used)
}

# The plan for multi-source data (a named list of blocks): flat sources are
# concatenated into the flat values, every set or time-series source gets
# its own summary network of a fusion().
resolve_sources <- function(x, sims, cfg, data_steps, context_names, lower, upper, call) {
  blocks <- names(sims$data)
  per_block <- lapply(stats::setNames(blocks, blocks), function(b) {
    steps_for_block(data_steps, data_names_of(sims$data[[b]]), partial = TRUE, source = b, call = call)
  })
  for (i in seq_along(data_steps)) {
    unknown <- setdiff(data_steps[[i]]$names, unlist(lapply(per_block, function(p) p$used[[i]])))
    if (length(unknown) > 0) {
      cli::cli_abort(c("{.fn {data_steps[[i]]$step}} names data variable{?s} that no source has at that step: {.val {unknown}}.",
                       "i" = "Sources: {paste0(blocks, ' (', vapply(sims$data, function(d) abbreviate_names(data_names_of(d), 4), ''), ')', collapse = '; ')}."),
                     class = "amortized_error_argument", call = call)
    }
  }
  if (length(steps_of(cfg, "as_set")) > 0) {
    cli::cli_abort("{.fn as_set} is for one block of data; for multi-source data name each source's summary network in {.fn fusion}.",
                   class = "amortized_error_argument", call = call)
  }
  sources <- array_blocks(sims$data)
  flat <- setdiff(blocks, sources)
  series <- length(steps_of(cfg, "as_time_series")) > 0
  summary_net <- resolve_fusion(x$summary_net, sources, flat, series, ncol(sims$parameters), call = call)
  data_names <- lapply(per_block, `[[`, "names")
  varying <- vapply(sources, function(b) min(sims$lengths[[b]]) < max(sims$lengths[[b]]), logical(1))
  list(
    structure = "fusion", summary_net = summary_net, sources = sources, flat_sources = flat,
    data_steps = lapply(per_block, `[[`, "steps"),
    data_names_raw = data_names_of(sims$data), data_names = data_names, context_names = context_names,
    length_range = lapply(sims$lengths[sources], range),
    keep_nonfinite = length(steps_of(cfg, "nan_to_num")) > 0,
    core = c(list(dim_theta = ncol(sims$parameters), dim_x = sum(lengths(data_names[flat])),
                  set_shape = integer(), set_features = 2L, linear_residual = FALSE,
                  dim_context = length(context_names), variable_length = any(varying),
                  source_dims = unname(lengths(data_names[sources])), lower = lower, upper = upper,
                  equivariances = list()), standardize_flags(cfg))
  )
}

# Applies the plan's data steps to data (an n x d matrix or [n, N, d] array
# with the raw variable names, or a named list of such blocks).
apply_data_steps <- function(plan, data, call = rlang::caller_env()) {
  if (is_multi_source(data)) {
    return(lapply(stats::setNames(names(data), names(data)), function(b) apply_steps(plan$data_steps[[b]], data[[b]], call)))
  }
  apply_steps(plan$data_steps, data, call)
}

apply_steps <- function(steps, data, call) {
  last <- length(dim(data))
  take <- function(x, j) if (last == 3) x[, , j, drop = FALSE] else x[, j, drop = FALSE]
  for (s in steps) {
    nm <- data_names_of(data)
    sel <- if (length(s$names)) match(s$names, nm) else seq_along(nm)
    if (s$step == "drop_data") {
      data <- take(data, -sel)
    } else if (s$step == "keep_data") {
      data <- take(data, sort(sel))
    } else if (s$step %in% c("log1p_data", "sqrt_data")) {
      v <- take(data, sel)
      low <- if (s$step == "log1p_data") -1 else 0
      if (any(v < low, na.rm = TRUE) || (s$step == "log1p_data" && any(v == -1, na.rm = TRUE))) {
        cli::cli_abort(c("{.fn {s$step}} needs data values {if (s$step == 'log1p_data') '> -1' else '>= 0'}.",
                         "x" = "{.field {nm[sel][1]}} has smaller values."), class = "amortized_error_data", call = call)
      }
      v <- if (s$step == "log1p_data") log1p(v) else sqrt(v)
      if (last == 3) data[, , sel] <- v else data[, sel] <- v
    } else if (s$step == "nan_to_num") {
      missing <- !is.finite(data)
      storage.mode(missing) <- "double"
      data[missing == 1] <- s$value
      dn <- dimnames(data)
      new_names <- c(nm, paste0(nm, "_missing"))
      data <- if (last == 3) {
        out <- array(c(data, missing), c(dim(data)[1:2], 2 * length(nm)))
        dimnames(out) <- list(NULL, NULL, new_names)
        out
      } else {
        structure(cbind(data, missing), dimnames = list(dn[[1]], new_names))
      }
    }
  }
  data
}

# Network inputs from data in the raw layout: list(x, lengths, context) as
# the C++ glue takes them.
network_inputs <- function(plan, data, lengths, context, call = rlang::caller_env()) {
  x <- apply_data_steps(plan, data, call = call)
  if (identical(plan$structure, "fusion")) return(fusion_inputs(plan, x, lengths, context))
  if (!is.null(plan$flat_points)) {  # flat set data for a summary network: [n, n_obs, dim]
    p <- plan$flat_points
    x <- aperm(array(x, c(nrow(x), p[2], p[1])), c(1, 3, 2))
    lengths <- rep(p[1], nrow(x))
  }
  if (length(dim(x)) == 3 && is.null(lengths)) lengths <- rep(dim(x)[2], dim(x)[1])
  storage.mode(x) <- "double"
  list(x = x, lengths = if (length(dim(x)) == 3) as.integer(lengths) else integer(),
       context = context_matrix(plan, context, nrow(x)))
}

# Multi-source inputs: x = list(flat = the flat sources side by side,
# sources = list(list(x, lengths), ...) in the plan's order).
fusion_inputs <- function(plan, x, lengths, context) {
  n <- n_rows(x)
  flat <- if (length(plan$flat_sources)) do.call(cbind, unname(x[plan$flat_sources])) else matrix(0, n, 0)
  storage.mode(flat) <- "double"
  sources <- lapply(plan$sources, function(b) {
    v <- x[[b]]
    storage.mode(v) <- "double"
    list(x = v, lengths = as.integer(lengths[[b]] %||% rep(dim(v)[2], n)))
  })
  list(x = list(flat = flat, sources = sources), lengths = integer(), context = context_matrix(plan, context, n))
}

# The number of data sets of network inputs, and the inputs of rows i.
input_rows <- function(inputs) if (is_multi_source(inputs$x)) nrow(inputs$x$flat) else nrow(inputs$x)

take_input_rows <- function(inputs, i) {
  x <- inputs$x
  x <- if (is_multi_source(x)) {
    list(flat = x$flat[i, , drop = FALSE],
         sources = lapply(x$sources, function(s) list(x = take_rows(s$x, i), lengths = s$lengths[i])))
  } else {
    take_rows(x, i)
  }
  list(x = x, lengths = if (length(inputs$lengths)) inputs$lengths[i] else integer(),
       context = inputs$context[i, , drop = FALSE])
}

context_matrix <- function(plan, context, n) {
  ctx <- if (length(plan$context_names)) context[, plan$context_names, drop = FALSE] else matrix(0, n, 0)
  storage.mode(ctx) <- "double"
  ctx
}

# The inputs for simulations.
simulation_inputs <- function(plan, sims, call = rlang::caller_env()) {
  network_inputs(plan, sims$data, sims$lengths, sims$context, call = call)
}

# Lines describing the resolved pipeline, for print().
describe_plan <- function(plan, parameter_names) {
  out <- character()
  core <- plan$core
  bounded <- is.finite(core$lower) | is.finite(core$upper)
  if (any(bounded)) {
    out <- c(out, paste0("bounds: ", describe_support(parameter_names, rbind(core$lower, core$upper))))
  }
  if (length(core$truncate_lower)) {
    out <- c(out, paste0("truncated to: ", describe_support(parameter_names, rbind(core$truncate_lower, core$truncate_upper)),
                         " (draws outside rejected)"))
  }
  if (identical(plan$structure, "fusion")) {
    for (b in names(plan$data_steps)) {
      for (s in plan$data_steps[[b]]) out <- c(out, paste0(b, ": ", format.amortized_step(s)))
    }
  } else {
    for (s in plan$data_steps) out <- c(out, format.amortized_step(s))
  }
  out <- c(out, switch(plan$structure,
    fusion = c(vapply(plan$sources, function(b) {
      r <- plan$length_range[[b]]
      set <- summary_net_structure(plan$summary_net$nets[[b]]) == "set"
      paste0("source ", b, ": ", if (set) "sets" else "time series", " of ", paste(unique(r), collapse = ".."),
             if (set) " observations" else " steps")
    }, ""), if (length(plan$flat_sources)) paste0("flat source", if (length(plan$flat_sources) > 1) "s", ": ",
                                                  paste(plan$flat_sources, collapse = ", "))),
    flat = NULL,
    flat_set = paste0("structure: ", set_layout(core$set_shape), ", in canonical order with its moments"),
    set = paste0("structure: exchangeable sets", if (!is.null(plan$length_range))
      paste0(" of ", paste(unique(plan$length_range), collapse = "..")), " observations"),
    time_series = paste0("structure: time series", if (!is.null(plan$length_range))
      paste0(" of ", paste(unique(plan$length_range), collapse = ".."), " steps"))))
  if (length(core$rotation)) {
    q <- matrix(core$rotation, length(parameter_names), byrow = TRUE, dimnames = list(NULL, parameter_names))
    sym <- core$symmetric + 1L
    mixed <- sym[rowSums(q[sym, , drop = FALSE] != 0) > 1]
    out <- c(out, paste0("reflection: learned on one side of the mirror with normal ",
                         vapply(mixed, function(r) format_normal(q[r, q[r, ] != 0]), ""), ", drawn reflected at random"))
    core$symmetric <- setdiff(core$symmetric, mixed - 1L)
  }
  if (length(core$equivariances)) {
    k <- length(core$equivariances)
    out <- c(out, paste0("equivariance: trained on every simulation transformed by ", k, " signed permutation",
                         if (k > 1) "s", " and their products"))
  }
  if (length(core$symmetric)) {
    out <- c(out, paste0("symmetric: ", paste(parameter_names[core$symmetric + 1], collapse = ", "),
                         " (learned as absolute values, drawn with random signs)"))
  }
  if (length(plan$context_names)) out <- c(out, paste0("context: ", paste(plan$context_names, collapse = ", ")))
  std <- c(if (core$standardize_parameters) "parameters", if (core$standardize_data) "data")
  out <- c(out, paste0("standardized: ", if (length(std)) paste(std, collapse = ", ") else "nothing"))
  out
}
