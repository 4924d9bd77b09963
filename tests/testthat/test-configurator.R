tiny_net <- function() coupling_flow(n_layers = 2, hidden = c(16, 16))

# p in (0, 1), sigma > 0; flat data: 20 Bernoulli counts and 5 normal draws.
bounded_sim <- function() {
  simulator(
    prior = function(n) cbind(p = stats::rbeta(n, 2, 2), sigma = stats::rgamma(n, 2, 2)),
    model = function(theta) {
      n <- nrow(theta)
      cbind(k = stats::rbinom(n, 20, theta[, "p"]),
            matrix(stats::rnorm(n * 5, 0, theta[, "sigma"]), n, 5, dimnames = list(NULL, paste0("y", 1:5))))
    })
}

test_that("configurator() collects steps and prints the pipeline", {
  cfg <- configurator(constrain(sigma = c(0, Inf), p = c(0, 1)), log1p_data("k"), as_set(),
                      context_variables("n_obs"), standardize(data = FALSE), nan_to_num(-1))
  expect_s3_class(cfg, "amortized_configurator")
  out <- capture.output(print(cfg))
  expect_match(out[1], "6 steps")
  expect_match(out[2], "sigma in \\(0, Inf\\), p in \\(0, 1\\)")
  expect_match(out[3], "log1p_data: k")
  expect_match(out[6], "standardize: parameters, not data")
  expect_match(out[7], "non-finite values -> -1")
  expect_error(configurator(1), "must be a step", class = "amortized_error_argument")
  expect_error(configurator(as_set(), as_time_series()), "at most one of", class = "amortized_error_argument")
  expect_error(configurator(standardize(), standardize()), "at most once", class = "amortized_error_argument")
})

test_that("steps check their arguments", {
  expect_error(constrain(c(0, 1)), "named bounds", class = "amortized_error_argument")
  expect_error(constrain(p = c(1, 0)), "lower < upper", class = "amortized_error_argument")
  expect_error(constrain(p = c(0, NA)), "lower < upper", class = "amortized_error_argument")
  expect_error(constrain(p = "negative"), "lower < upper, or", class = "amortized_error_argument")
  expect_equal(constrain(s = "positive")$bounds$s, c(0, Inf))
  expect_error(drop_data(), "at least one", class = "amortized_error_argument")
  expect_error(log1p_data(3), "variable names as strings", class = "amortized_error_argument")
  expect_error(standardize(data = NA), "`data` must be TRUE or FALSE", class = "amortized_error_argument")
  expect_error(nan_to_num("a"), "`value` must be a number", class = "amortized_error_argument")
  expect_error(amortizer(configurator = list()), "must be NULL or a", class = "amortized_error_argument")
})

test_that("bounded parameters: draws respect the bounds and the density is proper on the original scale", {
  sims <- simulate(bounded_sim(), 2000, seed = 1)
  a <- amortizer(tiny_net(), configurator = configurator(constrain(p = c(0, 1), sigma = "positive")))
  fit <- train(a, sims, epochs = 3, seed = 1, verbose = FALSE)
  expect_output(print(fit), "bounds: p in \\(0, 1\\), sigma in \\(0, Inf\\)")
  # data far outside the training range push the flow to extremes
  odd <- rbind(sims$data[1, ], c(k = 20, y1 = 50, y2 = -50, y3 = 50, y4 = -50, y5 = 50), c(0, rep(0, 5)))
  expect_warning(draws <- as.matrix(sample_posterior(fit, odd, n_draws = 3000, seed = 2)), "1 data set \\(2\\) far outside",
                 class = "amortized_warning_outside_training")
  expect_true(all(draws[, grep("^p\\[", colnames(draws))] > 0 & draws[, grep("^p\\[", colnames(draws))] < 1))
  expect_true(all(draws[, grep("^sigma\\[", colnames(draws))] > 0))
  # the 2-d density integrates to one on a grid over (0, 1) x (0, 8)
  p <- seq(0.0005, 0.9995, length.out = 400)
  s <- seq(0.002, 8, length.out = 400)
  grid <- expand.grid(p = p, sigma = s)
  dens <- exp(posterior_log_density(fit, as.matrix(grid), sims$data[1, ]))
  mass <- sum(dens) * diff(p[1:2]) * diff(s[1:2])
  expect_equal(mass, 1, tolerance = 0.03)
  # outside the bounds the density is zero
  expect_equal(posterior_log_density(fit, rbind(c(p = 1.5, sigma = 1), c(0.5, -1), c(0.5, 1)), sims$data[1, ])[1:2],
               c(-Inf, -Inf))
})

test_that("a 1-d bounded posterior integrates to one (numerical integral)", {
  sim <- simulator(function(n) cbind(p = stats::rbeta(n, 2, 5)),
                   function(theta) cbind(k = stats::rbinom(nrow(theta), 30, theta[, 1])))
  fit <- train(amortizer(tiny_net(), configurator = configurator(constrain(p = c(0, 1)))), sim,
               n_sims = 2000, epochs = 5, seed = 3, verbose = FALSE)
  for (k in c(0, 9, 30)) {
    f <- function(p) exp(posterior_log_density(fit, matrix(p, ncol = 1, dimnames = list(NULL, "p")), c(k = k)))
    expect_equal(stats::integrate(f, 0, 1, subdivisions = 500)$value, 1, tolerance = 0.01)
  }
})

