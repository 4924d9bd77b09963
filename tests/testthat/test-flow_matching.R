# A conjugate model: mu ~ N(0, 1), five x_i ~ N(mu, 1); the posterior is
# N(sum(x) / 6, 1 / 6).
conjugate <- simulator(
  prior = function(n) cbind(mu = rnorm(n)),
  model = function(theta) matrix(rnorm(nrow(theta) * 5, theta[, 1]), ncol = 5)
)

test_that("flow matching learns a conjugate posterior and its density", {
  fit <- train(amortizer(flow_matching(hidden = c(64, 64), steps = 20)), conjugate,
               n_sims = 4000, epochs = 40, learning_rate = 1e-3, seed = 1, verbose = FALSE)
  x <- c(0.8, 1.4, 0.2, 1.1, 0.5)
  draws <- sample_posterior(fit, x, n_draws = 4000, seed = 2)
  expect_equal(mean(draws$mu), sum(x) / 6, tolerance = 0.06 / (sum(x) / 6))
  expect_equal(sd(draws$mu), sqrt(1 / 6), tolerance = 0.15)
  expect_true(any(grepl("flow matching", summary(fit)$layers)))
})

test_that("a spline coupling flow learns a conjugate posterior", {
  fit <- train(amortizer(coupling_flow(n_layers = 2, hidden = c(32, 32))), conjugate,
               n_sims = 4000, epochs = 60, batch_size = 128, learning_rate = 2e-3, seed = 1, verbose = FALSE)
  x <- c(-0.3, 0.4, -1.2, 0.1, -0.6)
  draws <- sample_posterior(fit, x, n_draws = 4000, seed = 2)
  expect_lt(abs(mean(draws$mu) - sum(x) / 6), 0.06)
  expect_equal(sd(draws$mu), sqrt(1 / 6), tolerance = 0.15)
})

test_that("flow matching samples with the adaptive solver as with fine fixed steps", {
  expect_error(flow_matching(solver = "euler"), class = "amortized_error_argument")
  expect_error(flow_matching(tolerance = 0), class = "amortized_error_argument")
  expect_match(format(flow_matching(solver = "dopri5", tolerance = 1e-4)), "adaptive Dormand-Prince \\(tolerance 1e-04\\)")
  fit <- train(amortizer(flow_matching(hidden = c(32, 32), steps = 200)), conjugate, n_sims = 1000, epochs = 3,
               seed = 1, verbose = FALSE)
  adaptive <- fit
  adaptive$inference_net <- flow_matching(hidden = c(32, 32), solver = "dopri5", tolerance = 1e-6)
  adaptive$.handle <- new.env(parent = emptyenv())  # rebuilt from the spec and the same weights
  x <- c(0.8, 1.4, 0.2, 1.1, 0.5)
  a <- sample_posterior(fit, x, 500, seed = 3)$mu
  b <- sample_posterior(adaptive, x, 500, seed = 3)$mu
  expect_lt(max(abs(a - b)), 1e-3)
  expect_equal(posterior_log_density(adaptive, c(mu = 0.6), x), posterior_log_density(fit, c(mu = 0.6), x),
               tolerance = 1e-3)
})
