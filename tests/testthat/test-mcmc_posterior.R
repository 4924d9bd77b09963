# x_1..n ~ N(mu, sigma^2), mu ~ N(0, 1), sigma ~ U(0.5, 2), sets of 5..100.
normal_sets <- function() {
  simulator(prior = function(n) cbind(mu = stats::rnorm(n), sigma = stats::runif(n, 0.5, 2)),
            model = function(theta, n_obs) array(stats::rnorm(nrow(theta) * n_obs, theta[, 1], theta[, 2]),
                                                 c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y")),
            context = list(n_obs = 5:100),
            log_prior = function(theta) stats::dnorm(theta[, "mu"], log = TRUE) +
              stats::dunif(theta[, "sigma"], 0.5, 2, log = TRUE))
}

# The exact posterior's means and sds of (mu, sigma) on a grid.
grid_posterior <- function(y) {
  mu <- seq(mean(y) - 6 / sqrt(length(y)), mean(y) + 6 / sqrt(length(y)), length.out = 300)
  sigma <- seq(0.5, 2, length.out = 300)
  g <- expand.grid(mu = mu, sigma = sigma)
  lp <- stats::dnorm(g$mu, log = TRUE) +
    vapply(seq_len(nrow(g)), function(i) sum(stats::dnorm(y, g$mu[i], g$sigma[i], log = TRUE)), 0)
  w <- exp(lp - max(lp))
  w <- w / sum(w)
  m <- c(mu = sum(w * g$mu), sigma = sum(w * g$sigma))
  s <- sqrt(c(mu = sum(w * g$mu^2), sigma = sum(w * g$sigma^2)) - m^2)
  list(mean = m, sd = s)
}

test_that("sample_posterior() on a likelihood amortizer draws the posterior by MCMC, for any set size", {
  withr::local_seed(7)  # the observed data
  nle <- amortizer(coupling_flow(transform = "affine", n_layers = 4, hidden = c(32, 32)), estimate = "likelihood")
  fit <- train(nle, normal_sets(), n_sims = 2000, epochs = 20, seed = 1, verbose = FALSE)
  expect_identical(fit$prior$type, "r")
  for (n in c(10, 80)) {
    y <- stats::rnorm(n, 0.7, 1.3)
    # R-hat is checked below (< 1.02); its 1.01 warning can fire on noise alone with 100 draws a chain
    d <- suppressWarnings(sample_posterior(fit, y, n_draws = 2000, seed = 1), classes = "amortized_warning_rhat")
    expect_s3_class(d, "draws_df")
    expect_equal(posterior::nchains(d), 20)
    expect_equal(posterior::ndraws(d), 2000)
    exact <- grid_posterior(y)
    for (p in c("mu", "sigma")) {
      v <- posterior::extract_variable(d, p)
      expect_lt(abs(mean(v) - exact$mean[[p]]) / exact$sd[[p]], 0.15)
      expect_lt(abs(stats::sd(v) / exact$sd[[p]] - 1), 0.15)
    }
    expect_true(all(posterior::extract_variable(d, "sigma") > 0.5))  # inside the prior's support
    s <- summary(d)  # R-hat and effective sample sizes through posterior
    expect_true(all(c("rhat", "ess_bulk", "ess_tail") %in% names(s)))
    expect_true(all(s$rhat < 1.02))
  }
  # several data sets at once: variables indexed by data set
  two <- list(stats::rnorm(10, -1), stats::rnorm(15, 1))
  d2 <- suppressWarnings(sample_posterior(fit, two, n_draws = 2000, seed = 2), classes = "amortized_warning_rhat")
  expect_identical(posterior::variables(d2), c("mu[1]", "mu[2]", "sigma[1]", "sigma[2]"))
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

test_that("an interrupt stops MCMC at once and leaves the amortizer usable", {
  sim <- normal_sets()
  fit <- train(amortizer(estimate = "likelihood"), sim, n_sims = 300, epochs = 1, seed = 1, verbose = FALSE)
  y <- rnorm(20)
  on.exit(amortized:::.amz_inject_interrupt(-1))
  amortized:::.amz_inject_interrupt(3)  # a few density calls into the warmup
  t <- system.time(r <- tryCatch({
    sample_posterior(fit, y, n_draws = 1e5, seed = 1)
    "finished"
  }, interrupt = function(e) "interrupted"))
  expect_identical(r, "interrupted")
  expect_lt(t[["elapsed"]], 2)
  draws <- suppressWarnings(sample_posterior(fit, y, n_draws = 100, seed = 1))
  expect_equal(posterior::ndraws(draws), 100)
})
