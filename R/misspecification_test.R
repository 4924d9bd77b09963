#' Could the simulator have produced the observed data?
#'
#' An amortized posterior is only trustworthy for data that look like the
#' training simulations: where the simulator is misspecified, the network
#' silently extrapolates. This test compares the observed data set(s) with
#' prior-predictive simulations in the amortizer's learned summary space
#' (for flat data without summary network: in the space of the standardized
#' data themselves) by the maximum mean discrepancy ([mmd()]), calibrated by
#' its distribution when the simulator is right.
#'
#' `n_sims` prior-predictive simulations form the reference and `n_sims`
#' more (at least as many as observed data sets) a pool. The statistic is
#' the MMD^2 between the summaries of the `m` observed data sets and the
#' reference (for `m = 1`, with the within-sample term k(x, x) = 1); its
#' null distribution comes from `n_null` replicates of `m` data sets drawn
#' from the pool, and the p-value is (1 + the number of replicates at or
#' above the statistic) / (n_null + 1). The summaries are whitened by the
#' reference first (centred, rotated onto the principal axes of its
#' covariance and scaled to unit variance along each): learned summaries
#' often vary mostly along the one or two directions the posterior needs and
#' only slightly along others, and data that differ from the simulations
#' along those others (a wider spread, outliers) would go unnoticed
#' unscaled. The default bandwidth is the median distance within the
#' reference, so the test's calibration does not depend on the observed
#' data.
#'
#' When the simulator has a varying number of observations (context
#' variable `n_obs`), the simulations take theirs from the observed data
#' sets' (summaries depend on it); other context variables given in
#' `context` are fixed the same way.
#'
#' Training with `train(..., summary_loss = "mmd")` pulls the summaries of
#' simulations toward a standard normal (the published method); this test
#' works without it, and with the current defaults it has not added power (see
#' [train()]).
#'
#' For a model comparison amortizer, each candidate model is tested in
#' turn (with the classifier's summaries): data that no candidate explains
#' are rejected for all of them.
#'
#' @param object A trained [amortizer()]: posterior, joint or model
#'   comparison.
#' @param observed The observed data: one data set or several, as
#'   [sample_posterior()] takes them, or an `amortized_simulations` object.
#' @param simulator The simulator the amortizer was trained on (for a model
#'   comparison: a named list of the candidates; default, the candidates it
#'   was trained on).
#' @param n_sims Prior-predictive simulations in the reference (as many
#'   again are simulated for the null distribution's pool).
#' @param n_null Replicates of the null distribution.
#' @param seed `NULL` or a whole number: the same seed gives the same
#'   simulations and null distribution.
#' @param kernel,bandwidth The kernel and its bandwidth(s), as in [mmd()];
#'   `NULL`: the median distance within the reference.
#' @param context Context variables of the observed data, as for
#'   [sample_posterior()].
#' @param threads CPU threads for LibTorch and the C++ simulators.
#' @inheritParams sample_posterior
#' @return An `amortized_misspecification` object: `statistic` (MMD^2),
#'   `p_value` (each named by model for a model comparison), `null` (the
#'   null replicates; a list by model), `tests` (a data frame, a row per
#'   model), `space` (where the comparison happened), and the standardized
#'   summaries for plots. `print()`, `summary()`, and `autoplot()` (`type =
#'   "null"`: the null distribution with the observed statistic;
#'   `"projection"`: the simulations' whitened summaries along the two
#'   directions in which the observed data deviate most, observed data on
#'   top).
#' @family model comparison
#' @examples
#' \donttest{
#' sim <- simulator(function(n) cbind(mu = rnorm(n)),
#'                  function(theta) matrix(rnorm(nrow(theta) * 50, theta[, 1]), ncol = 50),
#'                  set_structure = c(50, 1))
#' fit <- train(amortizer(summary_net = deep_set(summary_dim = 4)), sim,
#'              n_sims = 2000, epochs = 10, seed = 1)
#' misspecification_test(fit, rnorm(50, 1, 1), sim, seed = 2)  # well specified
#' misspecification_test(fit, rnorm(50, 1, 3), sim, seed = 2)  # too wide: rejected
#' }
#' @export
misspecification_test <- function(object, observed, simulator = NULL, n_sims = 1000, n_null = 500, seed = NULL,
                                  kernel = c("gaussian", "imq"), bandwidth = NULL, context = NULL,
                                  threads = inference_threads(), device = getOption("amortized.device", "cpu")) {
  check_data_embedding(object, "it has no summaries of the data to compare in.",
                       "Test with a posterior, joint or model comparison amortizer of the same simulator.")
  if (missing(observed)) {
    cli::cli_abort("{.arg observed} is missing: give the observed data set(s).", class = "amortized_error_argument")
  }
  comparing <- identical(object$kind, "models")
  candidates <- misspecification_simulators(object, simulator, comparing)
  n_sims <- check_count(n_sims, min = 10)
  n_null <- check_count(n_null, min = 10)
  kernel <- check_choice(kernel, c("gaussian", "imq"))
  if (!is.null(bandwidth)) bandwidth <- check_bandwidth(bandwidth)
  threads <- check_threads(threads)
  device <- check_device(device)
  seed <- resolve_seed(seed)

  if (inherits(observed, "amortized_simulations")) {
    inputs <- simulation_inputs(object$config, observed)
    lengths <- observed$lengths
    ctx <- if (!is.null(observed$context)) as.data.frame(observed$context)
  } else {
    inputs <- observed_inputs(object, observed, context, arg = "observed")$inputs
    lengths <- inputs$lengths
    ctx <- context
  }
  s_obs <- summaries_of(object, inputs, threads, device)
  if (!all(is.finite(s_obs))) {
    cli::cli_abort("The summaries of {.arg observed} are not all finite.", class = "amortized_error_data")
  }
  m <- nrow(s_obs)
  space <- if (is.null(object$config$summary_net)) "data features" else "learned summaries"

  tests <- list()
  for (k in seq_along(candidates)) {
    sim <- conditioned_simulator(candidates[[k]], lengths, ctx)
    n_pool <- max(n_sims, m)
    sims <- simulate(sim, n_sims + n_pool, seed = (seed + 7919 * (k - 1)) %% 2147483647, threads = threads)
    s <- summaries_of(object, simulation_inputs(object$config, sims), threads, device)
    s <- s[rowSums(!is.finite(s)) == 0, , drop = FALSE]
    if (nrow(s) < n_sims + m) {
      cli::cli_abort("Too few simulations with finite summaries ({nrow(s)} of {n_sims + n_pool}) for the test.",
                     class = "amortized_error_data")
    }
    ref_rows <- seq_len(n_sims)
    w <- summary_whitening(s[ref_rows, , drop = FALSE])
    if (is.null(w)) {
      cli::cli_abort("The simulations' summaries do not vary: nothing to compare.", class = "amortized_error_data")
    }
    ref <- whiten(s[ref_rows, , drop = FALSE], w)
    pool <- whiten(s[-ref_rows, , drop = FALSE], w)
    obs <- whiten(s_obs, w)
    h <- bandwidth %||% core_call(.amz_median_distance(ref, ref))
    res <- core_call(.amz_mmd_test(obs, pool, ref, kernel, h, n_null, (seed + 1 + 7919 * (k - 1)) %% 2147483647,
                                   threads))
    tests[[names(candidates)[k]]] <- list(statistic = res$statistic, null = res$null,
                                          p_value = (1 + sum(res$null >= res$statistic)) / (n_null + 1),
                                          bandwidth = h, observed = obs, reference = ref)
  }
  new_misspecification(tests, comparing, space = space, kernel = kernel, n_observed = m, n_sims = n_sims,
                       n_null = n_null)
}

