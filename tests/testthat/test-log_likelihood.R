# theta ~ N(0, 0.1 I_2), x ~ N(theta, 0.1 I_2)
gauss2 <- function() {
  simulator(prior = function(n) cbind(a = stats::rnorm(n, 0, sqrt(0.1)), b = stats::rnorm(n, 0, sqrt(0.1))),
            model = function(theta) cbind(x1 = theta[, 1] + stats::rnorm(nrow(theta), 0, sqrt(0.1)),
                                          x2 = theta[, 2] + stats::rnorm(nrow(theta), 0, sqrt(0.1))))
}
small_nle <- function() amortizer(coupling_flow(transform = "affine", n_layers = 4, hidden = c(32, 32)),
                                  estimate = "likelihood")

test_that("a likelihood amortizer learns a Gaussian likelihood; log_likelihood() pairs every data set with every theta", {
  fit <- train(small_nle(), gauss2(), n_sims = 4000, epochs = 40, seed = 1, verbose = FALSE)
  expect_identical(fit$kind, "likelihood")
  expect_output(print(fit), "neural likelihood estimator")
  x <- rbind(c(x1 = 0.1, x2 = -0.2), c(x1 = 0.4, x2 = 0.3), c(x1 = -0.3, x2 = 0))
  theta <- rbind(c(a = 0, b = 0), c(a = 0.2, b = -0.1), c(a = -0.3, b = 0.2), c(a = 0.3, b = 0.3))
  ll <- log_likelihood(fit, x, theta)
  expect_equal(dim(ll), c(3, 4))
  exact <- outer(1:3, 1:4, Vectorize(function(i, j) sum(stats::dnorm(x[i, ], theta[j, ], sqrt(0.1), log = TRUE))))
  expect_lt(mean(abs(ll - exact)), 0.15)
  # one data set, one theta; column order follows the names
  expect_equal(log_likelihood(fit, x[2, ], theta[3, ]), ll[2, 3, drop = FALSE], tolerance = float32_tolerance())
  expect_equal(log_likelihood(fit, x[2, 2:1], theta[3, 2:1]), ll[2, 3, drop = FALSE], tolerance = float32_tolerance())
  # saveRDS and save_amortizer keep it
  back <- unserialize(serialize(fit, NULL))
  back$.handle <- new.env(parent = emptyenv())
  expect_identical(log_likelihood(back, x, theta), ll)
  path <- file.path(new_temp_dir(), "nle.amortizer")
  save_amortizer(fit, path)
  loaded <- load_amortizer(path)
  expect_identical(loaded$kind, "likelihood")
  expect_identical(log_likelihood(loaded, x, theta), ll)
  # the posterior verbs ask for a posterior amortizer, and the other way round
  expect_error(sample_posterior(fit, x[1, ]), "need the prior's density", class = "amortized_error_argument")
  expect_error(posterior_log_density(fit, theta[1, ], x[1, ]), "estimates the likelihood",
               class = "amortized_error_argument")
  post <- train(amortizer(coupling_flow(n_layers = 2, hidden = 16)), gauss2(), n_sims = 300, epochs = 1, seed = 1,
                verbose = FALSE)
  expect_error(log_likelihood(post, x, theta), "estimates the posterior", class = "amortized_error_argument")
  expect_error(log_likelihood(fit, x, theta[, 1, drop = FALSE]), "b", class = "amortized_error_data")
  expect_error(log_likelihood(fit, x), "are both needed", class = "amortized_error_argument")
})

test_that("for set data the network models one observation: a set's log likelihood is the sum over its observations", {
  sim <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)),
                   model = function(theta, n_obs) array(stats::rnorm(nrow(theta) * n_obs, theta[, 1]),
                                                        c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y")),
                   context = list(n_obs = 5:20))
  fit <- train(small_nle(), sim, n_sims = 1500, epochs = 20, seed = 1, verbose = FALSE)
  expect_true(fit$config$core$sets)
  y <- c(0.3, -0.5, 1.2, 0.8, 0.1, -0.2, 0.6)
  mu <- cbind(mu = c(-0.5, 0, 0.5))
  whole <- log_likelihood(fit, y, mu)
  points <- Reduce(`+`, lapply(y, function(v) log_likelihood(fit, v, mu)))
  expect_equal(whole, points, tolerance = float32_tolerance())
  exact <- vapply(mu[, 1], function(m) sum(stats::dnorm(y, m, 1, log = TRUE)), 0)
  expect_lt(max(abs(whole[1, ] - exact)), 0.5)
  # and of any size, beyond the sizes trained on
  long <- stats::rnorm(40, 0.2)
  ll <- log_likelihood(fit, long, mu)
  expect_equal(ll, Reduce(`+`, lapply(long, function(v) log_likelihood(fit, v, mu))), tolerance = float32_tolerance())
  expect_false("n_obs" %in% fit$config$context_names)
  # in chunks of parameter vectors (here 1 or 2 per chunk): the same numbers
  many <- cbind(mu = seq(-1, 1, length.out = 7))
  sets <- list(y, long, c(0.1, 0.2))
  whole <- log_likelihood(fit, sets, many)
  withr::local_options(amortized.chunk_values = 100)
  expect_equal(log_likelihood(fit, sets, many), whole, tolerance = float32_tolerance())
  # a result that cannot fit fails before anything is computed
  withr::local_options(amortized.max_memory = 1000)
  expect_error(log_likelihood(fit, sets, cbind(mu = rep(0, 100))), "theta.*too much memory",
               class = "amortized_error_memory")
  # summary networks and time series are for posteriors
  expect_error(amortizer(estimate = "likelihood", summary_net = deep_set()), "takes no `summary_net`",
               class = "amortized_error_argument")
  series <- amortizer(configurator = configurator(as_time_series()), estimate = "likelihood")
  expect_error(train(series, sim, n_sims = 100, epochs = 1, verbose = FALSE), "supports flat and set data",
               class = "amortized_error_argument")
  expect_error(amortizer(estimate = "evidence"), "`estimate` must be one of", class = "amortized_error_argument")
})

