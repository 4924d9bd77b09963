# Input checks shared by the exported functions. Each fails with a
# cli_abort() that names the argument, what was given and what was expected;
# `call` points the error at the user's function.

describe_value <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.function(x)) return("a function")
  cls <- class(x)[1]
  if (is.atomic(x) && length(x) == 1) return(paste0(cls, " ", format(x)))
  if (is.atomic(x)) return(paste0("a ", cls, " vector of length ", length(x)))
  paste0("an object of class <", cls, ">")
}

# A whole number in [min, 2^31 - 1] (R's integer range: counts reach the
# core as C ints), as an integer.
check_count <- function(x, arg = rlang::caller_arg(x), min = 1, call = rlang::caller_env()) {
  if (!is.numeric(x) || length(x) != 1 || is.na(x) || !is.finite(x) || x != round(x) || x < min) {
    cli::cli_abort(c("{.arg {arg}} must be a whole number >= {min}.",
                     "x" = "Got {describe_value(x)}."),
                   class = "amortized_error_argument", call = call)
  }
  if (x > .Machine$integer.max) {
    max <- .Machine$integer.max
    cli::cli_abort(c("{.arg {arg}} must be a whole number >= {min} and at most {max}.",
                     "x" = "Got {format(x, scientific = TRUE)}, beyond R's integer range."),
                   class = "amortized_error_argument", call = call)
  }
  as.integer(x)
}

check_number <- function(x, arg = rlang::caller_arg(x), lower = -Inf, upper = Inf,
                         lower_open = FALSE, upper_open = FALSE, call = rlang::caller_env()) {
  ok <- is.numeric(x) && length(x) == 1 && !is.na(x) && is.finite(x) &&
    (if (lower_open) x > lower else x >= lower) && (if (upper_open) x < upper else x <= upper)
  if (!ok) {
    range <- paste0(if (lower_open) "(" else "[", lower, ", ", upper, if (upper_open) ")" else "]")
    cli::cli_abort(c("{.arg {arg}} must be a number in {range}.", "x" = "Got {describe_value(x)}."),
                   class = "amortized_error_argument", call = call)
  }
  as.numeric(x)
}

check_flag <- function(x, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  if (!is.logical(x) || length(x) != 1 || is.na(x)) {
    cli::cli_abort(c("{.arg {arg}} must be TRUE or FALSE.", "x" = "Got {describe_value(x)}."),
                   class = "amortized_error_argument", call = call)
  }
  x
}

# NULL or a whole number in [0, 2^31); NULL draws one from R's RNG, so that
# set.seed() before a call also makes it reproducible.
resolve_seed <- function(seed, arg = rlang::caller_arg(seed), call = rlang::caller_env()) {
  if (is.null(seed)) return(floor(stats::runif(1) * 2147483647))
  if (!is.numeric(seed) || length(seed) != 1 || is.na(seed) || seed != round(seed) ||
      seed < 0 || seed >= 2^31) {
    cli::cli_abort(c("{.arg {arg}} must be NULL or a whole number in [0, 2^31).",
                     "x" = "Got {describe_value(seed)}."),
                   class = "amortized_error_argument", call = call)
  }
  as.numeric(seed)
}

check_threads <- function(threads, arg = rlang::caller_arg(threads), call = rlang::caller_env()) {
  check_count(threads, arg = arg, min = 1, call = call)
}

# Evaluates `expr` with R's RNG seeded by `seed`, leaving the caller's RNG
# state as it was.
with_seed <- function(seed, expr) {
  env <- globalenv()
  had <- exists(".Random.seed", envir = env, inherits = FALSE)
  old <- if (had) get(".Random.seed", envir = env, inherits = FALSE)
  on.exit(if (had) assign(".Random.seed", old, envir = env) else
    rm(list = ".Random.seed", envir = env), add = TRUE)
  set.seed(seed)
  expr
}

# Calls into the C++ core; an error there becomes an amortized error
# attributed to the user's call.
core_call <- function(expr, call = rlang::caller_env()) {
  tryCatch(expr, error = function(e) {
    msg <- conditionMessage(e)
    cli::cli_abort("{msg}", class = "amortized_error_core", call = call)
  })
}

# One of `choices` (a string); the whole vector, as a default written
# c("a", "b"), means the first.
check_choice <- function(x, choices, arg = rlang::caller_arg(x), call = rlang::caller_env()) {
  if (identical(x, choices)) return(choices[1])
  if (!is.character(x) || length(x) != 1 || !x %in% choices) {
    near <- if (is.character(x) && length(x) == 1 && !is.na(x)) closest_name(x, choices)
    cli::cli_abort(c("{.arg {arg}} must be one of {.or {.val {choices}}}.",
                     "x" = if (length(near)) "Got {.val {x}}: did you mean {.val {near}}?" else "Got {describe_value(x)}."),
                   class = "amortized_error_argument", call = call)
  }
  x
}

