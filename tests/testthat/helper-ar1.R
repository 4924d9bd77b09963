# AR(1) series x_t = phi x_{t-1} + sigma e_t from a stationary start, with a
# uniform prior on phi in (-0.9, 0.9) and log sigma ~ N(-0.5, 0.4), series of
# `lengths` steps; and the exact posterior mean and sd of (phi, sigma) on a
# 301 x 301 grid. Shared by test-summary_net.R and bench/summary_nets.R.
ar1_simulator <- function(lengths) {
  amortized::simulator(
    prior = function(n) cbind(phi = stats::runif(n, -0.9, 0.9), sigma = exp(stats::rnorm(n, -0.5, 0.4))),
    model = function(theta, n_obs) {
      n <- nrow(theta)
      x <- matrix(0, n, n_obs)
      x[, 1] <- stats::rnorm(n, 0, theta[, 2] / sqrt(1 - theta[, 1]^2))
      for (t in 2:n_obs) x[, t] <- theta[, 1] * x[, t - 1] + stats::rnorm(n, 0, theta[, 2])
      array(x, c(n, n_obs, 1), dimnames = list(NULL, NULL, "x"))
    },
    context = list(n_obs = lengths))
}

ar1_exact <- function(x) {
  phi <- seq(-0.9, 0.9, length.out = 301)
  log_sigma <- seq(-3, 1.5, length.out = 301)
  grid <- expand.grid(phi = phi, log_sigma = log_sigma)
  s <- exp(grid$log_sigma)
  n <- length(x)
  # stationary start, then Gaussian steps; the priors of phi (flat) and log sigma
  sse <- vapply(phi, function(p) sum((x[-1] - p * x[-n])^2), 0)[match(grid$phi, phi)]
  lp <- stats::dnorm(x[1], 0, s / sqrt(1 - grid$phi^2), log = TRUE) - (n - 1) * log(s) - sse / (2 * s^2) +
    stats::dnorm(grid$log_sigma, -0.5, 0.4, log = TRUE)
  w <- exp(lp - max(lp))
  w <- w / sum(w)
  m <- c(sum(w * grid$phi), sum(w * s))
  list(mean = m, sd = sqrt(c(sum(w * grid$phi^2), sum(w * s^2)) - m^2))
}
