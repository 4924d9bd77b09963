test_that("c2st() scores identical samples near 0.5 and disjoint ones near 1", {
  set.seed(1)
  a <- matrix(rnorm(3000), ncol = 2)
  b <- matrix(rnorm(3000), ncol = 2)
  same <- c2st(a, b)
  expect_lt(abs(same$score - 0.5), 0.04)
  expect_length(same$folds, 5)
  expect_length(same$epochs, 5)
  expect_true(all(same$epochs >= 11 & same$epochs <= 1000))  # the stopping rule needs 11 epochs at least
  capped <- c2st(a, b, max_epochs = 3)
  expect_equal(capped$epochs, rep(3, 5))
  far <- c2st(a + 10, b)
  expect_gt(far$score, 0.99)
})

test_that("c2st() matches the optimal accuracy for a shifted Gaussian", {
  set.seed(2)
  delta <- 1.5
  a <- cbind(rnorm(3000, delta), rnorm(3000))
  b <- cbind(rnorm(3000), rnorm(3000))
  # the best classifier of N(0, 1) against N(delta, 1) is right with probability pnorm(delta / 2)
  expect_equal(as.numeric(c2st(a, b, seed = 3)), pnorm(delta / 2), tolerance = 0.025)
})

test_that("c2st() takes data frames and draws objects and checks its input", {
  set.seed(3)
  ref <- data.frame(mu = rnorm(400), sigma = rnorm(400))
  draws <- posterior::as_draws_df(as.matrix(ref + 0.05))
  res <- c2st(draws, ref)
  expect_s3_class(res, "amortized_c2st")
  expect_true(is.numeric(res$score) && length(res$folds) == 5)
  expect_identical(as.numeric(res), res$score)
  expect_output(print(res), "<amortized_c2st> 0\\.[0-9]{3} \\(400 draws vs 400 reference draws in 2 dimensions")
  expect_identical(names(summary(res)), c("score", "fold_min", "fold_max", "n_draws", "n_reference", "dim"))
  expect_s3_class(ggplot2::autoplot(res), "ggplot")
  expect_identical(c2st(draws, ref, seed = 5), c2st(draws, ref, seed = 5))
  expect_error(c2st(matrix(1, 10, 2), matrix(1, 10, 3)), "same number of columns",
               class = "amortized_error_argument")
  expect_error(c2st(matrix(c(1, NA), 10, 2), matrix(1, 10, 2)), "non-finite",
               class = "amortized_error_argument")
  expect_error(c2st("a", matrix(1, 10, 2)), "`draws` must be a numeric matrix",
               class = "amortized_error_argument")
  expect_error(c2st(matrix(1, 3, 2), matrix(1, 10, 2)), "`draws` needs at least 5 rows",
               class = "amortized_error_argument")
  expect_error(c2st(matrix(1, 10, 2), matrix(1, 10, 2), folds = 1), "`folds` must be a whole number >= 2",
               class = "amortized_error_argument")
})
