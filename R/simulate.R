#' Simulate parameters and data from a simulator
#'
#' Draws `nsim` parameter vectors from the prior and one data set for each.
#' Rows whose data contain `NaN`, `NA` or infinite values are dropped with a
#' warning that counts them; they never reach training.
#'
#' R simulators ([simulator()]) run in chunks over the [future::plan()] you
#' have set (sequentially by default), with a progress bar; see
#' "Parallel and cluster simulation" in [simulator()]. C++ benchmark
#' simulators run on `threads` threads.
#'
#' **Long runs that survive faults.** With `store = "dir"`, each chunk is
#' written to the directory as soon as it is finished (atomically: a chunk
#' file is complete, its checksum in its name, or absent). After a crash, an
#' interrupt or a failed worker, the same call (same `nsim`, `seed` and
#' `chunk_size`) simulates the missing chunks only, and the result is
#' identical to an uninterrupted run. A chunk whose model errors is retried
#' once; chunks that fail twice are reported together (which chunk, the
#' error) after every other chunk is done and kept; fix the cause and run
#' the same call again. A store holding another run (other `nsim`, seed or
#' chunk sizes, another benchmark simulator) is an error; edits of an R
#' simulator's code are not detected.
#' [train()] takes the directory of a finished store as its simulations.
#'
#' @param object An `amortized_simulator` from [simulator()] or
#'   [benchmark_simulator()].
#' @param nsim Number of simulations (a whole number >= 1).
#' @param seed `NULL` or a whole number; the same seed gives the same
#'   simulations (your R random number stream is left as it was).
#' @param threads Threads for the C++ benchmark simulators (the result does
#'   not depend on it). The cheap ones (such as `"two_moons"` and
#'   `"gaussian_linear"`) draw their random numbers with the CPU's vector
#'   instructions (AVX-512, AVX2 or SSE2, picked at run time), so a seed
#'   reproduces their simulations exactly on the same kind of CPU and to the
#'   last bit or so on another.
#' @param chunk_size For R simulators: simulations per chunk (one future
#'   each on a parallel plan; on the sequential plan each runs at once). The
#'   default depends on `nsim` only (about 100 chunks for large `nsim`); the
#'   simulations depend on the seed and the chunk size, never on the plan or
#'   the number of workers.
#' @param progress Show a progress bar while R simulators run.
#' @param store `NULL` or a directory: keep finished chunks there and resume
#'   from them (see above). C++ benchmark simulators, which are fast, store
#'   the whole run as one chunk.
#' @param ... Not used: unknown arguments are an error, naming the closest argument (a
#'   typo such as `sed = 1` does not pass silently).
#' @param keep_nonfinite Keep rows whose data have non-finite values (for
#'   a [configurator()] with [nan_to_num()], which handles them). Rows with
#'   non-finite parameters or context are always dropped.
#' @return An `amortized_simulations` object: a list with `parameters`
#'   (an n x p matrix with named columns) and `data` (an n x d matrix, or an
#'   `[n, n_obs, dim]` array for set data such as `"ddm"`); for set data
#'   also `lengths`, the observations of each data set (when they vary, the
#'   array is padded with `NA` after them); for simulators with context
#'   variables `context`, an n x k matrix of their values. For a
#'   multi-source model (one returning a named list of blocks), `data` is a
#'   named list of such blocks and `lengths` a named list with one vector
#'   per set or series source.
#' @family simulation
#' @examples
#' sims <- simulate(benchmark_simulator("gaussian_linear"), 100, seed = 1)
#' sims
#' summary(sims)
#' @importFrom stats simulate
#' @export
simulate.amortized_simulator <- function(object, nsim = 1, seed = NULL,
                                         threads = getOption("amortized.threads", 1L),
                                         chunk_size = NULL, progress = interactive(),
                                         keep_nonfinite = FALSE, store = NULL, ...) {
  check_no_dots(list(...), simulate.amortized_simulator)
  nsim <- check_count(nsim)
  per_sim <- length(object$parameter_names) +
    sum(vapply(if (is.list(object$data_shape)) object$data_shape else list(object$data_shape),
               function(s) prod(as.double(s)), numeric(1)))
  check_request_size(as.double(nsim) * per_sim, "nsim", nsim, what = "the simulations")
  if (!is.null(store)) store <- check_path(store)
  seed <- resolve_seed(seed %||% store_seed(store), arg = "seed")
  threads <- check_threads(threads)
  if (!is.null(chunk_size)) chunk_size <- check_count(chunk_size)
  progress <- check_flag(progress)
  keep_nonfinite <- check_flag(keep_nonfinite)
  raw <- simulate_raw(object, nsim, seed, threads, chunk_size = chunk_size, progress = progress, store = store)
  simulations_from_raw(raw, object, keep_nonfinite = keep_nonfinite)
}

