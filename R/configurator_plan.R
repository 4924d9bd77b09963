# The configurator's plan for an amortizer: resolved once against the
# training simulations (variable names, structure, bounds, data steps,
# context) into everything that turns simulations or observed data into
# network inputs, and the C++ estimator's options (plan$core).

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
  data_steps <- Filter(is_data_step, cfg$steps)
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
  # flat data as a set: declared by the simulator, or found in the
  # simulations (posteriors only: a likelihood would model the points as
  # independent, which exchangeable points need not be); found before the
  # automatic scale, which a set gets per point coordinate
  declared <- steps_of(cfg, "as_set")
  series <- length(steps_of(cfg, "as_time_series")) > 0
  summary_net <- x$summary_net
  set_structure <- if (use_structure || !is.null(summary_net)) sims$set_structure
  found_set <- FALSE
  if (!three_d && length(set_structure) != 2 && is.null(summary_net) && isTRUE(cfg$auto_set %||% TRUE) &&
      identical(x$kind %||% "posterior", "posterior") && length(declared) == 0 && !series) {
    set_structure <- detect_flat_set(sims)
    found_set <- length(set_structure) == 2
  }
  flat_set <- !three_d && length(set_structure) == 2
  # (not where declared equivariances need the data untransformed)
  if (length(data_steps) == 0 && !three_d && is.null(summary_net) && !isFALSE(cfg$auto_transform) &&
      !(use_structure && length(sims$equivariances) > 0)) {
    data_steps <- auto_transform_steps(sims$data, if (found_set) set_structure)
  }
  steps <- steps_for_block(data_steps, raw_names, call = call)
  names_now <- steps$names

  # structure and summary network
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
    structure_kind <- if (flat_set && identical(names_now, raw_names)) "flat_set" else "flat"
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
  flat_points <- if (flat_set) set_structure else NULL
  per_point <- if (three_d) length(names_now) else if (!is.null(summary_net)) flat_points[2] else length(names_now)
  variable_length <- !is.null(summary_net) && length(lengths) > 0 && min(lengths) < max(lengths)
  # A set's size reaches the network anyway (sqrt of its length, beside the
  # summaries): a context variable n_obs that is that size stays out unless
  # context_variables() names it. With train(subsets = TRUE) as the default
  # for such sets, the iid Gaussian of bench/summary_nets.R (seeds 1 and 2)
  # had sigma errors 0.042 / 0.123 and 0.038 / 0.097 posterior sd without it,
  # 0.054 / 0.145 and 0.044 / 0.130 with it.
  if (structure_kind == "set" && variable_length && length(steps_of(cfg, "context")) == 0 &&
      "n_obs" %in% context_names && size_is_n_obs(sims, lengths)) {
    context_names <- setdiff(context_names, "n_obs")
  }
  linear_residual <- isTRUE(x$linear_residual %||% TRUE) && is.null(summary_net)
  equivariances <- resolve_equivariances(cfg, sims, use_structure, structure_kind, length(data_steps) > 0,
                                         bounds, call)
  list(
    structure = structure_kind, summary_net = summary_net, data_steps = data_steps,
    data_names_raw = raw_names, data_names = names_now, context_names = context_names,
    flat_points = if (!is.null(summary_net) && flat_set) flat_points,
    set_found = found_set && structure_kind == "flat_set",
    length_range = if (length(lengths)) range(lengths),
    keep_nonfinite = length(steps_of(cfg, "nan_to_num")) > 0,
    core = c(list(dim_theta = length(pnames), dim_x = per_point,
                  set_shape = if (structure_kind == "flat_set") as.integer(set_structure) else integer(),
                  set_features = 2L, linear_residual = linear_residual, whiten_residual = linear_residual,
                  dim_context = length(context_names),
                  variable_length = variable_length, symmetric = symmetric, rotation = mirrors$rotation,
                  equivariances = equivariances),
                bounds,
                standardize_flags(cfg))
  )
}

# The automatic data preprocessing of flat data (see ?configurator): data
# variables that are non-negative in every training simulation, not counts,
# and right-skewed (moment skewness > 1) get a log scale when it reduces the
# skewness (multiplicative noise: populations, rates, waiting times):
# log_data() where all values are positive, log1p_data() where zeros occur.
# Steps marked auto = TRUE. Counts (whole numbers) stay as they are: on sir
# (binomial counts, 10,000 simulations) C2ST was 0.617 raw, 0.658 on a
# square-root and 0.662 on a log1p scale; lotka_volterra (log-normal
# populations) 0.977 raw, 0.943 on a log scale.
# With `points` (c(n_points, dim) of a set found in flat data), the choice is
# made once per point coordinate, on its values pooled over the points, so
# that every point gets the same scale.
auto_transform_steps <- function(data, points = NULL) {
  skewness <- function(v) {
    s <- stats::sd(v)
    if (!is.finite(s) || s == 0) return(0)
    mean((v - mean(v))^3) / s^3
  }
  rows <- seq_len(min(nrow(data), 20000L))  # enough to judge the shape
  groups <- if (is.null(points)) as.list(seq_len(ncol(data))) else
    lapply(seq_len(points[2]), function(c) point_columns(points[1], points[2], c))
  pick_group <- vapply(groups, function(j) {
    v <- as.vector(data[rows, j])
    v <- v[is.finite(v)]
    if (length(v) < 10 || any(v < 0)) return("")
    raw <- skewness(v)
    if (raw <= 1) return("")
    if (all(v == round(v))) return("")  # counts: see above
    kind <- if (all(v > 0)) "log" else "log1p"
    if (abs(skewness(match.fun(kind)(v))) >= raw) return("")
    kind
  }, "")
  pick <- character(ncol(data))
  for (g in seq_along(groups)) pick[groups[[g]]] <- pick_group[g]
  nm <- colnames(data)
  steps <- list()
  for (kind in c("log", "log1p")) {
    if (any(pick == kind)) steps <- c(steps, list(new_step(paste0(kind, "_data"), names = nm[pick == kind], auto = TRUE)))
  }
  steps
}

# Whether parameters and data are standardized: list(standardize_parameters,
# standardize_data).
standardize_flags <- function(cfg) {
  std <- steps_of(cfg, "standardize")
  list(standardize_parameters = if (length(std)) std[[1]]$parameters else TRUE,
       standardize_data = if (length(std)) std[[1]]$data else TRUE)
}

# Whether every simulated set's size (`lengths`, one per row) is its context
# variable n_obs: the size was a design choice, drawn apart from the
# parameters (simulator(context = list(n_obs = ))).
size_is_n_obs <- function(sims, lengths) {
  n_obs <- if ("n_obs" %in% colnames(sims$context)) sims$context[, "n_obs"]
  length(lengths) > 0 && length(n_obs) == length(lengths) && isTRUE(all(n_obs == lengths))
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
    rename <- step_table[[s$step]]$rename
    if (!is.null(rename)) names <- rename(s, names)
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
    flat_set = paste0("structure: ", set_layout(core$set_shape), ", in canonical order with its moments",
                      if (isTRUE(plan$set_found)) " (found in the training simulations)"),
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
  std <- c(if (isTRUE(core$standardize_parameters)) "parameters", if (isTRUE(core$standardize_data)) "data")
  out <- c(out, paste0("standardized: ", if (length(std)) paste(std, collapse = ", ") else "nothing"))
  out
}
