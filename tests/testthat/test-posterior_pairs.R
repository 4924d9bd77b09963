test_that("posterior_pairs() draws histograms, pair scatters and the truth", {
  fit <- fitted_gaussian_linear()
  draws <- sample_posterior(fit, gl_observations[1, ], n_draws = 300, seed = 1)
  p <- posterior_pairs(draws, truth = c(theta_2 = 0, theta_1 = 0.1, theta_3 = 0), variables = paste0("theta_", 1:3))
  expect_s3_class(p, "ggplot")
  geoms <- vapply(p$layers, function(l) class(l$geom)[1], "")
  expect_equal(geoms, c("GeomRect", "GeomPoint", "GeomVline", "GeomPoint"))
  expect_equal(nrow(p$layers[[2]]$data), 3 * 300)  # 3 pairs below the diagonal
  expect_equal(p$layers[[3]]$data$x, c(0.1, 0.1, 0.1, 0, 0, 0))  # matched by name; diagonal and below
  expect_s3_class(posterior_pairs(as.matrix(posterior::as_draws_matrix(draws))[, 1:2]), "ggplot")
  expect_error(posterior_pairs(draws, variables = "nope"), "not among", class = "amortized_error_argument")
  expect_error(posterior_pairs(draws, truth = c(1, 2), variables = paste0("theta_", 1:3)), "a value for each",
               class = "amortized_error_argument")
  expect_error(posterior_pairs(1:3), "must be posterior draws", class = "amortized_error_argument")
})
