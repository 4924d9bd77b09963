#' Coverage of posterior intervals and calibration error
#'
#' `coverage()` measures, for each nominal level, how often the central
#' posterior interval of that level contains the true parameter over many
#' simulated data sets; a calibrated amortizer gives empirical coverage equal
#' to the nominal level. The band shows where the empirical coverage of an
#' exactly calibrated posterior falls with 95% probability (binomial, per
#' level). `calibration_error()` condenses it to one number per parameter:
#' the median (and largest) absolute difference between empirical and
#' nominal coverage over the levels. Both are computed from the rank of the
#' truth among the posterior draws, as [sbc()] is, in batched passes.
#'
#' @inheritParams recovery
#' @param levels Nominal levels of the central intervals, in (0, 1).
#' @return `coverage()`: an `amortized_coverage` object with `coverage` (a
#'   data frame: parameter, level, empirical, lower, upper of the band) and
#'   `print()`, `autoplot()`/`plot()`. `calibration_error()`: an
#'   `amortized_calibration_error` object with `errors` (parameter,
#'   median_abs_error, max_abs_error) and the coverage it came from, with
#'   `print()` and `autoplot()`/`plot()`.
#' @seealso [sbc()], [recovery()].
#' @inheritSection sbc Memory
#' @family checks
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(), sim, n_sims = 5000, epochs = 20, seed = 1)
#' test <- simulate(sim, 500, seed = 2)
#' plot(coverage(fit, test))
#' calibration_error(fit, test)
#' }
#' @export
coverage <- function(object, simulations, n_sims = 500, n_draws = 500, levels = seq(0.05, 0.95, by = 0.05),
                     seed = NULL, threads = inference_threads(), device = getOption("amortized.device", "cpu")) {
  n_draws <- check_count(n_draws, min = 2)
  levels <- check_levels(levels)
  threads <- check_threads(threads)
  device <- check_device(device)
  seed <- resolve_seed(seed)
  sims <- check_simulations(object, simulations, n_sims, seed, threads)
  inputs <- simulation_inputs(object$config, sims)
  ranks <- core_call(.amz_npe_sbc_ranks(model_pointer(object), sims$parameters[, object$parameter_names, drop = FALSE],
                                        inputs$x, inputs$lengths, inputs$context, n_draws, seed, threads, device))
  colnames(ranks) <- object$parameter_names
  new_coverage(coverage_from_ranks(ranks, n_draws, levels), nrow(ranks), n_draws)
}

new_coverage <- function(cov, n_sims, n_draws) {
  structure(list(coverage = cov, n_sims = n_sims, n_draws = n_draws), class = "amortized_coverage")
}

# Empirical coverage of central intervals from ranks (n x p, draws below
# the truth out of n_draws), with the 95% binomial band of a calibrated
# posterior around each nominal level.
coverage_from_ranks <- function(ranks, n_draws, levels) {
  u <- ranks / n_draws
  n <- nrow(ranks)
  out <- do.call(rbind, lapply(levels, function(l) {
    alpha <- (1 - l) / 2
    data.frame(parameter = colnames(ranks), level = l,
               empirical = colMeans(u >= alpha & u <= 1 - alpha),
               lower = stats::qbinom(0.025, n, l) / n, upper = stats::qbinom(0.975, n, l) / n)
  }))
  out$parameter <- factor(out$parameter, levels = colnames(ranks))
  out <- out[order(out$parameter, out$level), ]
  rownames(out) <- NULL
  out
}

check_levels <- function(levels, arg = rlang::caller_arg(levels), call = rlang::caller_env()) {
  if (!is.numeric(levels) || length(levels) < 1 || anyNA(levels) || any(levels <= 0 | levels >= 1)) {
    cli::cli_abort(c("{.arg {arg}} must be numbers in (0, 1).", "x" = "Got {describe_value(levels)}."),
                   class = "amortized_error_argument", call = call)
  }
  sort(unique(as.numeric(levels)))
}

