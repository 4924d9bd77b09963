# The training history of an amortizer: a data frame (epoch, train_loss,
# validation_loss, learning_rate, seconds) with a plot.

new_history <- function(df) {
  df <- as.data.frame(df)
  rownames(df) <- NULL
  class(df) <- c("amortized_history", "data.frame")
  df
}

#' Plot a training history
#'
#' The training and validation losses per epoch of a trained amortizer
#' (`fit$history`), with the epoch whose weights the amortizer kept marked.
#'
#' @param object,x An `amortized_history` (`fit$history`), or a trained
#'   amortizer (its history).
#' @param log_scale Draw the epochs on a log scale.
#' @param ... Unused.
#' @return A ggplot object, from `autoplot()` and from `plot()` alike (it
#'   prints at top level, as ggplot objects do; `plot(fit) + theme_bw()`
#'   works).
#' @family workflow
#' @examples
#' \donttest{
#' fit <- train(amortizer(), benchmark_simulator("two_moons"), n_sims = 2000, epochs = 20, seed = 1)
#' plot(fit)
#' plot(fit$history, log_scale = TRUE)
#' }
#' @export
autoplot.amortized_history <- function(object, log_scale = FALSE, ...) {
  h <- as.data.frame(object)
  long <- rbind(data.frame(epoch = h$epoch, loss = h$train_loss, split = "training"),
                data.frame(epoch = h$epoch, loss = h$validation_loss, split = "validation"))
  best <- h[which.min(h$validation_loss), ]
  p <- ggplot2::ggplot(long, ggplot2::aes(x = .data$epoch, y = .data$loss, colour = .data$split)) +
    ggplot2::geom_line() +
    ggplot2::geom_point(data = data.frame(epoch = best$epoch, loss = best$validation_loss, split = "validation"),
                        size = 2.5, shape = 21, fill = "white") +
    ggplot2::scale_colour_manual(values = c(training = "#1f4e79", validation = "#c0504d")) +
    ggplot2::labs(x = "epoch", y = "loss (negative log density)", colour = NULL,
                  title = "Training history", subtitle = paste0("best validation loss ", format(best$validation_loss,
                                                                digits = 4), " at epoch ", best$epoch)) +
    theme_amortized()
  if (log_scale) p <- p + ggplot2::scale_x_log10()
  p
}

#' @rdname autoplot.amortized_history
#' @export
plot.amortized_history <- function(x, log_scale = FALSE, ...) autoplot.amortized_history(x, log_scale = log_scale)

#' @rdname autoplot.amortized_history
#' @export
autoplot.amortizer <- function(object, log_scale = FALSE, ...) {
  check_amortizer(object, arg = "object", kind = NULL)
  autoplot.amortized_history(object$history, log_scale = log_scale)
}

#' @rdname autoplot.amortized_history
#' @export
plot.amortizer <- function(x, log_scale = FALSE, ...) autoplot.amortizer(x, log_scale = log_scale)
