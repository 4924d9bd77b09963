# Declared structure, resolved for the plan: sign symmetries, mirror
# reflections and equivariances, from the configurator's steps or (with
# use_structure) the simulator's declarations, each checked against the
# simulations and the bounds.

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
  what <- check_equivariance_sizes(eq, sims$parameters, sims$data, set, call)
  lapply(eq, function(e) {
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

# Checks that each equivariance permutes the parameters and each point's
# variables (sets, series and flat sets) or the data values (flat data);
# returns which of the two the data part permutes.
check_equivariance_sizes <- function(eq, parameters, data, set_structure, call) {
  per_point <- length(dim(data)) == 3 || length(set_structure) == 2
  width <- if (length(dim(data)) == 3) dim(data)[3] else if (length(set_structure) == 2) set_structure[2] else ncol(data)
  what <- if (per_point) "variables per point" else "data values"
  for (e in eq) {
    if (length(e$parameters) != ncol(parameters) || length(e$data) != width) {
      cli::cli_abort(c("An equivariance needs a signed permutation of the {ncol(parameters)} parameters and of the {width} {what}.",
                       "x" = "Got {length(e$parameters)} and {length(e$data)} entries."),
                     class = "amortized_error_argument", call = call)
    }
  }
  what
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


# Exchangeable points in flat data, found from the training simulations:
# c(n_points, dim) for the smallest point size `dim` (dividing the number
# of data columns, with at least two points) under which consecutive blocks
# of `dim` columns look exchangeable, else NULL. Exchangeable points have
# the same law one by one, and jointly with the parameters, and every pair
# the same joint law; so every block has the same means, variances and
# covariances (within the block and with each parameter), and every ordered
# pair of blocks the same cross-covariances. Each such statistic is compared
# across blocks against its own noise, from its spread over 20 folds of the
# simulations (differences beyond 5 standard errors, with 20 folds a chance
# of about 1e-4 each where the blocks are exchangeable, are taken as real).
# The data are first clipped at their pooled 1% and 99% quantiles per point
# coordinate (the same map for every block), so that heavy tails do not
# hide differences. Needs 2,000 or more complete simulations.
detect_flat_set <- function(sims, max_columns = 64L, folds = 20L, z_max = 5) {
  x <- sims$data
  if (length(dim(x)) != 2 || ncol(x) < 2 || ncol(x) > max_columns) return(NULL)
  ok <- stats::complete.cases(x) & stats::complete.cases(sims$parameters)
  x <- x[ok, , drop = FALSE]
  theta <- sims$parameters[ok, , drop = FALSE]
  if (nrow(x) < 2000) return(NULL)
  d <- ncol(x)
  fold <- (seq_len(nrow(x)) - 1L) %% folds + 1L
  for (k in seq_len(d %/% 2)) {
    if (d %% k != 0) next
    if (blocks_exchangeable(x, theta, k, fold, z_max)) return(c(d %/% k, k))
  }
  NULL
}

# Whether the d / k consecutive blocks of k columns of x look exchangeable
# (see detect_flat_set()).
blocks_exchangeable <- function(x, theta, k, fold, z_max) {
  m <- ncol(x) %/% k
  for (c in seq_len(k)) {  # one clipping per point coordinate, pooled over the blocks
    cols <- point_columns(m, k, c)
    q <- stats::quantile(x[, cols], c(0.01, 0.99), names = FALSE)
    x[, cols] <- pmin(pmax(x[, cols], q[1]), q[2])
  }
  # statistics per fold: means, the covariance of all columns with each other
  # and with the parameters
  per_fold <- lapply(sort(unique(fold)), function(f) {
    xf <- x[fold == f, , drop = FALSE]
    tf <- theta[fold == f, , drop = FALSE]
    list(mean = colMeans(xf), cov = stats::cov(xf), cov_theta = stats::cov(xf, tf))
  })
  stack <- function(name) simplify2array(lapply(per_fold, `[[`, name))
  # each group of statistics that exchangeability makes equal: their fold
  # means compared with the group's mean, in standard errors over the folds
  spread_ok <- function(values) {  # values: [statistics of one group, folds]
    est <- rowMeans(values)
    se <- sqrt(mean(apply(values, 1, stats::var)) / ncol(values))
    if (!is.finite(se) || se == 0) return(all(abs(est - mean(est)) < 1e-12))
    all(abs(est - mean(est)) / se < z_max)
  }
  means <- stack("mean")
  covs <- stack("cov")
  cov_theta <- stack("cov_theta")
  pairs <- which(outer(seq_len(m), seq_len(m), `!=`), arr.ind = TRUE)  # ordered pairs of blocks
  for (c in seq_len(k)) {
    cols <- point_columns(m, k, c)
    if (!spread_ok(means[cols, , drop = FALSE])) return(FALSE)
    for (l in seq_len(ncol(theta))) {
      if (!spread_ok(matrix(cov_theta[cols, l, ], nrow = m))) return(FALSE)
    }
    for (c2 in seq_len(k)) {
      cols2 <- point_columns(m, k, c2)
      within <- t(vapply(seq_len(m), function(b) covs[cols[b], cols2[b], ], numeric(dim(covs)[3])))
      if (!spread_ok(within)) return(FALSE)
      across <- t(vapply(seq_len(nrow(pairs)), function(r) covs[cols[pairs[r, 1]], cols2[pairs[r, 2]], ],
                         numeric(dim(covs)[3])))
      if (!spread_ok(across)) return(FALSE)
    }
  }
  TRUE
}

# The columns of flat set data (n_points points of dim values, point by
# point) that hold coordinate c of every point.
point_columns <- function(n_points, dim, c) (seq_len(n_points) - 1L) * dim + c
