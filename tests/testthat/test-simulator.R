prior_ok <- function(n) cbind(mu = rnorm(n), log_sigma = rnorm(n, -1, 0.2))
model_ok <- function(theta) {
  matrix(rnorm(nrow(theta) * 3, theta[, "mu"], exp(theta[, "log_sigma"])), ncol = 3)
}

test_that("simulator() validates prior and model on a small call", {
  sim <- simulator(prior_ok, model_ok)
  expect_s3_class(sim, "amortized_simulator")
  expect_equal(sim$parameter_names, c("mu", "log_sigma"))
  expect_equal(sim$data_names, c("x_1", "x_2", "x_3"))
  expect_output(print(sim), "parameters \\(2\\): mu, log_sigma")

  expect_error(simulator(1, model_ok), "`prior` must be a function", class = "amortized_error_argument")
  expect_error(simulator(prior_ok, "m"), "`model` must be a function", class = "amortized_error_argument")
  expect_error(simulator(function(n) cbind(mu = rnorm(n + 1)), model_ok),
               "must return 3 rows", class = "amortized_error_simulator")
  expect_error(simulator(function(n) matrix(rnorm(n * 2), n), model_ok),
               "unique names", class = "amortized_error_simulator")
  expect_error(simulator(function(n) data.frame(mu = rnorm(n), s = letters[seq_len(n)]), model_ok),
               "non-numeric", class = "amortized_error_simulator")
  expect_error(simulator(prior_ok, function(theta) matrix("a", nrow(theta), 2)),
               "numeric matrix", class = "amortized_error_simulator")
  expect_error(simulator(prior_ok, function(theta) matrix(0, 1, 2)),
               "one row per parameter row", class = "amortized_error_simulator")
})

test_that("simulator() runs a non-vectorized model row by row", {
  sim <- simulator(prior_ok, function(theta) c(a = theta[["mu"]], b = 2 * theta[["mu"]]),
                   vectorized = FALSE)
  s <- simulate(sim, 20, seed = 3)
  expect_equal(colnames(s$data), c("a", "b"))
  expect_equal(s$data[, "b"], 2 * s$parameters[, "mu"])
  expect_error(simulator(prior_ok, function(theta) list(1), vectorized = FALSE),
               "must return a numeric vector", class = "amortized_error_simulator")
})

test_that("simulate() is reproducible, leaves the RNG alone and drops non-finite rows", {
  sim <- simulator(prior_ok, model_ok)
  set.seed(10)
  before <- .Random.seed
  a <- simulate(sim, 50, seed = 7)
  expect_identical(.Random.seed, before)
  b <- simulate(sim, 50, seed = 7)
  expect_identical(a, b)
  expect_false(identical(a$data, simulate(sim, 50, seed = 8)$data))
  expect_s3_class(a, "amortized_simulations")
  expect_output(print(a), "50 simulations")
  expect_equal(nrow(summary(a)), 5)

  flaky <- simulator(prior_ok, function(theta) {
    x <- model_ok(theta)
    x[theta[, "mu"] > 1, 1] <- NaN
    x
  })
  expect_warning(s <- simulate(flaky, 400, seed = 1), "Dropped [0-9]+ of 400 simulations",
                 class = "amortized_warning_nonfinite")
  expect_true(all(is.finite(s$data)))
  expect_true(all(s$parameters[, "mu"] <= 1))
  expect_error(simulate(sim, 0), "`nsim` must be a whole number >= 1", class = "amortized_error_argument")
  expect_error(simulate(sim, 5, seed = -1), "`seed` must be NULL or a whole number",
               class = "amortized_error_argument")
})

test_that("benchmark_simulator('gaussian_linear') has the right moments", {
  sim <- benchmark_simulator("gaussian_linear")
  expect_equal(sim$parameter_names, paste0("theta_", 1:10))
  s <- simulate(sim, 20000, seed = 2)
  expect_true(all(abs(apply(s$parameters, 2, var) - 0.1) < 0.01))
  expect_true(all(abs(apply(s$data - s$parameters, 2, var) - 0.1) < 0.01))
  expect_true(all(abs(colMeans(s$data)) < 0.015))
  expect_identical(simulate(sim, 10, seed = 1), simulate(sim, 10, seed = 1))
  expect_error(benchmark_simulator("two_mooons"), "`name` must be one of", class = "amortized_error_argument")
})

test_that("every benchmark simulator gives finite, seeded output independent of threads", {
  for (name in c("gaussian_linear", "two_moons", "slcp", "gaussian_mixture", "inverse_kinematics")) {
    sim <- benchmark_simulator(name)
    a <- simulate(sim, 3000, seed = 4, threads = 1)
    b <- simulate(sim, 3000, seed = 4, threads = 2)
    expect_identical(a, b)
    expect_true(all(is.finite(a$data)))
    expect_equal(ncol(a$parameters), length(sim$parameter_names))
  }
  expect_equal(ncol(simulate(benchmark_simulator("slcp"), 2, seed = 1)$data), 8)
  tm <- simulate(benchmark_simulator("two_moons"), 5000, seed = 1)
  expect_true(all(abs(tm$parameters) <= 1))
  expect_error(simulate(benchmark_simulator("slcp"), 5, threads = 0), "`threads` must be a whole number >= 1",
               class = "amortized_error_argument")
})
