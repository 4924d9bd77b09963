#' Posterior predictive checks
#'
#' Simulates new data sets from posterior draws for an observed data set and
#' compares them with it: data the model and the posterior describe well look
#' like typical predictions. For flat data and time series the plot shows the
#' observed values over the 50% and 90% predictive intervals of each value
#' (or time step); for set data it overlays the density of the observations
#' on the densities of predicted sets. `print()` gives, per data value, the
#' posterior predictive p-value (the share of predictions at least as large
#' as the observation; values near 0 or 1 flag misfit).
#'
#' @param object A trained [amortizer()], or posterior draws for the
#'   observed data set (a `posterior` draws object or a matrix with the
#'   parameter names as columns).
#' @param simulator The simulator the amortizer was trained on.
#' @param data One observed data set, as for [sample_posterior()].
#' @param n_draws Number of posterior draws, and so of predicted data sets.
#' @param context Context variables, as for [sample_posterior()]; `n_obs`
#'   defaults to the observed number of observations.
#' @param seed `NULL` or a whole number.
#' @param time_series For `[n_obs, dim]` data: whether the observations are
#'   time steps (plotted as predictive intervals over time, one panel per
#'   variable) rather than an exchangeable set (density overlays). `NULL`:
#'   as the amortizer was configured ([as_time_series()]); a set otherwise.
#' @param threads,device Where the amortizer draws the posterior, as for
#'   [sample_posterior()]. The simulator is the one thing that takes no
#'   `n_sims` or stored simulations here (unlike the other checks): new data
#'   sets are simulated for the posterior draws.
#' @return An `amortized_ppc` object: `observed`, `predicted` (one data set
#'   per row, or an `[n_draws, n_obs, dim]` array), `draws`; with `print()`
#'   and `autoplot()`/`plot()`. With \pkg{bayesplot} installed,
#'   `bayesplot::pp_check(ppc, type = "dens_overlay")` draws it with
#'   bayesplot's `ppc_<type>()` functions, as `pp_check()` does for brms
#'   fits (`"intervals"`, `"hist"`, `"ecdf_overlay"`, `"stat"`, ...): for
#'   flat data, and for sets and series of one variable.
#' @family checks
#' @examples
#' \donttest{
#' sim <- benchmark_simulator("sir")
#' fit <- train(amortizer(), sim, n_sims = 5000, epochs = 30, seed = 1)
#' obs <- simulate(sim, 1, seed = 7)$data[1, ]
#' plot(posterior_predictive(fit, sim, obs))
#' }
#' @export
posterior_predictive <- function(object, simulator, data, n_draws = 100, context = NULL, seed = NULL,
                                 time_series = NULL, threads = inference_threads(),
                                 device = getOption("amortized.device", "cpu")) {
  if (missing(simulator) || !is_simulator(simulator)) {
    cli::cli_abort(c("{.arg simulator} must be the simulator of the model ({.fn simulator} or {.fn benchmark_simulator}).",
                     "x" = if (missing(simulator)) "It is missing." else "Got {describe_value(simulator)}."),
                   class = "amortized_error_argument")
  }
  if (missing(data)) cli::cli_abort("{.arg data} is missing: give the observed data set.", class = "amortized_error_argument")
  n_draws <- check_count(n_draws)
  seed <- resolve_seed(seed)
  threads <- check_threads(threads)
  device <- check_device(device)
  if (is.list(simulator$data_names)) {
    cli::cli_abort(c("{.fn posterior_predictive} does not handle multi-source simulators yet.",
                     "i" = "Simulate from the posterior draws with your model and compare source by source."),
                   class = "amortized_error_argument")
  }
  set_data <- length(simulator$data_shape) == 2
  if (is.null(time_series)) {
    time_series <- inherits(object, "amortizer") && identical(object$config$structure, "time_series")
  }
  time_series <- check_flag(time_series) && set_data
  observed <- if (set_data) {
    as_set_observations(data, simulator$data_names)
  } else {
    as_observations(data, simulator$data_names)
  }
  if (!observed$single) {
    cli::cli_abort("{.arg data} must be one data set for a posterior predictive check.", class = "amortized_error_data")
  }
  n_obs <- if (set_data) observed$lengths[1]
  if (inherits(object, "amortizer")) {
    check_amortizer(object)
    if (!identical(object$parameter_names, simulator$parameter_names)) {
      cli::cli_abort("{.arg simulator} has other parameters than the amortizer.", class = "amortized_error_argument")
    }
    theta <- as.matrix(posterior::as_draws_matrix(sample_posterior(object, data, n_draws, context = context,
                                                                   seed = seed, threads = threads, device = device)))
  } else {
    theta <- if (posterior::is_draws(object)) as.matrix(posterior::as_draws_matrix(object)) else object
    if (!is.matrix(theta) || !is.numeric(theta) || !all(simulator$parameter_names %in% colnames(theta))) {
      cli::cli_abort(c("{.arg object} must be an amortizer or draws with the parameters {.val {simulator$parameter_names}}.",
                       "x" = "Got {describe_value(object)}."), class = "amortized_error_argument")
    }
    rows <- if (nrow(theta) > n_draws) round(seq(1, nrow(theta), length.out = n_draws)) else seq_len(nrow(theta))
    theta <- theta[rows, , drop = FALSE]
  }
  theta <- unclass(theta[, simulator$parameter_names, drop = FALSE])
  attr(theta, "nchains") <- NULL
  predicted <- simulate_given(simulator, theta, seed, n_obs, context)
  structure(list(observed = if (set_data) observed$data[1, seq_len(n_obs), , drop = TRUE] else observed$matrix[1, ],
                 predicted = predicted, draws = theta, set_data = set_data, time_series = time_series,
                 data_names = simulator$data_names),
            class = "amortized_ppc")
}

