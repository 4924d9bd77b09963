test_that("coverage from ranks: uniform ranks sit on the diagonal, biased ranks do not", {
  set.seed(1)
  uniform <- matrix(sample(0:100, 4000 * 2, replace = TRUE), ncol = 2, dimnames = list(NULL, c("a", "b")))
  cov <- amortized:::coverage_from_ranks(uniform, 100, c(0.5, 0.9))
  expect_equal(cov$empirical, c(0.5, 0.9, 0.5, 0.9), tolerance = 0.03)
  expect_true(all(cov$empirical >= cov$lower - 0.01 & cov$empirical <= cov$upper + 0.01))
  # draws shifted by one posterior sd: the truth sits low among them
  shifted <- matrix(pmin(100, pmax(0, round(100 * stats::pnorm(stats::rnorm(8000) - 1)))), ncol = 2,
                    dimnames = list(NULL, c("a", "b")))
  bad <- amortized:::new_calibration_error(amortized:::new_coverage(
    amortized:::coverage_from_ranks(shifted, 100, seq(0.1, 0.9, 0.1)), 4000, 100))
  good <- amortized:::new_calibration_error(amortized:::new_coverage(
    amortized:::coverage_from_ranks(uniform, 100, seq(0.1, 0.9, 0.1)), 4000, 100))
  expect_true(all(bad$errors$max_abs_error > 0.1))
  expect_true(all(good$errors$max_abs_error < 0.04))
})

test_that("coverage() and calibration_error() of the gaussian_linear amortizer", {
  fit <- fitted_gaussian_linear()
  sims <- simulate(benchmark_simulator("gaussian_linear"), 500, seed = 7)
  cov <- coverage(fit, sims, n_draws = 200, seed = 3)
  expect_equal(nrow(cov$coverage), 10 * 19)
  expect_lt(max(abs(cov$coverage$empirical - cov$coverage$level)), 0.1)
  expect_output(print(cov), "Levels outside the 95% band")
  p <- autoplot(cov)
  expect_s3_class(p, "ggplot")
  expect_equal(vapply(p$layers, function(l) class(l$geom)[1], ""), c("GeomRibbon", "GeomAbline", "GeomLine", "GeomPoint"))
  ce <- calibration_error(fit, sims, n_draws = 200, seed = 3)
  expect_equal(names(ce$errors), c("parameter", "median_abs_error", "max_abs_error"))
  expect_true(all(ce$errors$median_abs_error < 0.05))
  expect_output(print(ce), "calibration_error")
  expect_s3_class(autoplot(ce), "ggplot")
})
