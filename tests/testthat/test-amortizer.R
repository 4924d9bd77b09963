test_that("amortizer() and coupling_flow() build specifications with checks", {
  a <- amortizer()
  expect_s3_class(a, "amortizer")
  expect_output(print(a), "untrained")
  expect_output(print(a), "4 coupling blocks \\(spline with 10 bins; affine for 8 or more parameters\\), hidden 128x128")
  expect_output(print(amortizer(coupling_flow("spline"))), "4 spline coupling blocks \\(10 bins\\), hidden 128x128")
  f <- coupling_flow("affine", n_layers = 2, hidden = c(32, 16), activation = "relu")
  expect_equal(f$hidden, c(32L, 16L))
  expect_output(print(amortizer(f)), "2 affine coupling blocks, hidden 32x16, relu")
  fm <- flow_matching(hidden = c(64, 64), steps = 20)
  expect_output(print(amortizer(fm)), "flow matching: velocity MLP 64x64, silu, RK4 with 20 steps")
  expect_error(flow_matching(steps = 0), "`steps` must be a whole number >= 1", class = "amortized_error_argument")
  expect_error(flow_matching(sigma_min = 1), "`sigma_min` must be a number in \\[0, 1\\)",
               class = "amortized_error_argument")
  expect_error(flow_matching(hidden = 0), "`hidden` must be a vector of whole numbers",
               class = "amortized_error_argument")
  expect_error(coupling_flow(bins = 1), "`bins` must be a whole number >= 2", class = "amortized_error_argument")
  expect_error(coupling_flow(tail_bound = -1), "`tail_bound` must be a number in \\(0, Inf\\]",
               class = "amortized_error_argument")

  expect_error(amortizer("flow"), "`inference_net` must be an inference network",
               class = "amortized_error_argument")
  expect_error(coupling_flow(transform = "cubic"), "`transform` must be", class = "amortized_error_argument")
  expect_error(coupling_flow(n_layers = 0), "`n_layers` must be a whole number >= 1",
               class = "amortized_error_argument")
  expect_error(coupling_flow(hidden = c(64, -1)), "`hidden` must be a vector of whole numbers",
               class = "amortized_error_argument")
  expect_error(coupling_flow(activation = "swish"), "`activation` must be one of",
               class = "amortized_error_argument")
  expect_error(coupling_flow(clamp = 0), "`clamp` must be a number in \\(0, Inf\\]",
               class = "amortized_error_argument")
  expect_error(coupling_flow(dropout = 1), "`dropout` must be a number in \\[0, 1\\)",
               class = "amortized_error_argument")
  expect_match(format(coupling_flow(dropout = 0.1)), "dropout 0.1")
  expect_no_match(format(coupling_flow()), "dropout")
  expect_error(coupling_flow(conditional_affine = "yes"), "conditional_affine", class = "amortized_error_argument")
  expect_match(format(coupling_flow(conditional_affine = TRUE)), "conditional affine")
  expect_no_match(format(coupling_flow()), "conditional")
})

test_that("a conditional affine map in front of the flow learns, and models from before it existed restore", {
  sim <- benchmark_simulator("two_moons")
  sims <- simulate(sim, 1000, seed = 1)
  with_map <- train(amortizer(coupling_flow(n_layers = 2, hidden = c(32, 32), conditional_affine = TRUE)), sims,
                    epochs = 3, seed = 4, verbose = FALSE)
  s <- summary(with_map)
  expect_true(any(grepl("^conditional affine", s$layers)))
  plain <- train(amortizer(coupling_flow(n_layers = 2, hidden = c(32, 32))), sims, epochs = 3, seed = 4, verbose = FALSE)
  expect_gt(length(with_map$state$values), length(plain$state$values))
  x <- c(0.1, -0.2)
  theta <- rbind(c(0.2, 0.3), c(-0.1, 0.4))
  expect_true(all(is.finite(posterior_log_density(with_map, theta, x))))
  # a model saved before the option existed has no such field: restored without the map
  old <- plain
  old$inference_net$conditional_affine <- NULL
  old <- unserialize(serialize(old, NULL))
  expect_equal(posterior_log_density(old, theta, x), posterior_log_density(plain, theta, x))
})