# declarations: carry the simulator's declared structure (symmetries,
# support, ...); FALSE for a training batch, which needs the values alone.
simulations_from_raw <- function(raw, sim, keep_nonfinite = FALSE, declarations = TRUE,
                                 call = rlang::caller_env()) {
  d <- if (declarations) sim else list(set_structure = sim$set_structure)
  new_simulations(raw$parameters, raw$data, nonfinite_rows = if (!keep_nonfinite) raw$nonfinite_rows,
                  set_structure = d$set_structure, symmetric = d$symmetric, support = d$support,
                  truncated = d$truncated, reflections = d$reflections, equivariances = d$equivariances,
                  lengths = raw$lengths, context = raw$context,
                  keep_nonfinite = keep_nonfinite, call = call)
}

# The (parameters, data) of n simulations, without dropping rows.
simulate_raw <- function(sim, n, seed, threads = 1L, chunk_size = NULL, progress = FALSE, store = NULL,
                         call = rlang::caller_env()) {
  if (sim$type == "benchmark" && !is.null(store)) {  # fast C++: the whole run is one chunk
    st <- store_open(store, sim, n, seed, n, call = call)
    raw <- store_read_chunk(st, 1L)
    if (is.null(raw)) {
      raw <- simulate_raw(sim, n, seed, threads, call = call)
      store_write_chunk(st, 1L, raw)
    }
    return(raw)
  }
  if (sim$type == "benchmark") {
    o <- sim$options %||% list(n_obs = 100L, design = matrix(0, 0, 0))
    if (length(sim$context) > 0) return(simulate_benchmark_varying(sim, n, seed, threads, call))
    out <- core_call(.amz_benchmark_simulate(sim$name, n, seed, threads, o$n_obs, o$design), call = call)
    if (length(dim(out$data)) == 3) out$lengths <- rep(dim(out$data)[2], n)
    return(out)
  }
  simulate_r(sim, n, seed, chunk_size = chunk_size, progress = progress, store = store, call = call)
}

# A benchmark simulator with a varying number of observations: blocks of 50
# rows, each with its own n_obs and seed drawn from `seed`, padded with NA.
simulate_benchmark_varying <- function(sim, n, seed, threads, call) {
  sizes <- chunk_sizes(n, 50)
  choices <- sim$context$n_obs
  draws <- with_seed(seed, list(n_obs = choices[sample.int(length(choices), length(sizes), replace = TRUE)],
                                seeds = sample.int(2147483646L, length(sizes))))
  blocks <- lapply(seq_along(sizes), function(i) {
    core_call(.amz_benchmark_simulate(sim$name, sizes[i], draws$seeds[i], threads, draws$n_obs[i],
                                      sim$options$design), call = call)
  })
  data <- bind_data(lapply(blocks, `[[`, "data"))
  offsets <- cumsum(c(0, sizes))[seq_along(sizes)]
  list(parameters = do.call(rbind, lapply(blocks, `[[`, "parameters")), data = data$data,
       lengths = data$lengths,
       context = matrix(as.numeric(rep(draws$n_obs, sizes)), ncol = 1, dimnames = list(NULL, "n_obs")),
       nonfinite_rows = unlist(Map(function(b, o) b$nonfinite_rows + o, blocks, offsets)))
}

