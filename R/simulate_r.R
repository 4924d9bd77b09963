# Running R simulators: in chunks, each a future (so any future::plan()
# spreads them over cores or a cluster), each with its own L'Ecuyer-CMRG
# random stream derived from the seed. The chunks depend on n and
# chunk_size only, so the same seed gives the same simulations on every plan.

# One chunk, evaluated where the future runs. Its environment is set to the
# base environment below, so that a worker needs nothing from this package:
# it returns the raw outputs, which are checked in the calling session.
# An error in the model is returned (not raised), so that the calling session
# can first report a bad prior output, the likelier cause.
# Context variables (one value each per chunk) are drawn first and passed
# to the model by name.
run_simulator_chunk <- function(n, prior, model, vectorized, context = NULL) {
  ctx <- lapply(context, function(v) if (is.function(v)) v() else v[sample.int(length(v), 1L)])
  theta <- prior(n)
  data <- tryCatch({
    if (vectorized) {
      do.call(model, c(list(theta), ctx))
    } else {
      m <- if (is.data.frame(theta)) as.matrix(theta) else theta
      lapply(seq_len(nrow(m)), function(i) do.call(model, c(list(structure(m[i, ], names = colnames(m))), ctx)))
    }
  }, error = function(e) e)
  list(theta = theta, data = data, context = ctx)
}
environment(run_simulator_chunk) <- baseenv()

# Draws n (parameters, data) pairs from an R simulator, checking every output.
# With a store (store_open()), finished chunks are read from it instead of
# simulated, and each newly finished chunk is written to it at once; a chunk
# that fails is then retried once, and failures are reported together after
# every other chunk is done (and kept).
simulate_r <- function(sim, n, seed, chunk_size = NULL, progress = FALSE, store = NULL, call = rlang::caller_env()) {
  sizes <- chunk_sizes(n, chunk_size %||% default_chunk_size(n, sim$vectorized, length(sim$context) > 0))
  seeds <- lecuyer_streams(seed, length(sizes))
  if (!is.null(store)) store <- store_open(store, sim, n, seed, sizes, call = call)
  chunks <- vector("list", length(sizes))
  if (!is.null(store)) for (i in seq_along(sizes)) chunks[i] <- list(store_read_chunk(store, i))
  todo <- which(vapply(chunks, is.null, logical(1)))
  bar <- if (progress && length(sizes) > 1) {
    cli::cli_progress_bar("Simulating", total = n, clear = TRUE, .envir = rlang::current_env())
  }
  if (!is.null(bar) && length(todo) < length(sizes)) cli::cli_progress_update(id = bar, inc = sum(sizes) - sum(sizes[todo]))
  # evaluated in each chunk's environment (below), which holds these names
  chunk_call <- quote(run_simulator_chunk(chunk_n, prior, model, vectorized, context))
  # On the sequential plan a chunk runs at once in this session, under its
  # own stream as a future would (a future's set-up, mostly the search for
  # globals, costs 20-25 ms a chunk: more than a step of online training).
  sequential <- inherits(future::plan(), "sequential")
  launch <- function(i) {
    env <- list2env(list(run_simulator_chunk = run_simulator_chunk, chunk_n = sizes[[i]],
                         prior = sim$prior, model = sim$model, vectorized = sim$vectorized,
                         context = sim$context),
                    parent = globalenv())
    if (sequential) {
      assign(".Random.seed", seeds[[i]], envir = globalenv())  # the kind (L'Ecuyer-CMRG) comes with it
      return(structure(list(value = tryCatch(eval(chunk_call, env), error = identity)), class = "amortized_done_chunk"))
    }
    future::future(chunk_call, substitute = FALSE, envir = env, seed = seeds[[i]], label = paste0("amortized-", i))
  }
  failures <- list()
  # A launched chunk's value, checked (an error object when it failed twice
  # and a store keeps the others), written to the store as soon as it is in.
  collect <- function(i, f) {
    for (attempt in 1:2) {
      result <- tryCatch({
        raw <- tryCatch(chunk_value(f), error = function(e) {
          cli::cli_abort(c("The simulator failed.", "x" = conditionMessage(e)),
                         class = "amortized_error_simulator", call = call)
        })
        check_chunk(raw, sizes[[i]], sim, call)
      }, error = function(e) if (is.null(store)) stop(e) else e)
      if (!inherits(result, "error")) break
      if (attempt == 1) f <- launch(i)  # the same random stream: a transient fault passes
    }
    if (inherits(result, "error")) {
      failures[[length(failures) + 1]] <<- list(chunk = i, message = conditionMessage(result))
    } else {
      chunks[[i]] <<- result
      if (!is.null(store)) store_write_chunk(store, i, result)
    }
    if (!is.null(bar)) cli::cli_progress_update(id = bar, inc = sizes[[i]])
  }
  with_rng_restored({
    pending <- list()  # launched, not yet collected
    collect_resolved <- function() {
      done <- names(pending)[vapply(pending, chunk_resolved, logical(1))]
      for (k in done) {
        collect(as.integer(k), pending[[k]])
        pending[[k]] <<- NULL
      }
      length(done)
    }
    for (i in todo) {
      pending[[as.character(i)]] <- launch(i)
      collect_resolved()  # at once on a sequential plan
    }
    while (length(pending) > 0) if (collect_resolved() == 0) Sys.sleep(0.02)
  })
  if (!is.null(bar)) cli::cli_progress_done(id = bar)
  if (length(failures) > 0) {
    first <- failures[[1]]
    cli::cli_abort(c("{length(failures)} of {length(sizes)} simulation chunk{?s} failed twice; the other chunks are kept in {.path {store$path}}.",
                     "x" = "Chunk {first$chunk}: {first$message}",
                     "i" = if (length(failures) > 1) "Also chunk{?s} {vapply(failures[-1], function(f) f$chunk, numeric(1))}.",
                     "i" = "Fix the cause and run the same call again: only the missing chunks are simulated."),
                   class = c("amortized_error_simulator_chunks", "amortized_error_simulator"), call = call)
  }
  bind_chunks(chunks)
}

