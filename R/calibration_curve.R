#' Calibration of posterior model probabilities
#'
#' Checks a model comparison amortizer on held-out simulations: for each
#' model, the predicted probabilities of all simulations are binned, and in
#' each bin the mean predicted probability is set against the fraction of
#' those simulations that the model produced. A calibrated classifier lies
#' on the diagonal. The bands are Clopper-Pearson intervals for each bin's
#' frequency, Bonferroni-corrected over every bin of every model, so that a
#' calibrated classifier stays inside all of them with probability 95%. The
#' expected calibration error (ECE) is the bin-size-weighted mean absolute
#' gap between frequency and predicted probability.
#'
#' @param object A trained model comparison amortizer
#'   (`amortizer(estimate = "models")`).
#' @param simulations Held-out simulations of the candidates (`simulate()`
#'   on the named list of simulators), or that list of simulators (then
#'   `n_sims` new ones are drawn with their prior model probabilities).
#'   `NULL` (default): `n_sims` new simulations of the candidates the
#'   amortizer was trained on (it keeps them, unless it was trained on
#'   stored simulations).
#' @param n_sims Number of held-out simulations drawn when `simulations` is
#'   `NULL` or a list of simulators. More than the posterior checks' 500
#'   by default: each of `bins` bins of each model needs enough of them.
#' @param bins Number of equal-width probability bins.
#' @param seed `NULL` or a whole number.
#' @param threads CPU threads for the simulators and LibTorch.
#' @inheritParams sample_posterior
#' @return An `amortized_model_calibration` object: `$bins` (a data frame:
#'   model, bin, predicted, observed, n, lower, upper), `$ece` (per model)
#'   and `$n_sims`; with `print()`, `summary()`, `autoplot()` and `plot()`.
#' @seealso [confusion_matrix()], [posterior_model_probs()].
#' @family model comparison
#' @examples
#' \donttest{
#' null <- simulator(function(n) cbind(mu = rep(0, n)),
#'                   function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])))
#' effect <- simulator(function(n) cbind(mu = rnorm(n)),
#'                     function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])))
#' cmp <- train(amortizer(estimate = "models"), list(null = null, effect = effect),
#'              n_sims = 2000, epochs = 5, seed = 1)
#' cal <- calibration_curve(cmp, n_sims = 1000, seed = 2)
#' cal
#' plot(cal)
#' }
#' @export
calibration_curve <- function(object, simulations = NULL, n_sims = 1000, bins = 10, seed = NULL,
                              threads = inference_threads(), device = getOption("amortized.device", "cpu")) {
  check_amortizer(object, kind = "models")
  n_sims <- check_count(n_sims, min = 2)
  bins <- check_count(bins, min = 2)
  seed <- resolve_seed(seed)
  threads <- check_threads(threads)
  device <- check_device(device)
  held <- model_check_predictions(object, simulations, n_sims, seed, threads, device)
  k <- length(object$models)
  level <- 1 - 0.05 / (bins * k)  # Bonferroni over every bin of every model
  rows <- lapply(seq_len(k), function(m) {
    p <- held$probs[, m]
    hit <- held$truth == m
    bin <- pmin(floor(p * bins) + 1, bins)
    do.call(rbind, lapply(sort(unique(bin)), function(b) {
      in_bin <- bin == b
      n <- sum(in_bin)
      x <- sum(hit[in_bin])
      data.frame(model = object$models[m], bin = b, predicted = mean(p[in_bin]), observed = x / n, n = n,
                 lower = if (x == 0) 0 else stats::qbeta((1 - level) / 2, x, n - x + 1),
                 upper = if (x == n) 1 else stats::qbeta(1 - (1 - level) / 2, x + 1, n - x))
    }))
  })
  tab <- do.call(rbind, rows)
  tab$model <- factor(tab$model, levels = object$models)
  ece <- vapply(split(tab, tab$model), function(g) sum(g$n * abs(g$observed - g$predicted)) / sum(g$n), 0)
  structure(list(bins = tab, ece = ece, n_sims = length(held$truth), n_bins = bins), class = "amortized_model_calibration")
}

