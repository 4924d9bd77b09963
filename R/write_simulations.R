#' Store simulations on disk and read them back
#'
#' `write_simulations()` stores an `amortized_simulations` object as a
#' directory that other tools can read too:
#' * `simulations.json`: metadata: `format` (`"amortized-simulations"`),
#'   `format_version`, `package_version`, the number of simulations,
#'   `set_structure` where the data rows are exchangeable sets, what the
#'   simulator declares about its parameters (`symmetric`, `support` as
#'   exact strings with rows `lower` and `upper`, `truncated`, `reflections`
#'   as rows of exact strings, `equivariances` as rows of signed
#'   permutations under `parameters` and `data`; see [equivariance()]), and for
#'   `parameters` and `data` the file name, the dimensions, the variable
#'   names and an MD5 checksum;
#' * `parameters.f64` and `data.f64`: the values as little-endian 64-bit
#'   floats in row-major (C) order, e.g. in Python
#'   `numpy.fromfile("data.f64", "<f8").reshape(dim)`;
#' * for set data with a varying number of observations, `lengths.f64` (the
#'   observations of each data set; the data are padded with NaN after
#'   them), and for simulators with context variables `context.f64`
#'   (format version 2; simulations without them are written in version 1);
#' * for multi-source data (format version 3), `sources` in the metadata
#'   instead of `data`: per source (by name) its `data` block
#'   (`source_1.f64`, ...) and, for sets and series, its `lengths` block.
#'
#' `read_simulations()` checks the format and its version, the sizes and the
#' checksums, and fails with a clear message for a missing, corrupt or newer
#' store. Simulations read back can be given to [train()] and [sbc()].
#'
#' @param sims An `amortized_simulations` object from
#'   [simulate()][simulate.amortized_simulator] (or `read_simulations()`).
#' @param path A directory: created by `write_simulations()` (its parent
#'   must exist), read by `read_simulations()`.
#' @param overwrite Replace an existing store at `path`.
#' @return `write_simulations()`: `path`, invisibly. `read_simulations()`:
#'   the `amortized_simulations` object.
#' @family simulation
#' @examples
#' sims <- simulate(benchmark_simulator("two_moons"), 1000, seed = 1)
#' path <- file.path(tempdir(), "two_moons_sims")
#' write_simulations(sims, path)
#' identical(read_simulations(path)$data, sims$data)
#' @export
write_simulations <- function(sims, path, overwrite = FALSE) {
  if (!inherits(sims, "amortized_simulations")) {
    cli::cli_abort(c("{.arg sims} must be simulations from {.fn simulate}.",
                     "x" = "Got {describe_value(sims)}."), class = "amortized_error_argument")
  }
  path <- check_path(path)
  overwrite <- check_flag(overwrite)
  if (file.exists(path)) {
    if (!overwrite) {
      cli::cli_abort(c("{.arg path} already exists: {.path {path}}.",
                       "i" = "Use {.code overwrite = TRUE} to replace it."), class = "amortized_error_argument")
    }
    if (!file.exists(file.path(path, simulations_meta_file))) {
      cli::cli_abort("{.arg path} exists and is not a store of simulations; not replacing {.path {path}}.",
                     class = "amortized_error_argument")
    }
    unlink(path, recursive = TRUE)
  }
  if (!dir.exists(dirname(path))) {
    cli::cli_abort("The parent directory of {.arg path} does not exist: {.path {dirname(path)}}.",
                   class = "amortized_error_argument")
  }
  dir.create(path)
  block <- function(x, file) {
    storage.mode(x) <- "double"
    con <- file(file.path(path, file), "wb")
    writeBin(as.vector(aperm(x, rev(seq_along(dim(x))))), con, size = 8, endian = "little")
    close(con)
    list(file = file, dim = I(dim(x)), names = I(data_names_of(x)),
         md5 = unname(tools::md5sum(file.path(path, file))))
  }
  multi <- is_multi_source(sims$data)
  varying <- !multi && !is.null(sims$lengths) && length(unique(sims$lengths)) > 1
  extra <- varying || !is.null(sims$context)
  lengths_block <- function(lengths, file) {
    block(matrix(as.numeric(lengths), ncol = 1, dimnames = list(NULL, "lengths")), file)
  }
  sources <- if (multi) {
    lapply(stats::setNames(seq_along(sims$data), names(sims$data)), function(i) {
      b <- names(sims$data)[i]
      Filter(Negate(is.null), list(
        data = block(sims$data[[b]], sprintf("source_%d.f64", i)),
        lengths = if (!is.null(sims$lengths[[b]])) lengths_block(sims$lengths[[b]], sprintf("source_%d_lengths.f64", i))))
    })
  }
  meta <- list(format = "amortized-simulations", format_version = if (multi) 3L else if (extra) 2L else 1L,
               package_version = as.character(utils::packageVersion("amortized")),
               n = nrow(sims$parameters), byte_order = "little", type = "float64", order = "row-major",
               set_structure = if (!is.null(sims$set_structure)) I(sims$set_structure),
               symmetric = if (!is.null(sims$symmetric)) I(sims$symmetric),
               # as exact strings: JSON has no infinity
               support = if (!is.null(sims$support)) list(lower = I(sprintf("%.17g", sims$support[1, ])),
                                                          upper = I(sprintf("%.17g", sims$support[2, ]))),
               truncated = if (!is.null(sims$truncated)) I(sims$truncated),
               reflections = if (!is.null(sims$reflections)) lapply(seq_len(nrow(sims$reflections)), function(k)
                 I(sprintf("%.17g", sims$reflections[k, ]))),
               equivariances = if (!is.null(sims$equivariances)) list(
                 parameters = lapply(sims$equivariances, function(e) I(e$parameters)),
                 data = lapply(sims$equivariances, function(e) I(e$data))),
               parameters = block(sims$parameters, "parameters.f64"),
               data = if (!multi) block(sims$data, "data.f64"),
               sources = sources,
               lengths = if (varying) lengths_block(sims$lengths, "lengths.f64"),
               context = if (!is.null(sims$context)) block(sims$context, "context.f64"))
  meta <- Filter(Negate(is.null), meta)
  jsonlite::write_json(meta, file.path(path, simulations_meta_file), auto_unbox = TRUE,
                       pretty = TRUE, digits = NA)
  invisible(path)
}

