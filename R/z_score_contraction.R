#' Posterior z-scores and contraction
#'
#' For each simulated data set: the posterior z-score (posterior mean minus
#' truth, in posterior standard deviations) and the posterior contraction
#' (1 - posterior variance / prior variance; the prior variance is that of
#' the simulations' parameters). Ideal: contraction near 1 (the data are
#' informative) and z-scores spread like a standard normal around 0; large
#' |z| with high contraction marks overconfident, biased posteriors
#' (Schad, Betancourt & Vasishth, 2021).
#'
#' @inheritParams recovery
#' @return An `amortized_z_contraction` object: `values` (parameter, z,
#'   contraction) and `metrics` (per parameter: mean and sd of z, the share
#'   of |z| > 2, mean contraction); `print()` and `autoplot()`/`plot()`.
#' @seealso [recovery()], [sbc()].
#' @inheritSection sbc Memory
#' @family checks
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(), sim, n_sims = 5000, epochs = 20, seed = 1)
#' zc <- z_score_contraction(fit, simulate(sim, 200, seed = 2))
#' plot(zc)
#' }
#' @export
z_score_contraction <- function(object, simulations, n_sims = 500, n_draws = 500, seed = NULL,
                                threads = inference_threads(), device = getOption("amortized.device", "cpu")) {
  n_draws <- check_count(n_draws, min = 2)
  threads <- check_threads(threads)
  device <- check_device(device)
  seed <- resolve_seed(seed)
  sims <- check_simulations(object, simulations, n_sims, seed, threads)
  truth <- sims$parameters[, object$parameter_names, drop = FALSE]
  new_z_contraction(posterior_draw_summaries(object, sims, truth, n_draws, seed, threads, device),
                    truth, n_draws)
}

# The z-score / contraction object from summaries of summarise_draw_array().
new_z_contraction <- function(s, truth, n_draws) {
  prior_var <- apply(truth, 2, stats::var)
  z <- (s$mean - truth) / s$sd
  contraction <- 1 - sweep(s$sd^2, 2, prior_var, "/")
  values <- long_by_parameter(z = z, contraction = contraction)
  metrics <- do.call(rbind, lapply(split(values, values$parameter), function(d) {
    data.frame(parameter = d$parameter[1], mean_z = mean(d$z), sd_z = stats::sd(d$z),
               share_abs_z_over_2 = mean(abs(d$z) > 2), mean_contraction = mean(d$contraction))
  }))
  rownames(metrics) <- NULL
  structure(list(values = values, metrics = metrics, n_draws = n_draws), class = "amortized_z_contraction")
}

#' @export
print.amortized_z_contraction <- function(x, ...) {
  cat("<amortized_z_contraction> ", nrow(x$values) / nrow(x$metrics), " data sets x ", x$n_draws, " draws\n",
      sep = "")
  m <- x$metrics
  m[-1] <- lapply(m[-1], function(v) signif(v, 3))
  print(m, row.names = FALSE)
  cat("Calibrated: mean_z near 0, sd_z near 1, about 5% of |z| > 2.\n")
  invisible(x)
}

#' @rdname z_score_contraction
#' @param object,x An `amortized_z_contraction` object.
#' @param ... Unused.
#' @export
summary.amortized_z_contraction <- function(object, ...) object$metrics

#' @rdname z_score_contraction
#' @export
autoplot.amortized_z_contraction <- function(object, ...) {
  ggplot2::ggplot(object$values, ggplot2::aes(x = .data$contraction, y = .data$z)) +
    ggplot2::annotate("rect", xmin = -Inf, xmax = Inf, ymin = -2, ymax = 2, fill = "grey90", alpha = 0.6) +
    ggplot2::geom_hline(yintercept = 0, colour = "grey50", linetype = "dashed") +
    ggplot2::geom_point(colour = "#1f4e79", size = 0.8, alpha = 0.6) +
    ggplot2::facet_wrap(~parameter) +
    ggplot2::coord_cartesian(xlim = c(min(0, min(object$values$contraction)), 1)) +
    ggplot2::labs(x = "posterior contraction", y = "posterior z-score", title = "Posterior z-score vs contraction",
                  subtitle = "shaded: |z| < 2") +
    theme_amortized()
}

#' @rdname z_score_contraction
#' @export
plot.amortized_z_contraction <- function(x, ...) autoplot.amortized_z_contraction(x, ...)