test_that("bounds are checked against the parameters and the prior", {
  sims <- simulate(bounded_sim(), 300, seed = 1)
  expect_error(train(amortizer(tiny_net(), configurator = configurator(constrain(rho = c(0, 1)))), sims,
                     epochs = 1, verbose = FALSE), "does not have: \"rho\"", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny_net(), configurator = configurator(constrain(sigma = c(0, 0.5)))), sims,
                     epochs = 1, verbose = FALSE), "not strictly inside the bounds", class = "amortized_error_argument")
})

# theta ~ N(0, 1); 8 draws y ~ N(0, theta^2): only |theta| is identified.
scale_sim <- function() {
  simulator(function(n) cbind(theta = stats::rnorm(n), mu = stats::rnorm(n)),
            function(theta) matrix(stats::rnorm(nrow(theta) * 8, theta[, "mu"], abs(theta[, "theta"])), ncol = 8,
                                   dimnames = list(NULL, paste0("y", 1:8))))
}

test_that("symmetric(): the posterior is even in the sign, proper, and right in |theta|", {
  sims <- simulate(scale_sim(), 4000, seed = 1)
  fit <- train(amortizer(coupling_flow(hidden = c(32, 32)), configurator = configurator(symmetric("theta"))), sims,
               seed = 1, verbose = FALSE)
  expect_output(print(fit), "symmetric: theta \\(learned as absolute values")
  y <- c(-0.9, 1.4, 0.3, -1.8, 0.8, 1.1, -0.2, -1.2)
  names(y) <- paste0("y", 1:8)
  draws <- as.matrix(sample_posterior(fit, y, n_draws = 4000, seed = 2))
  expect_equal(mean(draws[, "theta"] > 0), 0.5, tolerance = 0.04 / 0.5)  # 5 binomial sds
  # the exact posterior of |theta| on a grid (mu integrated out numerically)
  a <- seq(0.01, 4, length.out = 400)
  m <- seq(-3, 3, length.out = 301)
  joint <- outer(a, m, Vectorize(function(s, mu) sum(stats::dnorm(y, mu, s, log = TRUE)) + stats::dnorm(s, log = TRUE) +
                                  stats::dnorm(mu, log = TRUE)))
  post <- rowSums(exp(joint - max(joint)))
  exact_mean <- sum(a * post) / sum(post)
  expect_equal(mean(abs(draws[, "theta"])), exact_mean, tolerance = 0.1)
  # even in theta, and proper: the theta marginal at mu = 0.1 integrates like the joint slice does
  th <- cbind(theta = c(-1.3, -0.4, 0.7), mu = c(0.1, -0.5, 0.2))
  flipped <- th
  flipped[, "theta"] <- -th[, "theta"]
  expect_equal(posterior_log_density(fit, th, y), posterior_log_density(fit, flipped, y))
  # (a fine mu grid: the posterior of mu is narrow, and a Riemann sum over a
  # coarse one misses its integral by several percent)
  mu_grid <- seq(-3, 3, 0.025)
  f <- function(v) exp(posterior_log_density(fit, cbind(theta = rep(v, each = length(mu_grid)),
                                                          mu = rep(mu_grid, length(v))), y))
  grid <- seq(-5, 5, length.out = 801)
  dens <- matrix(f(grid), nrow = length(mu_grid))
  expect_equal(sum(dens) * diff(mu_grid[1:2]) * diff(grid[1:2]), 1, tolerance = 0.03)
})

