# Applying a plan to data: the data steps, then the inputs the C++ glue
# takes (x, lengths, context).

# Applies the plan's data steps to data (an n x d matrix or [n, N, d] array
# with the raw variable names, or a named list of such blocks).
apply_data_steps <- function(plan, data, call = rlang::caller_env()) {
  if (is_multi_source(data)) {
    return(lapply(stats::setNames(names(data), names(data)), function(b) apply_steps(plan$data_steps[[b]], data[[b]], call)))
  }
  apply_steps(plan$data_steps, data, call)
}

apply_steps <- function(steps, data, call) {
  for (s in steps) {
    nm <- data_names_of(data)
    sel <- if (length(s$names)) match(s$names, nm) else seq_along(nm)
    data <- step_table[[s$step]]$apply(s, data, sel, call)
  }
  data
}

# The variables j (the last dimension) of an n x d matrix or [n, N, d] array.
take_variables <- function(data, j) {
  if (length(dim(data)) == 3) data[, , j, drop = FALSE] else data[, j, drop = FALSE]
}

# Variables sel replaced by f() of them; every value must pass ok() (NA
# aside): `need` says what the step needs.
map_variables <- function(data, sel, f, ok, need, step, call) {
  v <- take_variables(data, sel)
  if (!all(ok(v), na.rm = TRUE)) {
    bad <- data_names_of(data)[sel][which(apply(!ok(v), length(dim(v)), any, na.rm = TRUE))[1]]
    cli::cli_abort(c("{.fn {step}} needs data values {need}.", "x" = "{.field {bad}} has smaller values."),
                   class = "amortized_error_data", call = call)
  }
  if (length(dim(data)) == 3) data[, , sel] <- f(v) else data[, sel] <- f(v)
  data
}

# Non-finite values replaced by `value`, with an indicator variable each
# (x_missing: 1 where x was not finite).
nan_to_num_with_indicators <- function(data, value) {
  nm <- data_names_of(data)
  missing <- !is.finite(data)
  storage.mode(missing) <- "double"
  data[missing == 1] <- value
  new_names <- c(nm, paste0(nm, "_missing"))
  if (length(dim(data)) == 3) {
    out <- array(c(data, missing), c(dim(data)[1:2], 2 * length(nm)))
    dimnames(out) <- list(NULL, NULL, new_names)
    return(out)
  }
  structure(cbind(data, missing), dimnames = list(dimnames(data)[[1]], new_names))
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

# The number of values in network inputs x (all sources).
input_values <- function(x) {
  if (!is_multi_source(x)) return(as.double(length(x)))
  length(x$flat) + sum(vapply(x$sources, function(s) as.double(length(s$x)), numeric(1)))
}

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

