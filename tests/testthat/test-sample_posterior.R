test_that("many observations come back in one draws_df, indexed by observation", {
  fit <- fitted_gaussian_linear()
  draws <- sample_posterior(fit, gl_observations, n_draws = 2000, seed = 1)
  expect_s3_class(draws, "draws_df")
  expect_equal(posterior::ndraws(draws), 2000)
  expect_equal(posterior::nvariables(draws), 30)
  expect_true(all(c("theta_1[1]", "theta_1[3]", "theta_10[2]") %in% posterior::variables(draws)))
  # draws for observation 2 match its own posterior, not another's
  m <- posterior::as_draws_matrix(posterior::subset_draws(draws, variable = paste0("theta_", 1:10, "[2]")))
  expect_lt(max(abs(colMeans(m) - gl_observations[2, ] / 2)), 0.06)
  s <- posterior::summarise_draws(draws)
  expect_equal(nrow(s), 30)
  # a data frame works like a matrix; a one-row matrix is indexed too
  df <- as.data.frame(gl_observations)
  colnames(df) <- paste0("x_", 1:10)
  expect_equal(posterior::variables(sample_posterior(fit, df, 5, seed = 1)), posterior::variables(draws))
  expect_true("theta_1[1]" %in% posterior::variables(sample_posterior(fit, gl_observations[1, , drop = FALSE], 5)))
})

test_that("named data are matched to the simulator's data names", {
  fit <- fitted_gaussian_linear()
  x <- stats::setNames(gl_observations[1, ], paste0("x_", 1:10))
  shuffled <- x[10:1]
  expect_identical(as.matrix(sample_posterior(fit, shuffled, 10, seed = 3)),
                   as.matrix(sample_posterior(fit, x, 10, seed = 3)))
  names(shuffled)[1] <- "y"
  expect_error(sample_posterior(fit, shuffled, 10), "Missing: \"x_10\"", class = "amortized_error_data")
})

test_that("sample_posterior() rejects bad input with clear messages", {
  fit <- fitted_gaussian_linear()
  x <- gl_observations[1, ]
  expect_error(sample_posterior(fit, letters[1:10]), "`data` must be a numeric vector",
               class = "amortized_error_data")
  expect_error(sample_posterior(fit, list(1, 2)), "`data` must be a numeric vector",
               class = "amortized_error_data")
  expect_error(sample_posterior(fit, x[1:9]), "`data` must have 10 values per data set",
               class = "amortized_error_data")
  x_nan <- x
  x_nan[3] <- NaN
  expect_error(sample_posterior(fit, x_nan), "`data` contains NA, NaN or infinite values",
               class = "amortized_error_data")
  m <- gl_observations
  m[2, 1] <- NA
  expect_error(sample_posterior(fit, m), "values in row 2", class = "amortized_error_data")
  expect_error(sample_posterior(fit, x, n_draws = 0), "`n_draws` must be a whole number >= 1",
               class = "amortized_error_argument")
  expect_error(sample_posterior(fit, x, n_draws = -5), "`n_draws` must be a whole number >= 1",
               class = "amortized_error_argument")
  expect_error(sample_posterior(amortizer(), x), "is not trained yet", class = "amortized_error_untrained")
  expect_error(sample_posterior(fit), "`data` is missing", class = "amortized_error_argument")
})

test_that("posterior_log_density() matches the exact conjugate posterior density", {
  fit <- fitted_gaussian_linear()
  x <- gl_observations[1, ]
  set.seed(5)
  theta <- matrix(rnorm(50 * 10, rep(x / 2, each = 50), sqrt(0.05)), 50, 10,
                  dimnames = list(NULL, paste0("theta_", 1:10)))
  exact <- rowSums(matrix(dnorm(theta, rep(x / 2, each = 50), sqrt(0.05), log = TRUE), 50))
  lp <- posterior_log_density(fit, theta, x)
  expect_length(lp, 50)
  # a near-exact posterior: log densities agree to a small, constant-free error
  expect_lt(mean(abs(lp - exact)), 0.3)
  expect_gt(cor(lp, exact), 0.97)
  # data recycled or given per row (float32: the rounding depends a little on the batch size)
  expect_equal(posterior_log_density(fit, theta[1:3, ], rbind(x, x, x)), lp[1:3], tolerance = float32_tolerance())
  expect_error(posterior_log_density(fit, theta[1:3, 1:9], x), "`theta` must have 10 values per parameter vector",
               class = "amortized_error_data")
  expect_error(posterior_log_density(fit, theta[1:3, ], rbind(x, x)), "one per row of `theta`",
               class = "amortized_error_data")
  expect_error(posterior_log_density(amortizer(), theta, x), class = "amortized_error_untrained")
})

test_that("a request whose result cannot fit in memory fails at once, naming the argument and the size", {
  fit <- fitted_gaussian_linear()
  t <- system.time(err <- expect_error(sample_posterior(fit, gl_observations, n_draws = 2e9),
                                       "n_draws.*too much memory", class = "amortized_error_memory"))
  expect_lt(t[["elapsed"]], 5)
  expect_match(conditionMessage(err), "TB")  # 3 x 2e9 x 10 draws x 8 bytes x 3 copies
  expect_error(simulate(benchmark_simulator("gaussian_linear"), 2e9), "nsim.*too much memory",
               class = "amortized_error_memory")
  withr::with_options(list(amortized.max_memory = 1e6), {
    expect_error(sample_posterior(fit, gl_observations, n_draws = 1e5), "Available: 1 MB",
                 class = "amortized_error_memory")
  })
})

test_that("an interrupt stops sampling and SBC at once and leaves the amortizer usable", {
  fit <- fitted_gaussian_linear()
  many <- gl_observations[rep(1:3, 1000), ]
  interrupted <- function(expr) tryCatch({
    force(expr)
    "finished"
  }, interrupt = function(e) "interrupted")
  on.exit(amortized:::.amz_inject_interrupt(-1))
  for (checks in 0:1) {  # in the outlier check or in the sampling
    amortized:::.amz_inject_interrupt(checks)
    t <- system.time(r <- interrupted(sample_posterior(fit, many, n_draws = 2000, seed = 1)))
    expect_identical(r, "interrupted")
    expect_lt(t[["elapsed"]], 2)
  }
  amortized:::.amz_inject_interrupt(0)
  t <- system.time(r <- interrupted(sbc(fit, benchmark_simulator("gaussian_linear"), n_sims = 3000, n_draws = 1000,
                                        seed = 1)))
  expect_identical(r, "interrupted")
  expect_lt(t[["elapsed"]], 2)
  amortized:::.amz_inject_interrupt(-1)
  expect_equal(posterior::ndraws(sample_posterior(fit, gl_observations[1, ], n_draws = 50, seed = 1)), 50)
})
