#' The standard diagnostics in one report
#'
#' Simulates `n_sims` fresh data sets and runs the standard checks of an
#' amortizer on them: [sbc()], [recovery()], [z_score_contraction()] and
#' [calibration_error()] (from [coverage()]), all from one set of posterior
#' draws per data set. `print()` summarizes them in
#' a few lines with what to look at; `autoplot()`/`plot()` combines their
#' plots and the training history into one figure (with the patchwork
#' package; without it, `plot()` draws them one after another).
#'
#' @inheritParams sbc
#' @return An `amortized_diagnostics` object: a list with `sbc`,
#'   `recovery`, `z_contraction`, `calibration` and `history`; `summary()`
#'   gives a data frame with one row per parameter (SBC p-value and flag, R²,
#'   contraction, sd of the z-scores, median calibration error).
#' @inheritSection sbc Memory
#' @family checks
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("two_moons")
#' fit <- train(amortizer(), sim, n_sims = 5000, epochs = 30, seed = 1)
#' report <- diagnostics(fit, sim, n_sims = 300)
#' report
#' plot(report)
#' }
#' @export
diagnostics <- function(object, simulations, n_sims = 500, n_draws = 500, seed = NULL, threads = inference_threads(),
                        device = getOption("amortized.device", "cpu")) {
  n_draws <- check_count(n_draws, min = 2)
  threads <- check_threads(threads)
  device <- check_device(device)
  seed <- resolve_seed(seed)
  sims <- check_simulations(object, simulations, n_sims, seed, threads)
  truth <- sims$parameters[, object$parameter_names, drop = FALSE]
  level <- 0.9
  s <- posterior_draw_summaries(object, sims, truth, n_draws, seed + 1, threads, device, level)
  coverage <- new_coverage(coverage_from_ranks(s$ranks, n_draws, seq(0.05, 0.95, by = 0.05)), nrow(truth), n_draws)
  structure(list(
    sbc = new_sbc(s$ranks, n_draws), recovery = new_recovery(s, truth, level, n_draws),
    z_contraction = new_z_contraction(s, truth, n_draws), calibration = new_calibration_error(coverage),
    history = object$history, n_sims = nrow(truth), n_draws = n_draws),
    class = "amortized_diagnostics")
}

#' @rdname diagnostics
#' @export
summary.amortized_diagnostics <- function(object, ...) {
  s <- summary(object$sbc)
  data.frame(parameter = s$parameter, sbc_p = s$p_value, sbc_flagged = s$flagged, r2 = object$recovery$metrics$r2,
             contraction = object$z_contraction$metrics$mean_contraction, sd_z = object$z_contraction$metrics$sd_z,
             calibration_error = object$calibration$errors$median_abs_error)
}

#' @export
print.amortized_diagnostics <- function(x, ...) {
  cat("<amortized_diagnostics> ", x$n_sims, " simulated data sets x ", x$n_draws, " draws\n", sep = "")
  tab <- summary.amortized_diagnostics(x)
  tab$sbc_p <- signif(tab$sbc_p, 2)
  tab$sbc <- ifelse(tab$sbc_flagged, "FLAGGED", "ok")
  tab <- tab[c("parameter", "sbc_p", "sbc", "r2", "contraction", "sd_z", "calibration_error")]
  tab[c("r2", "contraction", "calibration_error")] <- lapply(tab[c("r2", "contraction", "calibration_error")], round, 3)
  tab$sd_z <- round(tab$sd_z, 2)
  print(tab, row.names = FALSE)
  cat("Look for: sbc ok; sd_z near 1; calibration_error near 0 (below ~0.02 is good);",
      "r2 and contraction as high as the data allow.\n")
  invisible(x)
}

#' @rdname diagnostics
#' @param object,x An `amortized_diagnostics` object.
#' @param ... Unused.
#' @export
autoplot.amortized_diagnostics <- function(object, ...) {
  plots <- diagnostic_plots(object)
  if (!requireNamespace("patchwork", quietly = TRUE)) {
    cli::cli_abort("Combining the plots needs the {.pkg patchwork} package; {.code plot()} draws them one by one.",
                   class = "amortized_error_dependency")
  }
  patchwork::wrap_plots(plots, ncol = 2)
}

diagnostic_plots <- function(object) {
  list(sbc = autoplot(object$sbc), recovery = autoplot(object$recovery),
       z_contraction = autoplot(object$z_contraction), calibration = autoplot(object$calibration$coverage),
       history = if (!is.null(object$history)) autoplot(object$history))
}

#' @rdname diagnostics
#' @export
plot.amortized_diagnostics <- function(x, ...) {
  if (requireNamespace("patchwork", quietly = TRUE)) return(autoplot.amortized_diagnostics(x))
  plots <- Filter(Negate(is.null), diagnostic_plots(x))
  for (p in plots) print(p)
  invisible(plots)
}
