#' Pairs plot of posterior draws
#'
#' Histograms of each parameter on the diagonal and scatter plots of every
#' pair below it, for the draws of one data set (from [sample_posterior()]),
#' with the true parameter values marked when they are known (e.g. for a
#' simulated data set).
#'
#' @param draws Draws for one data set: a `posterior` draws object or a
#'   numeric matrix with named columns.
#' @param truth `NULL` or the true values: a named numeric vector (names
#'   matched to the parameters) or a vector in the order of `variables`.
#' @param variables Parameters to show (default: all, at most 8).
#' @param max_points Draws shown in the scatter plots (a thinned subset).
#' @return A ggplot object.
#' @family inference
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("two_moons")
#' fit <- train(amortizer(), sim, n_sims = 5000, epochs = 30, seed = 1)
#' test <- simulate(sim, 1, seed = 2)
#' posterior_pairs(sample_posterior(fit, test$data[1, ]), truth = test$parameters[1, ])
#' }
#' @export
posterior_pairs <- function(draws, truth = NULL, variables = NULL, max_points = 2000) {
  m <- if (posterior::is_draws(draws)) as.matrix(posterior::as_draws_matrix(draws)) else draws
  if (!is.matrix(m) || !is.numeric(m) || is.null(colnames(m)) || nrow(m) < 2) {
    cli::cli_abort(c("{.arg draws} must be posterior draws or a numeric matrix with named columns and >= 2 rows.",
                     "x" = "Got {describe_value(draws)}."), class = "amortized_error_argument")
  }
  m <- matrix(as.numeric(m), nrow(m), dimnames = list(NULL, colnames(m)))  # a plain matrix
  variables <- variables %||% utils::head(colnames(m), 8)
  unknown <- setdiff(variables, colnames(m))
  if (length(unknown) > 0) {
    cli::cli_abort("{.arg variables} names {.val {unknown}}, not among the draws' variables.",
                   class = "amortized_error_argument")
  }
  max_points <- check_count(max_points, min = 2)
  m <- m[, variables, drop = FALSE]
  if (!is.null(truth)) {
    if (!is.numeric(truth)) {
      cli::cli_abort("{.arg truth} must be numeric.", class = "amortized_error_argument")
    }
    truth <- if (!is.null(names(truth))) truth[variables] else truth
    if (length(truth) != length(variables) || anyNA(truth)) {
      cli::cli_abort(c("{.arg truth} must give a value for each of {.val {variables}}.",
                       "x" = "Got {length(truth)} value{?s}{if (anyNA(truth)) ', with NA'}."),
                     class = "amortized_error_argument")
    }
    names(truth) <- variables
  }
  keep <- if (nrow(m) > max_points) round(seq(1, nrow(m), length.out = max_points)) else seq_len(nrow(m))
  f <- function(v) factor(v, levels = variables)
  grid <- expand.grid(i = seq_along(variables), j = seq_along(variables))
  grid <- grid[grid$i > grid$j, ]  # row variable below the diagonal
  pairs_df <- do.call(rbind, lapply(seq_len(nrow(grid)), function(k) {
    data.frame(row = f(variables[grid$i[k]]), col = f(variables[grid$j[k]]),
               x = m[keep, grid$j[k]], y = m[keep, grid$i[k]])
  }))
  # histograms drawn in the units of their own variable, so that a row of
  # panels shares one y scale (the row variable's)
  diag_df <- do.call(rbind, lapply(variables, function(v) {
    h <- graphics::hist(m[, v], breaks = 40, plot = FALSE)
    lo <- min(m[, v])
    span <- max(diff(range(m[, v])), 1e-12)
    data.frame(row = f(v), col = f(v), xmin = utils::head(h$breaks, -1), xmax = h$breaks[-1], ymin = lo,
               ymax = lo + span * h$counts / max(h$counts))
  }))
  p <- ggplot2::ggplot() +
    ggplot2::geom_rect(data = diag_df, ggplot2::aes(xmin = .data$xmin, xmax = .data$xmax, ymin = .data$ymin,
                                                    ymax = .data$ymax), fill = "#5b9bd5", alpha = 0.8)
  if (nrow(grid) > 0) {
    p <- p + ggplot2::geom_point(data = pairs_df, ggplot2::aes(x = .data$x, y = .data$y), colour = "#1f4e79",
                                 size = 0.4, alpha = 0.3)
  }
  if (!is.null(truth)) {
    lower <- expand.grid(i = seq_along(variables), j = seq_along(variables))
    lower <- lower[lower$i >= lower$j, ]  # the diagonal and below
    p <- p + ggplot2::geom_vline(data = data.frame(row = f(variables[lower$i]), col = f(variables[lower$j]),
                                                   x = unname(truth[lower$j])),
                                 ggplot2::aes(xintercept = .data$x), colour = "#c0504d")
    if (nrow(grid) > 0) {
      p <- p + ggplot2::geom_point(data = data.frame(row = f(variables[grid$i]), col = f(variables[grid$j]),
                                                     x = unname(truth[grid$j]), y = unname(truth[grid$i])),
                                   ggplot2::aes(x = .data$x, y = .data$y), colour = "#c0504d", size = 2.5, shape = 4,
                                   stroke = 1.2)
    }
  }
  p + ggplot2::facet_grid(row ~ col, scales = "free") +
    ggplot2::labs(x = NULL, y = NULL, title = "Posterior draws",
                  subtitle = if (!is.null(truth)) "red: true values") +
    theme_amortized()
}