test_that("simulate() draws surrogate data from a learned likelihood, laid out like the simulator's", {
  fit <- train(small_nle(), gauss2(), n_sims = 4000, epochs = 40, seed = 1, verbose = FALSE)
  s <- simulate(fit, 4000, seed = 1, theta = rbind(c(a = 0.3, b = -0.2), c(a = -0.1, b = 0.1)))
  expect_s3_class(s, "amortized_simulations")
  expect_equal(dim(s$data), c(8000, 2))
  expect_identical(colnames(s$data), c("x1", "x2"))
  expect_identical(unname(s$parameters[c(1, 4000, 4001), "a"]), c(0.3, 0.3, -0.1))
  first <- s$data[1:4000, ]
  expect_lt(max(abs(colMeans(first) - c(0.3, -0.2))), 0.03)
  expect_equal(unname(apply(first, 2, stats::var)) / 0.1, c(1, 1), tolerance = 0.15)
  expect_lt(max(abs(colMeans(s$data[4001:8000, ]) - c(-0.1, 0.1))), 0.03)
  expect_identical(simulate(fit, 5, seed = 2, theta = c(a = 0, b = 0))$data,
                   simulate(fit, 5, seed = 2, theta = c(a = 0, b = 0))$data)
  expect_error(simulate(fit, 5, seed = 2, theta = c(a = 0, b = 0), n_obs = 3), "`n_obs` is for set data",
               class = "amortized_error_argument")
  expect_error(simulate(fit, 5, theta = c(a = 0, b = 0), sed = 1), class = "rlib_error_dots_nonempty")
  expect_error(simulate(fit, 5), "`theta` is missing", class = "amortized_error_argument")
  post <- train(amortizer(coupling_flow(n_layers = 2, hidden = 16)), gauss2(), n_sims = 300, epochs = 1, seed = 1,
                verbose = FALSE)
  expect_error(simulate(post, 5, theta = c(a = 0, b = 0)), "estimates the posterior", class = "amortized_error_argument")
  # sets: n_obs observations per data set, any number
  sets <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)),
                    model = function(theta, n_obs) array(stats::rnorm(nrow(theta) * n_obs, theta[, 1], 0.5),
                                                         c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y")),
                    context = list(n_obs = 5:20))
  set_fit <- train(small_nle(), sets, n_sims = 1500, epochs = 20, seed = 1, verbose = FALSE)
  d <- simulate(set_fit, 200, seed = 1, theta = c(mu = 1), n_obs = 30)
  expect_equal(dim(d$data), c(200, 30, 1))
  expect_equal(mean(d$data), 1, tolerance = 0.05)
  expect_equal(stats::sd(as.vector(d$data)), 0.5, tolerance = 0.1)
  expect_error(simulate(set_fit, 5, theta = c(mu = 1)), "`n_obs` is missing", class = "amortized_error_argument")
})

test_that("parameters outside the prior's support are an error, not a silent density", {
  fit <- train(amortizer(coupling_flow(n_layers = 2, hidden = 16), estimate = "likelihood"),
               benchmark_simulator("two_moons"), n_sims = 500, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(fit$prior$type, "benchmark")
  expect_true(all(is.finite(log_likelihood(fit, c(0.1, 0.2), rbind(c(0, 0), c(0.9, -0.9))))))
  expect_error(log_likelihood(fit, c(0.1, 0.2), rbind(c(0, 0), c(1.5, 0))),
               "Row 2: theta_1 = 1.5, outside \\(-1, 1\\)", class = "amortized_error_argument")
  expect_error(simulate(fit, 3, theta = c(0, -2)), "inside the prior's support", class = "amortized_error_argument")
})
