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
#' * [log_data()] / [log1p_data()] / [sqrt_data()]: transform data variables;
#' * [nan_to_num()]: replace missing (non-finite) data values and add
#'   indicators of where they were.
#'
#' Data steps apply in the order given; the others are declarations.
#'
#' Automatic data preprocessing: when no step transforms the data, flat data
#' variables that are non-negative, continuous and strongly right-skewed in
#' the training simulations (populations, rates, waiting times: skewness
#' above 1) are learned on a log scale (log1p where zeros occur), where the
#' scale reduces the skewness. Counts (whole numbers) are left as they are
#' (on a square-root or log scale the posteriors of a binomial-count
#' benchmark were worse). The choice is made
#' once, from the training simulations, recorded in the amortizer
#' (`print()` shows it) and applied to observed data the same way. Turn it
#' off with `.auto_transform = FALSE`, or give data steps yourself. Set and
#' time-series data are left as they are (their summary networks work on
#' the raw scale, where sums are sufficient statistics).
#'
#' Automatic structure: flat data of a posterior whose values are, in the
#' training simulations, blocks of equal size that look exchangeable (the
#' same means, variances and covariances for every block, within it and
#' with each parameter, and the same covariances between every pair of
#' blocks, within their noise over 20 folds of the simulations) are taken
#' for an exchangeable set of points, as a simulator's `set_structure`
#' declares one: each data set's points in a canonical order, with the
#' set's moments appended (see `use_structure` of [amortizer()]). slcp's 8
#' values are found to be 4 points of 2; with nothing declared its C2ST
#' fell from 0.836 to 0.752, and the README's normal model of 20 draws
#' (found to be a set of 20 points of 1) had its held-out negative log
#' posterior density fall from -0.800 to -1.039. The choice is recorded in the amortizer
#' (`print()` says "found in the training simulations") and applied to
#' observed data the same way. It needs 2,000 simulations and at most 64
#' data values, and leaves likelihoods and model comparisons alone. Turn it
#' off with `.auto_set = FALSE`.
#'
#' @param ... Steps.
#' @param .auto_transform Whether flat data variables that are non-negative,
#'   continuous and right-skewed in the training simulations are learned on
#'   a log scale (see above). `TRUE` (default) or `FALSE`.
#' @param .auto_set Whether flat data whose values look like an exchangeable
#'   set of points in the training simulations are treated as one (see
#'   above). `TRUE` (default) or `FALSE`.
#' @return An `amortized_configurator`; `print()` shows the pipeline.
#' @family workflow
#' @examples
#' configurator(constrain(sigma = c(0, Inf), p = c(0, 1)), log1p_data("counts"), as_set())
#' @export
configurator <- function(..., .auto_transform = TRUE, .auto_set = TRUE) {
  check_flag(.auto_transform, ".auto_transform")
  check_flag(.auto_set, ".auto_set")
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
  structure(list(steps = steps, auto_transform = .auto_transform, auto_set = .auto_set),
            class = "amortized_configurator")
}

new_step <- function(step, ...) structure(list(step = step, ...), class = "amortized_step")

#' Configurator steps
#'
#' Steps of a [configurator()].
#'
#' @param ... For `constrain()`: named bounds, each `c(lower, upper)` (use
#'   `-Inf`/`Inf` for a side without bound) or `"positive"` (`c(0, Inf)`).
#'   For `context_variables()`, `drop_data()`, `keep_data()`, `log_data()`, `log1p_data()`,
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
#' @param value For `nan_to_num()`: the number that replaces non-finite
#'   data values.
#' @return An `amortized_step`.
#' @name configurator-steps
#' @family workflow
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
  if (length(n) > 0 && !is_mirror_normal(n)) {
    cli::cli_abort(c("{.fn reflection} takes the normal of the mirror as named numbers, e.g. {.code reflection(theta_1 = 1, theta_2 = 1)}.",
                     "x" = "Got {describe_value(n)}."), class = "amortized_error_argument")
  }
  new_step("reflection", normal = if (length(n)) n[n != 0] / sqrt(sum(n^2)))
}

# The normal of a mirror: named (distinct names), finite, not all zero.
is_mirror_normal <- function(n) {
  is.numeric(n) && !is.null(names(n)) && all(names(n) != "") && !anyDuplicated(names(n)) && all(is.finite(n)) &&
    any(n != 0)
}