test_that("constrain(.how = \"truncate\") rejects draws outside the bounds and renormalizes the density", {
  # mu ~ U(0, 1), y_1..5 ~ N(mu, 0.5^2): the posterior is a normal truncated to (0, 1)
  sim <- simulator(prior = function(n) cbind(mu = stats::runif(n)),
                   model = function(theta) matrix(stats::rnorm(nrow(theta) * 5, theta[, "mu"], 0.5), ncol = 5,
                                                  dimnames = list(NULL, paste0("y", 1:5))))
  cut <- configurator(constrain(mu = c(0, 1), .how = "truncate"))
  expect_match(format(cut$steps[[1]]), "mu in \\(0, 1\\) \\(truncated\\)")
  fit <- train(amortizer(tiny_net(), configurator = cut), sim, n_sims = 4000, epochs = 30, seed = 1, verbose = FALSE)
  expect_identical(fit$config$core$truncate_lower, 0)
  expect_identical(fit$config$core$truncate_upper, 1)
  expect_identical(fit$config$core$upper, Inf)  # learned as it is
  expect_output(print(fit), "truncated to: mu in \\(0, 1\\) \\(draws outside rejected\\)")
  y <- c(0.95, 1.1, 0.8, 1.3, 0.9)  # the likelihood peaks at 1.01: the bound cuts the posterior near its mode
  grid <- seq(0.0005, 0.9995, by = 0.001)
  exact <- stats::dnorm(grid, mean(y), 0.5 / sqrt(5))
  exact_mean <- sum(grid * exact) / sum(exact)
  d <- as.matrix(sample_posterior(fit, y, n_draws = 4000, seed = 1))[, "mu"]
  expect_length(d, 4000)
  expect_true(all(d > 0 & d < 1))
  expect_equal(mean(d), exact_mean, tolerance = 0.03)
  dens <- exp(posterior_log_density(fit, cbind(mu = grid), y))
  expect_equal(sum(dens) * 0.001, 1, tolerance = 0.01)
  expect_identical(posterior_log_density(fit, c(mu = 1.2), y), -Inf)
  expect_error(constrain(mu = c(0, 1), .how = "cut"), "`.how` must be one of", class = "amortized_error_argument")
  # a simulator's declared support is truncated where it declares the posterior cut off by it
  expect_identical(benchmark_simulator("two_moons")$truncated, c("theta_1", "theta_2"))
  expect_output(print(benchmark_simulator("two_moons")), "cut off at the bounds of theta_1, theta_2")
  two_moons <- train(amortizer(tiny_net()), simulate(benchmark_simulator("two_moons"), 300, seed = 1), epochs = 1,
                     seed = 1, verbose = FALSE)
  expect_identical(two_moons$config$core$truncate_upper, c(1, 1))
  expect_identical(two_moons$config$core$lower, c(-Inf, -Inf))
  transformed <- train(amortizer(tiny_net(), configurator = configurator(constrain(theta_1 = c(-1, 1)))),
                       simulate(benchmark_simulator("two_moons"), 300, seed = 1), epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(transformed$config$core$lower, c(-1, -Inf))
  expect_identical(transformed$config$core$truncate_upper, c(Inf, 1))
  expect_length(transformed$config$core$rotation, 0)  # the declared mirror would mix a mapped parameter
})

test_that("reflection() learns one side of a mirror: a proper, mirror-even posterior that matches the exact one", {
  # x1 = |t1 + t2| + noise, x2 = t2 - t1 + noise, t ~ N(0, I): even under (t1, t2) -> (-t2, -t1)
  sim <- simulator(prior = function(n) cbind(t1 = stats::rnorm(n), t2 = stats::rnorm(n)),
                   model = function(theta) cbind(x1 = abs(theta[, 1] + theta[, 2]) + stats::rnorm(nrow(theta), 0, 0.2),
                                                 x2 = theta[, 2] - theta[, 1] + stats::rnorm(nrow(theta), 0, 0.2)))
  mirror <- configurator(reflection(t1 = 1, t2 = 1))
  expect_match(format(mirror$steps[[1]]), "normal \\(0.707 t1, 0.707 t2\\)")
  fit <- train(amortizer(tiny_net(), configurator = mirror), sim, n_sims = 4000, epochs = 30, seed = 1, verbose = FALSE)
  expect_length(fit$config$core$rotation, 4)
  expect_identical(fit$config$core$symmetric, 0L)
  expect_output(print(fit), "reflection: learned on one side of the mirror with normal \\(0.707 t1, 0.707 t2\\)")
  y <- c(x1 = 1, x2 = 0.5)
  # the exact posterior on a grid in (s, u) = (t1 + t2, t2 - t1) (Jacobian 1/2, constant)
  g <- seq(-4, 4, length.out = 401)
  post <- outer(g, g, function(sv, uv) stats::dnorm(y[1], abs(sv), 0.2) * stats::dnorm(y[2], uv, 0.2) *
                  stats::dnorm((sv - uv) / 2) * stats::dnorm((sv + uv) / 2))
  post <- post / sum(post)
  d <- as.matrix(sample_posterior(fit, y, n_draws = 4000, seed = 1))[, c("t1", "t2")]
  s_draw <- d[, "t1"] + d[, "t2"]
  expect_equal(mean(abs(s_draw)), sum(rowSums(post) * abs(g)), tolerance = 0.05)
  expect_equal(mean(d[, "t2"] - d[, "t1"]), sum(colSums(post) * g), tolerance = 0.05)
  expect_equal(mean(s_draw > 0), 0.5, tolerance = 0.05)
  th <- cbind(t1 = c(0.3, -0.2, 1.1), t2 = c(0.4, 0.9, -0.6))
  expect_equal(posterior_log_density(fit, th, y), posterior_log_density(fit, cbind(t1 = -th[, 2], t2 = -th[, 1]), y),
               tolerance = float32_tolerance())
  grid <- as.matrix(expand.grid(t1 = seq(-3, 3, 0.03), t2 = seq(-3, 3, 0.03)))
  expect_equal(sum(exp(posterior_log_density(fit, grid, y))) * 0.03^2, 1, tolerance = 0.03)
  # errors: names, orthogonality, bounds that map the mixed parameters, a prior that is not symmetric
  expect_error(reflection(1, 2), "named numbers", class = "amortized_error_argument")
  expect_error(reflection(a = 0), "named numbers", class = "amortized_error_argument")
  sims <- simulate(sim, 200, seed = 1)
  expect_error(train(amortizer(tiny_net(), configurator = configurator(reflection(t3 = 1))), sims, epochs = 1,
                     verbose = FALSE), "does not have: \"t3\"", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny_net(), configurator = configurator(reflection(t1 = 1, t2 = 1), reflection(t1 = 1))),
                     sims, epochs = 1, verbose = FALSE), "orthogonal", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny_net(), configurator = configurator(reflection(t1 = 1, t2 = 1), constrain(t1 = c(-9, 9)))),
                     sims, epochs = 1, verbose = FALSE), "Truncate", class = "amortized_error_argument")
  lopsided <- simulate(simulator(prior = function(n) cbind(t1 = stats::runif(n), t2 = stats::runif(n, -1, 1)),
                                 model = function(theta) theta + stats::rnorm(length(theta))), 200, seed = 1)
  expect_error(train(amortizer(tiny_net(), configurator = configurator(reflection(t1 = 1, t2 = 1),
                                                                     constrain(t1 = c(0, 1), t2 = c(-1, 1), .how = "truncate"))),
                     lopsided, epochs = 1, verbose = FALSE), "symmetric under the reflection", class = "amortized_error_argument")
  # two_moons declares its mirror; reflection() without values declares none
  moons <- benchmark_simulator("two_moons")
  expect_equal(unname(moons$reflections), matrix(sqrt(0.5), 1, 2))
  expect_output(print(moons), "mirror with normal \\(0.707 theta_1, 0.707 theta_2\\)")
  small <- simulate(moons, 300, seed = 1)
  declared <- train(amortizer(tiny_net()), small, epochs = 1, seed = 1, verbose = FALSE)
  expect_length(declared$config$core$rotation, 4)
  d <- as.matrix(sample_posterior(declared, small$data[1, ], n_draws = 2000, seed = 1))
  expect_true(all(abs(d[, c("theta_1", "theta_2")]) < 1))
  expect_equal(mean(d[, "theta_1"] + d[, "theta_2"] > 0), 0.5, tolerance = 0.1)
  plain <- train(amortizer(tiny_net(), configurator = configurator(reflection())), small, epochs = 1, seed = 1,
                 verbose = FALSE)
  expect_length(plain$config$core$rotation, 0)
  path <- file.path(new_temp_dir(), "moons.amz")
  save_amortizer(declared, path)
  expect_identical(as.matrix(sample_posterior(load_amortizer(path), small$data[1, ], n_draws = 2000, seed = 1)), d)
})

