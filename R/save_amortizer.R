#' Save a trained amortizer to a file and load it back
#'
#' `save_amortizer()` writes everything a trained amortizer is into one
#' file: the architecture (the options of every network), the configurator
#' state (bounds, data steps, structure, context), the parameter and data
#' names, the weights and standardizations, and the training history. The
#' file records its format version and the package version, and a checksum
#' of the weights. `load_amortizer()` checks all of these and fails with a
#' clear message for a file that is not an amortizer, is damaged, or was
#' written in a newer format; files of older formats keep loading.
#'
#' The layout (format 1): the 16 bytes `AMORTIZED-MODEL\n`; the length of
#' the header as a little-endian 32-bit integer; the header, JSON (UTF-8)
#' with `format`, `format_version`, `package_version`, a human-readable
#' `description`, the `tensors` (names and shapes), `n_values`, `values_md5`
#' and the amortizer's settings (`object`, in `jsonlite::serializeJSON()`
#' form); then every weight as a little-endian 64-bit float, tensor after
#' tensor in row-major order. The weights do not depend on LibTorch's own
#' serialization format.
#'
#' **Files from elsewhere.** `load_amortizer()` never runs or restores code
#' from a file unless asked: an amortizer of an R simulator keeps its
#' prior's R functions (for posteriors by MCMC and evidences) and a model
#' comparison its candidate simulators (for calibration checks); a file
#' could hold any code there. By default only data are read back, and those
#' parts are left out with a message (give the simulator where a verb needs
#' it); `trust = TRUE` restores them, for files you or someone you trust
#' wrote. Sizes in the header are checked against the file before anything
#' is allocated, and the network's size against the weights the file holds.
#'
#' `saveRDS()` works as well (the amortizer holds its weights as R data);
#' a file of `save_amortizer()` is the better archive: versioned, checked
#' and readable without R's serialization.
#'
#' @param object A trained [amortizer()].
#' @param path The file to write or read.
#' @param overwrite Replace an existing file.
#' @param trust Restore R functions (code) the file holds: only for files
#'   from a source you trust.
#' @return `save_amortizer()`: `path`, invisibly. `load_amortizer()`: the
#'   amortizer, ready to use.
#' @family workflow
#' @examples
#' \donttest{
#' fit <- train(amortizer(coupling_flow(n_layers = 2)), benchmark_simulator("two_moons"),
#'              n_sims = 1000, epochs = 2, seed = 1)
#' path <- tempfile(fileext = ".amortizer")
#' save_amortizer(fit, path)
#' fit2 <- load_amortizer(path)
#' }
#' @export
save_amortizer <- function(object, path, overwrite = FALSE) {
  check_amortizer(object, kind = NULL)
  path <- check_path(path)
  overwrite <- check_flag(overwrite)
  if (file.exists(path) && !overwrite) {
    cli::cli_abort(c("{.arg path} already exists: {.path {path}}.", "i" = "Use {.code overwrite = TRUE} to replace it."),
                   class = "amortized_error_argument")
  }
  if (!dir.exists(dirname(path))) {
    cli::cli_abort("The directory of {.arg path} does not exist: {.path {dirname(path)}}.",
                   class = "amortized_error_argument")
  }
  object <- upgrade_amortizer(object)
  state <- object$state
  payload <- writeBin(as.double(state$values), raw(), size = 8, endian = "little")
  settings <- object[setdiff(names(object), c("state", ".handle", "optimizer_state"))]
  header <- list(
    format = model_format, format_version = model_format_version,
    package_version = as.character(utils::packageVersion("amortized")),
    created = format(Sys.time(), "%Y-%m-%dT%H:%M:%S%z"),
    description = list(inference_net = format(object$inference_net),
                       summary_net = if (!is.null(object$config$summary_net)) format(object$config$summary_net),
                       parameters = object$parameter_names, data = object$data_names,
                       pipeline = describe_plan(object$config, object$parameter_names),
                       epochs = nrow(object$history), n_sims = object$info$n_sims),
    tensors = list(names = state$names, shapes = lapply(state$shapes, I)),
    n_values = length(state$values), values_md5 = raw_md5(payload),
    object = unclass(jsonlite::serializeJSON(settings, digits = NA))
  )
  json <- charToRaw(enc2utf8(as.character(jsonlite::toJSON(header, auto_unbox = TRUE, digits = NA, null = "null"))))
  tmp <- paste0(path, ".partial")
  con <- file(tmp, "wb")
  writeBin(charToRaw(model_magic), con)
  writeBin(length(json), con, size = 4, endian = "little")
  writeBin(json, con)
  writeBin(payload, con)
  close(con)
  if (!file.rename(tmp, path)) {
    unlink(tmp)
    cli::cli_abort("Could not write {.path {path}}.", class = "amortized_error_argument")
  }
  invisible(path)
}

