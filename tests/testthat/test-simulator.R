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
               "one data set per parameter row", class = "amortized_error_simulator")
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
  msg <- conditionMessage(tryCatch(benchmark_simulator("two_mooons"), error = identity))
  expect_match(msg, "did you mean \"two_moons\"", fixed = TRUE)
  expect_match(msg, "\"lotka_volterra\", or \"ddm\"", fixed = TRUE)  # "one of a, b, or c"
  expect_no_match(conditionMessage(tryCatch(benchmark_simulator("zzzzzzzzzz"), error = identity)), "did you mean")
})

test_that("every benchmark simulator gives finite, seeded output independent of threads", {
  for (name in c("gaussian_linear", "two_moons", "slcp", "gaussian_mixture", "inverse_kinematics",
                 "bernoulli_glm", "sir", "lotka_volterra", "ddm")) {
    sim <- benchmark_simulator(name, n_obs = 5)
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

test_that("AMORTIZED_SIMD lowers the SIMD path; the paths agree to rounding", {
  level <- .amz_simd_level()
  expect_named(level, c("in_force", "cpu"))
  expect_true(all(level %in% c("baseline", "avx2", "avx512")))
  skip_if_not_installed("callr")
  run <- function(simd) {
    callr::r(function() {
      suppressMessages(library(amortized))
      list(level = amortized:::.amz_simd_level()[["in_force"]],
           sims = simulate(benchmark_simulator("two_moons"), 2000, seed = 5)$data)
    }, env = c(callr::rcmd_safe_env(), AMORTIZED_SIMD = simd))
  }
  base <- run("baseline")
  expect_identical(base$level, "baseline")
  here <- simulate(benchmark_simulator("two_moons"), 2000, seed = 5)$data
  expect_equal(base$sims, here, tolerance = 1e-12)  # double kernels: fused multiply-adds differ in the last bits
  # an unknown value is ignored, with a warning when the package loads
  warned <- callr::r(function() {
    msg <- character()
    withCallingHandlers(suppressMessages(library(amortized)), warning = function(w) {
      msg <<- c(msg, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
    c(msg, amortized:::.amz_simd_level()[["in_force"]] == amortized:::.amz_simd_level()[["cpu"]])
  }, env = c(callr::rcmd_safe_env(), AMORTIZED_SIMD = "sse9"))
  expect_match(warned[1], "AMORTIZED_SIMD is \"sse9\"")
  expect_identical(warned[2], "TRUE")
})

test_that("two_moons is consistent across SIMD lanes, chunks, threads and streaming stores", {
  sim <- benchmark_simulator("two_moons")
  big <- simulate(sim, 65537, seed = 3, threads = 2)  # >= 2^16 rows: streaming stores
  for (n in c(1, 7, 9, 1025)) {  # within a lane block, across blocks, across chunks
    small <- simulate(sim, n, seed = 3, threads = 3)
    expect_identical(small$parameters, big$parameters[seq_len(n), , drop = FALSE])
    expect_identical(small$data, big$data[seq_len(n), , drop = FALSE])
  }
  expect_true(all(is.finite(big$data)))
  # the law: the crescent's radius is N(0.1, 0.01) around the parameter offset
  t1 <- big$parameters[, 1]
  t2 <- big$parameters[, 2]
  r <- sqrt((big$data[, 1] + abs(t1 + t2) / sqrt(2) - 0.25)^2 + (big$data[, 2] - (t2 - t1) / sqrt(2))^2)
  expect_equal(mean(r), 0.1, tolerance = 2e-3)
  expect_equal(sd(r), 0.01, tolerance = 0.02)
})

test_that("the newer benchmark simulators have their documented shapes and supports", {
  glm <- simulate(benchmark_simulator("bernoulli_glm"), 2000, seed = 1)
  expect_equal(dim(glm$data), c(2000, 10))
  expect_true(all(glm$data[, 1] %in% 0:100))  # the spike count
  # E[x] = X' E[y] with P(y_t = 1) = sigmoid((X theta)_t): compare with the simulated mean
  design <- as.matrix(utils::read.csv(system.file("extdata", "bernoulli_glm_design_matrix.csv",
                                                  package = "amortized"), header = FALSE))
  expected <- colMeans(plogis(glm$parameters %*% t(design)) %*% design)
  expect_lt(max(abs(colMeans(glm$data) - expected) / apply(glm$data, 2, sd) * sqrt(2000)), 5)

  sir <- simulate(benchmark_simulator("sir"), 500, seed = 2)
  expect_equal(colnames(sir$parameters), c("beta", "gamma"))
  expect_true(all(sir$data %in% 0:1000))
  lv <- simulate(benchmark_simulator("lotka_volterra"), 500, seed = 3)
  expect_equal(colnames(lv$data), c(paste0("prey_", 1:10), paste0("predator_", 1:10)))
  expect_true(all(lv$data > 0))
  # At t = 0 the populations are (30, 1) with log-normal noise of sd 0.1
  expect_equal(sd(log(lv$data[, "prey_1"])), 0.1, tolerance = 0.1)
  expect_equal(mean(log(lv$data[, "predator_1"])), 0, tolerance = 0.02)

  ddm_sim <- benchmark_simulator("ddm", n_obs = 30)
  expect_output(print(ddm_sim), "30 observations of \\(2\\): rt, choice")
  ddm <- simulate(ddm_sim, 200, seed = 4)
  expect_equal(dim(ddm$data), c(200, 30, 2))
  expect_equal(dimnames(ddm$data)[[3]], c("rt", "choice"))
  expect_true(all(ddm$data[, , "choice"] %in% c(0, 1)))
  expect_true(all(ddm$data[, , "rt"] > ddm$parameters[, "t0"]))
  # a positive drift makes the upper boundary the likelier choice
  up <- rowMeans(ddm$data[, , "choice"])
  expect_gt(cor(up, ddm$parameters[, "v"]), 0.8)
  expect_output(print(ddm), "30 observations of")
  expect_equal(summary(ddm)$variable, c("v", "a", "z", "t0", "rt", "choice"))
  expect_error(benchmark_simulator("ddm", n_obs = 0), "`n_obs` must be a whole number >= 1",
               class = "amortized_error_argument")
  fit <- train(amortizer(coupling_flow(n_layers = 1, hidden = 8), summary_net = deep_set(width = 8)), ddm,
               epochs = 1, seed = 1, verbose = FALSE)
  expect_equal(fit$config$structure, "set")  # set data get a summary network by default
})

test_that("R simulators may return set data, vectorized or row by row", {
  vec <- simulator(function(n) cbind(mu = rnorm(n)),
                   function(theta) array(rnorm(nrow(theta) * 8, theta[, 1]), c(nrow(theta), 4, 2),
                                         dimnames = list(NULL, NULL, c("a", "b"))))
  expect_equal(vec$data_shape, c(4, 2))
  s <- simulate(vec, 30, seed = 1)
  expect_equal(dim(s$data), c(30, 4, 2))
  rows <- simulator(function(n) cbind(mu = rnorm(n)),
                    function(theta) matrix(theta[["mu"]] + 0:5, 3, 2), vectorized = FALSE)
  r <- simulate(rows, 10, seed = 2)
  expect_equal(dim(r$data), c(10, 3, 2))
  expect_equal(r$data[, 3, 2], r$parameters[, "mu"] + 5)
  expect_equal(dimnames(r$data)[[3]], c("x_1", "x_2"))
  # non-finite set rows are dropped as a whole
  holes <- simulator(function(n) cbind(mu = rnorm(n)), function(theta) {
    x <- array(0, c(nrow(theta), 3, 2))
    x[theta[, 1] > 0, 2, 1] <- NA
    x
  })
  expect_warning(h <- simulate(holes, 100, seed = 3), "Dropped", class = "amortized_warning_nonfinite")
  expect_true(all(h$parameters[, "mu"] <= 0) && all(is.finite(h$data)))
  expect_error(simulator(function(n) cbind(mu = rep(c(-1, 1), length.out = n)),
                         function(theta) matrix(1, 2 + (theta[["mu"]] > 0), 2), vectorized = FALSE),
               "different shapes", class = "amortized_error_simulator")
})

test_that("R simulators run chunked over futures: same seed, same result on every plan", {
  k <- 3  # a global of the model, found and shipped to the workers
  sim <- simulator(function(n) cbind(mu = rnorm(n)),
                   function(theta) matrix(rnorm(nrow(theta) * k, theta[, 1]), nrow(theta)))
  kind <- RNGkind()
  seq_result <- simulate(sim, 2500, seed = 11, chunk_size = 500)
  expect_identical(RNGkind(), kind)
  expect_false(identical(seq_result, simulate(sim, 2500, seed = 11, chunk_size = 250)))
  # chunks have their own streams: the chunks of one run are not copies of each other
  expect_false(isTRUE(all.equal(seq_result$parameters[1:500, ], seq_result$parameters[501:1000, ])))
  # on the sequential plan chunks run at once, not as futures: their
  # failures read the same, and the session's generator is left as it was
  set.seed(5)
  before <- .Random.seed
  bad_prior <- sim
  bad_prior$prior <- function(n) stop("boom in the prior")
  expect_error(simulate(bad_prior, 100, seed = 1), "boom in the prior", class = "amortized_error_simulator")
  bad_model <- sim
  bad_model$model <- function(theta) stop("boom in the model")
  expect_error(simulate(bad_model, 100, seed = 1), "boom in the model", class = "amortized_error_simulator")
  expect_identical(.Random.seed, before)
  expect_identical(RNGkind(), kind)
  skip_on_cran()
  old <- future::plan(future::multisession, workers = 2)
  on.exit(future::plan(old), add = TRUE)
  par_result <- simulate(sim, 2500, seed = 11, chunk_size = 500)
  expect_identical(par_result, seq_result)
  failing <- sim
  failing$model <- function(theta) stop("boom in the model")
  expect_error(simulate(failing, 100, seed = 1), "boom in the model", class = "amortized_error_simulator")
})

test_that("context variables: one value per chunk, passed to the model, data padded to the largest set", {
  sim <- simulator(
    prior = function(n) cbind(mu = stats::rnorm(n)),
    model = function(theta, n_obs, shift) {
      n <- nrow(theta)
      array(theta[, 1] + shift + stats::rnorm(n * n_obs), c(n, n_obs, 1), dimnames = list(NULL, NULL, "y"))
    },
    context = list(n_obs = c(2, 5, 9), shift = function() stats::runif(1, 100, 101)))
  expect_output(print(sim), "context: n_obs from 3 values in \\[2, 9\\]; shift drawn by a function")
  expect_output(print(sim), "a varying number of observations of \\(1\\): y")
  sims <- simulate(sim, 400, seed = 1, chunk_size = 20)
  expect_equal(dim(sims$context), c(400, 2))
  expect_setequal(unique(sims$lengths), c(2, 5, 9))
  expect_equal(unname(sims$context[, "n_obs"]), sims$lengths)
  # values are constant within a chunk and reach the model
  expect_equal(length(unique(sims$context[1:20, "shift"])), 1)
  expect_gt(length(unique(sims$context[, "shift"])), 10)
  expect_true(all(sims$data[, 1, 1] > 90))
  # padding is NA exactly after each set's length
  valid <- outer(sims$lengths, 1:9, `>=`)
  expect_true(all(is.finite(sims$data[, , 1][valid])) && all(is.na(sims$data[, , 1][!valid])))
  expect_output(print(sims), "2..9 observations of \\(1\\): y")
  expect_output(print(sims), "context +\\(2\\): n_obs in 2..9, shift in")
  # the same seed gives the same simulations
  expect_identical(simulate(sim, 400, seed = 1, chunk_size = 20), sims)
  # a row with a non-finite value inside its set is dropped, padding is not checked
  s2 <- amortized:::new_simulations(sims$parameters[1:3, , drop = FALSE], sims$data[1:3, , , drop = FALSE],
                                   lengths = sims$lengths[1:3], context = sims$context[1:3, ])
  expect_equal(nrow(s2$parameters), 3)
  bad <- sims$data[1:3, , , drop = FALSE]
  bad[2, 1, 1] <- NaN
  expect_warning(s3 <- amortized:::new_simulations(sims$parameters[1:3, , drop = FALSE], bad,
                                                  lengths = sims$lengths[1:3], context = sims$context[1:3, ]),
                 "Dropped 1 of 3", class = "amortized_warning_nonfinite")
  expect_equal(s3$lengths, sims$lengths[c(1, 3)])
  expect_equal(nrow(s3$context), 2)
})

test_that("context specifications are checked", {
  prior <- function(n) cbind(mu = stats::rnorm(n))
  expect_error(simulator(prior, function(theta, n_obs) theta, context = list(5:10)), "named list",
               class = "amortized_error_argument")
  expect_error(simulator(prior, function(theta, n_obs) theta, context = list(n_obs = "a")),
               "context\\$n_obs.* vector of finite numbers", class = "amortized_error_argument")
  expect_error(simulator(prior, function(theta) theta, context = list(n_obs = 5:10)),
               "must take the context variable `n_obs`", class = "amortized_error_argument")
  expect_error(simulator(prior, function(theta, n_obs) theta, context = list(n_obs = function() c(1, 2))),
               "must give one finite number", class = "amortized_error_simulator")
  # flat data cannot change their width with the context
  expect_error(simulate(simulator(prior, function(theta, k) matrix(0, nrow(theta), k), context = list(k = 2:3)),
                        200, seed = 1, chunk_size = 10),
               "another shape than before", class = "amortized_error_simulator")
})

test_that("benchmark ddm with a varying number of trials", {
  sim <- benchmark_simulator("ddm", n_obs = 10:40)
  expect_output(print(sim), "context: n_obs in 10..40")
  sims <- simulate(sim, 300, seed = 1)
  expect_true(all(sims$lengths >= 10 & sims$lengths <= 40))
  expect_gt(length(unique(sims$lengths)), 3)
  expect_equal(unname(sims$context[, "n_obs"]), sims$lengths)
  longest <- dim(sims$data)[2]
  expect_equal(longest, max(sims$lengths))
  expect_true(all(is.na(sims$data[sims$lengths < longest, longest, ])))
  expect_identical(simulate(sim, 300, seed = 1), sims)
  expect_error(benchmark_simulator("ddm", n_obs = c(5, 0)), "whole number >= 1 or a vector",
               class = "amortized_error_argument")
})

test_that("R simulators declare structure as benchmark simulators do, and amortizers use it", {
  tiny_net <- function() coupling_flow(n_layers = 2, hidden = c(16, 16))
  # t ~ U(-1, 1)^2, x ~ N(t, 0.3^2 I): a box support that cuts posteriors off, even in the swap of (t, x)
  sim <- simulator(prior = function(n) cbind(t1 = stats::runif(n, -1, 1), t2 = stats::runif(n, -1, 1)),
                   model = function(theta) cbind(x1 = theta[, 1] + 0.3 * stats::rnorm(nrow(theta)),
                                                 x2 = theta[, 2] + 0.3 * stats::rnorm(nrow(theta))),
                   support = list(t1 = c(-1, 1), t2 = c(-1, 1)), truncated = c("t1", "t2"),
                   equivariances = list(equivariance(c(2, 1), c(2, 1))))
  expect_identical(unname(sim$support), rbind(c(-1, -1), c(1, 1)))
  expect_identical(sim$truncated, c("t1", "t2"))
  expect_output(print(sim), "prior support: t1 in \\(-1, 1\\)")
  sims <- simulate(sim, 300, seed = 1)
  expect_identical(sims$support, sim$support)
  expect_identical(sims$equivariances, sim$equivariances)
  fit <- train(amortizer(tiny_net()), sims, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(fit$config$core$truncate_lower, c(-1, -1))
  expect_length(fit$config$core$equivariances, 1)
  d <- as.matrix(sample_posterior(fit, c(x1 = 0.9, x2 = -0.2), n_draws = 500, seed = 1))
  expect_true(all(abs(d[, c("t1", "t2")]) < 1))
  expect_length(train(amortizer(tiny_net(), use_structure = FALSE), sims, epochs = 1, seed = 1,
                      verbose = FALSE)$config$core$truncate_lower, 0)
  # symmetric parameters, mirrors and flat sets
  even <- simulator(prior = function(n) cbind(a = stats::rnorm(n), b = stats::rnorm(n)),
                    model = function(theta) cbind(y1 = abs(theta[, 1]) + stats::rnorm(nrow(theta)), y2 = abs(theta[, 2]),
                                                  y3 = abs(theta[, 1]), y4 = theta[, 2]^2),
                    symmetric = "a", reflections = list(c(b = 1)), set_structure = c(2, 2))
  expect_identical(even$symmetric, "a")
  expect_identical(unname(even$reflections), rbind(c(0, 1)))
  expect_identical(simulate(even, 10, seed = 1)$set_structure, c(2L, 2L))
  expect_identical(train(amortizer(tiny_net()), even, n_sims = 200, epochs = 1, seed = 1,
                         verbose = FALSE)$config$core$symmetric, c(0L, 1L))
  # bad declarations: unknown names, draws outside the support, no bound to truncate, shapes
  prior <- function(n) cbind(mu = stats::rnorm(n), sigma = stats::rexp(n))
  model <- function(theta) cbind(y1 = stats::rnorm(nrow(theta)), y2 = stats::rnorm(nrow(theta)))
  expect_error(simulator(prior, model, support = list(tau = c(0, 1))), "`support` names a parameter the prior does not draw",
               class = "amortized_error_argument")
  expect_error(simulator(prior, model, support = list(mu = c(0, 1))), "The prior draws mu outside its `support`",
               class = "amortized_error_argument")
  expect_error(simulator(prior, model, support = list(sigma = c(1, 0))), "lower < upper", class = "amortized_error_argument")
  expect_error(simulator(prior, model, truncated = "mu"), "no finite bound", class = "amortized_error_argument")
  expect_error(simulator(prior, model, symmetric = "nu"), "`symmetric` names a parameter", class = "amortized_error_argument")
  expect_error(simulator(prior, model, reflections = list(c(mu = 1, nu = 1))), "`reflections` names a parameter",
               class = "amortized_error_argument")
  expect_error(simulator(prior, model, set_structure = c(3, 1)), "`set_structure` must be", class = "amortized_error_argument")
  expect_error(simulator(prior, model, equivariances = list(equivariance(c(2, 1, 3), c(1, 2)))),
               "signed permutation of the 2 parameters", class = "amortized_error_argument")
})

test_that("an interrupt stops a long C++ simulation at once", {
  on.exit(amortized:::.amz_inject_interrupt(-1))
  amortized:::.amz_inject_interrupt(0)
  t <- system.time(r <- tryCatch({
    simulate(benchmark_simulator("sir"), 4e5, seed = 1, progress = FALSE)  # about 15 s uninterrupted
    "finished"
  }, interrupt = function(e) "interrupted"))
  expect_identical(r, "interrupted")
  expect_lt(t[["elapsed"]], 2)
  amortized:::.amz_inject_interrupt(-1)
  expect_equal(nrow(simulate(benchmark_simulator("sir"), 10, seed = 1)$parameters), 10)
})

test_that("unknown arguments are errors that name the closest argument", {
  sim <- benchmark_simulator("two_moons")
  expect_error(simulate(sim, 3, sed = 1), "Unknown argument(.|\n)*sed.*did you mean `seed`", class = "amortized_error_argument")
  expect_error(simulate(sim, 3, 1, 1, 100, FALSE, FALSE, NULL, "extra"), "unnamed", class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, batchsize = 64), "did you mean `batch_size`", class = "amortized_error_argument")
  fit <- train(amortizer(coupling_flow(n_layers = 1, hidden = 8)), simulate(sim, 200, seed = 1), epochs = 1,
               seed = 1, verbose = FALSE)
  expect_error(sample_posterior(fit, c(0, 0), ndraws = 100), "did you mean `n_draws`",
               class = "amortized_error_argument")
  expect_error(sample_posterior(fit, c(0, 0), colour = "red"), "Unknown argument(.|\n)*colour",
               class = "amortized_error_argument")
})

test_that("simulations subset by rows and give their parameters as prior draws", {
  sim <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)),
                   model = function(theta, n_obs) array(stats::rnorm(nrow(theta) * n_obs, theta[, 1]),
                                                        c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y")),
                   context = list(n_obs = 3:9))
  sims <- simulate(sim, 20, seed = 1)
  part <- sims[c(2, 5, 7)]
  expect_s3_class(part, "amortized_simulations")
  expect_identical(part$parameters, sims$parameters[c(2, 5, 7), , drop = FALSE])
  expect_identical(part$lengths, sims$lengths[c(2, 5, 7)])
  expect_identical(part$data, sims$data[c(2, 5, 7), , , drop = FALSE])
  expect_identical(nrow(sims[-(1:5)]$parameters), 15L)
  expect_identical(sims[sims$parameters[, "mu"] > 0]$parameters[, "mu"] > 0,
                   rep(TRUE, sum(sims$parameters[, "mu"] > 0)))
  expect_error(sims[0.5], "row numbers in 1..20", class = "amortized_error_argument")
  expect_error(sims[c(-1, 2)], "row numbers", class = "amortized_error_argument")
  expect_error(sims[TRUE], "one TRUE/FALSE per simulation", class = "amortized_error_argument")
  expect_error(sims[1, 2], "by rows only", class = "amortized_error_argument")
  d <- posterior::as_draws_df(sims)
  expect_s3_class(d, "draws_df")
  expect_equal(posterior::ndraws(d), 20)
  expect_identical(posterior::variables(d), c("mu", "n_obs"))
  expect_equal(d$mu, unname(sims$parameters[, "mu"]))
})
