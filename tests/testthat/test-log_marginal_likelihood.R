# gaussian_linear: theta ~ N(0, 0.1 I), x | theta ~ N(theta, 0.1 I), so
# x ~ N(0, 0.2 I) exactly.
test_that("a joint amortizer learns gaussian_linear's likelihood and recovers its exact evidence", {
  sim <- benchmark_simulator("gaussian_linear")
  net <- amortizer(coupling_flow(transform = "affine", n_layers = 4, hidden = c(64, 64)), estimate = "joint")
  fit <- train(net, sim, n_sims = 10000, epochs = 40, seed = 1, verbose = FALSE)
  expect_output(print(fit), "joint posterior and likelihood")
  expect_identical(fit$prior$type, "benchmark")
  x <- simulate(sim, 5, seed = 3)$data
  exact <- rowSums(stats::dnorm(x, 0, sqrt(0.2), log = TRUE))
  lml <- log_marginal_likelihood(fit, x, n_draws = 1000, seed = 1)
  expect_named(lml, c("log_marginal_likelihood", "se", "spread"))
  expect_lt(max(abs(lml$log_marginal_likelihood - exact)), 0.3)
  expect_true(all(lml$se < 0.1))
  expect_true(all(lml$spread < 1))
  expect_identical(log_marginal_likelihood(fit, x[1, ], n_draws = 200, seed = 5),
                   log_marginal_likelihood(fit, x[1, ], n_draws = 200, seed = 5))
  # one file holds both networks and the prior
  path <- withr::local_tempfile(fileext = ".amortizer")
  save_amortizer(fit, path)
  expect_identical(log_marginal_likelihood(load_amortizer(path), x[1, ], n_draws = 200, seed = 5),
                   log_marginal_likelihood(fit, x[1, ], n_draws = 200, seed = 5))
  expect_output(print(summary(fit)), "joint posterior and likelihood")
  # the surrogate's moments at fixed theta: N(theta, 0.1 I)
  theta <- rep(c(0.2, -0.2), 5)
  s <- simulate(fit, 4000, theta = theta, seed = 2)$data
  expect_lt(max(abs(colMeans(s) - theta)), 0.03)  # the sd of a mean is 0.005
  v <- stats::cov(s)
  expect_lt(max(abs(diag(v) / 0.1 - 1)), 0.15)
  expect_lt(max(abs(v[upper.tri(v)])), 0.015)
  # both networks answer: the posterior's draws, the likelihood's density
  d <- sample_posterior(fit, x[1, ], n_draws = 4000, seed = 1)
  expect_lt(max(abs(colMeans(posterior::as_draws_matrix(d)) - x[1, ] / 2)), 0.03)
  ll <- log_likelihood(fit, x[1:2, ], unname(rbind(x[1, ], x[2, ])))
  exact_ll <- outer(1:2, 1:2, Vectorize(function(i, j) sum(stats::dnorm(x[i, ], x[j, ], sqrt(0.1), log = TRUE))))
  expect_lt(max(abs(ll - exact_ll)), 0.5)
  # bad input
  expect_error(log_marginal_likelihood(fit), "`data` is missing", class = "amortized_error_argument")
  expect_error(log_marginal_likelihood(fit, x, n_draws = 1), "at least 2", class = "amortized_error_argument")
  expect_error(log_marginal_likelihood(fit, x[, 1:3]), class = "amortized_error_data")
})

# x_1..n ~ N(mu, 1), mu ~ N(0, 1): x ~ N(0, I + 11') exactly.
normal_sets_evidence <- function(y) {
  n <- length(y)
  s2 <- sum((y - mean(y))^2)
  # |I + 11'| = n + 1; y'(I + 11')^-1 y = sum(y^2) - n^2 ybar^2 / (n + 1)
  -0.5 * n * log(2 * pi) - 0.5 * log(n + 1) - 0.5 * (s2 + n * mean(y)^2 - n^2 * mean(y)^2 / (n + 1))
}

