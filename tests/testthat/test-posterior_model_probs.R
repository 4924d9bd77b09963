# y_1..n iid N(mu, 1); model null: mu = 0; model effect: mu ~ N(0, 1).
# log p(y | null) = sum log N(y_i; 0, 1); y | effect ~ N(0, I + 11').
normal_candidates <- function() {
  model <- function(theta, n_obs) {
    array(stats::rnorm(nrow(theta) * n_obs, theta[, 1]), c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y"))
  }
  list(null = simulator(function(n) cbind(mu = rep(0, n)), model, context = list(n_obs = 5:50)),
       effect = simulator(function(n) cbind(mu = stats::rnorm(n)), model, context = list(n_obs = 5:50)))
}

exact_effect_prob <- function(y, prior_effect = 0.5) {
  n <- length(y)
  log_null <- sum(stats::dnorm(y, log = TRUE))
  log_effect <- -0.5 * n * log(2 * pi) - 0.5 * log(n + 1) - 0.5 * (sum(y^2) - n^2 * mean(y)^2 / (n + 1))
  log_odds <- log_effect - log_null + log(prior_effect) - log(1 - prior_effect)
  1 / (1 + exp(-log_odds))
}

test_that("a model comparison amortizer gives the closed-form posterior model probabilities, calibrated", {
  cmp <- train(amortizer(summary_net = deep_set(), estimate = "models"), normal_candidates(), n_sims = 20000,
               epochs = 30, seed = 1, verbose = FALSE)
  expect_output(print(cmp), "model comparison")
  expect_identical(cmp$models, c("null", "effect"))
  withr::local_seed(3)
  held <- simulate(normal_candidates(), 500, seed = 4)
  y <- lapply(seq_len(500), function(i) held$data[i, seq_len(held$lengths[i]), 1])
  p <- posterior_model_probs(cmp, y)
  expect_named(p, c("null", "effect"))
  expect_equal(nrow(p), 500)
  expect_equal(rowSums(p), rep(1, 500), tolerance = 1e-6)
  exact <- vapply(y, exact_effect_prob, 0)
  expect_lt(mean(abs(p$effect - exact)), 0.03)
  # another prior is applied exactly
  p9 <- posterior_model_probs(cmp, y[1:20], prior = c(effect = 0.9, null = 0.1))
  odds <- p$effect[1:20] / p$null[1:20] * 9
  expect_equal(p9$effect, odds / (1 + odds), tolerance = 1e-6)
  bf <- bayes_factor(cmp, y[1:20], "effect", "null")
  expect_equal(bf$log_bayes_factor, log(p$effect[1:20] / p$null[1:20]), tolerance = 1e-6)
  cal <- calibration_curve(cmp, n_sims = 20000, seed = 5)
  expect_s3_class(cal, "amortized_model_calibration")
  expect_true(all(cal$ece < 0.02))
  expect_output(print(cal), "expected calibration error")
  expect_s3_class(autoplot(cal), "ggplot")
  cm <- confusion_matrix(cmp, n_sims = 2000, seed = 6)
  expect_equal(sum(cm$counts), 2000)
  expect_gt(cm$accuracy, 0.7)
  expect_s3_class(autoplot(cm), "ggplot")
  expect_equal(unname(rowSums(as.matrix(summary(cm)))), c(1, 1))
  # saveRDS and save_amortizer keep it, in a fresh process too
  path <- withr::local_tempfile(fileext = ".amortizer")
  save_amortizer(cmp, path)
  rds <- withr::local_tempfile(fileext = ".rds")
  saveRDS(cmp, rds)
  fresh <- callr::r(function(path, rds, y) {
    library(amortized)
    list(file = posterior_model_probs(load_amortizer(path), y, threads = 1),
         rds = posterior_model_probs(readRDS(rds), y, threads = 1))
  }, args = list(path, rds, y[1:10]))
  here <- posterior_model_probs(cmp, y[1:10], threads = 1)
  expect_identical(fresh$file, here)
  expect_identical(fresh$rds, here)
})

test_that("three models: probabilities sum to 1; bad priors, layouts and arguments are clear errors", {
  flat <- function(sd) {
    simulator(function(n) cbind(mu = stats::rnorm(n, 0, sd)),
              function(theta) cbind(y1 = stats::rnorm(nrow(theta), theta[, 1]), y2 = stats::rnorm(nrow(theta), theta[, 1])))
  }
  three <- list(a = flat(0.1), b = flat(1), c = flat(3))
  sims <- simulate(three, 3000, seed = 1, prior = c(a = 0.2, b = 0.3, c = 0.5))
  expect_equal(as.vector(table(sims$parameters[, ".model"])), c(600, 900, 1500))
  cmp <- train(amortizer(classifier_net(hidden = c(32, 32)), estimate = "models"), sims, epochs = 10, seed = 1,
               verbose = FALSE)
  expect_equal(cmp$model_prior, c(a = 0.2, b = 0.3, c = 0.5))
  p <- posterior_model_probs(cmp, rbind(c(0, 0), c(2, 2), c(8, 9)))
  expect_equal(unname(rowSums(p)), rep(1, 3), tolerance = 1e-6)
  expect_equal(names(which.max(p[3, ])), "c")
  expect_error(calibration_curve(cmp, n_sims = 100), "give held-out ones in `simulations`",
               class = "amortized_error_argument")
  expect_error(confusion_matrix(cmp, n_sims = 100), "give held-out ones in `simulations`",
               class = "amortized_error_argument")
  expect_error(confusion_matrix(cmp, simulations = simulate(list(a = flat(0.1), b = flat(1)), 10, seed = 1)),
               "simulations of the amortizer's candidates", class = "amortized_error_argument")
  # the candidates' simulators, given second as in the posterior checks: n_sims new simulations
  cm <- confusion_matrix(cmp, three, n_sims = 300, seed = 3)
  expect_equal(sum(cm$counts), 300)
  expect_equal(unname(rowSums(cm$counts)) > 0, rep(TRUE, 3))
  expect_error(confusion_matrix(cmp, three[c("b", "a", "c")], n_sims = 50),
               "list of the amortizer's candidates.*named so", class = "amortized_error_argument")
  expect_error(confusion_matrix(cmp, 5), "`simulations` must be a named list of at least two candidate simulators",
               class = "amortized_error_argument")
  expect_error(classifier_net(hidden = 0), "`hidden` must be a vector of whole numbers", class = "amortized_error_argument")
  expect_s3_class(calibration_curve(cmp, simulations = simulate(three, 500, seed = 2,
                                                                 prior = c(a = 0.2, b = 0.3, c = 0.5))),
                  "amortized_model_calibration")
  expect_error(posterior_model_probs(cmp, c(0, 0), prior = c(a = 0, b = 0.5, c = 0.5)), "above 0",
               class = "amortized_error_argument")
  expect_error(train(amortizer(estimate = "models"), three, n_sims = 100, prior = c(a = 0, b = 1, c = 1)),
               "above 0", class = "amortized_error_argument")
  expect_error(posterior_model_probs(cmp, c(0, 0), prior = c(a = 1, b = 1)), "one for each model",
               class = "amortized_error_argument")
  other <- simulator(function(n) cbind(mu = stats::rnorm(n)), function(theta) cbind(z = theta[, 1]))
  expect_error(simulate(list(a = flat(1), z = other), 10, seed = 1), "same layout.*\"a\": y1, y2.*\"z\": z",
               class = "amortized_error_argument")
  expect_error(simulate(list(flat(1), flat(2)), 10), "named list", class = "amortized_error_argument")
  expect_error(train(amortizer(estimate = "models"), list(a = flat(1), b = 3), n_sims = 10), "Not a simulator: \"b\"",
               class = "amortized_error_argument")
  expect_error(bayes_factor(cmp, c(0, 0), "a", "d"), "must each name one of the models", class = "amortized_error_argument")
  expect_error(amortizer(coupling_flow(), estimate = "models"), "classifier_net", class = "amortized_error_argument")
  expect_error(amortizer(classifier_net()), "for model comparison", class = "amortized_error_argument")
  expect_error(train(amortizer(), flat(1), n_sims = 10, prior = c(a = 1)), "is for model comparison",
               class = "amortized_error_argument")
  expect_error(sample_posterior(cmp, c(0, 0)), "estimates posterior model probabilities",
               class = "amortized_error_argument")
})
