test_that("posterior predictive checks for flat data: predictions around the observation", {
  fit <- fitted_gaussian_linear()
  sim <- benchmark_simulator("gaussian_linear")
  x <- gl_observations[1, ]
  ppc <- posterior_predictive(fit, sim, x, n_draws = 400, seed = 1)
  expect_s3_class(ppc, "amortized_ppc")
  expect_equal(dim(ppc$predicted), c(400, 10))
  # predictive: x_new ~ N(x / 2, 0.05 + 0.1)
  expect_lt(max(abs(colMeans(ppc$predicted) - x / 2)), 0.06)
  expect_lt(max(abs(apply(ppc$predicted, 2, sd) / sqrt(0.15) - 1)), 0.15)
  expect_output(print(ppc), "p_value")
  p <- autoplot(ppc)
  expect_s3_class(p, "ggplot")
  expect_equal(nrow(p$data), 10)
  expect_equal(vapply(p$layers, function(l) class(l$geom)[1], ""), c("GeomRibbon", "GeomRibbon", "GeomLine", "GeomPoint"))
  # draws instead of an amortizer
  d <- sample_posterior(fit, x, 50, seed = 2)
  expect_equal(nrow(posterior_predictive(d, sim, x, seed = 3)$predicted), 50)
  expect_error(posterior_predictive(fit, x), "must be the simulator", class = "amortized_error_argument")
  expect_error(posterior_predictive(fit, sim, gl_observations), "one data set", class = "amortized_error_data")
  expect_error(posterior_predictive(matrix(1, 2, 2), sim, x), "must be an amortizer or draws",
               class = "amortized_error_argument")
})

test_that("posterior predictive checks for set data and R simulators with context", {
  sim <- simulator(function(n) cbind(mu = stats::rnorm(n), sigma = stats::rexp(n) + 0.2),
                   function(theta, n_obs) array(stats::rnorm(nrow(theta) * n_obs, theta[, 1], theta[, 2]),
                                                c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y")),
                   context = list(n_obs = 10:30))
  fit <- train(amortizer(coupling_flow(n_layers = 2, hidden = 16), summary_net = deep_set(width = 8, hidden = 8),
                         configurator = configurator(constrain(sigma = "positive"))),
               sim, n_sims = 1000, epochs = 3, seed = 1, verbose = FALSE)
  y <- stats::rnorm(20, 1, 0.5)
  ppc <- posterior_predictive(fit, sim, y, n_draws = 30, seed = 2)
  expect_equal(dim(ppc$predicted), c(30, 20, 1))  # n_obs from the observed data
  expect_output(print(ppc), "predicted_mean")
  p <- autoplot(ppc)
  expect_equal(vapply(p$layers, function(l) class(l$geom)[1], ""), c("GeomDensity", "GeomDensity"))
  # a benchmark set simulator
  ddm <- benchmark_simulator("ddm", n_obs = 15)
  obs <- simulate(ddm, 1, seed = 3)$data[1, , ]
  draws <- posterior::as_draws_matrix(cbind(v = rep(1, 5), a = 1, z = 0.5, t0 = 0.2))
  pd <- posterior_predictive(draws, ddm, obs, seed = 4)
  expect_equal(dim(pd$predicted), c(5, 15, 2))
  expect_true(all(pd$predicted[, , "rt"] > 0.2))
  # bayesplot's pp_check() on a set of one variable; sets of two variables are refused
  skip_if_not_installed("bayesplot")
  bp <- bayesplot::pp_check(ppc, type = "dens_overlay")
  expect_s3_class(bp, "ggplot")
  expect_equal(sort(unique(bp$data$rep_id[!bp$data$is_y])), 1:30)
  expect_error(bayesplot::pp_check(pd), "sets and series of one variable", class = "amortized_error_argument")
})

test_that("pp_check() draws flat checks with bayesplot's ppc functions", {
  skip_if_not_installed("bayesplot")
  fit <- fitted_gaussian_linear()
  ppc <- posterior_predictive(fit, benchmark_simulator("gaussian_linear"), gl_observations[1, ], n_draws = 40, seed = 1)
  p <- bayesplot::pp_check(ppc, type = "intervals")
  expect_s3_class(p, "ggplot")
  expect_equal(nrow(p$data), 10)                       # one interval per data value
  expect_equal(p$data$y_obs, unname(gl_observations[1, ]))
  expect_s3_class(bayesplot::pp_check(ppc), "ggplot")  # dens_overlay by default
  expect_error(bayesplot::pp_check(ppc, type = "dens_overlayy"), "did you mean \"dens_overlay\"",
               class = "amortized_error_argument")
})

test_that("posterior predictive checks of a time series plot intervals over time", {
  ar <- simulator(function(n) cbind(phi = stats::runif(n, -0.8, 0.8)),
                  function(theta, n_obs) {
                    x <- matrix(0, nrow(theta), n_obs)
                    for (t in 2:n_obs) x[, t] <- theta[, 1] * x[, t - 1] + stats::rnorm(nrow(theta))
                    array(x, c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "x"))
                  }, context = list(n_obs = 10:20))
  fit <- train(amortizer(coupling_flow(n_layers = 1, hidden = 8), summary_net = time_series_net(filters = 4, hidden = 8),
                         configurator = configurator(as_time_series())),
               ar, n_sims = 300, epochs = 1, seed = 1, verbose = FALSE)
  y <- cumsum(stats::rnorm(15)) / 3
  ppc <- posterior_predictive(fit, ar, y, n_draws = 40, seed = 1)
  expect_true(ppc$time_series)
  p <- autoplot(ppc)
  expect_equal(nrow(p$data), 15)
  expect_equal(vapply(p$layers, function(l) class(l$geom)[1], ""), c("GeomRibbon", "GeomRibbon", "GeomLine", "GeomLine"))
  expect_false(posterior_predictive(fit, ar, y, n_draws = 5, seed = 1, time_series = FALSE)$time_series)
})
