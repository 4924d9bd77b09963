#' Draw from the amortized posterior for observed data
#'
#' Draws `n_draws` samples from q(theta | x) for one or many observed data
#' sets in a single batched pass through the network (no retraining, no R
#' loop over observations).
#'
#' **Layout of the draws.** For one observation (`data` a vector) the
#' variables carry the parameter names (`mu`, `sigma`). For many observations
#' (`data` a matrix or data frame, one row each) the variables are indexed by
#' observation, as arrays are in Stan: `mu[3]` is `mu` for the third row of
#' `data`. `posterior::summarise_draws()` then gives one row per parameter and
#' observation, and `posterior::subset_draws(draws, variable = "mu")` selects
#' `mu` for all observations.
#'
#' @param object A trained [amortizer()].
#' @param data Observed data: a numeric vector (one data set) or a numeric
#'   matrix or data frame with one data set per row. Values are matched to the
#'   simulator's data names when `data` has names, else taken in order.
#' @param n_draws Draws per observation.
#' @param seed `NULL` or a whole number; the same seed gives identical draws.
#' @param threads CPU threads for LibTorch.
#' @param ... Unused.
#' @return A [posterior::draws_df] with `n_draws` draws.
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(), sim, n_sims = 2000, epochs = 5, seed = 1)
#' draws <- sample_posterior(fit, rep(0.1, 10), n_draws = 500)
#' posterior::summarise_draws(draws)
#' }
#' @export
sample_posterior <- function(object, data, n_draws = 1000, seed = NULL,
                             threads = getOption("amortized.threads", 1L), ...) {
  check_amortizer(object)
  if (missing(data)) {
    cli::cli_abort("{.arg data} is missing: give the observed data set(s).", class = "amortized_error_argument")
  }
  n_draws <- check_count(n_draws)
  threads <- check_threads(threads)
  seed <- resolve_seed(seed)
  obs <- as_observations(data, object$data_names)
  arr <- core_call(.amz_npe_sample(model_pointer(object), obs$matrix, n_draws, seed, threads))
  draws_from_array(arr, object$parameter_names, obs$single)
}

# Coerces observed data to an n_obs x d matrix in the simulator's data order.
# Returns list(matrix, single) where single = data was one vector.
# unit: what one row is, for messages ("data set", "parameter vector").
as_observations <- function(data, data_names, arg = "data", unit = "data set", call = rlang::caller_env()) {
  d <- length(data_names)
  single <- is.null(dim(data)) && !is.list(data)
  if (is.data.frame(data)) {
    if (!all(vapply(data, is.numeric, logical(1)))) {
      cli::cli_abort("{.arg {arg}} must have only numeric columns.", class = "amortized_error_data", call = call)
    }
    data <- as.matrix(data)
  }
  if (!is.numeric(data) || is.list(data) || (!is.null(dim(data)) && length(dim(data)) != 2)) {
    cli::cli_abort(c("{.arg {arg}} must be a numeric vector (one {unit}) or a numeric matrix or data frame (one {unit} per row).",
                     "x" = "Got {describe_value(data)}."), class = "amortized_error_data", call = call)
  }
  nm <- if (single) names(data) else colnames(data)
  m <- if (single) matrix(data, nrow = 1) else data
  if (ncol(m) != d) {
    cli::cli_abort(c("{.arg {arg}} must have {d} value{?s} per {unit} ({abbreviate_names(data_names)}).",
                     "x" = "Got {ncol(m)}."), class = "amortized_error_data", call = call)
  }
  if (!is.null(nm) && !all(nm == "")) {
    missing_names <- setdiff(data_names, nm)
    if (length(missing_names) > 0) {
      cli::cli_abort(c("{.arg {arg}} has names that do not match the names the amortizer was trained on.",
                       "x" = "Missing: {.val {missing_names}}."), class = "amortized_error_data", call = call)
    }
    m <- m[, match(data_names, nm), drop = FALSE]
  }
  if (nrow(m) == 0) {
    cli::cli_abort("{.arg {arg}} has no rows.", class = "amortized_error_data", call = call)
  }
  bad <- which(rowSums(!is.finite(m)) > 0)
  if (length(bad) > 0) {
    where <- if (single) "" else paste0(" in row", if (length(bad) > 1) "s", " ", paste(utils::head(bad, 5), collapse = ", "),
                                        if (length(bad) > 5) ", ...")
    cli::cli_abort(c("{.arg {arg}} contains NA, NaN or infinite values{where}.",
                     "i" = "The amortizer needs complete, finite data."), class = "amortized_error_data", call = call)
  }
  storage.mode(m) <- "double"
  dimnames(m) <- list(NULL, data_names)
  list(matrix = m, single = single)
}

# arr: [n_draws, n_obs, n_par] -> draws_df; variables indexed by observation
# unless single.
draws_from_array <- function(arr, parameter_names, single) {
  dims <- dim(arr)
  m <- matrix(arr, nrow = dims[1], ncol = dims[2] * dims[3])
  colnames(m) <- if (single) parameter_names else
    index_names(rep(parameter_names, each = dims[2]), rep(seq_len(dims[2]), dims[3]))
  posterior::as_draws_df(m)
}

# "mu" + 3 -> "mu[3]"; "beta[2]" + 3 -> "beta[2,3]".
index_names <- function(names, index) {
  has <- grepl("\\]$", names)
  ifelse(has, paste0(sub("\\]$", "", names), ",", index, "]"), paste0(names, "[", index, "]"))
}
