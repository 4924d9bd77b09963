# Benchmark (not a test): amortizers with learned summary networks on data
# sets of varying size, against exact posteriors.
#  1. iid Gaussian, unknown mean and sd, conjugate normal-inverse-gamma prior,
#     n = 5..100 observations per data set (deep set; exact posterior in
#     closed form).
#  2. AR(1) time series x_t = phi x_{t-1} + sigma e_t (stationary start),
#     T = 20..200 steps (time_series_net; exact posterior on a 2-d grid).
#  3. Exponential waiting times with a Gamma(2, 1) prior on the rate,
#     n = 5..100 (deep set; exact posterior Gamma(2 + n, 1 + sum y)).
#  4. 2-d standard normal points with correlation rho ~ U(-0.95, 0.95),
#     n = 5..100 (deep set; exact posterior on a grid).
# Prints training time, the posterior error against the exact posterior over
# 100 test data sets (|mean error| / exact sd, and estimated sd / exact sd),
# and the time to draw 1,000 posterior samples for each of 100 data sets
# (after a first call).
# Run: Rscript bench/summary_nets.R [n_sims] [threads] [gaussian,ar1,exponential,correlation]
# (AMORTIZED_TRAIN_ARGS='list(subsets = TRUE)': extra train() arguments, e.g.
# the AR(1) series' prefixes)
suppressMessages(library(amortized))
args <- commandArgs(trailingOnly = TRUE)
n_sims <- if (length(args) >= 1) as.integer(args[1]) else 10000L
threads <- if (length(args) >= 2) as.integer(args[2]) else 1L
parts <- if (length(args) >= 3) strsplit(args[3], ",")[[1]] else c("gaussian", "ar1", "exponential", "correlation")
train_args <- eval(parse(text = Sys.getenv("AMORTIZED_TRAIN_ARGS", "list()")))

report <- function(name, fit, seconds, tests, exact_fn) {
  # a first call loads the posterior package (~0.1 s); the time is that of a call after it
  invisible(suppressWarnings(sample_posterior(fit, tests[[1]]$y, n_draws = 10, seed = 1, threads = threads)))
  t_draw <- system.time(draws <- sample_posterior(fit, lapply(tests, `[[`, "y"), n_draws = 1000, seed = 1,
                                                  threads = threads))[["elapsed"]]
  m <- posterior::as_draws_matrix(draws)
  p <- fit$parameter_names
  err <- t(vapply(seq_along(tests), function(i) {
    e <- exact_fn(tests[[i]]$y)
    got_mean <- colMeans(m[, paste0(p, "[", i, "]"), drop = FALSE])
    got_sd <- apply(m[, paste0(p, "[", i, "]"), drop = FALSE], 2, stats::sd)
    c(abs(got_mean - e$mean) / e$sd, got_sd / e$sd)
  }, numeric(2 * length(p))))
  k <- length(p)
  cat(sprintf("\n%s: %d simulations%s, trained in %.1f s (%d epochs, best %d)\n", name, fit$info$n_sims,
              if (isTRUE(fit$info$subsets)) " and their subsets" else "", seconds, nrow(fit$history),
              fit$info$best_epoch))
  for (j in seq_len(k)) {
    cat(sprintf("  %-6s |mean error|/sd: median %.3f, 90%% %.3f   sd ratio: median %.3f, 10%%-90%% %.3f-%.3f\n",
                p[j], stats::median(err[, j]), stats::quantile(err[, j], 0.9), stats::median(err[, k + j]),
                stats::quantile(err[, k + j], 0.1), stats::quantile(err[, k + j], 0.9)))
  }
  cat(sprintf("  1,000 draws for each of 100 data sets: %.3f s\n", t_draw))
}

# Trains amortizer `a` on n_sims simulations of `sim` (seed 1) and reports.
run_case <- function(name, sim, a, tests, exact_fn) {
  sims <- simulate(sim, n_sims, seed = 1, progress = FALSE)
  t <- system.time(fit <- do.call(train, c(list(a, sims, seed = 1, verbose = FALSE, threads = threads),
                                            train_args)))[["elapsed"]]
  report(name, fit, t, tests, exact_fn)
}

