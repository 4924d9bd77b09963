test_that("SBC of a well-trained amortizer does not reject uniformity", {
  fit <- fitted_gaussian_linear()
  # 200 data sets x 100 draws. With 500 data sets SBC detects the small
  # miscalibration that 10,000-simulation NPE still has (max ECDF deviation
  # ~0.08) for some training seeds.
  s <- sbc(fit, benchmark_simulator("gaussian_linear"), n_sims = 200, n_draws = 100, seed = 11)
  expect_s3_class(s, "amortized_sbc")
  expect_equal(dim(s$ranks), c(200L, 10L))
  expect_true(all(s$ranks >= 0 & s$ranks <= 100))
  sm <- summary(s)
  expect_false(any(sm$flagged))
  expect_gt(min(sm$p_value), 0.005)
  expect_output(print(s), "flagged: none")
})

test_that("SBC flags a posterior that is wrong for the simulator", {
  fit <- fitted_gaussian_linear()
  # data scaled by 3: the amortizer's posterior means are 3 times too large
  wrong <- simulator(function(n) {
    m <- matrix(rnorm(n * 10, 0, sqrt(0.1)), n)
    colnames(m) <- paste0("theta_", 1:10)
    m
  }, function(theta) {
    x <- (theta + matrix(rnorm(length(theta), 0, sqrt(0.1)), nrow(theta))) * 3
    colnames(x) <- paste0("x_", 1:10)
    x
  })
  s <- sbc(fit, wrong, n_sims = 300, n_draws = 100, seed = 5)
  expect_true(all(summary(s)$flagged))
  expect_output(print(s), "FLAGGED")
})

test_that("the simultaneous band holds a uniform ECDF path about 95% of the time", {
  n <- 100
  n_draws <- 99
  band <- amortized:::sbc_band(n, n_draws, 0.95)
  i <- amortized:::sbc_grid(n_draws)
  set.seed(123)
  inside <- replicate(1000, {
    r <- sample.int(n_draws + 1, n, replace = TRUE) - 1
    e <- vapply(i, function(k) mean(r < k), numeric(1))
    all(e >= band$lower & e <= band$upper)
  })
  expect_gt(mean(inside), 0.93)
  expect_lt(mean(inside), 0.975)
  # pointwise intervals at 95% would be far narrower than the simultaneous band
  expect_lt(band$gamma[1], 0.02)
  # p-values of uniform ranks are roughly uniform
  p <- replicate(200, amortized:::sbc_p_values(matrix(sample.int(n_draws + 1, n, TRUE) - 1), n_draws))
  expect_gt(mean(p < 0.05), 0.01)
  expect_lt(mean(p < 0.05), 0.10)
})

test_that("SBC plots are ggplots with the band and one facet per parameter", {
  s <- amortized:::new_sbc(cbind(a = 0:99, b = 99:0), 99)
  for (type in c("ecdf_diff", "ecdf")) {
    p <- autoplot(s, type = type)
    expect_s3_class(p, "ggplot")
    geoms <- vapply(p$layers, function(l) class(l$geom)[1], character(1))
    expect_equal(geoms, c("GeomRibbon", "GeomHline", "GeomStep"))
    built <- ggplot2::ggplot_build(p)
    expect_equal(length(unique(built$data[[3]]$PANEL)), 2)
    # three labels on the rank axis and room between facets: labels of neighbouring panels do not touch
    expect_equal(built$layout$panel_params[[1]]$x$get_labels(), c("0", "0.5", "1"))
    expect_gte(as.numeric(p$theme$panel.spacing), 1)
  }
  h <- autoplot(s, type = "hist")
  expect_true("GeomCol" %in% vapply(h$layers, function(l) class(l$geom)[1], character(1)))
  expect_equal(sum(ggplot2::layer_data(h, 2)$y), 200)
  expect_error(autoplot(s, type = "qq"), "should be one of")
  expect_error(summary(s, level = 2), "`level` must be a number in \\(0, 1\\)",
               class = "amortized_error_argument")
  expect_s3_class(plot(s, type = "hist"), "ggplot")
})

test_that("sbc() rejects bad arguments", {
  fit <- fitted_gaussian_linear()
  sim <- benchmark_simulator("gaussian_linear")
  expect_error(sbc(amortizer(), sim), "is not trained yet", class = "amortized_error_untrained")
  expect_error(sbc(fit), "`simulations` is missing", class = "amortized_error_argument")
  expect_error(sbc(fit, sim, n_sims = 1), "`n_sims` must be a whole number >= 2", class = "amortized_error_argument")
  expect_error(sbc(fit, sim, n_draws = 0), "`n_draws` must be a whole number >= 1", class = "amortized_error_argument")
  other <- simulator(function(n) cbind(a = rnorm(n)), function(theta) cbind(y = theta[, 1]))
  expect_error(sbc(fit, other), "other parameters than the amortizer", class = "amortized_error_argument")
})
