test_that("recovery() of the exact-posterior gaussian_linear: R² near the explained share of prior variance", {
  fit <- fitted_gaussian_linear()
  sims <- simulate(benchmark_simulator("gaussian_linear"), 400, seed = 5)
  rec <- recovery(fit, sims, n_draws = 300, seed = 1)
  expect_s3_class(rec, "amortized_recovery")
  expect_equal(nrow(rec$estimates), 400 * 10)
  expect_equal(as.character(rec$metrics$parameter), fit$parameter_names)
  # exact posterior N(x / 2, 0.05): the median explains half of the prior variance 0.1
  expect_true(all(abs(rec$metrics$r2 - 0.5) < 0.12))
  expect_true(all(abs(rec$metrics$coverage - 0.9) < 0.06))
  expect_true(all(abs(rec$estimates$sd - sqrt(0.05)) < 0.06))
  expect_output(print(rec), "400 data sets x 300 draws")
  p <- autoplot(rec)
  expect_s3_class(p, "ggplot")
  expect_equal(vapply(p$layers, function(l) class(l$geom)[1], ""),
               c("GeomAbline", "GeomLinerange", "GeomPoint", "GeomText"))
  expect_equal(nrow(p$data), 4000)
})

test_that("diagnostics check their inputs", {
  fit <- fitted_gaussian_linear()
  # every check takes simulations, or a simulator and n_sims, the same way
  sim <- benchmark_simulator("gaussian_linear")
  from_sim <- recovery(fit, sim, n_sims = 20, n_draws = 50, seed = 3)
  expect_equal(from_sim, recovery(fit, simulate(sim, 20, seed = 3), n_draws = 50, seed = 3))
  expect_equal(nrow(from_sim$estimates), 20 * 10)
  for (check in list(sbc, recovery, coverage, z_score_contraction, calibration_error, diagnostics)) {
    expect_error(check(fit, 3), "`simulations` must be a simulator", class = "amortized_error_argument")
    expect_error(check(fit), "`simulations` is missing", class = "amortized_error_argument")
    expect_identical(names(formals(check))[1:4], c("object", "simulations", "n_sims", "n_draws"))
    expect_identical(formals(check)$n_draws, 500)
  }
  expect_error(recovery(amortizer(), simulate(benchmark_simulator("gaussian_linear"), 10, seed = 1)),
               "not trained yet", class = "amortized_error_untrained")
  other <- simulate(benchmark_simulator("two_moons"), 10, seed = 1)
  expect_error(z_score_contraction(fit, other), "other parameters than the amortizer", class = "amortized_error_argument")
  sims <- simulate(benchmark_simulator("gaussian_linear"), 10, seed = 1)
  expect_error(recovery(fit, sims, level = 1), "`level` must be a number in", class = "amortized_error_argument")
  expect_error(coverage(fit, sims, levels = c(0.5, 1.2)), "`levels` must be numbers in", class = "amortized_error_argument")
  expect_error(coverage(fit, sims, n_draws = 1), "`n_draws` must be a whole number >= 2", class = "amortized_error_argument")
})

test_that("the draws of many data sets are summarised in chunks of bounded size, rows kept in place", {
  fit <- fitted_gaussian_linear()
  sims <- simulate(benchmark_simulator("gaussian_linear"), 60, seed = 5)
  whole <- recovery(fit, sims, n_draws = 200, seed = 1, threads = 1)
  chunked <- withr::with_options(list(amortized.chunk_values = 200 * 10 * 7), {  # 7 data sets a chunk
    recovery(fit, sims, n_draws = 200, seed = 1, threads = 1)
  })
  expect_equal(dim(chunked$estimates), dim(whole$estimates))
  # other random draws, the same posteriors: means agree to Monte Carlo error (sd 0.22 / sqrt(200) each)
  expect_lt(max(abs(chunked$estimates$mean - whole$estimates$mean)), 0.1)
  expect_identical(chunked$estimates$truth, whole$estimates$truth)
})
