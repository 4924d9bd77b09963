#' Confusion matrix of a model comparison
#'
#' Checks a model comparison amortizer on held-out simulations: how often
#' the data of each true model get each model as the most probable one.
#'
#' @inheritParams calibration_curve
#' @return An `amortized_confusion` object: `$counts` (a table, true model
#'   by predicted model), `$accuracy` and `$n_sims`; with `print()`,
#'   `summary()` (the rates per true model), `autoplot()` and `plot()`.
#' @seealso [calibration_curve()], [posterior_model_probs()].
#' @family model comparison
#' @examples
#' \donttest{
#' null <- simulator(function(n) cbind(mu = rep(0, n)),
#'                   function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])))
#' effect <- simulator(function(n) cbind(mu = rnorm(n)),
#'                     function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])))
#' cmp <- train(amortizer(estimate = "models"), list(null = null, effect = effect),
#'              n_sims = 2000, epochs = 5, seed = 1)
#' confusion_matrix(cmp, n_sims = 1000, seed = 2)
#' }
#' @export
confusion_matrix <- function(object, simulations = NULL, n_sims = 1000, seed = NULL, threads = inference_threads(),
                             device = getOption("amortized.device", "cpu")) {
  check_amortizer(object, kind = "models")
  n_sims <- check_count(n_sims, min = 2)
  seed <- resolve_seed(seed)
  threads <- check_threads(threads)
  device <- check_device(device)
  held <- model_check_predictions(object, simulations, n_sims, seed, threads, device)
  models <- object$models
  predicted <- factor(models[max.col(held$probs, ties.method = "first")], levels = models)
  truth <- factor(models[held$truth], levels = models)
  counts <- table(true = truth, predicted = predicted)
  structure(list(counts = counts, accuracy = sum(diag(counts)) / sum(counts), n_sims = length(truth)),
            class = "amortized_confusion")
}

#' @export
print.amortized_confusion <- function(x, ...) {
  cat("<amortized_confusion> ", x$n_sims, " held-out simulations, accuracy ",
      formatC(x$accuracy, format = "f", digits = 3), "\n", sep = "")
  print(x$counts)
  invisible(x)
}

#' @export
summary.amortized_confusion <- function(object, ...) {
  rates <- prop.table(object$counts, 1)
  as.data.frame.matrix(rates)
}

#' @rdname confusion_matrix
#' @param ... Unused.
#' @export
autoplot.amortized_confusion <- function(object, ...) {
  d <- as.data.frame(object$counts, responseName = "n")
  totals <- tapply(d$n, d$true, sum)
  d$rate <- d$n / totals[as.character(d$true)]
  ggplot2::ggplot(d, ggplot2::aes(x = .data$predicted, y = .data$true, fill = .data$rate)) +
    ggplot2::geom_tile(colour = "white") +
    ggplot2::geom_text(ggplot2::aes(label = formatC(.data$rate, format = "f", digits = 2))) +
    ggplot2::scale_fill_gradient(low = "white", high = "#1f4e79", limits = c(0, 1), name = "rate") +
    ggplot2::scale_y_discrete(limits = rev) +
    ggplot2::labs(x = "predicted model", y = "true model", title = "Confusion matrix",
                  subtitle = paste0(object$n_sims, " held-out simulations; accuracy ",
                                    formatC(object$accuracy, format = "f", digits = 3))) +
    theme_amortized()
}

#' @rdname confusion_matrix
#' @param x An `amortized_confusion` object.
#' @export
plot.amortized_confusion <- function(x, ...) autoplot.amortized_confusion(x, ...)
