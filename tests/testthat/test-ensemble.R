test_that("ensemble() checks its arguments and prints", {
  expect_error(ensemble(members = 1), "members", class = "amortized_error_argument")
  expect_error(ensemble("coupling_flow"), class = "amortized_error_argument")
  expect_error(ensemble(ensemble()), "not an ensemble", class = "amortized_error_argument")
  e <- ensemble(coupling_flow(n_layers = 2, hidden = 16), members = 3)
  expect_equal(format(e), paste0("ensemble of 3 x ", format(coupling_flow(n_layers = 2, hidden = 16))))
  expect_output(print(amortizer(e)), "ensemble of 3")
})

test_that("an ensemble trains, samples the exact gaussian_linear posterior and saves", {
  sim <- benchmark_simulator("gaussian_linear")
  fit <- train(amortizer(ensemble(coupling_flow(n_layers = 2, hidden = c(32, 32)), members = 2)), sim,
               n_sims = 3000, epochs = 8, seed = 1, verbose = FALSE)
  expect_output(print(fit), "ensemble of 2")
  # two members: twice the weights of one
  one <- train(amortizer(coupling_flow(n_layers = 2, hidden = c(32, 32))), sim, n_sims = 3000, epochs = 1,
               seed = 1, verbose = FALSE)
  n_params <- function(f) amortized:::.amz_estimator_info(amortized:::model_pointer(f))$n_parameters
  expect_gt(n_params(fit), 1.9 * n_params(one))  # two members and one set of standardizations
  expect_lte(n_params(fit), 2 * n_params(one))
  x <- gl_observations[1, ]
  draws <- posterior::as_draws_matrix(sample_posterior(fit, x, 4000, seed = 3))
  expect_lt(max(abs(colMeans(draws) - x / 2)), 0.03)
  expect_lt(max(abs(apply(draws, 2, sd) / sqrt(0.05) - 1)), 0.1)
  path <- file.path(new_temp_dir(), "ens.amortizer")
  save_amortizer(fit, path)
  back <- load_amortizer(path)
  theta <- matrix(x / 2, 1, 10, dimnames = list(NULL, fit$parameter_names))
  expect_equal(posterior_log_density(back, theta, x), posterior_log_density(fit, theta, x))
})
