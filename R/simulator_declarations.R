# What an R simulator declares about its model, as benchmark simulators do
# in C++ (see simulator()): checked against a trial simulation and turned
# into the fields the simulator object, its simulations and the
# configurator use (support, truncated, symmetric, reflections,
# equivariances, set_structure).
check_declarations <- function(trial, support = NULL, truncated = NULL, symmetric = NULL, reflections = NULL,
                               equivariances = NULL, set_structure = NULL, call = rlang::caller_env()) {
  pnames <- colnames(trial$parameters)
  abort <- function(msg) cli::cli_abort(msg, class = "amortized_error_argument", call = call, .envir = parent.frame())
  known <- function(nm, arg) {
    unknown <- setdiff(nm, pnames)
    if (length(unknown) > 0) {
      abort(c("{.arg {arg}} names {?a parameter/parameters} the prior does not draw: {.val {unknown}}.",
              "i" = "Parameters: {abbreviate_names(pnames)}."))
    }
  }
  out <- list()
  if (!is.null(support)) {
    ok <- is.list(support) && length(support) > 0 && !is.null(names(support)) && all(names(support) != "") &&
      all(vapply(support, function(b) is.numeric(b) && length(b) == 2 && !anyNA(b) && b[1] < b[2], TRUE))
    if (!ok) {
      abort(c("{.arg support} must be a named list of bounds {.code c(lower, upper)} with lower < upper, e.g. {.code list(sigma = c(0, Inf))}.",
              "x" = "Got {describe_value(support)}."))
    }
    known(names(support), "support")
    m <- rbind(lower = rep(-Inf, length(pnames)), upper = rep(Inf, length(pnames)))
    colnames(m) <- pnames
    for (p in names(support)) m[, p] <- support[[p]]
    outside <- pnames[colSums(sweep(trial$parameters, 2, m[1, ], "<") | sweep(trial$parameters, 2, m[2, ], ">")) > 0]
    if (length(outside) > 0) abort("The prior draws {.field {outside}} outside {?its/their} {.arg support}.")
    out$support <- m
  }
  if (!is.null(truncated)) {
    if (!is.character(truncated) || anyNA(truncated)) abort("{.arg truncated} must be parameter names.")
    known(truncated, "truncated")
    bounded <- if (is.null(out$support)) logical(length(truncated)) else
      apply(is.finite(out$support[, truncated, drop = FALSE]), 2, any)
    unbounded <- truncated[!bounded]
    if (length(unbounded) > 0) {
      abort("{.arg truncated} names {.field {unbounded}}, which {?has/have} no finite bound in {.arg support}.")
    }
    out$truncated <- unique(truncated)
  }
  if (!is.null(symmetric)) {
    if (!is.character(symmetric) || anyNA(symmetric)) abort("{.arg symmetric} must be parameter names.")
    known(symmetric, "symmetric")
    out$symmetric <- unique(symmetric)
  }
  if (!is.null(reflections)) {
    if (!is.list(reflections)) reflections <- list(reflections)
    normals <- lapply(reflections, function(n) {
      if (!is_mirror_normal(n)) {
        abort(c("{.arg reflections} must be normals of mirrors as named numbers, e.g. {.code list(c(theta_1 = 1, theta_2 = 1))}.",
                "x" = "Got {describe_value(n)}."))
      }
      known(names(n), "reflections")
      v <- stats::setNames(numeric(length(pnames)), pnames)
      v[names(n)] <- n / sqrt(sum(n^2))
      v
    })
    out$reflections <- do.call(rbind, normals)
  }
  if (!is.null(set_structure)) {
    if (length(dim(trial$data)) != 2 || !is.numeric(set_structure) || length(set_structure) != 2 ||
        any(set_structure < 1) || prod(set_structure) != ncol(trial$data)) {
      abort(c("{.arg set_structure} must be {.code c(n_obs, dim)} for flat data of n_obs * dim values, stored point after point.",
              "x" = "Got {describe_value(set_structure)} for data {data_shape_text(trial$data)}."))
    }
    out$set_structure <- as.integer(set_structure)
  }
  if (!is.null(equivariances)) {
    if (inherits(equivariances, "amortized_step")) equivariances <- list(equivariances)
    if (!is.list(equivariances)) abort("{.arg equivariances} must be a list of {.fn equivariance} declarations.")
    eq <- equivariance_list(equivariances)
    check_equivariance_sizes(eq, trial$parameters, trial$data, out$set_structure, call)
    out$equivariances <- eq
  }
  out
}

data_shape_text <- function(data) paste0("[", paste(dim(data)[-1], collapse = " x "), "] per data set")
