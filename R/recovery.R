#' Parameter recovery
#'
#' For each simulated data set, the posterior median and a central interval
#' against the true parameter value. A good amortizer puts the points near
#' the identity line, with intervals as wide as the posterior's real
#' uncertainty: R² here is not 1 even for an exact posterior, but close to
#' the posterior's share of the prior variance that the data explain.
#'
#' @param object A trained [amortizer()] (for the methods: the result).
#' @param simulations Simulations to check on, from
#'   [simulate()][simulate.amortized_simulator] (ideally not the training
#'   simulations) or a finished simulation store; or the simulator, and then
#'   `n_sims` new simulations are drawn (with `seed`). Every check takes
#'   them the same way.
#' @param n_sims Number of simulations to draw when `simulations` is a
#'   simulator (ignored for simulations).
#' @param n_draws Posterior draws per data set.
#' @param level Level of the central intervals.
#' @param seed `NULL` or a whole number.
#' @param threads CPU threads for LibTorch; default: option
#'   `amortized.inference_threads`, else measured at the first use: the physical cores (at most 4) where they beat one thread, else 1 (see [amortized-package]).
#' @inheritParams sample_posterior
#' @return An `amortized_recovery` object: `estimates` (a data frame with
#'   parameter, truth, median, mean, sd, lower, upper) and `metrics` (per
#'   parameter: R² of the median, correlation, RMSE, interval coverage);
#'   `print()` and `autoplot()`/`plot()` (truth against median with
#'   intervals and the identity line, one facet per parameter).
#' @seealso [z_score_contraction()], [coverage()], [sbc()].
#' @inheritSection sbc Memory
#' @family checks
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(), sim, n_sims = 5000, epochs = 20, seed = 1)
#' rec <- recovery(fit, simulate(sim, 200, seed = 2))
#' rec
#' plot(rec)
#' }
#' @export
recovery <- function(object, simulations, n_sims = 500, n_draws = 500, level = 0.9, seed = NULL,
                     threads = inference_threads(), device = getOption("amortized.device", "cpu")) {
  n_draws <- check_count(n_draws, min = 2)
  level <- check_number(level, lower = 0, upper = 1, lower_open = TRUE, upper_open = TRUE)
  threads <- check_threads(threads)
  device <- check_device(device)
  seed <- resolve_seed(seed)
  sims <- check_simulations(object, simulations, n_sims, seed, threads)
  truth <- sims$parameters[, object$parameter_names, drop = FALSE]
  s <- posterior_draw_summaries(object, sims, truth, n_draws, seed, threads, device, level)
  new_recovery(s, truth, level, n_draws)
}

# The recovery object from summaries of summarise_draw_array() (with a level).
new_recovery <- function(s, truth, level, n_draws) {
  est <- long_by_parameter(truth = truth, median = s$median, mean = s$mean, sd = s$sd, lower = s$lower,
                           upper = s$upper)
  metrics <- do.call(rbind, lapply(split(est, est$parameter), function(d) {
    data.frame(parameter = d$parameter[1],
               r2 = 1 - sum((d$median - d$truth)^2) / sum((d$truth - mean(d$truth))^2),
               correlation = stats::cor(d$median, d$truth),
               rmse = sqrt(mean((d$median - d$truth)^2)),
               coverage = mean(d$truth >= d$lower & d$truth <= d$upper))
  }))
  rownames(metrics) <- NULL
  structure(list(estimates = est, metrics = metrics, level = level, n_draws = n_draws),
            class = "amortized_recovery")
}

#' @export
print.amortized_recovery <- function(x, ...) {
  cat("<amortized_recovery> ", nrow(x$estimates) / nrow(x$metrics), " data sets x ", x$n_draws,
      " draws; ", format(100 * x$level), "% central intervals\n", sep = "")
  m <- x$metrics
  m[-1] <- lapply(m[-1], function(v) signif(v, 3))
  print(m, row.names = FALSE)
  invisible(x)
}

#' @rdname recovery
#' @param x An `amortized_recovery` object (for `summary()` and `autoplot()`: `object`).
#' @param ... Unused.
#' @export
summary.amortized_recovery <- function(object, ...) object$metrics

#' @rdname recovery
#' @export
autoplot.amortized_recovery <- function(object, ...) {
  est <- object$estimates
  labels <- object$metrics
  labels$label <- sprintf("R\u00b2 = %.3f\nr = %.3f", labels$r2, labels$correlation)
  ggplot2::ggplot(est, ggplot2::aes(x = .data$truth, y = .data$median)) +
    ggplot2::geom_abline(slope = 1, intercept = 0, colour = "grey50", linetype = "dashed") +
    ggplot2::geom_linerange(ggplot2::aes(ymin = .data$lower, ymax = .data$upper), colour = "#1f4e79", alpha = 0.25) +
    ggplot2::geom_point(colour = "#1f4e79", size = 0.8, alpha = 0.7) +
    ggplot2::geom_text(data = labels, ggplot2::aes(label = .data$label), x = -Inf, y = Inf, hjust = -0.1,
                       vjust = 1.2, size = 3, inherit.aes = FALSE) +
    ggplot2::facet_wrap(~parameter, scales = "free") +
    ggplot2::labs(x = "true value", y = "posterior median",
                  title = "Parameter recovery",
                  subtitle = paste0("posterior medians with ", format(100 * object$level), "% central intervals")) +
    theme_amortized()
}

#' @rdname recovery
#' @export
plot.amortized_recovery <- function(x, ...) autoplot.amortized_recovery(x, ...)
