test_that("z-scores and contraction of the exact-posterior gaussian_linear", {
  fit <- fitted_gaussian_linear()
  sims <- simulate(benchmark_simulator("gaussian_linear"), 400, seed = 6)
  zc <- z_score_contraction(fit, sims, n_draws = 300, seed = 2)
  m <- zc$metrics
  # posterior variance 0.05 of prior variance 0.1: contraction 0.5; z ~ N(0, 1)
  expect_true(all(abs(m$mean_contraction - 0.5) < 0.1))
  # the mean z of the exact posterior on these simulations (its own sampling
  # error, about 0.05, reaches 0.13 here): the network's bias stays within 0.1 sd
  exact_z <- colMeans((sims$data / 2 - sims$parameters) / sqrt(0.05))
  expect_true(all(abs(m$mean_z - exact_z[m$parameter]) < 0.1))
  expect_true(all(abs(m$sd_z - 1) < 0.2))
  expect_output(print(zc), "sd_z near 1")
  p <- autoplot(zc)
  expect_s3_class(p, "ggplot")
  expect_equal(nrow(p$data), 4000)
  expect_true("GeomPoint" %in% vapply(p$layers, function(l) class(l$geom)[1], ""))
})