#' @export
print.amortized_coverage <- function(x, ...) {
  cat("<amortized_coverage> ", x$n_sims, " data sets x ", x$n_draws, " draws\n", sep = "")
  cov <- x$coverage
  wide <- stats::reshape(cov[, c("parameter", "level", "empirical")], idvar = "parameter", timevar = "level",
                         direction = "wide")
  names(wide) <- sub("^empirical\\.", "", names(wide))
  wide[-1] <- lapply(wide[-1], function(v) round(v, 3))
  show <- c(1, 1 + unique(round(seq(1, ncol(wide) - 1, length.out = min(7, ncol(wide) - 1)))))
  print(wide[, show, drop = FALSE], row.names = FALSE)
  outside <- cov$empirical < cov$lower | cov$empirical > cov$upper
  cat("Levels outside the 95% band of a calibrated posterior: ", sum(outside), " of ", nrow(cov), "\n", sep = "")
  invisible(x)
}

#' @rdname coverage
#' @param object,x An `amortized_coverage` or `amortized_calibration_error` object.
#' @param ... Unused.
#' @export
autoplot.amortized_coverage <- function(object, ...) {
  cov <- object$coverage
  ggplot2::ggplot(cov, ggplot2::aes(x = .data$level)) +
    ggplot2::geom_ribbon(ggplot2::aes(ymin = .data$lower, ymax = .data$upper), fill = "grey80", alpha = 0.7) +
    ggplot2::geom_abline(slope = 1, intercept = 0, colour = "grey50", linetype = "dashed") +
    ggplot2::geom_line(ggplot2::aes(y = .data$empirical), colour = "#1f4e79") +
    ggplot2::geom_point(ggplot2::aes(y = .data$empirical), colour = "#1f4e79", size = 1) +
    ggplot2::facet_wrap(~parameter) +
    unit_axis("x") + unit_axis("y") +
    ggplot2::coord_equal(xlim = c(0, 1), ylim = c(0, 1)) +
    ggplot2::labs(x = "nominal coverage", y = "empirical coverage", title = "Coverage of central posterior intervals",
                  subtitle = "grey: 95% band of a calibrated posterior") +
    theme_amortized()
}

#' @rdname coverage
#' @export
plot.amortized_coverage <- function(x, ...) autoplot.amortized_coverage(x, ...)

#' @rdname coverage
#' @export
calibration_error <- function(object, simulations, n_sims = 500, n_draws = 500, levels = seq(0.05, 0.95, by = 0.05),
                              seed = NULL, threads = inference_threads(),
                              device = getOption("amortized.device", "cpu")) {
  cov <- coverage(object, simulations, n_sims = n_sims, n_draws = n_draws, levels = levels, seed = seed,
                  threads = threads, device = device)
  new_calibration_error(cov)
}

new_calibration_error <- function(cov) {
  d <- cov$coverage
  d$abs_error <- abs(d$empirical - d$level)
  errors <- do.call(rbind, lapply(split(d, d$parameter), function(g) {
    data.frame(parameter = g$parameter[1], median_abs_error = stats::median(g$abs_error),
               max_abs_error = max(g$abs_error))
  }))
  rownames(errors) <- NULL
  structure(list(errors = errors, coverage = cov), class = "amortized_calibration_error")
}

#' @export
print.amortized_calibration_error <- function(x, ...) {
  cat("<amortized_calibration_error> |empirical - nominal coverage| over ",
      length(unique(x$coverage$coverage$level)), " levels; ", x$coverage$n_sims, " data sets\n", sep = "")
  e <- x$errors
  e[-1] <- lapply(e[-1], function(v) round(v, 4))
  print(e, row.names = FALSE)
  invisible(x)
}

#' @rdname coverage
#' @export
summary.amortized_calibration_error <- function(object, ...) object$errors

#' @rdname coverage
#' @export
summary.amortized_coverage <- function(object, ...) object$coverage

#' @rdname coverage
#' @export
autoplot.amortized_calibration_error <- function(object, ...) {
  d <- object$coverage$coverage
  d$abs_error <- abs(d$empirical - d$level)
  d$band <- pmax(d$upper - d$level, d$level - d$lower)
  ggplot2::ggplot(d, ggplot2::aes(x = .data$level)) +
    ggplot2::geom_area(ggplot2::aes(y = .data$band), fill = "grey85") +
    ggplot2::geom_line(ggplot2::aes(y = .data$abs_error, colour = .data$parameter)) +
    ggplot2::labs(x = "nominal coverage", y = "|empirical - nominal|", colour = NULL,
                  title = "Calibration error", subtitle = "grey: 95% range of a calibrated posterior") +
    theme_amortized()
}

#' @rdname coverage
#' @export
plot.amortized_calibration_error <- function(x, ...) autoplot.amortized_calibration_error(x, ...)
