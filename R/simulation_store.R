# A store of simulations that survives faults: simulate(sim, n, seed = ,
# store = "dir/") writes each chunk to the directory as soon as it is
# finished and checked, and the same call after a crash, an interrupt or a
# failed worker simulates the missing chunks only. The chunks and their
# random streams depend on n, the seed and chunk_size alone, so the result
# is identical to an uninterrupted run.
#
# Layout: store.json (what the run is: n, seed, chunk sizes, a fingerprint
# of the simulator; written once), declarations.rds (the simulator's
# declared structure, plain values), and chunk-<i>-<md5>.rds for each
# finished chunk, the md5 of the file in its name. A chunk is written to a
# temporary file and renamed into place, so it is either complete (its
# checksum matches) or absent; a file whose checksum does not match is
# ignored and simulated again.

store_format <- "amortized-simulation-store"

# Opens (creating) the store for a run; an error when it holds another run.
store_open <- function(path, sim, n, seed, sizes, call = rlang::caller_env()) {
  if (!dir.exists(path) && !dir.create(path, recursive = TRUE, showWarnings = FALSE)) {
    cli::cli_abort("Cannot create the store directory {.path {path}}.", class = "amortized_error_argument", call = call)
  }
  run <- list(format = store_format, format_version = 1L, kind = sim$type, n = n, seed = seed, sizes = as.integer(sizes),
              simulator = simulator_fingerprint(sim), package_version = as.character(utils::packageVersion("amortized")))
  manifest <- file.path(path, "store.json")
  if (file.exists(manifest)) {
    old <- store_manifest(path)
    if (!identical(old$format, store_format)) {
      cli::cli_abort("{.path {path}} holds something else than a simulation store.", class = "amortized_error_argument",
                     call = call)
    }
    differs <- Filter(function(f) !identical(as.character(old[[f]]), as.character(run[[f]])),
                      c("n", "seed", "sizes", "simulator"))
    if (length(differs) > 0) {
      what <- c(n = "the number of simulations", seed = "the seed", sizes = "the chunk sizes",
                simulator = "the simulator")[differs]
      cli::cli_abort(c("The store {.path {path}} holds another run: {paste(what, collapse = ', ')} differ{?s/}.",
                       "i" = "Use another directory, or delete this one to start afresh."),
                     class = "amortized_error_argument", call = call)
    }
  } else {
    write_atomically(manifest, function(tmp) jsonlite::write_json(run, tmp, auto_unbox = TRUE, digits = NA))
    write_atomically(file.path(path, "declarations.rds"), function(tmp) saveRDS(declarations_of(sim), tmp))
  }
  list(path = path, sizes = sizes)
}

# What identifies a simulator across sessions: a benchmark's name and
# options; an R simulator's parameter and context names. Not an R
# simulator's code: fixing the model that made a chunk fail, then running
# the same call again, is how a run is finished.
simulator_fingerprint <- function(sim) {
  key <- if (sim$type == "benchmark") {
    list(sim$name, sim$options, sim$context)
  } else {
    list("r", sim$vectorized, names(sim$context))
  }
  raw_md5(serialize(key, NULL, version = 2))
}

declarations_of <- function(sim) {
  sim[intersect(names(sim), c("set_structure", "symmetric", "support", "truncated", "reflections", "equivariances"))]
}

# Writes a file by writing a temporary file beside it (in `dir`) and
# renaming it; `path` may be a function of the written temporary file.
write_atomically <- function(path, write, dir = dirname(path)) {
  tmp <- tempfile(".partial-", tmpdir = dir)
  on.exit(if (file.exists(tmp)) unlink(tmp))
  write(tmp)
  if (is.function(path)) path <- path(tmp)  # a name known only once written
  if (!file.rename(tmp, path)) stop("cannot write ", path)
  invisible(path)
}

# The finished chunk i (its checked value), or NULL when it is absent or
# damaged.
store_read_chunk <- function(store, i) {
  files <- list.files(store$path, pattern = sprintf("^chunk-%06d-[0-9a-f]{32}\\.rds$", i), full.names = TRUE)
  for (f in files) {
    want <- sub("^chunk-[0-9]+-([0-9a-f]{32})\\.rds$", "\\1", basename(f))
    if (identical(unname(tools::md5sum(f)), want)) {
      value <- tryCatch(readRDS(f), error = function(e) NULL)
      if (!is.null(value)) return(value)
    }
  }
  NULL
}

store_write_chunk <- function(store, i, value) {
  write_atomically(function(tmp) file.path(store$path, sprintf("chunk-%06d-%s.rds", i, unname(tools::md5sum(tmp)))),
                   function(tmp) saveRDS(value, tmp), dir = store$path)
}

# Reads a complete store: the simulations, as simulate() returned them.
read_store <- function(path, keep_nonfinite = FALSE, call = rlang::caller_env()) {
  run <- store_manifest(path)
  if (!identical(run$format, store_format) || !is.numeric(run$sizes)) {
    cli::cli_abort("{.path {path}} is not a simulation store (see {.code simulate(..., store = )}).",
                   class = "amortized_error_argument", call = call)
  }
  store <- list(path = path, sizes = run$sizes)
  chunks <- lapply(seq_along(run$sizes), function(i) store_read_chunk(store, i))
  missing <- which(vapply(chunks, is.null, logical(1)))
  if (length(missing) > 0) {
    cli::cli_abort(c("The simulation store {.path {path}} is incomplete: {length(missing)} of {length(chunks)} chunk{?s} missing.",
                     "i" = "Run the same {.code simulate(sim, {run$n}, seed = {run$seed}, store = )} call to finish it."),
                   class = "amortized_error_data", call = call)
  }
  sim <- c(list(type = "store"), readRDS(file.path(path, "declarations.rds")))
  raw <- if (identical(run$kind, "benchmark")) chunks[[1]] else bind_chunks(chunks)
  simulations_from_raw(raw, sim, keep_nonfinite = keep_nonfinite, call = call)
}

# The seed of the run a store holds (NULL: no store there yet), so that a
# call without a seed resumes the stored run.
store_seed <- function(path) {
  if (is.null(path)) return(NULL)
  run <- store_manifest(path)
  if (is.numeric(run$seed) && length(run$seed) == 1) run$seed
}

# What store.json says of the run (NULL when it is absent or unreadable).
store_manifest <- function(path) {
  manifest <- file.path(path, "store.json")
  if (!file.exists(manifest)) return(NULL)
  tryCatch(jsonlite::read_json(manifest, simplifyVector = TRUE), error = function(e) NULL)
}

is_store_path <- function(x) {
  is.character(x) && length(x) == 1 && !is.na(x) && file.exists(file.path(x, "store.json"))
}
