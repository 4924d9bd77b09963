# mmd(): the unbiased estimate equals a direct computation, is symmetric,
# near zero for one distribution, and validates its arguments.

direct_mmd2 <- function(x, y, h, kernel = "gaussian") {
  k <- function(a, b) {
    d2 <- outer(rowSums(a^2), rowSums(b^2), "+") - 2 * tcrossprod(a, b)
    vals <- lapply(h, function(hh) if (kernel == "gaussian") exp(-d2 / (2 * hh^2)) else 1 / sqrt(1 + d2 / hh^2))
    Reduce(`+`, vals) / length(h)
  }
  kxx <- k(x, x); kyy <- k(y, y)
  n <- nrow(x); m <- nrow(y)
  (sum(kxx) - sum(diag(kxx))) / (n * (n - 1)) + (sum(kyy) - sum(diag(kyy))) / (m * (m - 1)) - 2 * mean(k(x, y))
}

test_that("mmd() equals the direct O(n^2) computation and is symmetric", {
  set.seed(1)
  x <- matrix(rnorm(60), 20)
  y <- matrix(rnorm(75, sd = 1.5), 25)
  for (kernel in c("gaussian", "imq")) {
    for (h in list(0.8, c(0.5, 1, 3))) {
      want <- direct_mmd2(x, y, h, kernel)
      got <- mmd(x, y, kernel = kernel, bandwidth = h, threads = 1)
      expect_equal(as.numeric(got), want, tolerance = 1e-10)
      expect_equal(as.numeric(mmd(y, x, kernel = kernel, bandwidth = h, threads = 1)), want, tolerance = 1e-10)
      expect_equal(attr(got, "bandwidth"), h)
    }
  }
})

test_that("mmd() is near zero for one distribution and clearly positive for two", {
  set.seed(2)
  x <- matrix(rnorm(3000), ncol = 3)
  same <- mmd(x, matrix(rnorm(3000), ncol = 3), threads = 1)
  other <- mmd(x, matrix(rnorm(3000, sd = 1.3), ncol = 3), threads = 1)
  expect_lt(abs(same), 3e-3)
  expect_gt(other, 10 * abs(same))
  # the sample with itself: the unbiased estimate is small but not exactly 0
  expect_lt(abs(mmd(x, x, threads = 1)), 2e-3)
  # the median heuristic: the median distance of both samples' rows
  expect_equal(attr(same, "bandwidth"), sqrt(2 * (3 - 2 / 3)), tolerance = 0.1)
  # vectors are one column; data frames work
  expect_equal(as.numeric(mmd(x[, 1], y = x[1:500, 2], bandwidth = 1, threads = 1)),
               as.numeric(mmd(data.frame(a = x[, 1]), matrix(x[1:500, 2]), bandwidth = 1, threads = 1)))
})

test_that("mmd() names the argument that is wrong", {
  x <- matrix(rnorm(20), 10)
  expect_error(mmd(x, matrix(rnorm(30), 10)), "same number of columns", class = "amortized_error_argument")
  expect_error(mmd(x, x[1, , drop = FALSE]), "y.*at least 2 rows", class = "amortized_error_argument")
  expect_error(mmd(x, "a"), "y.*numeric matrix", class = "amortized_error_argument")
  expect_error(mmd(rbind(x, NA), x), "x.*finite", class = "amortized_error_argument")
  expect_error(mmd(x, x, bandwidth = -1), "bandwidth.*positive", class = "amortized_error_argument")
  expect_error(mmd(x, x, kernel = "laplace"), "kernel", class = "amortized_error_argument")
})