test_that("the linear residual is whitened, and models from before whitening restore unwhitened", {
  sim <- benchmark_simulator("gaussian_linear")
  sims <- simulate(sim, 2000, seed = 1)
  fit <- train(amortizer(coupling_flow(n_layers = 2, hidden = c(16, 16))), sims, epochs = 2, seed = 4, verbose = FALSE)
  expect_true(fit$config$core$whiten_residual)
  expect_true(any(grepl("^whitened linear residual", summary(fit)$layers)))
  # the residual's factor is a full (lower-triangular) matrix: 10 x 10 for gaussian_linear's 10 parameters
  k <- match("linear_residual.chol", fit$state$names)
  expect_false(is.na(k))
  expect_equal(fit$state$shapes[[k]], c(10L, 10L))
  # a model saved before whitening has per-parameter scales ("sd") and no such field
  old <- unserialize(serialize(fit, NULL))
  old$config$core$whiten_residual <- NULL
  at <- cumsum(c(0, vapply(fit$state$shapes, prod, numeric(1))))
  chol <- matrix(fit$state$values[(at[k] + 1):at[k + 1]], 10, 10, byrow = TRUE)
  sd <- sqrt(rowSums(chol^2))  # the residuals' sds
  old$state$names[k] <- "linear_residual.sd"
  old$state$shapes[[k]] <- 10L
  old$state$values <- c(fit$state$values[seq_len(at[k])], sd, fit$state$values[-seq_len(at[k + 1])])
  old <- unserialize(serialize(old, NULL))
  expect_false(any(grepl("whitened", summary(old)$layers)))
  expect_true(any(grepl("^linear residual", summary(old)$layers)))
  theta <- sims$parameters[1:3, ]
  lq_old <- posterior_log_density(old, theta, sims$data[1:3, ])
  expect_true(all(is.finite(lq_old)))
  expect_false(isTRUE(all.equal(lq_old, posterior_log_density(fit, theta, sims$data[1:3, ]))))
})

test_that("dropout acts in training only: seeded training reproduces, draws and densities are deterministic", {
  sim <- benchmark_simulator("two_moons")
  sims <- simulate(sim, 1000, seed = 1)
  net <- amortizer(coupling_flow(n_layers = 2, hidden = c(32, 32), dropout = 0.2))
  a <- train(net, sims, epochs = 3, seed = 4, verbose = FALSE)
  b <- train(net, sims, epochs = 3, seed = 4, verbose = FALSE)
  expect_identical(a$history$train_loss, b$history$train_loss)
  plain <- train(amortizer(coupling_flow(n_layers = 2, hidden = c(32, 32))), sims, epochs = 3, seed = 4, verbose = FALSE)
  expect_false(identical(a$history$train_loss, plain$history$train_loss))  # the units were dropped
  x <- c(0.1, -0.2)
  theta <- rbind(c(0.2, 0.3), c(-0.1, 0.4))
  expect_identical(posterior_log_density(a, theta, x), posterior_log_density(a, theta, x))
  expect_identical(sample_posterior(a, x, 50, seed = 1), sample_posterior(b, x, 50, seed = 1))
  # the validation loss (evaluation mode, no dropout) is the held-out density
  expect_true(all(is.finite(a$history$validation_loss)))
})

test_that("a trained amortizer prints its architecture and training", {
  fit <- fitted_gaussian_linear()
  expect_output(print(fit), "weights: [0-9,]+")
  expect_output(print(fit), "trained on 10,000 simulations")
  s <- summary(fit)
  expect_s3_class(s, "summary.amortizer")
  # gaussian_linear has 10 parameters: the default flow's couplings are affine
  expect_true(any(grepl("affine coupling", s$layers)))
  expect_output(print(fit), "4 affine coupling blocks, hidden 128x128")
  expect_output(print(s), "Weights:")
})

test_that("a trained amortizer survives saveRDS/readRDS with identical draws", {
  fit <- fitted_gaussian_linear()
  path <- tempfile(fileext = ".rds")
  saveRDS(fit, path)
  restored <- readRDS(path)
  x <- gl_observations[1, ]
  expect_identical(as.matrix(sample_posterior(restored, x, 50, seed = 9)),
                   as.matrix(sample_posterior(fit, x, 50, seed = 9)))
  # and in a fresh R process
  skip_if_not_installed("callr")
  skip_if(!nzchar(system.file(package = "amortized")), "amortized is not installed")
  fresh <- callr::r(function(path, x) {
    fit <- readRDS(path)
    as.matrix(amortized::sample_posterior(fit, x, 50, seed = 9, threads = 1))
  }, args = list(path = path, x = x))
  # (one thread in both: the default is measured per session and may differ)
  expect_identical(unclass(fresh), unclass(as.matrix(sample_posterior(fit, x, 50, seed = 9, threads = 1))))
})