#' @export
print.amortized_model_calibration <- function(x, ...) {
  cat("<amortized_model_calibration> ", x$n_sims, " held-out simulations, ", x$n_bins, " bins\n", sep = "")
  cat("  expected calibration error: ",
      paste0(names(x$ece), " ", formatC(x$ece, format = "f", digits = 3), collapse = ", "), "\n", sep = "")
  outside <- sum(x$bins$predicted < x$bins$lower | x$bins$predicted > x$bins$upper)
  cat("  bins whose predicted probability lies outside their 95% simultaneous band: ", outside, "\n", sep = "")
  invisible(x)
}

#' @export
summary.amortized_model_calibration <- function(object, ...) {
  object$bins
}

#' @rdname calibration_curve
#' @param ... Unused.
#' @export
autoplot.amortized_model_calibration <- function(object, ...) {
  ggplot2::ggplot(object$bins, ggplot2::aes(x = .data$predicted, y = .data$observed)) +
    ggplot2::geom_abline(slope = 1, intercept = 0, colour = "grey50", linetype = "dashed") +
    ggplot2::geom_linerange(ggplot2::aes(ymin = .data$lower, ymax = .data$upper), colour = "grey60") +
    ggplot2::geom_line(colour = "#1f4e79") +
    ggplot2::geom_point(ggplot2::aes(size = .data$n), colour = "#1f4e79") +
    ggplot2::facet_wrap(~model, labeller = ggplot2::labeller(model = function(m) {
      paste0(m, " (ECE ", formatC(object$ece[m], format = "f", digits = 3), ")")
    })) +
    ggplot2::coord_equal(xlim = c(0, 1), ylim = c(0, 1)) +
    ggplot2::scale_size_area(max_size = 3, guide = "none") +
    ggplot2::labs(x = "predicted probability", y = "observed frequency", title = "Calibration of model probabilities",
                  subtitle = paste0(object$n_sims, " held-out simulations; grey: 95% simultaneous bands")) +
    theme_amortized()
}

#' @rdname calibration_curve
#' @param x An `amortized_model_calibration` object.
#' @export
plot.amortized_model_calibration <- function(x, ...) autoplot.amortized_model_calibration(x, ...)

# Held-out simulations of a model comparison's candidates and the
# amortizer's probabilities for them: list(probs [n, models], truth (1-based
# model index)).
model_check_predictions <- function(object, simulations, n_sims, seed, threads, device, call = rlang::caller_env()) {
  simulations <- simulations %||% object$candidates
  if (is.null(simulations)) {
    cli::cli_abort(c("This amortizer was trained on stored simulations: give held-out ones in {.arg simulations}.",
                     "i" = "Simulate them with {.code simulate(list(...candidates...), n, seed = )}."),
                   class = "amortized_error_argument", call = call)
  }
  stored <- inherits(simulations, "amortized_simulations")
  if (!stored && is.list(simulations) && !identical(names(simulations), object$models)) {
    cli::cli_abort("{.arg simulations} must be a list of the amortizer's candidates {.val {object$models}}, named so; got {.val {names(simulations)}}.",
                   class = "amortized_error_argument", call = call)
  }
  # simulators are checked and simulated (with the training prior) by the
  # same function that made the training simulations
  simulations <- model_simulations(simulations, n_sims, if (!stored) object$model_prior, seed, threads,
                                   arg = "simulations", call = call)
  if (!identical(simulations$models, object$models)) {
    cli::cli_abort(c("{.arg simulations} must be simulations of the amortizer's candidates {.val {object$models}}, or a named list of those simulators.",
                     "i" = "Simulate them with {.code simulate(list(...candidates...), n, seed = )}."),
                   class = "amortized_error_argument", call = call)
  }
  lp <- classifier_log_probs(object, simulation_inputs(object$config, simulations), threads, device, call)
  list(probs = model_probs_from_log(lp, object$model_prior), truth = as.integer(simulations$parameters[, ".model"]))
}