#' @rdname save_amortizer
#' @export
load_amortizer <- function(path, trust = FALSE) {
  path <- check_path(path)
  trust <- check_flag(trust)
  if (!file.exists(path)) {
    cli::cli_abort("{.arg path} does not exist: {.path {path}}.", class = "amortized_error_argument")
  }
  corrupt <- function(why) {
    cli::cli_abort(c("{.path {path}} is not a readable amortizer file.", "x" = why), class = "amortized_error_file",
                   call = rlang::caller_env(2))
  }
  size <- file.size(path)
  con <- file(path, "rb")
  on.exit(close(con))
  magic <- readBin(con, "raw", nchar(model_magic))
  if (length(magic) < nchar(model_magic) || !identical(rawToChar(magic), model_magic)) {
    corrupt("It does not start like a file written by {.fn save_amortizer}.")
  }
  n_header <- readBin(con, "integer", 1, size = 4, endian = "little")
  if (length(n_header) != 1 || n_header < 2 || n_header > size) corrupt("Its header is damaged.")
  header <- tryCatch(jsonlite::fromJSON(rawToChar(readBin(con, "raw", n_header)), simplifyVector = FALSE),
                     error = function(e) corrupt(paste("Its header is not valid JSON:", conditionMessage(e))))
  if (!identical(header$format, model_format)) corrupt("Its header does not describe an amortizer.")
  version <- header$format_version
  if (!is.numeric(version) || length(version) != 1) corrupt("Its format version is missing.")
  if (version > model_format_version) {
    cli::cli_abort(c("{.path {path}} was written in amortizer file format {version} (by amortized {header$package_version}); this version reads up to format {model_format_version}.",
                     "i" = "Update the amortized package."), class = "amortized_error_file")
  }
  n_values <- header$n_values
  if (!is.numeric(n_values) || size != nchar(model_magic) + 4 + n_header + 8 * n_values) {
    corrupt("Its size does not match its header (truncated or extended).")
  }
  payload <- readBin(con, "raw", 8 * n_values)
  if (!identical(raw_md5(payload), header$values_md5)) corrupt("The checksum of its weights does not match.")
  object <- header$object
  dropped <- character()
  if (!trust) {  # data only: every node of another type (functions, calls, environments) becomes NULL
    tree <- tryCatch(jsonlite::fromJSON(object, simplifyVector = FALSE),
                     error = function(e) corrupt(paste("Its settings cannot be read:", conditionMessage(e))))
    tree <- strip_code(tree, function(where) dropped <<- c(dropped, where))
    object <- jsonlite::toJSON(tree, auto_unbox = TRUE, digits = NA, null = "null")
  }
  settings <- tryCatch(jsonlite::unserializeJSON(object),
                       error = function(e) corrupt(paste("Its settings cannot be read:", conditionMessage(e))))
  if (length(dropped) > 0) settings <- without_code_parts(settings, dropped, path)
  tensors <- header$tensors
  settings$format_version <- settings$format_version %||% 1L  # files of format 1 did not record it
  x <- do.call(new_amortizer, settings[intersect(names(settings), names(formals(new_amortizer)))])
  for (field in setdiff(names(settings), names(formals(new_amortizer)))) x[[field]] <- settings[[field]]  # models, ...
  x$state <- list(names = as.character(unlist(tensors$names)),
                  shapes = lapply(tensors$shapes, function(s) as.integer(unlist(s))),
                  values = readBin(payload, "double", n_values, size = 8, endian = "little"))
  # sizes from the header, checked before the network is built (which
  # allocates what its architecture asks for): the tensors' shapes must
  # add up to the weights the file holds, and no width of the networks can
  # exceed them (a layer of width w has at least w weights)
  shape_total <- sum(vapply(x$state$shapes, function(s) prod(as.double(s)), numeric(1)))
  if (!isTRUE(shape_total == n_values)) corrupt("The shapes of its tensors do not add up to the weights it holds.")
  nets <- list(unclass(x$inference_net), unclass(x$summary_net), unclass(x$config$summary_net))
  widths <- as.numeric(rapply(nets, function(v) as.numeric(v), classes = c("numeric", "integer"), how = "unlist"))
  if (any(is.finite(widths) & widths > n_values)) corrupt("Its architecture asks for more weights than it holds.")
  x <- upgrade_amortizer(x)
  tryCatch(model_pointer(x), error = function(e) corrupt(paste("Its weights do not fit its architecture:",
                                                               conditionMessage(e))))
  x
}

