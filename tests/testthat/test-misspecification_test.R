# misspecification_test(): calibrated when the simulator is right, powerful
# when it is not; the per-data-set warning of sample_posterior(); the MMD
# summary penalty; learned_summaries() and its deprecated alias.

normal_sets <- simulator(function(n) cbind(mu = rnorm(n, 0, 2)),
                         function(theta) array(rnorm(nrow(theta) * 50, theta[, 1]), c(nrow(theta), 50, 1)))
misspec_cache <- new.env(parent = emptyenv())
normal_set_fit <- function() {
  if (is.null(misspec_cache$fit)) {
    # batch_size: as the rates below were measured with (the default of earlier versions)
    misspec_cache$fit <- train(amortizer(summary_net = deep_set()), normal_sets, n_sims = 5000, epochs = 40,
                               batch_size = 225, seed = 1, verbose = FALSE, threads = 1)
  }
  misspec_cache$fit
}

rejection_rate <- function(fit, draw, replicates, seed) {
  set.seed(seed)
  p <- vapply(seq_len(replicates), function(r) {
    misspecification_test(fit, draw(), normal_sets, n_sims = 500, n_null = 200, seed = seed + r, threads = 1)$p_value
  }, numeric(1))
  mean(p <= 0.05)
}

test_that("well specified: the test rejects at its level", {
  fit <- normal_set_fit()
  rate <- rejection_rate(fit, function() rnorm(50, rnorm(1, 0, 2)), 200, seed = 10)
  expect_gte(rate, 0.02)
  expect_lte(rate, 0.09)
})

test_that("misspecified: wider noise, outliers and heavy tails are rejected", {
  fit <- normal_set_fit()
  # one data set: sd 2 instead of 1; 10% of the points shifted by 3..6
  expect_gte(rejection_rate(fit, function() rnorm(50, rnorm(1, 0, 2), 2), 50, seed = 20), 0.9)
  outliers <- function() {
    y <- rnorm(50, rnorm(1, 0, 2))
    i <- sample.int(50, 5)
    y[i] <- y[i] + sample(c(-1, 1), 5, replace = TRUE) * runif(5, 3, 6)
    y
  }
  expect_gte(rejection_rate(fit, outliers, 50, seed = 30), 0.9)
  # Student-t(3) noise: one data set of 50 often looks normal (even a test
  # of the sample sd alone, knowing the alternative, rejects 92%), so each
  # replicate tests three data sets
  three_t <- function() lapply(1:3, function(i) rnorm(1, 0, 2) + rt(50, 3))
  expect_gte(rejection_rate(fit, three_t, 50, seed = 40), 0.9)
})

test_that("the test object prints, summarises and plots", {
  fit <- normal_set_fit()
  set.seed(3)
  res <- misspecification_test(fit, list(rnorm(50, 1, 2), rnorm(50, -1, 2)), normal_sets, n_sims = 300,
                               n_null = 100, seed = 4, threads = 1)
  expect_s3_class(res, "amortized_misspecification")
  expect_equal(res$n_observed, 2)
  expect_length(res$null, 100)
  expect_equal(res$p_value, (1 + sum(res$null >= res$statistic)) / 101)
  expect_identical(res$space, "learned summaries")
  expect_output(print(res), "MMD\\^2 in learned summaries: 2 observed data sets")
  s <- summary(res)
  expect_true(all(c("statistic", "p_value", "null_q95", "rejected_5pct") %in% names(s)))
  expect_s3_class(autoplot(res), "ggplot")
  expect_s3_class(autoplot(res, type = "projection"), "ggplot")
  # the same seed gives the same test
  again <- misspecification_test(fit, list(rnorm(50, 1, 2), rnorm(50, -1, 2)), normal_sets, n_sims = 300,
                                 n_null = 100, seed = 4, threads = 1)
  expect_equal(again$null, res$null)
})

test_that("sample_posterior() warns about data far outside the training simulations", {
  fit <- normal_set_fit()
  expect_false(is.null(fit$summary_reference))
  set.seed(5)
  ok <- lapply(1:20, function(i) rnorm(50, rnorm(1, 0, 2)))
  expect_no_warning(sample_posterior(fit, ok, n_draws = 10, seed = 1))
  far <- c(ok[1:2], list(rnorm(50, 0, 10)))
  expect_warning(sample_posterior(fit, far, n_draws = 10, seed = 1),
                 "1 data set \\(3\\) far outside the training simulations", class = "amortized_warning_outside_training")
  # kept by save_amortizer()
  path <- file.path(new_temp_dir(), "fit.amz")
  save_amortizer(fit, path)
  expect_warning(sample_posterior(load_amortizer(path), far[[3]], n_draws = 10, seed = 1),
                 class = "amortized_warning_outside_training")
})