test_that("equivariance(): trains on transformed simulations and gives an equivariant posterior that matches the exact one", {
  # t ~ N(0, I_2), x ~ N(t, I_2): unchanged by swapping (t1, x1) with (t2, x2)
  # and by flipping the signs of t1 and x1; the posterior is N(x / 2, I / 2)
  sim <- simulator(prior = function(n) cbind(t1 = stats::rnorm(n), t2 = stats::rnorm(n)),
                   model = function(theta) cbind(x1 = theta[, 1] + stats::rnorm(nrow(theta)),
                                                 x2 = theta[, 2] + stats::rnorm(nrow(theta))))
  eq <- configurator(equivariance(c(2, 1), c(2, 1)), equivariance(c(-1, 2), c(-1, 2)))
  expect_match(format(eq$steps[[1]]), "equivariance: parameters \\(2, 1\\) with data \\(2, 1\\)")
  fit <- train(amortizer(tiny_net(), configurator = eq), sim, n_sims = 3000, epochs = 40, seed = 1, verbose = FALSE)
  expect_length(fit$config$core$equivariances, 2)
  expect_output(print(fit), "equivariance: trained on every simulation transformed by 2 signed permutations")
  y <- c(x1 = 1.2, x2 = -0.4)
  d <- as.matrix(sample_posterior(fit, y, n_draws = 4000, seed = 1))[, c("t1", "t2")]
  expect_equal(unname(colMeans(d)), unname(y / 2), tolerance = 0.08)
  expect_equal(unname(apply(d, 2, stats::sd)), rep(sqrt(0.5), 2), tolerance = 0.08)
  # exactly equivariant: the density at (g t, g x) is that at (t, x)
  th <- cbind(t1 = c(0.3, -0.2, 1.1), t2 = c(0.4, 0.9, -0.6))
  lp <- posterior_log_density(fit, th, y)
  # (columns are matched by name: swap the values, keep the names)
  swap_th <- cbind(t1 = th[, 2], t2 = th[, 1])
  swap_y <- c(x1 = y[[2]], x2 = y[[1]])
  expect_equal(posterior_log_density(fit, swap_th, swap_y), lp, tolerance = float32_tolerance())
  expect_equal(posterior_log_density(fit, cbind(-th[, 1], th[, 2]), c(-y[1], y[2])), lp, tolerance = float32_tolerance())
  expect_equal(lp, rowSums(stats::dnorm(th, rep(y / 2, each = 3), sqrt(0.5), log = TRUE)), tolerance = 0.1)
  grid <- as.matrix(expand.grid(t1 = seq(-3, 4, 0.05), t2 = seq(-4, 3, 0.05)))
  expect_equal(sum(exp(posterior_log_density(fit, grid, y))) * 0.05^2, 1, tolerance = 0.02)
  # without the declaration the network's density is not equivariant
  plain <- train(amortizer(tiny_net()), sim, n_sims = 300, epochs = 2, seed = 1, verbose = FALSE)
  expect_length(plain$config$core$equivariances, 0)
  expect_false(isTRUE(all.equal(posterior_log_density(plain, swap_th, swap_y), posterior_log_density(plain, th, y))))
  # errors: not signed permutations, wrong lengths, a prior the transformation changes, data steps
  expect_error(equivariance(c(1, 1), c(1, 2)), "signed permutation", class = "amortized_error_argument")
  expect_error(equivariance(c(2, 1), c(1, 3)), "`data` must be a signed permutation", class = "amortized_error_argument")
  expect_error(equivariance(c(2, 1)), "`data` must be a signed permutation", class = "amortized_error_argument")
  sims <- simulate(sim, 200, seed = 1)
  expect_error(train(amortizer(tiny_net(), configurator = configurator(equivariance(c(2, 1, 3), c(2, 1)))), sims,
                     epochs = 1, verbose = FALSE), "signed permutation of the 2 parameters", class = "amortized_error_argument")
  positive <- simulate(simulator(prior = function(n) cbind(t1 = stats::runif(n), t2 = stats::rnorm(n)),
                                 model = function(theta) theta + stats::rnorm(length(theta))), 200, seed = 1)
  expect_error(train(amortizer(tiny_net(), configurator = configurator(equivariance(c(-1, 2), c(-1, 2)), constrain(t1 = c(0, 1)))),
                     positive, epochs = 1, verbose = FALSE), "outside their bounds", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny_net(), configurator = configurator(equivariance(c(2, 1), c(2, 1)), nan_to_num())),
                     sims, epochs = 1, verbose = FALSE), "data steps", class = "amortized_error_argument")
})

