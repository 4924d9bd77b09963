#' Simulation-based calibration
#'
#' Checks an amortizer's calibration: for each of `n_sims` simulated data sets
#' it draws `n_draws` posterior samples and records the rank of the true
#' parameter among them. For a calibrated posterior the ranks are uniform.
#' All posteriors are drawn in batched passes, so thousands take seconds.
#'
#' `summary()` tests uniformity per parameter with the simultaneous ECDF band
#' (Säilynoja, Bürkner & Vehtari, 2022): the p-value is the probability that a
#' truly uniform sample strays at least as far from the diagonal. A parameter
#' is flagged when its p-value is below `(1 - level) / p` (Bonferroni over the
#' `p` parameters). `plot()` draws the ECDF (or its difference from uniform)
#' with the simultaneous band, or a rank histogram.
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
#' @param seed `NULL` or a whole number, for reproducible results.
#' @param threads CPU threads for LibTorch; default: option
#'   `amortized.inference_threads`, else measured at the first use: the physical cores (at most 4) where they beat one thread, else 1 (see [amortized-package]).
#' @inheritParams sample_posterior
#' @return An `amortized_sbc` object: `ranks` (an n_sims x p integer matrix),
#'   `n_draws`, `parameters`, `p_values`.
#' @section Memory:
#' The posteriors of the simulated data sets are drawn and summarised in
#' chunks of data sets that hold about 2^23 values (64 MB) of draws at a
#' time (option `amortized.chunk_values`), whatever `n_sims` and `n_draws`
#' are; the result keeps a few numbers per data set and parameter. Measured
#' peak memory of the whole R process, 10,000 data sets x 1,000 draws of 10
#' parameters: 0.5 GB for `sbc()`, 0.7 GB for `recovery()`.
#' @family checks
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("gaussian_linear")
#' fit <- train(amortizer(), sim, n_sims = 2000, epochs = 5, seed = 1)
#' s <- sbc(fit, sim, n_sims = 100, n_draws = 50)
#' summary(s)
#' plot(s)
#' }
#' @export
sbc <- function(object, simulations, n_sims = 500, n_draws = 500, seed = NULL,
                threads = inference_threads(), device = getOption("amortized.device", "cpu")) {
  n_draws <- check_count(n_draws)
  threads <- check_threads(threads)
  device <- check_device(device)
  seed <- resolve_seed(seed)
  sims <- check_simulations(object, simulations, n_sims, seed, threads)
  inputs <- simulation_inputs(object$config, sims)
  ranks <- core_call(.amz_npe_sbc_ranks(model_pointer(object), sims$parameters[, object$parameter_names, drop = FALSE],
                                        inputs$x, inputs$lengths, inputs$context, n_draws, seed + 1, threads, device))
  colnames(ranks) <- object$parameter_names
  new_sbc(ranks, n_draws)
}

new_sbc <- function(ranks, n_draws) {
  structure(list(ranks = ranks, n_draws = n_draws, parameters = colnames(ranks),
                 p_values = stats::setNames(sbc_p_values(ranks, n_draws), colnames(ranks))),
            class = "amortized_sbc")
}

#' @rdname sbc
#' @param x An `amortized_sbc` object (for `summary()`: `object`).
#' @param level Confidence level of the band and the test.
#' @param ... Unused.
#' @export
summary.amortized_sbc <- function(object, level = 0.95, ...) {
  level <- check_number(level, lower = 0, upper = 1, lower_open = TRUE, upper_open = TRUE)
  p <- length(object$parameters)
  ecdf <- rank_ecdf(object$ranks, object$n_draws)
  z <- sbc_z(object$n_draws)
  data.frame(parameter = object$parameters,
             max_ecdf_deviation = apply(abs(ecdf - z), 2, max),
             p_value = unname(object$p_values),
             flagged = unname(object$p_values) < (1 - level) / p,
             row.names = NULL)
}

#' @export
print.amortized_sbc <- function(x, ...) {
  s <- summary(x)
  cat("<amortized_sbc> simulation-based calibration: ", nrow(x$ranks), " data sets x ",
      x$n_draws, " draws\n", sep = "")
  shown <- s
  shown$p_value <- format.pval(s$p_value, digits = 2)
  shown$max_ecdf_deviation <- format(s$max_ecdf_deviation, digits = 2)
  shown$flagged <- ifelse(s$flagged, "FLAGGED", "ok")
  print(shown, row.names = FALSE)
  flagged <- s$parameter[s$flagged]
  cat("Uniformity: simultaneous 95% ECDF band test, Bonferroni over ", nrow(s), " parameter",
      if (nrow(s) > 1) "s", "; flagged: ", if (length(flagged)) paste(flagged, collapse = ", ") else "none",
      "\n", sep = "")
  invisible(x)
}