# The simulators to test: a named list (one unnamed element for a single
# simulator).
misspecification_simulators <- function(object, simulator, comparing, call = rlang::caller_env()) {
  if (comparing) {
    simulator <- simulator %||% object$candidates
    if (is.null(simulator)) {
      cli::cli_abort(c("{.arg simulator} is missing: give the named list of candidate simulators.",
                       "i" = "The amortizer was trained on stored simulations, so it keeps no simulators."),
                     class = "amortized_error_argument", call = call)
    }
    check_model_list(simulator, "simulator", call)
    if (!identical(names(simulator), object$models)) {
      cli::cli_abort(c("{.arg simulator} must hold the candidates the amortizer compares: {.val {object$models}}.",
                       "x" = "Got {.val {names(simulator)}}."), class = "amortized_error_argument", call = call)
    }
    return(simulator)
  }
  if (is.null(simulator)) {
    cli::cli_abort("{.arg simulator} is missing: give the simulator the amortizer was trained on.",
                   class = "amortized_error_argument", call = call)
  }
  if (!is_simulator(simulator)) {
    cli::cli_abort(c("{.arg simulator} must be an {.cls amortized_simulator} ({.fn simulator} or {.fn benchmark_simulator}).",
                     "x" = "Got {describe_value(simulator)}."), class = "amortized_error_argument", call = call)
  }
  list(simulator = simulator)
}

# The simulator with its context taken from the observed data: n_obs drawn
# from the observed lengths, other context variables from `context`.
conditioned_simulator <- function(sim, lengths, context) {
  if (length(sim$context) == 0) return(sim)
  for (name in names(sim$context)) {
    values <- if (name == "n_obs" && length(lengths) > 0 && !is.list(lengths)) lengths else context[[name]]
    if (!is.null(values) && is.numeric(values) && length(values) > 0) sim$context[[name]] <- as.numeric(values)
  }
  sim
}