# Data simulated for the rows of theta (no prior draw).
simulate_given <- function(sim, theta, seed, n_obs, context, call = rlang::caller_env()) {
  if (sim$type == "benchmark") {
    o <- sim$options %||% list(n_obs = 100L, design = matrix(0, 0, 0))
    out <- core_call(.amz_benchmark_simulate_given(sim$name, theta, seed, 1L, n_obs %||% o$n_obs, o$design),
                     call = call)
    return(out$data)
  }
  ctx <- list()
  for (name in names(sim$context)) {
    ctx[[name]] <- if (!is.null(context) && name %in% names(context)) context[[name]] else
      if (name == "n_obs" && !is.null(n_obs)) n_obs else
        cli::cli_abort("{.arg context} must give the simulator's context variable {.field {name}}.",
                       class = "amortized_error_argument", call = call)
  }
  with_seed(seed, {
    x <- if (sim$vectorized) do.call(sim$model, c(list(theta), ctx)) else
      stack_rows(lapply(seq_len(nrow(theta)), function(i) do.call(sim$model, c(list(theta[i, ]), ctx))), call)
  })
  if (is.data.frame(x)) x <- as.matrix(x)
  x
}

#' @export
print.amortized_ppc <- function(x, ...) {
  n <- nrow(x$draws)
  cat("<amortized_ppc> posterior predictive check: ", n, " predicted data sets\n", sep = "")
  tab <- summary.amortized_ppc(x)
  tab[-1] <- lapply(tab[-1], function(v) signif(v, 3))
  print(utils::head(tab, 20), row.names = FALSE)
  if (nrow(tab) > 20) cat("... ", nrow(tab) - 20, " more\n", sep = "")
  invisible(x)
}

#' @rdname posterior_predictive
#' @param object An `amortized_ppc` object.
#' @export
summary.amortized_ppc <- function(object, ...) {
  x <- object
  if (x$set_data) {
    pred <- matrix(x$predicted, ncol = dim(x$predicted)[3])
    obs <- matrix(x$observed, ncol = length(x$data_names))
    tab <- data.frame(variable = x$data_names, observed_mean = colMeans(obs), predicted_mean = colMeans(pred, na.rm = TRUE),
                      observed_sd = apply(obs, 2, stats::sd), predicted_sd = apply(pred, 2, stats::sd, na.rm = TRUE))
  } else {
    pred <- x$predicted
    tab <- data.frame(variable = x$data_names, observed = x$observed,
                      predicted_median = apply(pred, 2, stats::median),
                      p_value = colMeans(sweep(pred, 2, x$observed, ">=")))
  }
  rownames(tab) <- NULL
  tab
}

#' @rdname posterior_predictive
#' @param type For `pp_check()`: the bayesplot plot, the name of a
#'   `bayesplot::ppc_<type>()` function that takes `y` and `yrep`.
#' @exportS3Method bayesplot::pp_check
pp_check.amortized_ppc <- function(object, type = "dens_overlay", ...) {
  rlang::check_installed("bayesplot", reason = "for `pp_check()`.")
  fun_name <- paste0("ppc_", check_choice(type, c("dens_overlay", "ecdf_overlay", "hist", "boxplot", "intervals",
                                                   "ribbon", "stat", "stat_2d", "scatter_avg", "error_hist")))
  fun <- getExportedValue("bayesplot", fun_name)
  yrep <- object$predicted
  if (object$set_data) {
    if (dim(yrep)[3] != 1) {
      cli::cli_abort(c("{.fn pp_check} takes flat data, or sets and series of one variable.",
                       "i" = "This check's data have {dim(yrep)[3]} variables per observation: use {.fn plot}."),
                     class = "amortized_error_argument")
    }
    yrep <- matrix(yrep[, , 1], nrow = dim(yrep)[1])
  }
  keep <- stats::complete.cases(yrep)
  fun(as.vector(object$observed), yrep[keep, , drop = FALSE], ...)
}