#' @rdname sbc
#' @param type `"ecdf_diff"` (ECDF minus uniform, default), `"ecdf"` or `"hist"`.
#' @importFrom ggplot2 autoplot
#' @export
autoplot.amortized_sbc <- function(object, type = c("ecdf_diff", "ecdf", "hist"), level = 0.95, ...) {
  type <- match.arg(type)
  level <- check_number(level, lower = 0, upper = 1, lower_open = TRUE, upper_open = TRUE)
  if (type == "hist") return(sbc_hist(object, level))
  n <- nrow(object$ranks)
  band <- sbc_band(n, object$n_draws, level)
  ecdf <- rank_ecdf(object$ranks, object$n_draws)
  diff <- type == "ecdf_diff"
  shift <- if (diff) band$z else 0
  lines <- data.frame(parameter = factor(rep(object$parameters, each = nrow(band)), object$parameters),
                      z = rep(band$z, length(object$parameters)),
                      ecdf = as.vector(ecdf) - rep(shift, length(object$parameters)))
  ribbon <- data.frame(z = band$z, lower = band$lower - shift, upper = band$upper - shift)
  ggplot2::ggplot(lines, ggplot2::aes(x = .data$z)) +
    ggplot2::geom_ribbon(data = ribbon, ggplot2::aes(ymin = .data$lower, ymax = .data$upper),
                         fill = "grey80") +
    ggplot2::geom_hline(yintercept = 0, colour = "grey50", linewidth = 0.3) +
    ggplot2::geom_step(ggplot2::aes(y = .data$ecdf), colour = "#1f4e79") +
    ggplot2::facet_wrap(~parameter) +
    unit_axis("x") +
    ggplot2::labs(x = "fractional rank",
                  y = if (diff) "ECDF - uniform" else "ECDF",
                  title = "Simulation-based calibration",
                  subtitle = paste0(n, " data sets x ", object$n_draws, " draws; grey: simultaneous ",
                                    round(100 * level), "% band")) +
    theme_amortized()
}

sbc_hist <- function(object, level) {
  n <- nrow(object$ranks)
  n_values <- object$n_draws + 1
  bins <- min(20, n_values)
  # bin of each rank value; exact probability of each bin under uniformity
  bin_of <- floor(seq(0, n_values - 1) * bins / n_values) + 1
  prob <- tabulate(bin_of, bins) / n_values
  counts <- do.call(rbind, lapply(seq_along(object$parameters), function(j) {
    data.frame(parameter = object$parameters[j], bin = seq_len(bins),
               count = tabulate(bin_of[object$ranks[, j] + 1], bins))
  }))
  counts$parameter <- factor(counts$parameter, object$parameters)
  alpha <- 1 - level
  ref <- data.frame(bin = seq_len(bins), lower = stats::qbinom(alpha / 2, n, prob),
                    upper = stats::qbinom(1 - alpha / 2, n, prob), expected = n * prob)
  ggplot2::ggplot(counts, ggplot2::aes(x = .data$bin)) +
    ggplot2::geom_rect(data = ref, ggplot2::aes(xmin = .data$bin - 0.5, xmax = .data$bin + 0.5,
                                                ymin = .data$lower, ymax = .data$upper),
                       fill = "grey85", inherit.aes = FALSE) +
    ggplot2::geom_col(ggplot2::aes(y = .data$count), fill = "#1f4e79", alpha = 0.8, width = 0.9) +
    ggplot2::geom_step(data = ref, ggplot2::aes(y = .data$expected), colour = "grey40",
                       direction = "mid") +
    ggplot2::facet_wrap(~parameter) +
    ggplot2::labs(x = "rank bin", y = "count", title = "SBC rank histogram",
                  subtitle = paste0("grey: pointwise ", round(100 * level), "% binomial interval per bin")) +
    theme_amortized()
}

#' @rdname sbc
#' @export
plot.amortized_sbc <- function(x, type = c("ecdf_diff", "ecdf", "hist"), level = 0.95, ...) {
  autoplot.amortized_sbc(x, type = match.arg(type), level = level)
}

#' @export
ggplot2::autoplot