# The element of `known` nearest to `name` (edit distance, case ignored),
# if it is near enough to be a typo; NULL otherwise.
closest_name <- function(name, known) {
  d <- utils::adist(name, known, ignore.case = TRUE)[1, ]
  near <- known[d == min(d) & d <= max(2, nchar(name) %/% 3)]
  if (length(near)) near[1]
}

# "cpu", "cuda" or "auto"; "cuda" without CUDA fails here, with the reason.
check_device <- function(device, arg = rlang::caller_arg(device), call = rlang::caller_env()) {
  device <- check_choice(device, c("cpu", "cuda", "auto"), arg = arg, call = call)
  if (device == "cuda" && !.amz_cuda_available()) {
    cli::cli_abort(c("{.arg {arg}} is {.val cuda}, but LibTorch sees no CUDA GPU here (a CPU-only LibTorch, or no GPU visible).",
                     "i" = "Use {.code device = \"cpu\"} or {.code device = \"auto\"}, or install amortized against a CUDA LibTorch (see {.envvar LIBTORCH})."),
                   class = "amortized_error_device", call = call)
  }
  if (device == "auto") device <- if (.amz_cuda_available()) "cuda" else "cpu"
  device
}

# Threads for inference (draws, densities, diagnostics): option
# `amortized.inference_threads`, else what a quick measurement at the first
# use in the session picks (cached): the physical cores (at most 4) where
# they draw from a default posterior flow at least 1.2x faster than one
# thread, else 1 (fastest_threads() in the core). Measured both ways: on one machine 2 threads made SBC 1.5x
# faster, on another a batch of draws 2x slower; training on small batches
# is fastest on 1 thread (option `amortized.threads`).
inference_threads <- function() {
  n <- getOption("amortized.inference_threads")
  if (!is.null(n)) return(n)
  if (is.null(session$inference_threads)) {
    cores <- suppressWarnings(parallel::detectCores(logical = FALSE))
    if (is.na(cores) || cores < 1) cores <- 1L
    cores <- as.integer(min(cores, 4L))
    session$inference_threads <- if (cores > 1) .amz_fastest_threads(cores) else 1L
  }
  session$inference_threads
}

# What the package works out once per session (inference_threads()).
session <- new.env(parent = emptyenv())

# Fails at once when a result of n_values doubles (times `copies`: the
# working copies the computation holds besides the result) cannot fit in
# memory: the message names the argument, its value and the size needed.
# The budget: option amortized.max_memory (bytes), else the memory
# available (Linux: MemAvailable), else no limit.
check_request_size <- function(n_values, arg, value, what = "the result", copies = 2,
                               call = rlang::caller_env()) {
  need <- 8 * as.double(n_values) * (1 + copies)
  budget <- getOption("amortized.max_memory", available_memory())
  if (is.finite(need) && need <= budget) return(invisible(need))
  cli::cli_abort(c("{.arg {arg}} = {format(value, big.mark = ',', scientific = FALSE)} asks for too much memory: {what} and its working copies would need {format_bytes(need)}.",
                   "i" = "Available: {format_bytes(budget)} (set {.code options(amortized.max_memory = )} to change the budget).",
                   "i" = "Ask for less, or in parts."),
                 class = c("amortized_error_memory", "amortized_error_argument"), call = call)
}

available_memory <- function() {
  info <- tryCatch(readLines("/proc/meminfo", n = 5, warn = FALSE), error = function(e) character())
  line <- grep("^MemAvailable:", info, value = TRUE)
  if (length(line) == 1) return(as.numeric(gsub("[^0-9]", "", line)) * 1024)
  Inf
}

format_bytes <- function(bytes) {
  if (!is.finite(bytes)) return("unlimited")
  units <- c("B", "kB", "MB", "GB", "TB", "PB", "EB")
  k <- max(0, min(length(units) - 1, floor(log(max(bytes, 1), 1000))))
  sprintf("%.3g %s", bytes / 1000^k, units[k + 1])
}

# Arguments that reached `...` of a verb that takes none: an error naming
# them (with the closest argument of `fn` where one is near), so that a typo
# such as `sed = 1` or `ndraws = 100` does not silently do something else.
check_no_dots <- function(dots, fn, call = rlang::caller_env()) {
  if (length(dots) == 0) return(invisible())
  nm <- names(dots) %||% rep("", length(dots))
  known <- setdiff(names(formals(fn)), "...")
  lines <- vapply(seq_along(dots), function(i) {
    if (!nzchar(nm[i])) return(sprintf("An unnamed argument (position %d among the extra ones).", i))
    near <- closest_name(nm[i], known)
    if (length(near)) sprintf("`%s`: did you mean `%s`?", nm[i], near) else sprintf("`%s`", nm[i])
  }, "")
  head <- if (length(dots) == 1) "Unknown argument." else sprintf("%d unknown arguments.", length(dots))
  cli::cli_abort(c(head, stats::setNames(lines, rep("x", length(lines))),
                   "i" = "The arguments are: {.arg {known}}."),
                 class = "amortized_error_argument", call = call)
}