test_that("joint amortizers of set data give evidences for any set size, and Bayes factors", {
  prior_sd <- c(narrow = 1, wide = 3)
  model <- function(theta, n_obs) {
    array(stats::rnorm(nrow(theta) * n_obs, theta[, 1]), c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y"))
  }
  sets <- lapply(prior_sd, function(s) {
    simulator(prior = function(n) cbind(mu = stats::rnorm(n, 0, s)), model = model, context = list(n_obs = 5:20),
              log_prior = function(theta) stats::dnorm(theta[, "mu"], 0, s, log = TRUE))
  })
  net <- amortizer(coupling_flow(transform = "affine", n_layers = 4, hidden = c(32, 32)),
                   summary_net = deep_set(), estimate = "joint")
  fits <- lapply(sets, function(sim) train(net, sim, n_sims = 3000, epochs = 30, seed = 1, verbose = FALSE))
  expect_null(fits$narrow$config$likelihood$summary_net)
  expect_false("n_obs" %in% fits$narrow$config$likelihood$context_names)
  withr::local_seed(11)
  y <- list(stats::rnorm(10, 0.5), stats::rnorm(16, -0.3))
  lml <- log_marginal_likelihood(fits$narrow, y, n_draws = 1000, seed = 1)
  expect_lt(max(abs(lml$log_marginal_likelihood - vapply(y, normal_sets_evidence, 0))), 0.3)
  # a set's likelihood is the sum over its points, whatever its size
  ll <- log_likelihood(fits$narrow, y[[1]], c(mu = 0.4))
  points <- vapply(y[[1]], function(v) log_likelihood(fits$narrow, v, c(mu = 0.4)), 0)
  expect_equal(ll[1, 1], sum(points), tolerance = float32_tolerance(10))
  # the wide prior's evidence: the exact one with mu ~ N(0, 9)
  wide_exact <- function(v) {
    n <- length(v)
    cov <- diag(n) + 9
    -0.5 * (n * log(2 * pi) + as.numeric(determinant(cov)$modulus) + sum(v * solve(cov, v)))
  }
  bf <- bayes_factor(fits$narrow, fits$wide, y, n_draws = 1000, seed = 1)
  exact_bf <- vapply(y, normal_sets_evidence, 0) - vapply(y, wide_exact, 0)
  expect_named(bf, c("log_bayes_factor", "se", "bayes_factor", "log_ml1", "log_ml2"))
  expect_lt(max(abs(bf$log_bayes_factor - exact_bf)), 0.4)
  expect_true(all(bf$log_bayes_factor > 0))  # data near 0 favour the narrow prior
  # posterior model probabilities from the evidences, under any prior
  probs <- posterior_model_probs(fits, y, n_draws = 1000, seed = 1, prior = c(narrow = 0.25, wide = 0.75))
  expect_named(probs, c("narrow", "wide"))
  expect_equal(probs$narrow, 1 / (1 + 3 * exp(-bf$log_bayes_factor)), tolerance = 1e-6)
  expect_error(posterior_model_probs(list(a = fits$narrow), y), "at least two joint", class = "amortized_error_argument")
  # bad input: a posterior amortizer, no prior density, other data
  post <- train(amortizer(coupling_flow(n_layers = 2)), sets$narrow, n_sims = 200, epochs = 1, seed = 1,
                verbose = FALSE)
  expect_error(log_marginal_likelihood(post, y[[1]]), "needs a joint amortizer", class = "amortized_error_argument")
  no_prior <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)),
                        model = function(theta) cbind(z = theta[, 1] + stats::rnorm(nrow(theta))))
  plain <- train(amortizer(coupling_flow(n_layers = 2), estimate = "joint"), no_prior, n_sims = 200, epochs = 1,
                 seed = 1, verbose = FALSE)
  expect_error(log_marginal_likelihood(plain, 0.3), "log_prior = function", class = "amortized_error_argument")
  expect_error(bayes_factor(fits$narrow, plain, 0.3), "same data variables", class = "amortized_error_argument")
})