# A launched chunk (a future, or a chunk run at once): whether it is done,
# and its raw output (the error of a chunk run at once signalled again).
chunk_resolved <- function(f) inherits(f, "amortized_done_chunk") || future::resolved(f)

chunk_value <- function(f) {
  if (!inherits(f, "amortized_done_chunk")) return(future::value(f))
  if (inherits(f$value, "error")) stop(f$value)
  f$value
}

# The checked chunks of an R simulator, bound in order.
bind_chunks <- function(chunks) {
  data <- bind_data(lapply(chunks, `[[`, "data"))
  list(parameters = do.call(rbind, lapply(chunks, `[[`, "parameters")),
       data = data$data, lengths = data$lengths,
       context = if (!is.null(chunks[[1]]$context)) do.call(rbind, lapply(chunks, `[[`, "context")))
}

# About 100 chunks for large n (1,000 with context variables, so that many
# of their values occur).
default_chunk_size <- function(n, vectorized, context = FALSE) {
  if (context) return(max(ceiling(n / 1000), min(n, 50)))
  max(ceiling(n / 100), min(n, if (vectorized) 1000 else 20))
}

chunk_sizes <- function(n, size) {
  k <- ceiling(n / size)
  c(rep(size, k - 1), n - size * (k - 1))
}

# k L'Ecuyer-CMRG stream seeds (as parallel::nextRNGStream makes them) from
# one integer seed, leaving the session's generator as it was.
lecuyer_streams <- function(seed, k) {
  with_rng_restored({
    RNGkind("L'Ecuyer-CMRG")
    set.seed(seed)
    s <- get(".Random.seed", envir = globalenv())
    out <- vector("list", k)
    for (i in seq_len(k)) {
      out[[i]] <- s
      s <- parallel::nextRNGStream(s)
    }
    out
  })
}

# Evaluates expr and restores the random number generator (kind and state).
with_rng_restored <- function(expr) {
  env <- globalenv()
  had <- exists(".Random.seed", envir = env, inherits = FALSE)
  old <- if (had) get(".Random.seed", envir = env, inherits = FALSE)
  kind <- RNGkind()
  on.exit({
    RNGkind(kind[1], kind[2], kind[3])
    if (had) assign(".Random.seed", old, envir = env) else
      if (exists(".Random.seed", envir = env, inherits = FALSE)) rm(list = ".Random.seed", envir = env)
  }, add = TRUE)
  expr
}

