#' Learned summary statistics of data sets
#'
#' Passes data through a trained amortizer's summary network and returns
#' the summary statistics the inference network (or a model comparison's
#' classifier) is conditioned on: the
#' learned summaries of a [deep_set()], [set_transformer()],
#' [time_series_net()] or [time_series_transformer()]; for an amortizer
#' without summary network, the standardized data features. Use them to
#' inspect what the network extracts, or to compare observed with simulated
#' data (model misspecification shows as observed summaries far from the
#' simulated ones: see [misspecification_test()]).
#'
#' @param object A trained [amortizer()] of the posterior, joint or model
#'   comparison kind (a likelihood amortizer has no data embedding).
#' @param data Observed data as for [sample_posterior()], or an
#'   `amortized_simulations` object.
#' @param context Context variables, as for [sample_posterior()] (ignored
#'   for simulations, which carry theirs).
#' @param threads CPU threads for LibTorch; default: option
#'   `amortized.inference_threads`, else measured at the first use: the physical cores (at most 4) where they beat one thread, else 1 (see [amortized-package]).
#' @inheritParams sample_posterior
#' @return A numeric matrix with one row per data set and columns
#'   `summary_1`, `summary_2`, ...; with a [fusion()] of summary networks,
#'   the summaries of each source side by side, named by source
#'   (`trials_1`, ..., `series_1`, ...).
#' @family inference
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("ddm", n_obs = 20:60)
#' fit <- train(amortizer(summary_net = deep_set(summary_dim = 8)), sim, n_sims = 2000, epochs = 3)
#' learned_summaries(fit, simulate(sim, 5, seed = 1))
#' }
#' @export
learned_summaries <- function(object, data, context = NULL, threads = inference_threads(),
                              device = getOption("amortized.device", "cpu")) {
  check_data_embedding(object, "its network takes the parameters, not summaries of the data.",
                       "Learned summaries come from a posterior, joint or model comparison amortizer.")
  if (missing(data)) {
    cli::cli_abort("{.arg data} is missing: give data sets to summarise.", class = "amortized_error_argument")
  }
  threads <- check_threads(threads)
  device <- check_device(device)
  if (inherits(data, "amortized_simulations")) {
    check_same_variables(object, data, arg = "data")
    inputs <- simulation_inputs(object$config, data)
  } else {
    inputs <- observed_inputs(object, data, context)$inputs
  }
  summaries_of(object, inputs, threads, device)
}

# A trained amortizer with a data embedding (posterior, joint, model
# comparison), not a likelihood one: `why` and `hint` say what is missing.
check_data_embedding <- function(object, why, hint, call = rlang::caller_env()) {
  check_amortizer(object, arg = "object", kind = NULL, call = call)
  if (identical(object$kind, "likelihood")) {
    cli::cli_abort(c("{.arg object} estimates the likelihood: {why}", "i" = hint), class = "amortized_error_argument",
                   call = call)
  }
  invisible(object)
}

# The summaries of network inputs, with column names.
summaries_of <- function(object, inputs, threads, device, call = rlang::caller_env()) {
  out <- core_call(.amz_summaries(model_pointer(object), inputs$x, inputs$lengths, inputs$context, threads, device),
                   call = call)
  k <- ncol(out)
  nets <- object$config$summary_net$nets
  colnames(out) <- if (identical(object$config$structure, "fusion")) {  # by source: trials_1, ..., series_1, ...
    unlist(lapply(names(nets), function(b) paste0(b, "_", seq_len(nets[[b]]$summary_dim))))
  } else {
    paste0("summary_", seq_len(k))
  }
  out
}

# A reference for spotting observed data unlike every training simulation:
# the learned summaries of up to n_max held-out simulations (`rows` of
# sims), whitened, and `radius`, the largest leave-one-out distance of one
# of them to its k-th nearest neighbour among the others. An observed data
# set is like one more held-out simulation when the simulator is right, so
# its distance exceeds that largest one with probability about 1 / (n + 1);
# warn_outside_training() asks for 1.5 times it.
summary_reference <- function(object, sims, rows, threads, device, n_max = 1000L, k = 5L) {
  rows <- rows[seq_len(min(length(rows), n_max))]
  if (length(rows) < 50) return(NULL)
  s <- summaries_of(object, simulation_inputs(object$config, subset_simulations(sims, rows)), threads, device)
  s <- s[rowSums(!is.finite(s)) == 0, , drop = FALSE]
  if (nrow(s) < 50) return(NULL)
  w <- summary_whitening(s)
  if (is.null(w)) return(NULL)
  points <- whiten(s, w)
  d <- as.matrix(stats::dist(points))
  diag(d) <- Inf
  knn <- apply(d, 1, function(r) sort(r, partial = k)[k])
  c(w, list(points = points, k = k, radius = max(knn)))
}

# Whitening of summaries by a reference sample s: centred, rotated onto the
# eigenvectors of its covariance and scaled to unit variance along each.
# Learned summaries often vary mostly along one or two directions (those
# the posterior needs) and only slightly along others; whitened, every
# direction counts, so data that differ from the simulations where these
# vary little stand out. Directions whose variance is below 1e-9 of the
# largest (rounding) are dropped. NULL when nothing varies.
summary_whitening <- function(s) {
  e <- eigen(stats::cov(s), symmetric = TRUE)
  if (!is.finite(e$values[1]) || e$values[1] <= 0) return(NULL)
  keep <- which(e$values > 1e-9 * e$values[1])
  list(center = colMeans(s), rotation = e$vectors[, keep, drop = FALSE] %*% diag(1 / sqrt(e$values[keep]), length(keep)))
}

whiten <- function(s, w) sweep(s, 2, w$center) %*% w$rotation

# Distance of each row of z to its k-th nearest row of `points`.
knn_distance <- function(z, points, k) {
  pn <- rowSums(points^2)
  out <- numeric(nrow(z))
  for (start in seq(1, nrow(z), by = 1000)) {
    i <- start:min(nrow(z), start + 999)
    d2 <- outer(rowSums(z[i, , drop = FALSE]^2), pn, "+") - 2 * tcrossprod(z[i, , drop = FALSE], points)
    out[i] <- apply(d2, 1, function(r) sqrt(max(0, sort(r, partial = k)[k])))
  }
  out
}

# Warns (class amortized_warning_outside_training) when observed data sets
# (network inputs) lie far outside the training simulations in summary
# space; returns their indices invisibly.
warn_outside_training <- function(object, inputs, threads, device, arg = "data", call = rlang::caller_env()) {
  ref <- object$summary_reference
  if (is.null(ref)) return(invisible(integer(0)))
  z <- whiten(summaries_of(object, inputs, threads, device, call = call), ref)
  far <- which(!is.finite(rowSums(z)) | knn_distance(z, ref$points, ref$k) > 1.5 * ref$radius)
  if (length(far) > 0) {
    n <- input_rows(inputs)
    which_sets <- if (n == 1) "" else paste0(" (", paste(utils::head(far, 10), collapse = ", "),
                                            if (length(far) > 10) ", ...", ")")
    space <- if (is.null(object$config$summary_net)) "data features" else "learned summary space"
    cli::cli_warn(c("{.arg {arg}} {if (n == 1) 'lies' else paste0('has ', length(far), ' data set', if (length(far) > 1) 's', which_sets)} far outside the training simulations (in their {space}).",
                    "i" = "The amortizer extrapolates there: its results may be wrong, or the simulator may not describe these data.",
                    "i" = "Check with {.fn misspecification_test}."),
                  class = "amortized_warning_outside_training", call = call)
  }
  invisible(far)
}