# Simulations without non-finite rows; a warning counts the rows dropped.
# nonfinite_rows: the rows with non-finite values when already known (the
# C++ simulators find them; NULL: checked here).
# set_structure: c(n_obs, dim) when each flat data row is an exchangeable set.
# symmetric: names of parameters in whose sign the posterior is even (the
# simulator's declaration, see benchmark_simulator()). support: NULL or the
# prior's support, a matrix with rows lower and upper and one column per
# parameter (declared by benchmark simulators). truncated: names of
# parameters whose posterior the support cuts off sharply (likewise).
# reflections: NULL or a k x dim matrix of the normals of mirror symmetries.
# equivariances: NULL or a list of list(parameters, data) signed permutations.
# lengths: for [n, n_obs, dim] data, the valid observations of each row (the
# rest is padding, never checked). context: NULL or an n x k matrix.
# keep_nonfinite: keep rows whose only non-finite values are in the data.
new_simulations <- function(parameters, data, nonfinite_rows = NULL, set_structure = NULL, lengths = NULL,
                            context = NULL, keep_nonfinite = FALSE, symmetric = NULL, support = NULL,
                            truncated = NULL, reflections = NULL, equivariances = NULL,
                            call = rlang::caller_env()) {
  if (n_rows(data) != nrow(parameters)) {
    cli::cli_abort("{.arg parameters} and {.arg data} have different numbers of rows.",
                   class = "amortized_error_data", call = call)
  }
  lengths <- if (is.null(lengths)) full_lengths(data) else if (is.list(lengths)) lapply(lengths, as.integer) else
    as.integer(lengths)
  if (is.null(nonfinite_rows)) {
    bad <- !finite_rows(parameters)
    if (!keep_nonfinite) bad <- bad | !finite_rows(data, lengths)
  } else if (length(nonfinite_rows) > 0) {  # found by the C++ simulators
    bad <- logical(nrow(parameters))
    bad[nonfinite_rows] <- TRUE
  } else {
    bad <- FALSE  # none: spares a pass over a million rows
  }
  if (!is.null(context)) bad <- bad | !finite_rows(context)
  if (any(bad)) {
    n_bad <- sum(bad)
    cli::cli_warn(c("Dropped {n_bad} of {length(bad)} simulation{?s} with non-finite values (NaN, NA or Inf).",
                    "i" = "Such rows never reach training."),
                  class = "amortized_warning_nonfinite", call = call)
    parameters <- parameters[!bad, , drop = FALSE]
    data <- take_rows(data, !bad)
    if (!is.null(lengths)) lengths <- take_lengths(lengths, !bad)
    if (!is.null(context)) context <- context[!bad, , drop = FALSE]
  }
  if (nrow(parameters) == 0) {
    cli::cli_abort("Every simulation had non-finite values; nothing is left.",
                   class = "amortized_error_simulator", call = call)
  }
  data <- trim_padding(data, lengths)  # drop padding nobody needs
  set_structure <- if (length(set_structure) == 2) as.integer(set_structure)
  structure(list(parameters = parameters, data = data, set_structure = set_structure, lengths = lengths,
                 context = context, symmetric = if (length(symmetric)) as.character(symmetric),
                 support = if (length(support)) support_matrix(support, colnames(parameters)),
                 truncated = if (length(truncated)) as.character(truncated),
                 reflections = reflection_matrix(reflections, colnames(parameters)),
                 equivariances = equivariance_list(equivariances)),
            class = "amortized_simulations")
}

# The support as a 2 x dim matrix (rows lower, upper; columns the parameters).
support_matrix <- function(support, names) {
  m <- matrix(as.numeric(support), nrow = 2, dimnames = list(c("lower", "upper"), names))
  if (ncol(m) != length(names)) {
    cli::cli_abort("The prior support needs one (lower, upper) pair per parameter.", class = "amortized_error_data")
  }
  m
}

# Both simulations in one (the same variables; sets padded to the longer).
combine_simulations <- function(a, b) {
  data <- bind_data(list(a$data, b$data), list(a$lengths, b$lengths))
  new_simulations(rbind(a$parameters, b$parameters), data$data, nonfinite_rows = integer(),
                  set_structure = a$set_structure, symmetric = a$symmetric, support = a$support,
                  truncated = a$truncated, reflections = a$reflections, equivariances = a$equivariances,
                  lengths = data$lengths, context = if (!is.null(a$context)) rbind(a$context, b$context))
}

# The simulations of rows i.
subset_simulations <- function(sims, i) {
  sims$parameters <- sims$parameters[i, , drop = FALSE]
  sims$data <- take_rows(sims$data, i)
  if (!is.null(sims$lengths)) sims$lengths <- take_lengths(sims$lengths, i)
  if (!is.null(sims$context)) sims$context <- sims$context[i, , drop = FALSE]
  sims
}