new_misspecification <- function(tests, comparing, ...) {
  statistic <- vapply(tests, `[[`, numeric(1), "statistic")
  p_value <- vapply(tests, `[[`, numeric(1), "p_value")
  table <- data.frame(statistic = statistic, p_value = p_value, row.names = NULL)
  if (comparing) table <- cbind(model = names(tests), table)
  structure(list(statistic = if (comparing) statistic else unname(statistic),
                 p_value = if (comparing) p_value else unname(p_value),
                 null = if (comparing) lapply(tests, `[[`, "null") else tests[[1]]$null,
                 tests = table, bandwidth = lapply(tests, `[[`, "bandwidth"),
                 summaries = lapply(tests, function(t) list(observed = t$observed, reference = t$reference)),
                 comparing = comparing, ...),
            class = "amortized_misspecification")
}

#' @export
print.amortized_misspecification <- function(x, ...) {
  cat(sprintf("<misspecification test> MMD^2 in %s: %d observed data set%s vs %d prior-predictive simulations\n",
              x$space, x$n_observed, if (x$n_observed == 1) "" else "s", x$n_sims))
  cat(sprintf("  %s kernel, null distribution from %d replicates\n", x$kernel, x$n_null))
  t <- x$tests
  for (i in seq_len(nrow(t))) {
    who <- if (x$comparing) sprintf("  %-12s", t$model[i]) else " "
    cat(sprintf("%s MMD^2 = %.4g, p = %.3g%s\n", who, t$statistic[i], t$p_value[i],
                if (t$p_value[i] <= 0.05) "  (the simulator is unlikely to have produced these data)" else ""))
  }
  invisible(x)
}

#' @export
summary.amortized_misspecification <- function(object, ...) {
  t <- object$tests
  nulls <- if (object$comparing) object$null else list(object$null)
  t$null_mean <- vapply(nulls, mean, numeric(1))
  t$null_q95 <- vapply(nulls, stats::quantile, numeric(1), probs = 0.95, names = FALSE)
  t$bandwidth <- vapply(object$bandwidth, function(h) h[1], numeric(1))
  t$rejected_5pct <- t$p_value <= 0.05
  t
}

#' @export
autoplot.amortized_misspecification <- function(object, type = c("null", "projection"), ...) {
  type <- check_choice(type, c("null", "projection"))
  models <- if (object$comparing) object$tests$model else "simulator"
  if (type == "null") {
    nulls <- if (object$comparing) object$null else list(object$null)
    df <- data.frame(model = rep(models, lengths(nulls)), value = unlist(nulls, use.names = FALSE))
    obs <- data.frame(model = models, value = object$tests$statistic,
                      label = sprintf("observed, p = %.3g", object$tests$p_value))
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$value)) +
      ggplot2::geom_histogram(bins = 40, fill = "grey70", colour = "white") +
      ggplot2::geom_vline(data = obs, ggplot2::aes(xintercept = .data$value), colour = "firebrick", linewidth = 1) +
      ggplot2::geom_text(data = obs, ggplot2::aes(x = .data$value, y = Inf, label = .data$label), vjust = 1.5,
                         hjust = -0.05, colour = "firebrick", size = 3.5) +
      ggplot2::labs(x = "MMD^2 (observed vs prior-predictive summaries)", y = "null replicates",
                    title = "Misspecification test", subtitle = sprintf("%s, %d observed data set%s", object$space,
                                                                        object$n_observed,
                                                                        if (object$n_observed == 1) "" else "s"))
    if (object$comparing) p <- p + ggplot2::facet_wrap(~model, scales = "free")
    return(p)
  }
  parts <- lapply(seq_along(models), function(i) {
    s <- object$summaries[[i]]
    # the two whitened directions along which the observed data deviate most
    dev <- abs(colMeans(s$observed))
    axes <- order(dev, decreasing = TRUE)[seq_len(min(2, length(dev)))]
    pick <- function(z) if (length(axes) == 2) z[, axes, drop = FALSE] else cbind(z[, axes], 0)
    r <- pick(s$reference)
    o <- pick(s$observed)
    rbind(data.frame(model = models[i], pc1 = r[, 1], pc2 = r[, 2], what = "simulated"),
          data.frame(model = models[i], pc1 = o[, 1], pc2 = o[, 2], what = "observed"))
  })
  df <- do.call(rbind, parts)
  df$what <- factor(df$what, c("simulated", "observed"))
  p <- ggplot2::ggplot(df, ggplot2::aes(.data$pc1, .data$pc2, colour = .data$what, size = .data$what,
                                         alpha = .data$what)) +
    ggplot2::geom_point() +
    ggplot2::scale_colour_manual(values = c(simulated = "grey50", observed = "firebrick"), name = NULL) +
    ggplot2::scale_size_manual(values = c(simulated = 0.8, observed = 2.5), name = NULL) +
    ggplot2::scale_alpha_manual(values = c(simulated = 0.4, observed = 1), name = NULL) +
    ggplot2::labs(x = "whitened direction of largest deviation", y = "second largest",
                  title = "Observed vs simulated data",
                  subtitle = paste("in", object$space, "(whitened: unit variance along every principal axis)"))
  if (object$comparing) p <- p + ggplot2::facet_wrap(~model, scales = "free")
  p
}

#' @export
plot.amortized_misspecification <- function(x, ...) autoplot.amortized_misspecification(x, ...)