test_that("slcp declares its equivariances: per point, kept with its simulations, dropped where they do not apply", {
  slcp <- benchmark_simulator("slcp")
  expect_length(slcp$equivariances, 3)
  expect_identical(slcp$equivariances[[3]], list(parameters = c(2L, 1L, 4L, 3L, 5L), data = c(2L, 1L)))
  expect_output(print(slcp), "equivariance: \\(theta_1, theta_5\\) -> \\(-theta_1, -theta_5\\)")
  sims <- simulate(slcp, 300, seed = 1)
  expect_identical(sims$equivariances, slcp$equivariances)
  fit <- train(amortizer(tiny_net()), sims, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(fit$config$core$equivariances[[1]], list(theta = c(-1L, 2L, 3L, 4L, -5L), x = c(-1L, 2L)))
  # flipping every point's first coordinate flips theta_1 and theta_5 in the posterior
  y <- sims$data[1, ]
  flip <- y * rep(c(-1, 1), 4)
  th <- sims$parameters[2:4, ]
  expect_equal(posterior_log_density(fit, th, y), posterior_log_density(fit, th * rep(c(-1, 1, 1, 1, -1), each = 3), flip),
               tolerance = float32_tolerance())
  # without the set structure, the permutation is spread over every point
  flat <- train(amortizer(tiny_net(), use_structure = FALSE, configurator = configurator(equivariance(c(2, 1, 4, 3, 5), c(2, 1)))),
                sims, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(flat$config$core$equivariances[[1]]$x, c(2L, 1L, 4L, 3L, 6L, 5L, 8L, 7L))
  # equivariance() declares none; use_structure = FALSE and data steps drop the simulator's
  for (a in list(amortizer(tiny_net(), configurator = configurator(equivariance())),
                 amortizer(tiny_net(), use_structure = FALSE),
                 amortizer(tiny_net(), configurator = configurator(nan_to_num())))) {
    expect_length(train(a, sims, epochs = 1, seed = 1, verbose = FALSE)$config$core$equivariances, 0)
  }
})

test_that("symmetric() checks its parameters and their bounds; simulators declare symmetries and support", {
  sims <- simulate(scale_sim(), 300, seed = 1)
  expect_error(symmetric(1), "variable names as strings", class = "amortized_error_argument")
  expect_match(format(symmetric("a", "b")), "even in the sign of a, b")
  expect_match(format(symmetric()), "symmetric: none")
  expect_error(configurator(symmetric("a"), symmetric("b")), "at most once", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny_net(), configurator = configurator(symmetric("sigma"))), sims, epochs = 1,
                     verbose = FALSE), "does not have: \"sigma\"", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny_net(), configurator = configurator(symmetric("theta"), constrain(theta = c(-5, 6)))),
                     sims, epochs = 1, verbose = FALSE), "symmetric about 0", class = "amortized_error_argument")
  slcp <- benchmark_simulator("slcp")
  expect_identical(slcp$symmetric, c("theta_3", "theta_4"))
  expect_output(print(slcp), "even in the sign of theta_3, theta_4")
  small <- simulate(slcp, 300, seed = 1)
  declared <- train(amortizer(tiny_net()), small, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(declared$config$core$symmetric, c(2L, 3L))
  expect_identical(declared$config$core$lower, rep(-3, 5))  # the prior's support bounds the draws
  expect_output(print(declared), "bounds: theta_1 in \\(-3, 3\\)")
  plain <- train(amortizer(tiny_net(), use_structure = FALSE), small, epochs = 1, seed = 1, verbose = FALSE)
  expect_length(plain$config$core$symmetric, 0)
  expect_identical(plain$config$core$upper, rep(Inf, 5))
  expect_length(plain$config$core$truncate_upper, 0)
  wider <- train(amortizer(tiny_net(), configurator = configurator(constrain(theta_1 = c(-5, 5)))), small, epochs = 1,
                 seed = 1, verbose = FALSE)
  expect_identical(wider$config$core$lower, c(-5, -3, -3, -3, -3))
  expect_length(train(amortizer(tiny_net(), configurator = configurator(symmetric())), small, epochs = 1, seed = 1,
                      verbose = FALSE)$config$core$symmetric, 0)
  # draws of the declared symmetric parameters take both signs
  d <- as.matrix(sample_posterior(declared, small$data[1, ], n_draws = 2000, seed = 1))
  expect_true(all(abs(colMeans(d[, c("theta_3", "theta_4")] > 0) - 0.5) < 0.05))
  expect_true(all(abs(d[, paste0("theta_", 1:5)]) < 3))
  path <- file.path(new_temp_dir(), "slcp.amz")
  save_amortizer(declared, path)
  expect_identical(as.matrix(sample_posterior(load_amortizer(path), small$data[1, ], n_draws = 2000, seed = 1)), d)
})