#' @rdname posterior_predictive
#' @param x An `amortized_ppc` object.
#' @param ... Unused.
#' @export
autoplot.amortized_ppc <- function(object, ...) {
  if (isTRUE(object$time_series)) return(ppc_series_plot(object))
  if (object$set_data) {
    d <- dim(object$predicted)
    k <- min(d[1], 20)
    pred <- do.call(rbind, lapply(seq_len(k), function(i) {
      data.frame(replicate = i, variable = rep(object$data_names, each = d[2]),
                 value = as.vector(object$predicted[i, , ]))
    }))
    obs <- data.frame(variable = rep(object$data_names, each = length(object$observed) / length(object$data_names)),
                      value = as.vector(object$observed))
    return(ggplot2::ggplot(stats::na.omit(pred), ggplot2::aes(x = .data$value)) +
             ggplot2::geom_density(ggplot2::aes(group = .data$replicate), colour = "#9dc3e6", linewidth = 0.3) +
             ggplot2::geom_density(data = obs, colour = "#1f4e79", linewidth = 1) +
             ggplot2::facet_wrap(~variable, scales = "free") +
             ggplot2::labs(x = NULL, y = "density", title = "Posterior predictive check",
                           subtitle = paste0("observed (dark) and ", k, " predicted data sets (light)")) +
             theme_amortized())
  }
  pred <- object$predicted
  q <- apply(pred, 2, stats::quantile, probs = c(0.05, 0.25, 0.5, 0.75, 0.95), na.rm = TRUE)
  df <- data.frame(index = seq_along(object$observed), variable = factor(object$data_names, object$data_names),
                   observed = object$observed, q05 = q[1, ], q25 = q[2, ], q50 = q[3, ], q75 = q[4, ], q95 = q[5, ])
  ggplot2::ggplot(df, ggplot2::aes(x = .data$index)) +
    ggplot2::geom_ribbon(ggplot2::aes(ymin = .data$q05, ymax = .data$q95), fill = "#9dc3e6", alpha = 0.5) +
    ggplot2::geom_ribbon(ggplot2::aes(ymin = .data$q25, ymax = .data$q75), fill = "#5b9bd5", alpha = 0.5) +
    ggplot2::geom_line(ggplot2::aes(y = .data$q50), colour = "#5b9bd5") +
    ggplot2::geom_point(ggplot2::aes(y = .data$observed), colour = "#1f4e79", size = 1.8) +
    ggplot2::scale_x_continuous(breaks = df$index, labels = if (nrow(df) <= 20) df$variable else ggplot2::waiver()) +
    ggplot2::labs(x = NULL, y = "value", title = "Posterior predictive check",
                  subtitle = "observed (points) with 50% and 90% predictive intervals") +
    theme_amortized()
}

# Predictive intervals over time, one panel per variable.
ppc_series_plot <- function(object) {
  obs <- matrix(object$observed, ncol = length(object$data_names))
  steps <- nrow(obs)
  df <- do.call(rbind, lapply(seq_along(object$data_names), function(j) {
    pred <- matrix(object$predicted[, seq_len(steps), j], ncol = steps)
    q <- apply(pred, 2, stats::quantile, probs = c(0.05, 0.25, 0.5, 0.75, 0.95), na.rm = TRUE)
    data.frame(variable = factor(object$data_names[j], object$data_names), step = seq_len(steps), observed = obs[, j],
               q05 = q[1, ], q25 = q[2, ], q50 = q[3, ], q75 = q[4, ], q95 = q[5, ])
  }))
  ggplot2::ggplot(df, ggplot2::aes(x = .data$step)) +
    ggplot2::geom_ribbon(ggplot2::aes(ymin = .data$q05, ymax = .data$q95), fill = "#9dc3e6", alpha = 0.5) +
    ggplot2::geom_ribbon(ggplot2::aes(ymin = .data$q25, ymax = .data$q75), fill = "#5b9bd5", alpha = 0.5) +
    ggplot2::geom_line(ggplot2::aes(y = .data$q50), colour = "#5b9bd5") +
    ggplot2::geom_line(ggplot2::aes(y = .data$observed), colour = "#1f4e79") +
    ggplot2::facet_wrap(~variable, scales = "free_y", ncol = 1) +
    ggplot2::labs(x = "time step", y = "value", title = "Posterior predictive check",
                  subtitle = "observed series (dark) with 50% and 90% predictive intervals") +
    theme_amortized()
}

#' @rdname posterior_predictive
#' @export
plot.amortized_ppc <- function(x, ...) autoplot.amortized_ppc(x, ...)