#' Subsets and prior draws of simulations
#'
#' `sims[i]` keeps the simulations `i` (row numbers, negative ones to drop,
#' or a logical vector), with their data, lengths and context: e.g. to hold
#' some out for checks, `train(a, sims[1:9000])` and `recovery(fit,
#' sims[9001:10000])`. `as_draws_df()` gives the simulated parameters as
#' prior draws (with the context variables), for the `posterior` and
#' `bayesplot` tools.
#'
#' @param x Simulations from [simulate()][simulate.amortized_simulator].
#' @param i Which simulations: positive or negative whole numbers, or a
#'   logical vector as long as the simulations.
#' @param ... Not used.
#' @return `[`: simulations; `as_draws_df()`: a `posterior::draws_df`, one
#'   draw per simulation.
#' @family simulation
#' @examples
#' sims <- simulate(benchmark_simulator("two_moons"), 100, seed = 1)
#' sims[1:10]
#' posterior::summarise_draws(posterior::as_draws_df(sims))
#' @name simulations-subset
#' @export
`[.amortized_simulations` <- function(x, i, ...) {
  if (...length() > 0) {
    cli::cli_abort("Simulations are subset by rows only: {.code sims[i]}.", class = "amortized_error_argument")
  }
  n <- nrow(x$parameters)
  if (missing(i)) return(x)
  rows <- if (is.logical(i)) {
    if (length(i) != n || anyNA(i)) {
      cli::cli_abort("A logical {.arg i} must have one TRUE/FALSE per simulation ({n}).",
                     class = "amortized_error_argument")
    }
    which(i)
  } else if (is.numeric(i) && !anyNA(i) && all(i == round(i)) && (all(i > 0) || all(i < 0)) && all(abs(i) <= n)) {
    seq_len(n)[i]
  } else {
    cli::cli_abort(c("{.arg i} must be row numbers in 1..{n} (or negative ones to drop) or a logical vector.",
                     "x" = "Got {describe_value(i)}."), class = "amortized_error_argument")
  }
  subset_simulations(x, rows)
}

#' @rdname simulations-subset
#' @rawNamespace S3method(posterior::as_draws_df, amortized_simulations)
as_draws_df.amortized_simulations <- function(x, ...) {
  m <- x$parameters
  if (!is.null(x$context)) m <- cbind(m, x$context[, setdiff(colnames(x$context), colnames(m)), drop = FALSE])
  posterior::as_draws_df(m)
}

#' @export
print.amortized_simulations <- function(x, ...) {
  cat("<amortized_simulations> ", nrow(x$parameters), " simulations\n", sep = "")
  cat("  parameters (", ncol(x$parameters), "): ", abbreviate_names(colnames(x$parameters)), "\n", sep = "")
  if (is_multi_source(x$data)) {
    cat("  data       ", length(x$data), " sources\n", sep = "")
    for (b in names(x$data)) {
      cat("    ", b, ": ", data_layout(data_names_of(x$data[[b]]), data_shape_of(x$data[[b]]), x$lengths[[b]]), "\n",
          sep = "")
    }
  } else {
    cat("  data       ", data_layout(data_names_of(x$data), dim(x$data)[-1], x$lengths), "\n", sep = "")
  }
  if (!is.null(x$context)) {
    ranges <- apply(x$context, 2, function(v) paste0(format(min(v)), "..", format(max(v))))
    cat("  context    (", ncol(x$context), "): ", paste(colnames(x$context), ranges, sep = " in ", collapse = ", "),
        "\n", sep = "")
  }
  invisible(x)
}

#' @export
summary.amortized_simulations <- function(object, ...) {
  describe <- function(m, what) {
    data.frame(block = what, variable = colnames(m), mean = colMeans(m),
               sd = apply(m, 2, stats::sd), min = apply(m, 2, min), max = apply(m, 2, max),
               row.names = NULL)
  }
  pooled <- function(data, lengths) {  # the valid observations of every data set
    if (length(dim(data)) != 3) return(data)
    valid <- as.vector(outer(lengths, seq_len(dim(data)[2]), `>=`))
    matrix(data, ncol = dim(data)[3], dimnames = list(NULL, dimnames(data)[[3]]))[valid, , drop = FALSE]
  }
  data <- if (is_multi_source(object$data)) {
    do.call(rbind, lapply(names(object$data), function(b) {
      describe(pooled(object$data[[b]], object$lengths[[b]]), paste0("data$", b))
    }))
  } else {
    describe(pooled(object$data, object$lengths), "data")
  }
  out <- rbind(describe(object$parameters, "parameters"), data)
  if (!is.null(object$context)) out <- rbind(out, describe(object$context, "context"))
  out
}