model_magic <- "AMORTIZED-MODEL\n"
model_format <- "amortized-model"
model_format_version <- 2L

# MD5 of a raw vector (through a temporary file: base R hashes files).
raw_md5 <- function(bytes) {
  tmp <- tempfile()
  on.exit(unlink(tmp))
  writeBin(bytes, tmp)
  unname(tools::md5sum(tmp))
}

# A jsonlite::serializeJSON() tree with every node that is not plain data
# replaced by NULL; dropped(where) is told the path of each ("prior$draw").
strip_code <- function(node, dropped, where = "") {
  data_types <- c("NULL", "logical", "integer", "double", "character", "complex", "list")
  if (!is.list(node) || is.null(node$type)) return(node)
  if (!node$type %in% data_types) {
    dropped(where)
    return(list(type = "NULL"))
  }
  if (is.list(node$attributes) && length(node$attributes) > 0) {
    for (a in names(node$attributes)) {
      node$attributes[[a]] <- strip_code(node$attributes[[a]], dropped, paste0(where, "@", a))
    }
  }
  if (identical(node$type, "list") && is.list(node$value)) {
    names <- unlist(node$attributes$names$value)
    node$value <- lapply(seq_along(node$value), function(i) {
      strip_code(node$value[[i]], dropped, paste0(where, if (nzchar(where)) "$", names[i] %||% i))
    })
  }
  node
}

# Settings whose code was not restored: the parts that need it are left
# out, with a message saying which and how to get them back.
without_code_parts <- function(settings, dropped, path) {
  parts <- character()
  if (identical(settings$prior$type, "r")) {
    settings$prior <- NULL
    parts <- c(parts, "the prior's R functions (posteriors by MCMC and marginal likelihoods need the simulator)")
  }
  if (!is.null(settings$candidates)) {
    settings$candidates <- NULL
    parts <- c(parts, "the candidate simulators (give them to the checks)")
  }
  if (length(parts) == 0) parts <- paste("code at", paste(unique(dropped), collapse = ", "))
  cli::cli_inform(c("{.path {path}} holds R code; it was not restored: {paste(parts, collapse = '; ')}.",
                    "i" = "Use {.code load_amortizer(path, trust = TRUE)} for a file from a source you trust."),
                  class = "amortized_message_code_dropped")
  settings
}