# ---- 1. iid Gaussian with a normal-inverse-gamma prior ----------------------
if ("gaussian" %in% parts) {
a0 <- 3
b0 <- 2
gauss <- simulator(
  prior = function(n) {
    s2 <- 1 / rgamma(n, a0, b0)
    cbind(mu = rnorm(n, 0, sqrt(s2)), sigma = sqrt(s2))
  },
  model = function(theta, n_obs) {
    n <- nrow(theta)
    array(rnorm(n * n_obs, theta[, "mu"], theta[, "sigma"]), c(n, n_obs, 1), dimnames = list(NULL, NULL, "y"))
  },
  context = list(n_obs = 5:100))
gauss_exact <- function(y) {
  n <- length(y)
  kn <- 1 + n
  an <- a0 + n / 2
  bn <- b0 + 0.5 * sum((y - mean(y))^2) + n * mean(y)^2 / (2 * kn)
  es <- sqrt(bn) * exp(lgamma(an - 0.5) - lgamma(an))
  list(mean = c(n * mean(y) / kn, es), sd = c(sqrt(bn / (kn * (an - 1))), sqrt(bn / (an - 1) - es^2)))
}
set.seed(2)
tests <- lapply(1:100, function(i) {
  th <- gauss$prior(1)
  list(y = rnorm(sample(5:100, 1), th[1], th[2]))
})
run_case("iid Gaussian (deep set, n = 5..100)", gauss,
         amortizer(configurator = configurator(constrain(sigma = "positive"))), tests, gauss_exact)
}

# ---- 2. AR(1) time series ----------------------------------------------------
if ("ar1" %in% parts) {
source(file.path("tests", "testthat", "helper-ar1.R"))  # ar1_simulator(), ar1_exact()
ar1 <- ar1_simulator(20:200)
set.seed(3)
tests <- lapply(1:100, function(i) {
  th <- ar1$prior(1)
  list(y = as.vector(ar1$model(th, sample(20:200, 1))))
})
run_case("AR(1) (time_series_net, T = 20..200)", ar1,
         amortizer(configurator = configurator(as_time_series(), constrain(phi = c(-0.9, 0.9), sigma = "positive"))),
         tests, ar1_exact)
}

# ---- 3. exponential waiting times, Gamma prior on the rate --------------------
if ("exponential" %in% parts) {
expo <- simulator(
  prior = function(n) cbind(rate = rgamma(n, 2, 1)),
  model = function(theta, n_obs) {
    n <- nrow(theta)
    array(rexp(n * n_obs, theta[, 1]), c(n, n_obs, 1), dimnames = list(NULL, NULL, "wait"))
  },
  context = list(n_obs = 5:100))
expo_exact <- function(y) {
  a <- 2 + length(y)
  b <- 1 + sum(y)
  list(mean = a / b, sd = sqrt(a) / b)
}
set.seed(4)
tests <- lapply(1:100, function(i) list(y = rexp(sample(5:100, 1), rgamma(1, 2, 1))))
run_case("exponential (deep set, n = 5..100)", expo,
         amortizer(configurator = configurator(constrain(rate = "positive"))), tests, expo_exact)
}

# ---- 4. correlation of 2-d normal points ---------------------------------------
if ("correlation" %in% parts) {
corr <- simulator(
  prior = function(n) cbind(rho = runif(n, -0.95, 0.95)),
  model = function(theta, n_obs) {
    n <- nrow(theta)
    z1 <- matrix(rnorm(n * n_obs), n)
    z2 <- theta[, 1] * z1 + sqrt(1 - theta[, 1]^2) * matrix(rnorm(n * n_obs), n)
    array(c(z1, z2), c(n, n_obs, 2), dimnames = list(NULL, NULL, c("a", "b")))
  },
  context = list(n_obs = 5:100))
corr_exact <- function(y) {
  y <- matrix(y, ncol = 2)
  rho <- seq(-0.95, 0.95, length.out = 2001)
  s11 <- sum(y[, 1]^2)
  s22 <- sum(y[, 2]^2)
  s12 <- sum(y[, 1] * y[, 2])
  lp <- -nrow(y) / 2 * log(1 - rho^2) - (s11 - 2 * rho * s12 + s22) / (2 * (1 - rho^2))
  w <- exp(lp - max(lp))
  w <- w / sum(w)
  m <- sum(w * rho)
  list(mean = m, sd = sqrt(sum(w * rho^2) - m^2))
}
set.seed(5)
tests <- lapply(1:100, function(i) list(y = corr$model(corr$prior(1), sample(5:100, 1))[1, , ]))
run_case("correlation (deep set, 2-d points, n = 5..100)", corr,
         amortizer(configurator = configurator(constrain(rho = c(-0.95, 0.95)))), tests, corr_exact)
}