# Checks one chunk's raw prior and model output and converts it to a
# parameter matrix and a data matrix (or [n, n_obs, dim] array, or a named
# list of such blocks).
check_chunk <- function(raw, n, sim, call) {
  theta <- raw$theta
  if (is.data.frame(theta)) {
    if (!all(vapply(theta, is.numeric, logical(1)))) {
      cli::cli_abort("{.arg prior} returned a data frame with non-numeric columns.",
                     class = "amortized_error_simulator", call = call)
    }
    theta <- as.matrix(theta)
  }
  if (is.null(dim(theta)) && is.numeric(theta) && length(theta) == n) theta <- matrix(theta, ncol = 1)
  if (!is.matrix(theta) || !is.numeric(theta)) {
    cli::cli_abort(c("{.arg prior} must return a numeric matrix or data frame.",
                     "x" = "{.code prior({n})} returned {describe_value(theta)}."),
                   class = "amortized_error_simulator", call = call)
  }
  if (nrow(theta) != n) {
    cli::cli_abort(c("{.arg prior} must return {n} rows for {.code prior({n})}.",
                     "x" = "It returned {nrow(theta)} row{?s}."),
                   class = "amortized_error_simulator", call = call)
  }
  pn <- colnames(theta)
  if (is.null(pn) || any(is.na(pn) | pn == "") || anyDuplicated(pn)) {
    cli::cli_abort(c("{.arg prior} must return columns with unique names (the parameter names).",
                     "i" = "For example {.code cbind(mu = rnorm(n), sigma = rexp(n))}."),
                   class = "amortized_error_simulator", call = call)
  }
  if (inherits(raw$data, "error")) {
    cli::cli_abort(c("{.arg model} failed.", "x" = "{conditionMessage(raw$data)}"),
                   class = "amortized_error_simulator", call = call)
  }
  x <- raw$data
  if (!isTRUE(sim$vectorized)) {
    x <- if (is_block_list(x[[1]]) && !is.null(names(x[[1]]))) stack_sources(x, call) else stack_rows(x, call)
  }
  if (!is_block_list(x) && is.list(sim$data_shape)) {
    cli::cli_abort(c("{.arg model} returned one data block; earlier it returned the sources {.val {names(sim$data_shape)}}."),
                   class = "amortized_error_simulator", call = call)
  }
  x <- if (is_block_list(x)) check_sources(x, n, sim$data_shape, call) else check_block(x, n, sim$data_shape, call)
  if (!is.null(sim$parameter_names) && !identical(colnames(theta), sim$parameter_names)) {
    cli::cli_abort("{.arg prior} returned other parameter names than before.",
                   class = "amortized_error_simulator", call = call)
  }
  ctx <- NULL
  if (length(sim$context) > 0) {
    for (name in names(sim$context)) {
      v <- raw$context[[name]]
      if (!is.numeric(v) || length(v) != 1 || !is.finite(v)) {
        cli::cli_abort(c("{.arg context${name}} must give one finite number.", "x" = "It gave {describe_value(v)}."),
                       class = "amortized_error_simulator", call = call)
      }
    }
    ctx <- matrix(as.numeric(unlist(raw$context[names(sim$context)])), nrow = n, ncol = length(sim$context), byrow = TRUE,
                  dimnames = list(NULL, names(sim$context)))
  }
  list(parameters = theta, data = x, context = ctx)
}

# A model output that is a list of data blocks (multi-source data).
is_block_list <- function(x) is.list(x) && !is.data.frame(x)