test_that("data steps transform, select and fill data the same way in training and inference", {
  sims <- simulate(bounded_sim(), 400, seed = 1)
  cfg <- configurator(log1p_data("k"), drop_data("y5"), sqrt_data("k"), nan_to_num(0))
  fit <- train(amortizer(tiny_net(), configurator = cfg), sims, epochs = 1, seed = 1, verbose = FALSE)
  plan <- fit$config
  expect_equal(plan$data_names, c("k", paste0("y", 1:4), "k_missing", paste0("y", 1:4, "_missing")))
  x <- amortized:::apply_data_steps(plan, sims$data[1:3, ])
  expect_equal(unname(x[, "k"]), sqrt(log1p(unname(sims$data[1:3, "k"]))))
  expect_equal(unname(x[, "y2"]), unname(sims$data[1:3, "y2"]))
  expect_true(all(x[, "k_missing"] == 0))
  # a missing value is replaced and flagged
  obs <- sims$data[1, ]
  obs["y3"] <- NA
  z <- amortized:::apply_data_steps(plan, rbind(obs))
  expect_equal(unname(z[1, c("y3", "y3_missing")]), c(0, 1))
  expect_silent(d <- sample_posterior(fit, obs, n_draws = 10, seed = 1))
  expect_true(all(is.finite(as.matrix(d)[, c("p", "sigma")])))
  # without nan_to_num missing data are an error
  plain <- train(amortizer(tiny_net()), sims, epochs = 1, seed = 1, verbose = FALSE)
  expect_error(sample_posterior(plain, obs), "contains NA", class = "amortized_error_data")
  expect_error(train(amortizer(tiny_net(), configurator = configurator(keep_data("nope"))), sims, epochs = 1,
                     verbose = FALSE), "does not exist at that step", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny_net(), configurator = configurator(log1p_data("y1"))), sims, epochs = 1,
                     verbose = FALSE), "needs data values > -1", class = "amortized_error_data")
})

test_that("nan_to_num keeps simulations with missing data for training", {
  sim <- simulator(function(n) cbind(mu = stats::rnorm(n)),
                   function(theta) {
                     y <- cbind(a = theta[, 1] + stats::rnorm(nrow(theta)), b = theta[, 1] + stats::rnorm(nrow(theta)))
                     y[stats::runif(nrow(y)) < 0.3, "b"] <- NA  # b is missing in 30% of the data sets
                     y
                   })
  expect_warning(simulate(sim, 200, seed = 1), "Dropped", class = "amortized_warning_nonfinite")
  expect_silent(fit <- train(amortizer(tiny_net(), configurator = configurator(nan_to_num())), sim,
                             n_sims = 500, epochs = 1, seed = 1, verbose = FALSE))
  expect_equal(fit$info$n_sims, 500)
})

test_that("standardize() and the structure steps reach the model", {
  sims <- simulate(bounded_sim(), 300, seed = 1)
  fit <- train(amortizer(tiny_net(), configurator = configurator(standardize(parameters = FALSE, data = FALSE))),
               sims, epochs = 1, seed = 1, verbose = FALSE)
  expect_false(fit$config$core$standardize_data)
  expect_output(print(fit), "standardized: nothing")
  expect_error(train(amortizer(tiny_net(), configurator = configurator(as_time_series())), sims, epochs = 1,
                     verbose = FALSE), "need .*\\[n, n_obs, dim\\].* data", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny_net(), summary_net = deep_set()), sims, epochs = 1, verbose = FALSE),
               "needs set or time-series data", class = "amortized_error_argument")
})