#' @rdname configurator-steps
#' @param parameters For `standardize()`: whether to standardize the
#'   parameters (`TRUE`/`FALSE`). For `equivariance()`: a signed permutation
#'   of the parameters, `c(-1, 2, 3, 4, -5)` for "parameter 1 becomes minus
#'   parameter 1, parameter 5 minus parameter 5, the others stay".
#' @param data For `standardize()`: whether to standardize the data. For
#'   `equivariance()`: the signed permutation of the data that goes with
#'   it: of the data values for flat data, of each point's variables for set
#'   and time-series data (also where a simulator declares its flat data a
#'   set).
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
log_data <- function(...) new_step("log_data", names = step_names(..., fn = "log_data"))

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

# What each step is: its line in print() (format); for the data steps, the
# variable names after it given those before (rename; default: the same)
# and the data after it (apply, configurator_apply.R). A new step is its
# constructor above plus one entry here.
step_table <- list(
  constrain = list(format = function(x) paste0("constrain: ", paste(vapply(names(x$bounds), function(n) {
    b <- x$bounds[[n]]
    paste0(n, " in (", format(b[1]), ", ", format(b[2]), ")")
  }, ""), collapse = ", "), if (identical(x$how, "truncate")) " (truncated)")),
  standardize = list(format = function(x) paste0("standardize: ", if (x$parameters) "parameters" else "not parameters",
                                                 ", ", if (x$data) "data" else "not data")),
  as_set = list(format = function(x) "as_set: observations are exchangeable"),
  as_time_series = list(format = function(x) "as_time_series: observations are time steps"),
  reflection = list(format = function(x) paste0("reflection: ", if (length(x$normal))
    paste0("the posterior is even under the mirror with normal ", format_normal(x$normal)) else "none")),
  equivariance = list(format = function(x) paste0("equivariance: ", if (length(x$parameters))
    paste0("parameters (", paste(x$parameters, collapse = ", "), ") with data (", paste(x$data, collapse = ", "), ")")
    else "none")),
  symmetric = list(format = function(x) paste0("symmetric: ", if (length(x$names))
    paste0("the posterior is even in the sign of ", paste(x$names, collapse = ", ")) else "none")),
  context = list(format = function(x) paste0("context: ", if (length(x$names)) paste(x$names, collapse = ", ") else "none")),
  drop_data = list(format = function(x) paste0("drop_data: ", paste(x$names, collapse = ", ")),
                   rename = function(x, names) setdiff(names, x$names),
                   apply = function(x, data, sel, call) take_variables(data, -sel)),
  keep_data = list(format = function(x) paste0("keep_data: ", paste(x$names, collapse = ", ")),
                   rename = function(x, names) intersect(names, x$names),
                   apply = function(x, data, sel, call) take_variables(data, sort(sel))),
  log1p_data = list(format = function(x) paste0("log1p_data: ", names_or_every(x$names), auto_note(x)),
                    apply = function(x, data, sel, call) map_variables(data, sel, log1p, function(v) v > -1, "> -1",
                                                                       "log1p_data", call)),
  log_data = list(format = function(x) paste0("log_data: ", names_or_every(x$names), auto_note(x)),
                  apply = function(x, data, sel, call) map_variables(data, sel, log, function(v) v > 0, "> 0",
                                                                     "log_data", call)),
  sqrt_data = list(format = function(x) paste0("sqrt_data: ", names_or_every(x$names)),
                   apply = function(x, data, sel, call) map_variables(data, sel, sqrt, function(v) v >= 0, ">= 0",
                                                                      "sqrt_data", call)),
  nan_to_num = list(format = function(x) paste0("nan_to_num: non-finite values -> ", format(x$value), ", with indicators"),
                    rename = function(x, names) c(names, paste0(names, "_missing")),
                    apply = function(x, data, sel, call) nan_to_num_with_indicators(data, x$value))
)

# Whether a step transforms the data (an entry with `apply`).
is_data_step <- function(step) !is.null(step_table[[step$step]]$apply)

auto_note <- function(x) if (isTRUE(x$auto)) " (chosen from the training simulations)" else ""

names_or_every <- function(nm) if (length(nm) == 0) "every variable" else paste(nm, collapse = ", ")

#' @export
format.amortized_step <- function(x, ...) step_table[[x$step]]$format(x)

#' @export
print.amortized_step <- function(x, ...) {
  cat("<amortized_step> ", format(x), "\n", sep = "")
  invisible(x)
}

#' @export
print.amortized_configurator <- function(x, ...) {
  cat("<amortized_configurator> ", length(x$steps), " step", if (length(x$steps) != 1) "s", "\n", sep = "")
  for (i in seq_along(x$steps)) cat("  ", i, ". ", format(x$steps[[i]]), "\n", sep = "")
  if (isFALSE(x$auto_transform)) cat("  no automatic scale for skewed data\n")
  if (isFALSE(x$auto_set)) cat("  no automatic sets in flat data\n")
  invisible(x)
}