#' @rdname write_simulations
#' @export
read_simulations <- function(path) {
  path <- check_path(path)
  meta_path <- file.path(path, simulations_meta_file)
  if (!file.exists(meta_path)) {
    cli::cli_abort("{.path {path}} is not a store of simulations (no {.file {simulations_meta_file}}).",
                   class = "amortized_error_data")
  }
  corrupt <- function(why) {
    cli::cli_abort(c("The simulations in {.path {path}} are corrupt.", "x" = "{why}"), class = "amortized_error_data",
                   call = rlang::caller_env(2))
  }
  meta <- tryCatch(jsonlite::read_json(meta_path, simplifyVector = TRUE),
                   error = function(e) corrupt(paste("Unreadable metadata:", conditionMessage(e))))
  if (!identical(meta$format, "amortized-simulations")) corrupt("The metadata do not describe amortized simulations.")
  version <- meta$format_version
  if (!is.numeric(version) || length(version) != 1) corrupt("The format version is missing.")
  if (version > simulations_format_version) {
    cli::cli_abort(c("{.path {path}} was written in simulations format {version} (by amortized {meta$package_version}); this version reads up to format {simulations_format_version}.",
                     "i" = "Update the amortized package."), class = "amortized_error_data")
  }
  block <- function(b, what) {
    if (!is.list(b) || !is.character(b$file) || !is.numeric(b$dim) || length(b$dim) < 2 ||
        length(b$names) != b$dim[length(b$dim)]) {
      corrupt(paste("The description of", what, "is incomplete."))
    }
    file <- file.path(path, b$file)
    if (!file.exists(file)) corrupt(paste("The file of", what, "is missing:", b$file))
    n_values <- prod(b$dim)
    if (file.size(file) != 8 * n_values) {
      corrupt(sprintf("%s holds %s bytes; %s x 8 expected.", b$file, format(file.size(file)), format(n_values)))
    }
    if (!identical(unname(tools::md5sum(file)), b$md5)) corrupt(paste("The checksum of", b$file, "does not match."))
    con <- file(file, "rb")
    on.exit(close(con))
    v <- readBin(con, "double", n = n_values, size = 8, endian = "little")
    x <- aperm(array(v, rev(b$dim)), rev(seq_along(b$dim)))
    dn <- vector("list", length(b$dim))
    dn[[length(dn)]] <- as.character(b$names)
    dimnames(x) <- dn
    x
  }
  parameters <- block(meta$parameters, "the parameters")
  if (nrow(parameters) != meta$n) corrupt("The numbers of rows do not match.")
  # one data block with its lengths (NULL: none stored)
  read_data <- function(data_meta, lengths_meta, what) {
    data <- block(data_meta, what)
    lengths <- if (!is.null(lengths_meta)) as.integer(block(lengths_meta, paste("the lengths of", what))[, 1])
    if (nrow(data) != meta$n || (!is.null(lengths) && length(lengths) != meta$n)) {
      corrupt("The numbers of rows do not match.")
    }
    if (!is.null(lengths) && (length(dim(data)) != 3 || any(lengths < 1 | lengths > dim(data)[2]))) {
      corrupt(paste("The lengths do not fit", what))
    }
    list(data = data, lengths = lengths)
  }
  if (!is.null(meta$sources)) {
    if (!is.list(meta$sources) || is.null(names(meta$sources))) corrupt("The description of the sources is incomplete.")
    parts <- lapply(names(meta$sources), function(b) {
      read_data(meta$sources[[b]]$data, meta$sources[[b]]$lengths, paste0("source ", b))
    })
    names(parts) <- names(meta$sources)
    data <- lapply(parts, `[[`, "data")
    lengths <- Filter(Negate(is.null), lapply(parts, `[[`, "lengths"))
    if (length(lengths) == 0) lengths <- NULL
  } else {
    part <- read_data(meta$data, meta$lengths, "the data")
    data <- part$data
    lengths <- part$lengths
  }
  context <- if (!is.null(meta$context)) block(meta$context, "the context")
  if (!is.null(context) && nrow(context) != meta$n) corrupt("The numbers of rows do not match.")
  symmetric <- meta$symmetric
  if (!is.null(symmetric) && (!is.character(symmetric) || !all(symmetric %in% colnames(parameters)))) {
    corrupt("The symmetric parameters are not parameters of these simulations.")
  }
  truncated <- meta$truncated
  if (!is.null(truncated) && (!is.character(truncated) || !all(truncated %in% colnames(parameters)))) {
    corrupt("The truncated parameters are not parameters of these simulations.")
  }
  reflections <- meta$reflections
  if (!is.null(reflections)) {
    rows <- lapply(json_rows(reflections), function(r) suppressWarnings(as.numeric(r)))
    if (!all(lengths(rows) == ncol(parameters)) || anyNA(unlist(rows))) {
      corrupt("The normals of the reflections do not match the parameters.")
    }
    reflections <- do.call(rbind, rows)
  }
  equivariances <- meta$equivariances
  if (!is.null(equivariances)) {
    p <- json_rows(equivariances$parameters)
    d <- json_rows(equivariances$data)
    if (length(p) != length(d) || !all(lengths(p) == ncol(parameters)) ||
        !all(vapply(c(p, d), is_signed_permutation, TRUE))) {
      corrupt("The equivariances do not match the parameters.")
    }
    equivariances <- Map(function(a, b) list(parameters = a, data = b), p, d)
  }
  support <- meta$support
  if (!is.null(support)) {
    lower <- suppressWarnings(as.numeric(support$lower))
    upper <- suppressWarnings(as.numeric(support$upper))
    if (length(lower) != ncol(parameters) || length(upper) != ncol(parameters) || anyNA(c(lower, upper))) {
      corrupt("The prior support does not match the parameters.")
    }
    support <- rbind(lower, upper)
  }
  new_simulations(parameters, data, set_structure = meta$set_structure, lengths = lengths, context = context,
                  symmetric = symmetric, support = support, truncated = truncated, reflections = reflections,
                  equivariances = equivariances)
}

# The newest format written (3: multi-source data; 2: lengths and context);
# 1 and 2 are still read, and written when they suffice.
simulations_format_version <- 3L
# The rows of a JSON array of arrays as read with simplifyVector: a matrix
# when they have the same length, else a list.
json_rows <- function(m) if (is.matrix(m)) lapply(seq_len(nrow(m)), function(k) m[k, ]) else lapply(m, unlist)

simulations_meta_file <- "simulations.json"

check_path <- function(path, arg = rlang::caller_arg(path), call = rlang::caller_env()) {
  if (!is.character(path) || length(path) != 1 || is.na(path) || !nzchar(path)) {
    cli::cli_abort(c("{.arg {arg}} must be a single path.", "x" = "Got {describe_value(path)}."),
                   class = "amortized_error_argument", call = call)
  }
  path.expand(path)
}