test_that("context variables reach the network and are read from the data's size", {
  sim <- simulator(
    prior = function(n) cbind(mu = stats::rnorm(n)),
    model = function(theta, n_obs, scale) {
      n <- nrow(theta)
      array(stats::rnorm(n * n_obs, theta[, 1], scale), c(n, n_obs, 1), dimnames = list(NULL, NULL, "y"))
    },
    context = list(n_obs = 3:12, scale = function() stats::runif(1, 0.5, 2)))
  sims <- simulate(sim, 600, seed = 1)
  expect_equal(colnames(sims$context), c("n_obs", "scale"))
  expect_equal(unname(sims$context[, "n_obs"]), sims$lengths)
  small <- deep_set(summary_dim = 4, width = 8, hidden = 8)
  fit <- train(amortizer(tiny_net(), summary_net = small), sims, epochs = 1, seed = 1, verbose = FALSE)
  # n_obs is the sets' size, which the network takes anyway: not context
  expect_equal(fit$config$context_names, "scale")
  named <- train(amortizer(tiny_net(), summary_net = small, configurator = configurator(context_variables("n_obs", "scale"))),
                 sims, epochs = 1, seed = 1, verbose = FALSE)
  expect_equal(named$config$context_names, c("n_obs", "scale"))
  expect_true(fit$config$core$variable_length)
  y <- c(0.3, 1.2, -0.4, 0.8)
  expect_error(sample_posterior(fit, y), "must give the context variable .*scale", class = "amortized_error_argument")
  d1 <- sample_posterior(fit, y, n_draws = 20, context = c(scale = 1), seed = 1)
  # n_obs as context: read from the data's size
  n1 <- sample_posterior(named, y, n_draws = 20, context = c(scale = 1), seed = 1)
  n2 <- sample_posterior(named, y, n_draws = 20, context = c(scale = 1, n_obs = 4), seed = 1)
  expect_equal(as.matrix(n1), as.matrix(n2))
  d3 <- sample_posterior(fit, y, n_draws = 20, context = c(scale = 2), seed = 1)
  expect_false(isTRUE(all.equal(as.matrix(d1), as.matrix(d3))))
  expect_error(sample_posterior(fit, y, context = "a"), "named numeric vector", class = "amortized_error_argument")
  expect_warning(sample_posterior(fit, rnorm(40), n_draws = 5, context = c(scale = 1)), "outside the range trained on",
                 class = "amortized_warning_extrapolation")
  # only the chosen context variables
  only <- train(amortizer(tiny_net(), summary_net = small, configurator = configurator(context_variables("scale"))),
                sims, epochs = 1, seed = 1, verbose = FALSE)
  expect_equal(only$config$context_names, "scale")
  expect_error(train(amortizer(tiny_net(), summary_net = small, configurator = configurator(context_variables("rate"))),
                     sims, epochs = 1, verbose = FALSE), "do not have: \"rate\"", class = "amortized_error_argument")
})

test_that("skewed non-negative flat data get a log scale: chosen, recorded, applied to observed data, optional", {
  # a population (log-normal), a count (Poisson with a log-normal rate), a
  # waiting time with exact zeros, and a signed variable: the first three
  # are skewed; counts and the signed variable stay as they are
  sim <- simulator(
    prior = function(n) cbind(r = stats::rnorm(n)),
    model = function(theta) {
      n <- nrow(theta)
      cbind(pop = exp(2 + theta[, 1] + stats::rnorm(n, 0, 0.5)),
            count = stats::rpois(n, exp(theta[, 1])),
            wait = stats::rexp(n, exp(-theta[, 1])) * stats::rbinom(n, 1, 0.8),
            shift = theta[, 1] + stats::rnorm(n))
    })
  sims <- simulate(sim, 2000, seed = 1)
  fit <- train(amortizer(tiny_net()), sims, epochs = 2, seed = 1, verbose = FALSE)
  steps <- fit$config$data_steps
  expect_identical(vapply(steps, `[[`, "", "step"), c("log_data", "log1p_data"))
  expect_identical(lapply(steps, `[[`, "names"), list("pop", "wait"))
  expect_true(all(vapply(steps, function(s) isTRUE(s$auto), TRUE)))
  expect_output(print(fit), "log_data: pop \\(chosen from the training simulations\\)")
  # the same transform on observed data, also after saving and loading
  obs <- rbind(c(pop = 7.5, count = 0, wait = 0, shift = -1), c(pop = 300, count = 12, wait = 2.5, shift = 2))
  x <- amortized:::apply_data_steps(fit$config, obs)
  expect_equal(unname(x[, "pop"]), log(c(7.5, 300)))
  expect_equal(unname(x[, "count"]), c(0, 12))
  expect_equal(unname(x[, "wait"]), log1p(c(0, 2.5)))
  expect_equal(unname(x[, "shift"]), c(-1, 2))
  path <- tempfile(fileext = ".amz")
  save_amortizer(fit, path)
  again <- load_amortizer(path)
  expect_identical(again$config$data_steps, steps)
  expect_equal(posterior_log_density(again, cbind(r = c(-0.5, 0.5)), obs[1, ]),
               posterior_log_density(fit, cbind(r = c(-0.5, 0.5)), obs[1, ]), tolerance = float32_tolerance())
  # a population of 0 cannot be on a log scale: a clear error, not NaN
  expect_error(sample_posterior(fit, c(pop = 0, count = 1, wait = 1, shift = 0), n_draws = 10),
               "needs data values > 0", class = "amortized_error_data")
  # switched off, or replaced by the user's own data steps
  off <- train(amortizer(tiny_net(), configurator = configurator(.auto_transform = FALSE)), sims, epochs = 1,
               seed = 1, verbose = FALSE)
  expect_length(off$config$data_steps, 0)
  expect_output(print(configurator(.auto_transform = FALSE)), "no automatic scale")
  own <- train(amortizer(tiny_net(), configurator = configurator(log1p_data("count"))), sims, epochs = 1, seed = 1,
               verbose = FALSE)
  expect_identical(vapply(own$config$data_steps, `[[`, "", "step"), "log1p_data")
  expect_error(configurator(.auto_transform = "yes"), "`.auto_transform` must be TRUE or FALSE",
               class = "amortized_error_argument")
})