# Checks one data block of a chunk (n rows) and returns it as a double
# matrix or [n, n_obs, dim] array with variable names. shape: the shape of
# earlier chunks (NULL for the first); source: the block's name, or NULL.
check_block <- function(x, n, shape, call, source = NULL) {
  what <- if (is.null(source)) "{.arg model}" else paste0("Source {.field ", source, "} of {.arg model}")
  if (is.data.frame(x)) x <- as.matrix(x)
  if (is.null(dim(x)) && is.numeric(x) && length(x) == n) x <- matrix(x, ncol = 1)
  if (!is.numeric(x) || !length(dim(x)) %in% 2:3) {
    cli::cli_abort(c(paste(what, "must return a numeric matrix (one data set per row) or an [n, n_obs, dim] array."),
                     "x" = "It returned {describe_value(x)}.",
                     "i" = if (is.null(source)) "For data from several sources, return a named list of such blocks."),
                   class = "amortized_error_simulator", call = call)
  }
  if (nrow(x) != n) {
    cli::cli_abort(c(paste(what, "must return one data set per parameter row ({n})."),
                     "x" = "It returned {nrow(x)}.",
                     "i" = "For a model that takes one parameter vector, use {.code vectorized = FALSE}."),
                   class = "amortized_error_simulator", call = call)
  }
  storage.mode(x) <- "double"
  d <- length(dim(x))
  if (is.null(dimnames(x)[[d]])) {
    dn <- dimnames(x) %||% vector("list", d)
    dn[[d]] <- paste0("x_", seq_len(dim(x)[d]))
    dimnames(x) <- dn
  }
  # the number of observations of set / series data may vary, nothing else
  if (!is.null(shape) && (length(dim(x)) != length(shape) + 1 ||
                          utils::tail(dim(x), 1) != utils::tail(shape, 1))) {
    cli::cli_abort(c(paste(what, "returned data sets of another shape than before."),
                     "x" = "Now {paste(dim(x)[-1], collapse = ' x ')}, earlier {paste(shape, collapse = ' x ')}.",
                     "i" = if (length(dim(x)) == 2) "Data sets of a varying number of observations must be {.code [n, n_obs, dim]} arrays."),
                   class = "amortized_error_simulator", call = call)
  }
  x
}

# Checks multi-source model output: a named list of blocks (the same names
# as before, when shape, a list of earlier shapes, is given).
check_sources <- function(x, n, shape, call) {
  nm <- names(x)
  if (length(x) == 0 || is.null(nm) || any(is.na(nm) | nm == "") || anyDuplicated(nm)) {
    cli::cli_abort(c("{.arg model} returned a list: data from several sources must be a list of blocks with unique names.",
                     "i" = "For example {.code list(trials = <[n, n_obs, 2] array>, summary = <n x 3 matrix>)}."),
                   class = "amortized_error_simulator", call = call)
  }
  if (!is.null(shape) && (!is.list(shape) || !identical(nm, names(shape)))) {
    cli::cli_abort(c("{.arg model} returned other data sources than before.",
                     "x" = "Now {.val {nm}}, earlier {if (is.list(shape)) names(shape) else 'one block'}."),
                   class = "amortized_error_simulator", call = call)
  }
  stats::setNames(lapply(nm, function(b) check_block(x[[b]], n, shape[[b]], call, source = b)), nm)
}

# Stacks the per-row multi-source outputs (named lists of a vector or an
# [n_obs, dim] matrix each) source by source.
stack_sources <- function(rows, call) {
  nm <- names(rows[[1]])
  for (i in seq_along(rows)) {
    if (!is_block_list(rows[[i]]) || !identical(names(rows[[i]]), nm)) {
      cli::cli_abort(c("{.arg model} (with {.code vectorized = FALSE}) returned different sources for different rows.",
                       "x" = "Row 1 gave {.val {nm}}, row {i} {describe_value(rows[[i]])}."),
                     class = "amortized_error_simulator", call = call)
    }
  }
  stats::setNames(lapply(nm, function(b) stack_rows(lapply(rows, `[[`, b), call)), nm)
}

# Stacks the per-row outputs of a model run row by row: vectors into an
# [n, d] matrix, [n_obs, dim] matrices into an [n, n_obs, dim] array.
stack_rows <- function(rows, call) {
  for (i in seq_along(rows)) {
    out <- rows[[i]]
    if (!is.numeric(out) || length(dim(out)) > 2) {
      cli::cli_abort(c("{.arg model} (with {.code vectorized = FALSE}) must return a numeric vector or an [n_obs, dim] matrix (for several sources: a named list of them).",
                       "x" = "For parameter row {i} it returned {describe_value(out)}."),
                     class = "amortized_error_simulator", call = call)
    }
  }
  shapes <- vapply(rows, function(r) paste(dim(r) %||% length(r), collapse = " x "), character(1))
  if (any(shapes != shapes[1])) {
    cli::cli_abort("{.arg model} returned data of different shapes ({unique(shapes)}) for different rows.",
                   class = "amortized_error_simulator", call = call)
  }
  first <- rows[[1]]
  if (is.matrix(first)) {
    x <- array(0, c(length(rows), dim(first)))
    for (i in seq_along(rows)) x[i, , ] <- rows[[i]]
    dimnames(x) <- list(NULL, NULL, colnames(first))
    return(x)
  }
  x <- matrix(unlist(rows, use.names = FALSE), nrow = length(rows), byrow = TRUE)
  colnames(x) <- names(first)
  x
}