test_that("flat data are tested on their features; model comparisons per candidate", {
  flat <- simulator(function(n) cbind(mu = rnorm(n)),
                    function(theta) matrix(rnorm(nrow(theta) * 3, theta[, 1]), ncol = 3))
  fit <- train(amortizer(coupling_flow(n_layers = 2, hidden = c(16, 16))), flat, n_sims = 1000, epochs = 3,
               seed = 1, verbose = FALSE)
  res <- misspecification_test(fit, c(0.1, 0.2, 0.3), flat, n_sims = 200, n_null = 50, seed = 1, threads = 1)
  expect_identical(res$space, "data features")
  expect_gt(res$p_value, 0.05)
  expect_lt(misspecification_test(fit, c(-9, 0, 9), flat, n_sims = 200, n_null = 50, seed = 1)$p_value, 0.05)

  a <- simulator(function(n) cbind(mu = rep(0, n)), function(theta) array(rnorm(nrow(theta) * 20, theta[, 1]),
                                                                          c(nrow(theta), 20, 1)))
  b <- simulator(function(n) cbind(mu = rnorm(n, 0, 2)), function(theta) array(rnorm(nrow(theta) * 20, theta[, 1]),
                                                                              c(nrow(theta), 20, 1)))
  cmp <- train(amortizer(summary_net = deep_set(summary_dim = 4), estimate = "models"), list(null = a, effect = b),
               n_sims = 1000, epochs = 5, seed = 1, verbose = FALSE)
  res <- misspecification_test(cmp, rnorm(20, 0, 5), n_sims = 300, n_null = 100, seed = 2, threads = 1)
  expect_identical(res$tests$model, c("null", "effect"))
  expect_named(res$p_value, c("null", "effect"))
  expect_true(all(res$p_value < 0.05))  # no candidate explains sd 5
  expect_output(print(res), "effect")
  expect_s3_class(autoplot(res), "ggplot")
  expect_error(misspecification_test(cmp, rnorm(20), list(a = a, b = b)), "null.*effect",
               class = "amortized_error_argument")
})

test_that("misspecification_test() validates its arguments", {
  fit <- normal_set_fit()
  expect_error(misspecification_test(fit, rnorm(50)), "simulator.*missing", class = "amortized_error_argument")
  expect_error(misspecification_test(fit, rnorm(50), "sim"), "simulator.*amortized_simulator",
               class = "amortized_error_argument")
  expect_error(misspecification_test(fit, rnorm(50), normal_sets, n_null = 0), "n_null",
               class = "amortized_error_argument")
  expect_error(misspecification_test(fit, rnorm(50), normal_sets, kernel = "x"), "kernel",
               class = "amortized_error_argument")
  expect_error(misspecification_test(fit, "a", normal_sets), class = "amortized_error_data")
  lik <- train(amortizer(estimate = "likelihood"), normal_sets, n_sims = 500, epochs = 1, verbose = FALSE)
  expect_error(misspecification_test(lik, rnorm(50), normal_sets), "likelihood", class = "amortized_error_argument")
})

test_that("summary_loss = \"mmd\" pulls the summaries toward a standard normal", {
  sim <- simulator(function(n) cbind(mu = rnorm(n, 0, 2)),
                   function(theta) array(rnorm(nrow(theta) * 20, theta[, 1]), c(nrow(theta), 20, 1)))
  fits <- lapply(c(none = "none", mmd = "mmd"), function(loss) {
    train(amortizer(summary_net = deep_set(summary_dim = 4)), sim, n_sims = 2000, epochs = 15, seed = 1,
          summary_loss = loss, verbose = FALSE)
  })
  expect_identical(fits$mmd$summary_loss, "mmd")
  held <- simulate(sim, 1000, seed = 2)
  gap <- vapply(fits, function(f) {
    s <- learned_summaries(f, held)
    as.numeric(mmd(s, matrix(rnorm(4000), ncol = 4), bandwidth = c(1, 2, 4), threads = 1))
  }, numeric(1))
  expect_lt(gap[["mmd"]], 0.75 * gap[["none"]])  # about half here; a penalty without effect: equal
  # continuing keeps it; a summary network is needed
  expect_identical(train(fits$mmd, sim, n_sims = 500, epochs = 1, verbose = FALSE)$summary_loss, "mmd")
  expect_error(train(amortizer(), sim, summary_loss = "mmd"), "summary network", class = "amortized_error_argument")
  expect_error(train(amortizer(summary_net = deep_set()), sim, summary_loss = "l2"), "summary_loss",
               class = "amortized_error_argument")
})

test_that("learned_summaries() works for every kind with a data embedding", {
  fit <- normal_set_fit()
  y <- rnorm(50)
  s <- learned_summaries(fit, y)
  expect_equal(dim(s), c(1L, 8L))
  lik <- train(amortizer(estimate = "likelihood"), normal_sets, n_sims = 500, epochs = 1, verbose = FALSE)
  expect_error(learned_summaries(lik, y), "likelihood", class = "amortized_error_argument")
})
