test_that("diagnostics() runs the standard checks and combines their plots", {
  fit <- fitted_gaussian_linear()
  report <- diagnostics(fit, benchmark_simulator("gaussian_linear"), n_sims = 200, n_draws = 100, seed = 1)
  expect_s3_class(report, "amortized_diagnostics")
  expect_s3_class(report$sbc, "amortized_sbc")
  expect_s3_class(report$recovery, "amortized_recovery")
  expect_s3_class(report$z_contraction, "amortized_z_contraction")
  expect_s3_class(report$calibration, "amortized_calibration_error")
  out <- capture.output(print(report))
  expect_match(out[1], "200 simulated data sets x 100 draws")
  expect_equal(length(out), 1 + 1 + 10 + 1)
  plots <- amortized:::diagnostic_plots(report)
  expect_true(all(vapply(Filter(Negate(is.null), plots), ggplot2::is.ggplot, logical(1))))
  # plot() returns the ggplot of every result, as autoplot() does, so that
  # it can be added to; plot() of an amortizer is its loss history
  for (x in list(report$sbc, report$recovery, report$z_contraction, report$calibration,
                 report$calibration$coverage, fit$history, fit)) {
    p <- plot(x)
    expect_true(ggplot2::is.ggplot(p), label = paste("plot() of", class(x)[1]))
    expect_true(ggplot2::is.ggplot(p + ggplot2::theme_bw()))
    expect_true(withVisible(plot(x))$visible)
  }
  expect_identical(plot(fit)$data, autoplot(fit$history)$data)
  # summary() of every result is a data frame
  for (x in list(report, report$sbc, report$recovery, report$z_contraction, report$calibration,
                 report$calibration$coverage)) {
    expect_true(is.data.frame(summary(x)), label = paste("summary() of", class(x)[1]))
  }
  expect_identical(summary(report)$parameter, fit$parameter_names)
  skip_if_not_installed("patchwork")
  expect_s3_class(autoplot(report), "patchwork")
  expect_s3_class(plot(report), "patchwork")
})

test_that("draws work with bayesplot", {
  skip_if_not_installed("bayesplot")
  fit <- fitted_gaussian_linear()
  draws <- sample_posterior(fit, gl_observations[1, ], n_draws = 200, seed = 1)
  p <- bayesplot::mcmc_hist(draws, pars = c("theta_1", "theta_2"))
  expect_s3_class(p, "ggplot")
  skip_if_not_installed("gridExtra")  # mcmc_pairs() needs it (bayesplot only suggests it)
  # amortized draws are independent: one "chain", which mcmc_pairs() remarks on
  expect_s3_class(suppressWarnings(bayesplot::mcmc_pairs(draws, pars = c("theta_1", "theta_2"))), "bayesplot_grid")
})

test_that("diagnostics() checks its arguments", {
  fit <- fitted_gaussian_linear()
  expect_error(diagnostics(fit), "`simulations` is missing", class = "amortized_error_argument")
  expect_error(diagnostics(amortizer(), benchmark_simulator("gaussian_linear")), "not trained yet",
               class = "amortized_error_untrained")
  expect_error(diagnostics(fit, benchmark_simulator("gaussian_linear"), n_sims = 1), "`n_sims` must be a whole number >= 2",
               class = "amortized_error_argument")
  expect_error(diagnostics(fit, benchmark_simulator("two_moons"), n_sims = 10), "other parameters",
               class = "amortized_error_argument")
})
