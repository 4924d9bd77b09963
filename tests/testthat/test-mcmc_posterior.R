# x_1..n ~ N(mu, 1) with mu ~ N(0, 1): the posterior is N(n xbar / (n + 1), 1 / (n + 1)).
normal_sets <- function() {
  simulator(prior = function(n) cbind(mu = stats::rnorm(n)),
            model = function(theta, n_obs) array(stats::rnorm(nrow(theta) * n_obs, theta[, 1]),
                                                 c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y")),
            context = list(n_obs = 5:20),
            log_prior = function(theta) stats::dnorm(theta[, "mu"], log = TRUE))
}

test_that("sample_posterior() on a likelihood amortizer draws the posterior by MCMC, for any set size", {
  withr::local_seed(7)  # the observed data
  nle <- amortizer(coupling_flow(transform = "affine", n_layers = 4, hidden = c(32, 32)), estimate = "likelihood")
  fit <- train(nle, normal_sets(), n_sims = 3000, epochs = 30, seed = 1, verbose = FALSE)
  expect_true(is.function(fit$log_prior))
  for (n in c(10, 80)) {
    y <- stats::rnorm(n, 0.7)
    d <- sample_posterior(fit, y, n_draws = 2000, seed = 1)
    expect_s3_class(d, "draws_df")
    expect_equal(posterior::nchains(d), 4)
    expect_equal(posterior::ndraws(d), 2000)
    mu <- posterior::extract_variable(d, "mu")
    post_mean <- n * mean(y) / (n + 1)
    post_sd <- 1 / sqrt(n + 1)
    expect_lt(abs(mean(mu) - post_mean) / post_sd, 0.15)
    expect_lt(abs(stats::sd(mu) / post_sd - 1), 0.15)
    expect_lt(posterior::rhat(posterior::extract_variable_matrix(d, "mu")), 1.02)
  }
  # several data sets at once: variables indexed by data set
  two <- list(stats::rnorm(10, -1), stats::rnorm(15, 1))
  d2 <- sample_posterior(fit, two, n_draws = 2000, seed = 2)
  expect_identical(posterior::variables(d2), c("mu[1]", "mu[2]"))
  expect_lt(mean(posterior::extract_variable(d2, "mu[1]")), 0)
  expect_gt(mean(posterior::extract_variable(d2, "mu[2]")), 0)
  # the same seed, the same draws; the prior survives saveRDS; too few draws: R-hat warns
  few <- function(object) suppressWarnings(as.matrix(sample_posterior(object, two[[1]], 40, seed = 3)))
  expect_identical(few(fit), few(unserialize(serialize(fit, NULL))))
  mixed <- posterior::as_draws_df(posterior::as_draws_array(array(stats::rnorm(4000), c(1000, 4, 1),
                                                                  dimnames = list(NULL, NULL, "mu"))))
  expect_silent(warn_unmixed(mixed))
  stuck <- mixed
  stuck$mu <- stuck$mu + (stuck$.chain > 2) * 3
  expect_warning(warn_unmixed(stuck), "R-hat of mu", class = "amortized_warning_rhat")
  # without a prior density: a clear error that says how to give one
  plain <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)),
                     model = function(theta) cbind(y = theta[, 1] + stats::rnorm(nrow(theta))))
  no_prior <- train(nle, plain, n_sims = 200, epochs = 1, seed = 1, verbose = FALSE)
  expect_error(sample_posterior(no_prior, 0.3), "log_prior = function", class = "amortized_error_argument")
  expect_error(simulator(prior = function(n) cbind(mu = stats::rnorm(n)), model = function(theta) theta,
                         log_prior = function(theta) rep(NA_real_, nrow(theta))),
               "`log_prior` must return one finite log density", class = "amortized_error_argument")
})
