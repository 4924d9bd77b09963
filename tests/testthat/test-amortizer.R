test_that("amortizer() and coupling_flow() build specifications with checks", {
  a <- amortizer()
  expect_s3_class(a, "amortizer")
  expect_output(print(a), "untrained")
  expect_output(print(a), "6 affine coupling blocks, hidden 128x128")
  f <- coupling_flow(n_layers = 2, hidden = c(32, 16), activation = "relu")
  expect_equal(f$hidden, c(32L, 16L))
  expect_output(print(amortizer(f)), "2 affine coupling blocks, hidden 32x16, relu")

  expect_error(amortizer("flow"), "`inference_net` must be an inference network",
               class = "amortized_error_argument")
  expect_error(coupling_flow(transform = "cubic"), "`transform` must be", class = "amortized_error_argument")
  expect_error(coupling_flow(n_layers = 0), "`n_layers` must be a whole number >= 1",
               class = "amortized_error_argument")
  expect_error(coupling_flow(hidden = c(64, -1)), "`hidden` must be a vector of whole numbers",
               class = "amortized_error_argument")
  expect_error(coupling_flow(activation = "swish"), "`activation` must be one of",
               class = "amortized_error_argument")
  expect_error(coupling_flow(clamp = 0), "`clamp` must be a number in \\(0, Inf\\]",
               class = "amortized_error_argument")
})

test_that("a trained amortizer prints its architecture and training", {
  fit <- fitted_gaussian_linear()
  expect_output(print(fit), "weights: [0-9,]+")
  expect_output(print(fit), "trained on 10,000 simulations")
  s <- summary(fit)
  expect_s3_class(s, "summary.amortizer")
  expect_true(any(grepl("affine coupling", s$layers)))
  expect_output(print(s), "Weights:")
})

test_that("a trained amortizer survives saveRDS/readRDS with identical draws", {
  fit <- fitted_gaussian_linear()
  path <- tempfile(fileext = ".rds")
  saveRDS(fit, path)
  restored <- readRDS(path)
  x <- gl_observations[1, ]
  expect_identical(as.matrix(sample_posterior(restored, x, 50, seed = 9)),
                   as.matrix(sample_posterior(fit, x, 50, seed = 9)))
  # and in a fresh R process
  skip_if_not_installed("callr")
  skip_if(!nzchar(system.file(package = "amortized")), "amortized is not installed")
  fresh <- callr::r(function(path, x) {
    fit <- readRDS(path)
    as.matrix(amortized::sample_posterior(fit, x, 50, seed = 9))
  }, args = list(path = path, x = x))
  expect_identical(unclass(fresh), unclass(as.matrix(sample_posterior(fit, x, 50, seed = 9))))
})