test_that("an amortizer uses a simulator's set structure (slcp: 4 exchangeable points)", {
  sim <- benchmark_simulator("slcp")
  expect_equal(sim$set_structure, c(4L, 2L))
  expect_output(print(sim), "an exchangeable set of 4 points of 2")
  sims <- simulate(sim, 1000, seed = 1)
  expect_equal(sims$set_structure, c(4L, 2L))
  net <- coupling_flow(n_layers = 2, hidden = c(16, 16))
  fit <- train(amortizer(net), sims, epochs = 2, seed = 1, verbose = FALSE)
  expect_equal(fit$config$core$set_shape, c(4L, 2L))
  expect_identical(fit$config$core$set_features, 2L)  # mean, log scales, correlations
  expect_output(print(fit), "exchangeable set of 4 points of 2, in canonical order with its moments")
  # a model from before set_features (no such field) is rebuilt with the mean products
  theta <- sims$parameters[1:5, ]
  rebuilt <- function(features) {
    y <- unserialize(serialize(fit, NULL))
    y$config$core$set_features <- features
    if (is.null(features)) y$format_version <- 1L  # saved before set_features existed (format 1)
    posterior_log_density(y, theta, sims$data[1:5, ])
  }
  expect_equal(rebuilt(2L), posterior_log_density(fit, theta, sims$data[1:5, ]))
  expect_equal(rebuilt(NULL), rebuilt(1L))
  expect_false(isTRUE(all.equal(rebuilt(1L), rebuilt(2L))))
  x <- sims$data[1, ]
  shuffled <- x[c(5, 6, 1, 2, 7, 8, 3, 4)]  # the same 4 points in another order
  a <- sample_posterior(fit, x, 100, seed = 3)
  b <- sample_posterior(fit, shuffled, 100, seed = 3)
  expect_equal(as.matrix(a), as.matrix(b), tolerance = float32_tolerance())
  # the structure survives a restart of the C++ model and can be turned off
  restored <- unserialize(serialize(fit, NULL))
  expect_equal(as.matrix(sample_posterior(restored, shuffled, 100, seed = 3)), as.matrix(a), tolerance = float32_tolerance())
  plain <- train(amortizer(net, use_structure = FALSE), sims, epochs = 2, seed = 1, verbose = FALSE)
  expect_length(plain$set_shape, 0)
  expect_error(amortizer(use_structure = "yes"), "`use_structure` must be TRUE or FALSE",
               class = "amortized_error_argument")
})

test_that("coupling_flow(transform = \"auto\") settles when training starts: affine for 8 or more parameters", {
  rule <- amortized:::resolve_inference_net
  expect_identical(coupling_flow()$transform, "auto")
  expect_identical(rule(coupling_flow(), "posterior", 2)$transform, "spline")
  expect_identical(rule(coupling_flow(), "posterior", 7)$transform, "spline")
  expect_identical(rule(coupling_flow(), "posterior", 8)$transform, "affine")
  expect_identical(rule(coupling_flow(), "likelihood", 10)$transform, "spline")
  expect_identical(rule(coupling_flow(), "joint", 10)$transform, "spline")
  expect_identical(rule(coupling_flow("spline"), "posterior", 10)$transform, "spline")
  expect_identical(rule(ensemble(members = 2), "posterior", 10)$member$transform, "affine")
  expect_identical(rule(flow_matching(), "posterior", 10), flow_matching())
  expect_identical(rule(coupling_flow(), "posterior", NULL)$transform, "spline")  # dimension unknown
  # what training settled is kept (and saved) with the amortizer
  tiny <- coupling_flow(n_layers = 1, hidden = 8)
  glm <- train(amortizer(tiny), benchmark_simulator("gaussian_linear"), n_sims = 200, epochs = 1, seed = 1,
               verbose = FALSE)
  expect_identical(glm$inference_net$transform, "affine")
  moons <- train(amortizer(tiny), benchmark_simulator("two_moons"), n_sims = 200, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(moons$inference_net$transform, "spline")
  expect_output(print(moons), "1 spline coupling block \\(10 bins\\)")
})