test_that("flat data that are an exchangeable set are found: recorded, applied to observed data, optional", {
  iid <- simulator(prior = function(n) cbind(mu = stats::rnorm(n), sigma = stats::rgamma(n, 4, 4)),
                   model = function(theta) matrix(stats::rnorm(nrow(theta) * 6, theta[, 1], theta[, 2]), nrow(theta), 6))
  sims <- simulate(iid, 2500, seed = 1)
  expect_identical(amortized:::detect_flat_set(sims), c(6L, 1L))
  # pairs of values: slcp's 4 points of 2 (what it declares, found without the declaration)
  slcp <- simulate(benchmark_simulator("slcp"), 3000, seed = 1)
  slcp$set_structure <- NULL
  expect_identical(amortized:::detect_flat_set(slcp), c(4L, 2L))
  # not exchangeable: values with their own parameter, a series, different scales, too few simulations
  expect_null(amortized:::detect_flat_set(simulate(benchmark_simulator("gaussian_linear"), 3000, seed = 1)))
  expect_null(amortized:::detect_flat_set(simulate(benchmark_simulator("two_moons"), 3000, seed = 1)))
  walk <- simulator(prior = function(n) cbind(s = stats::rgamma(n, 4, 4)),
                    model = function(theta) t(apply(matrix(stats::rnorm(nrow(theta) * 6), ncol = 6) * theta[, 1], 1,
                                                    cumsum)))
  expect_null(amortized:::detect_flat_set(simulate(walk, 3000, seed = 1)))
  scales <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)),
                      model = function(theta) sweep(matrix(stats::rnorm(nrow(theta) * 4), ncol = 4), 2, c(1, 1, 1, 1.5),
                                                    "*") + theta[, 1])
  expect_null(amortized:::detect_flat_set(simulate(scales, 3000, seed = 1)))
  expect_null(amortized:::detect_flat_set(simulate(iid, 1000, seed = 1)))
  # recorded in the amortizer and applied to observed data: the order of the values does not matter
  fit <- train(amortizer(tiny_net()), sims, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(fit$config$structure, "flat_set")
  expect_true(fit$config$set_found)
  expect_output(print(fit), "6 points of 1, in canonical order with its moments \\(found in the training simulations\\)")
  y <- c(0.3, -1.2, 2.0, 0.1, 0.9, -0.4)
  expect_equal(as.matrix(sample_posterior(fit, y, n_draws = 20, seed = 2)),
               as.matrix(sample_posterior(fit, rev(y), n_draws = 20, seed = 2)))
  # off on request, and for likelihoods (which would take the points as independent)
  off <- train(amortizer(tiny_net(), configurator = configurator(.auto_set = FALSE)), sims, epochs = 1, seed = 1,
               verbose = FALSE)
  expect_identical(off$config$structure, "flat")
  expect_false(isTRUE(all.equal(as.matrix(sample_posterior(off, y, n_draws = 20, seed = 2)),
                                as.matrix(sample_posterior(off, rev(y), n_draws = 20, seed = 2)))))
  expect_output(print(configurator(.auto_set = FALSE)), "no automatic sets")
  lik <- train(amortizer(tiny_net(), estimate = "likelihood"), sims, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(lik$config$structure, "flat")
  expect_error(configurator(.auto_set = NA), "`.auto_set` must be TRUE or FALSE", class = "amortized_error_argument")
  # the automatic log scale of a found set is chosen per point coordinate, the same for every point
  skewed <- amortized:::with_seed(3, cbind(a = stats::rexp(3000), b = 10 + stats::rnorm(3000), c = stats::rexp(3000),
                                           d = 10 + stats::rnorm(3000)))
  expect_identical(amortized:::auto_transform_steps(skewed)[[1]]$names, c("a", "c"))
  expect_identical(amortized:::auto_transform_steps(skewed, c(2L, 2L))[[1]]$names, c("a", "c"))
  expect_length(amortized:::auto_transform_steps(skewed, c(4L, 1L)), 0)  # pooled: one choice for all four
})

test_that("log_data() checks its names and needs positive values", {
  expect_error(log_data(3), "`log_data\\(\\)` takes variable names as strings", class = "amortized_error_argument")
  plan <- list(data_steps = list(log_data("y")))
  expect_equal(amortized:::apply_data_steps(plan, cbind(y = c(1, exp(2)))), cbind(y = c(0, 2)))
  expect_error(amortized:::apply_data_steps(plan, cbind(y = c(1, -1))), "`log_data\\(\\)` needs data values > 0",
               class = "amortized_error_data")
})
