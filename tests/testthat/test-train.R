test_that("NPE on gaussian_linear recovers the exact conjugate posterior", {
  fit <- fitted_gaussian_linear()
  for (i in seq_len(nrow(gl_observations))) {
    x <- gl_observations[i, ]
    draws <- as.matrix(sample_posterior(fit, x, n_draws = 4000, seed = i))[, paste0("theta_", 1:10)]
    # exact posterior: mean x / 2, sd sqrt(0.05)
    expect_lt(max(abs(colMeans(draws) - x / 2)), 0.05)
    expect_lt(max(abs(apply(draws, 2, sd) / sqrt(0.05) - 1)), 0.15)
  }
})

test_that("training records a history and early stopping keeps the best epoch", {
  fit <- train(amortizer(coupling_flow(n_layers = 2, hidden = c(32, 32))), benchmark_simulator("two_moons"),
               n_sims = 3000, epochs = 60, patience = 5, seed = 1, verbose = FALSE)
  h <- fit$history
  expect_named(h, c("epoch", "train_loss", "validation_loss", "learning_rate", "seconds"))
  expect_equal(h$epoch, seq_len(nrow(h)))
  expect_lt(h$validation_loss[fit$info$best_epoch], h$validation_loss[1])
  expect_equal(h$validation_loss[fit$info$best_epoch], min(h$validation_loss))
  expect_true(fit$info$stop_reason %in% c("early_stopping", "completed"))
})

test_that("early stopping anneals the learning rate from the best weights", {
  sim <- benchmark_simulator("gaussian_linear")  # its best epoch comes early (the linear residual)
  net <- amortizer(coupling_flow(n_layers = 2, hidden = c(16, 16)))
  plain <- train(net, sim, n_sims = 2000, epochs = 100, patience = 4, anneal = 0, seed = 1, verbose = FALSE)
  annealed <- train(net, sim, n_sims = 2000, epochs = 100, patience = 4, seed = 1, verbose = FALSE)  # anneal 2
  expect_identical(plain$info$stop_reason, "early_stopping")
  n <- nrow(plain$history)
  expect_equal(nrow(annealed$history), n + 2)
  expect_equal(annealed$history$learning_rate[1:n], plain$history$learning_rate)
  expect_true(all(diff(annealed$history$learning_rate[n:(n + 2)]) < 0))
  expect_equal(annealed$history$validation_loss[annealed$info$best_epoch], min(annealed$history$validation_loss))
  expect_error(train(net, sim, n_sims = 100, anneal = -1, verbose = FALSE), "`anneal` must be a whole number",
               class = "amortized_error_argument")
})

test_that("the same seed gives the same network and the same draws", {
  sim <- benchmark_simulator("gaussian_linear")
  small <- amortizer(coupling_flow(n_layers = 2, hidden = c(16, 16)))
  a <- train(small, sim, n_sims = 500, epochs = 3, seed = 42, verbose = FALSE)
  b <- train(small, sim, n_sims = 500, epochs = 3, seed = 42, verbose = FALSE)
  c <- train(small, sim, n_sims = 500, epochs = 3, seed = 43, verbose = FALSE)
  expect_identical(a$state, b$state)
  expect_identical(a$history$train_loss, b$history$train_loss)
  expect_false(identical(a$state, c$state))
  x <- gl_observations[1, ]
  expect_identical(as.matrix(sample_posterior(a, x, 20, seed = 1)),
                   as.matrix(sample_posterior(b, x, 20, seed = 1)))
  expect_false(identical(as.matrix(sample_posterior(a, x, 20, seed = 1)),
                         as.matrix(sample_posterior(a, x, 20, seed = 2))))
})

test_that("training a trained amortizer continues and appends to its history", {
  sim <- benchmark_simulator("gaussian_linear")
  small <- amortizer(coupling_flow(n_layers = 2, hidden = c(16, 16)))
  a <- train(small, sim, n_sims = 500, epochs = 2, seed = 1, verbose = FALSE, patience = 0)
  b <- train(a, sim, n_sims = 500, epochs = 3, seed = 2, verbose = FALSE, patience = 0)
  expect_equal(b$history$epoch, 1:5)
  # the optimizer continues too: AdamW's step counts on from the first training
  steps_per_epoch <- ceiling(450 / 32)
  expect_equal(unique(a$optimizer_state$steps), 2 * steps_per_epoch)
  expect_equal(unique(b$optimizer_state$steps), 5 * steps_per_epoch)
  expect_gt(sum(abs(a$optimizer_state$exp_avg)), 0)
  expect_identical(b$history[1:2, ], a$history)
  expect_false(identical(a$state, b$state))
  other <- simulator(function(n) cbind(a = rnorm(n)), function(theta) cbind(y = theta[, 1]))
  expect_error(train(a, other, n_sims = 50, verbose = FALSE), "other parameters than the amortizer",
               class = "amortized_error_argument")
})

test_that("train() trains on an R simulator and on stored simulations", {
  sim <- simulator(function(n) cbind(mu = rnorm(n)),
                   function(theta) cbind(x1 = rnorm(nrow(theta), theta[, 1]), x2 = rnorm(nrow(theta), theta[, 1])))
  sims <- simulate(sim, 300, seed = 1)
  small <- amortizer(coupling_flow(n_layers = 2, hidden = c(16)))
  fit <- train(small, sims, epochs = 2, seed = 1, verbose = FALSE)
  expect_equal(fit$info$n_sims, 300)
  expect_equal(fit$parameter_names, "mu")
  draws <- sample_posterior(fit, c(x1 = 0.5, x2 = 0.2), 10, seed = 1)
  expect_equal(posterior::variables(draws), "mu")
})

test_that("train() rejects bad arguments with clear messages", {
  sim <- benchmark_simulator("gaussian_linear")
  expect_error(train(amortizer()), "`simulator` is missing", class = "amortized_error_argument")
  expect_error(train(amortizer(), "sim"), "`simulator` must be a simulator", class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, n_sims = 1), "`n_sims` must be a whole number >= 2",
               class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, epochs = 0), "`epochs` must be a whole number >= 1",
               class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, batch_size = 2.5), "`batch_size` must be a whole number",
               class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, learning_rate = -1), "`learning_rate` must be a number in \\(0, Inf\\]",
               class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, validation_fraction = 0.9), "`validation_fraction` must be a number in \\[0, 0.5\\]",
               class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, seed = "a"), "`seed` must be NULL or a whole number",
               class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, verbose = NA), "`verbose` must be TRUE or FALSE",
               class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, threads = 0), "`threads` must be a whole number >= 1",
               class = "amortized_error_argument")
  expect_error(train(list(), sim), "must be an <amortizer>", class = "amortized_error_argument")
})

test_that("a callback sees the history and can stop training; checkpoints are loadable", {
  sim <- benchmark_simulator("two_moons")
  small <- amortizer(coupling_flow(n_layers = 1, hidden = 8))
  seen <- integer()
  stop_at_3 <- function(h) {
    seen <<- c(seen, nrow(h))
    expect_s3_class(h, "amortized_history")
    nrow(h) < 3
  }
  path <- file.path(new_temp_dir(), "ckpt.amortizer")
  fit <- train(small, sim, n_sims = 300, epochs = 10, seed = 1, verbose = FALSE, callback = stop_at_3,
               checkpoint = path, checkpoint_every = 2)
  expect_equal(seen, 1:3)
  expect_equal(nrow(fit$history), 3)
  expect_equal(fit$info$stop_reason, "callback")
  ck <- load_amortizer(path)
  expect_equal(nrow(ck$history), 2)
  expect_equal(ck$history$train_loss, fit$history$train_loss[1:2])
  expect_s3_class(sample_posterior(ck, c(0, 0), 10), "draws_df")
  expect_error(train(small, sim, n_sims = 100, callback = "stop"), "`callback` must be NULL or a function",
               class = "amortized_error_argument")
  expect_error(train(small, sim, n_sims = 100, checkpoint = "/no/such/dir/x"), "does not exist",
               class = "amortized_error_argument")
})

test_that("the history plots as loss curves with the best epoch marked", {
  fit <- train(amortizer(coupling_flow(n_layers = 1, hidden = 8)), benchmark_simulator("two_moons"),
               n_sims = 300, epochs = 4, seed = 1, verbose = FALSE)
  p <- autoplot(fit$history)
  expect_s3_class(p, "ggplot")
  expect_equal(sort(unique(p$data$split)), c("training", "validation"))
  expect_equal(nrow(p$data), 8)
  expect_match(p$labels$subtitle, paste("at epoch", fit$info$best_epoch))
  expect_s3_class(autoplot(fit$history, log_scale = TRUE), "ggplot")
})

test_that("online training simulates fresh batches; rounds keep all simulations", {
  sim <- benchmark_simulator("gaussian_linear")
  small <- amortizer(coupling_flow(n_layers = 1, hidden = 8))
  fit <- train(small, sim, n_sims = 1000, epochs = 3, batch_size = 64, steps_per_epoch = 5, online = TRUE,
               seed = 1, verbose = FALSE)
  expect_equal(nrow(fit$history), 3)
  expect_equal(fit$info$mode, "online")
  expect_equal(fit$info$n_sims, 100 + 3 * 5 * 64)  # validation + fresh batches
  expect_s3_class(sample_posterior(fit, rep(0, 10), 10), "draws_df")
  again <- train(small, sim, n_sims = 1000, epochs = 3, batch_size = 64, steps_per_epoch = 5, online = TRUE,
                 seed = 1, verbose = FALSE)
  expect_identical(again$state, fit$state)
  # an R simulator with context: a new n_obs each batch
  ctx <- simulator(function(n) cbind(mu = stats::rnorm(n)),
                   function(theta, n_obs) array(stats::rnorm(nrow(theta) * n_obs, theta[, 1]), c(nrow(theta), n_obs, 1)),
                   context = list(n_obs = 2:9))
  fit2 <- train(amortizer(coupling_flow(n_layers = 1, hidden = 8), summary_net = deep_set(width = 8, hidden = 8)),
                ctx, n_sims = 500, epochs = 2, batch_size = 32, steps_per_epoch = 4, online = TRUE, seed = 2,
                verbose = FALSE)
  expect_equal(nrow(fit2$history), 2)
  # the sizes trained on are those of the online batches too, not only of
  # the validation simulations (here all of one size), so a size that only
  # the batches had draws no warning of extrapolation
  val <- amortized:::training_simulations(ctx, 50, 2)
  trained <- fit2$config$length_range
  expect_true(trained[1] <= min(val$lengths) && trained[2] >= max(val$lengths) &&
                diff(trained) > diff(range(val$lengths)) && trained[1] >= 2 && trained[2] <= 9)
  expect_no_warning(sample_posterior(fit2, stats::rnorm(trained[1]), 5, seed = 1))
  # rounds
  r <- train(small, sim, n_sims = 300, epochs = 2, rounds = 3, seed = 1, verbose = FALSE)
  expect_equal(nrow(r$history), 6)
  expect_equal(r$info$mode, "rounds")
  expect_equal(r$info$n_sims, 900)
  expect_error(train(small, simulate(sim, 100, seed = 1), online = TRUE), "need a simulator",
               class = "amortized_error_argument")
  expect_error(train(small, sim, online = TRUE, rounds = 2), "not both", class = "amortized_error_argument")
})

test_that("an interrupt during training returns the best model so far, with a warning", {
  sim <- benchmark_simulator("two_moons")
  interrupt_at_2 <- function(h) {
    if (nrow(h) == 2) rlang::interrupt()
    TRUE
  }
  expect_warning(fit <- train(amortizer(coupling_flow(n_layers = 1, hidden = 8)), sim, n_sims = 300, epochs = 10,
                              seed = 1, verbose = FALSE, callback = interrupt_at_2),
                 "interrupted; returning the best model", class = "amortized_warning_interrupted")
  expect_equal(nrow(fit$history), 2)
  expect_equal(fit$info$stop_reason, "interrupted")
  expect_equal(fit$info$best_epoch, which.min(fit$history$validation_loss))
  expect_s3_class(sample_posterior(fit, c(0, 0), 5), "draws_df")
})

test_that("learning-rate schedules reach the trainer", {
  sim <- benchmark_simulator("two_moons")
  small <- amortizer(coupling_flow(n_layers = 1, hidden = 8))
  const <- train(small, sim, n_sims = 300, epochs = 3, schedule = "constant", learning_rate = 1e-3, seed = 1,
                 verbose = FALSE, patience = 0)
  expect_equal(const$history$learning_rate, rep(1e-3, 3))
  step <- train(small, sim, n_sims = 300, epochs = 4, schedule = "step", step_epochs = 2, learning_rate = 1e-3,
                seed = 1, verbose = FALSE, patience = 0)
  expect_equal(step$history$learning_rate, c(1e-3, 1e-3, 5e-4, 5e-4))
  expect_error(train(small, sim, schedule = "linear"), "`schedule` must be one of", class = "amortized_error_argument")
})

test_that("device: cpu works, cuda without a GPU is a clear error, auto falls back", {
  sim <- benchmark_simulator("two_moons")
  small <- amortizer(coupling_flow(n_layers = 1, hidden = 8))
  expect_error(train(small, sim, device = "tpu"), "`device` must be one of", class = "amortized_error_argument")
  fit <- train(small, sim, n_sims = 200, epochs = 1, seed = 1, verbose = FALSE, device = "auto")
  expect_s3_class(sample_posterior(fit, c(0, 0), 5, device = "auto"), "draws_df")
  if (!amortized:::.amz_cuda_available()) {
    expect_error(train(small, sim, n_sims = 200, epochs = 1, device = "cuda"), "sees no CUDA GPU",
                 class = "amortized_error_device")
    expect_error(sample_posterior(fit, c(0, 0), 5, device = "cuda"), "sees no CUDA GPU",
                 class = "amortized_error_device")
  } else {
    gpu <- train(small, sim, n_sims = 200, epochs = 1, seed = 1, verbose = FALSE, device = "cuda")
    expect_s3_class(sample_posterior(gpu, c(0, 0), 5, device = "cuda"), "draws_df")
  }
})

test_that("a simulator that sometimes returns NaN never corrupts training", {
  sim <- simulator(function(n) cbind(mu = stats::rnorm(n)),
                   function(theta) {
                     x <- cbind(a = theta[, 1] + stats::rnorm(nrow(theta)), b = stats::rnorm(nrow(theta)))
                     x[stats::runif(nrow(x)) < 0.1, "a"] <- NaN
                     x[stats::runif(nrow(x)) < 0.02, "b"] <- Inf
                     x
                   })
  expect_warning(fit <- train(amortizer(coupling_flow(n_layers = 1, hidden = 8)), sim, n_sims = 600, epochs = 3,
                              seed = 1, verbose = FALSE), "Dropped .* of 600 simulations", class = "amortized_warning_nonfinite")
  expect_true(all(is.finite(fit$state$values)))
  expect_true(all(is.finite(fit$history$train_loss)))
  expect_lt(fit$info$n_sims, 600)
  # online: rows dropped from the batches are counted in one warning (after
  # the one about the validation simulations)
  msgs <- character()
  withCallingHandlers(
    train(amortizer(coupling_flow(n_layers = 1, hidden = 8)), sim, n_sims = 300, epochs = 2, batch_size = 32,
          steps_per_epoch = 3, online = TRUE, seed = 1, verbose = FALSE),
    amortized_warning_nonfinite = function(w) {
      msgs <<- c(msgs, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  expect_equal(length(msgs), 2)
  expect_match(msgs[2], "Dropped [0-9]+ online simulations")
})

test_that("ema averages the weights: checked, on by default for posteriors and flow matching, and what is returned", {
  sim <- benchmark_simulator("two_moons")
  expect_error(train(amortizer(), sim, n_sims = 100, ema = 1), "ema", class = "amortized_error_argument")
  expect_error(train(amortizer(), sim, n_sims = 100, ema = -0.5), class = "amortized_error_argument")
  sims <- simulate(sim, 2000, seed = 1)
  small <- coupling_flow(n_layers = 2, hidden = 32)
  plain <- train(amortizer(small), sims, epochs = 6, seed = 1, ema = 0, verbose = FALSE)
  averaged <- train(amortizer(small), sims, epochs = 6, seed = 1, ema = 0.95, verbose = FALSE)
  expect_equal(train(amortizer(small), sims, epochs = 1, seed = 1, verbose = FALSE)$info$ema, 0.999)
  expect_equal(plain$info$ema, 0)
  expect_equal(averaged$info$ema, 0.95)
  expect_false(isTRUE(all.equal(plain$state$values, averaged$state$values)))
  # (that the averaged weights are validated and returned is checked in C++)
  fm <- train(amortizer(flow_matching(hidden = c(32, 32), steps = 10)), sims, epochs = 3, seed = 1, verbose = FALSE)
  expect_equal(fm$info$ema, 0.999)
  expect_equal(train(amortizer(ensemble(flow_matching(hidden = 16, steps = 5), 2)), sims, epochs = 1, seed = 1,
                     verbose = FALSE)$info$ema, 0.999)
  rule <- amortized:::default_ema
  expect_equal(rule(coupling_flow(), "posterior"), 0.999)
  expect_equal(rule(coupling_flow(), "likelihood"), 0)
  expect_equal(rule(coupling_flow(), "models"), 0)
})

test_that("training works after every kind of error from sampling, densities, checks and training itself", {
  sim <- benchmark_simulator("gaussian_linear")
  small <- amortizer(coupling_flow(n_layers = 2, hidden = c(16, 16)))
  fit <- train(small, sim, n_sims = 300, epochs = 2, seed = 1, verbose = FALSE)
  x <- gl_observations[1, ]
  healthy <- c(grad = TRUE, inference = FALSE)
  expect_identical(.amz_autograd_state(), healthy)
  # a count beyond R's integer range is a clear error, not NA
  expect_error(sample_posterior(fit, x, n_draws = 1e13), "`n_draws` must be a whole number >= 1 and at most 2147483647",
               class = "amortized_error_argument")
  expect_error(sbc(fit, sim, n_sims = 10, n_draws = 2^31), "`n_draws` must be a whole number >= 1 and at most",
               class = "amortized_error_argument")
  # an R error (here: an allocation R refuses) inside the glue's inference
  # guards reaches R, and the guards are undone
  expect_error(.amz_allocate_in_inference_mode(2^50), "cannot allocate")
  expect_identical(.amz_autograd_state(), healthy)
  expect_length(.amz_allocate_in_inference_mode(3), 3)
  # results R cannot hold fail before anything is allocated
  expect_error(.amz_allocate_in_inference_mode(2^53), "more than an R vector holds")
  errors <- list(
    function() sample_posterior(fit, x[1:3], n_draws = 10),
    function() sample_posterior(fit, x, n_draws = 0),
    function() posterior_log_density(fit, matrix(0, 2, 3), x),
    function() sbc(fit, sim, n_sims = 1),
    function() coverage(fit, sim, n_draws = 1),
    function() learned_summaries(fit, x[1:2]),
    function() .amz_allocate_in_inference_mode(2^50),
    # an R callback and an R simulator failing while the trainer runs
    function() train(small, sim, n_sims = 200, epochs = 3, verbose = FALSE, callback = function(h) stop("callback failed")),
    function() train(small, simulator(prior = function(n) cbind(a = stats::rnorm(n)),
                                      model = function(theta) if (nrow(theta) < 100) stop("model failed") else theta),
                     n_sims = 200, epochs = 2, batch_size = 16, online = TRUE, verbose = FALSE)
  )
  for (f in errors) {
    expect_error(f())
    expect_identical(.amz_autograd_state(), healthy)
  }
  again <- train(small, sim, n_sims = 200, epochs = 2, seed = 2, verbose = FALSE)
  expect_equal(nrow(again$history), 2)
  expect_true(all(is.finite(again$history$train_loss)))
})

test_that("the default batch size: about n_train / 128 for posteriors (/ 32 with a summary net), n_train / 20 for the others", {
  rule <- amortized:::default_batch_size
  expect_identical(vapply(c(900, 4500, 9000, 18000, 90000), rule, 0L, kind = "posterior"), c(32L, 32L, 64L, 128L, 256L))
  expect_identical(vapply(c(900, 4500, 9000, 18000, 90000), rule, 0L, kind = "posterior", summary = TRUE),
                   c(64L, 128L, 256L, 512L, 512L))
  expect_identical(vapply(c(900, 4500, 9000, 90000), rule, 0L, kind = "likelihood"), c(45L, 225L, 450L, 512L))
  expect_identical(rule(9000, "models"), 450L)
  sim <- benchmark_simulator("gaussian_linear")
  small <- amortizer(coupling_flow(n_layers = 1, hidden = 8))
  fit <- train(small, sim, n_sims = 2000, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(fit$info$batch_size, 32L)
  expect_identical(train(small, sim, n_sims = 2000, epochs = 1, batch_size = 100, seed = 1, verbose = FALSE)$info$batch_size,
                   100L)
  nle <- train(amortizer(coupling_flow(n_layers = 1, hidden = 8), estimate = "likelihood"), sim, n_sims = 2000,
               epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(nle$info$batch_size, 90L)
  sets <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)),
                    model = function(theta, n_obs) array(stats::rnorm(nrow(theta) * 10, theta[, 1]), c(nrow(theta), 10, 1)))
  set_fit <- train(amortizer(coupling_flow(n_layers = 1, hidden = 8), summary_net = deep_set(width = 4, hidden = 8)),
                   sets, n_sims = 5000, epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(set_fit$info$batch_size, 128L)
})

test_that("the default number of epochs: 150, and 75 for posteriors with a summary network", {
  rule <- amortized:::default_epochs
  expect_identical(rule("posterior"), 150L)
  expect_identical(rule("posterior", summary = TRUE), 75L)
  expect_identical(rule("likelihood"), 150L)
  expect_identical(rule("models", summary = TRUE), 150L)
  sets <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)),
                    model = function(theta, n_obs) array(stats::rnorm(nrow(theta) * 4, theta[, 1]), c(nrow(theta), 4, 1)))
  tiny <- coupling_flow(n_layers = 1, hidden = 4)
  # patience = 0: no early stopping, so the history has every epoch
  set_fit <- train(amortizer(tiny, summary_net = deep_set(width = 4, hidden = 4, equivariant_layers = 0)), sets,
                   n_sims = 100, patience = 0, seed = 1, verbose = FALSE)
  expect_equal(nrow(set_fit$history), 75)
  flat <- train(amortizer(tiny), benchmark_simulator("two_moons"), n_sims = 100, patience = 0, seed = 1, verbose = FALSE)
  expect_equal(nrow(flat$history), 150)
  expect_error(train(amortizer(tiny), benchmark_simulator("two_moons"), n_sims = 100, epochs = 0),
               "`epochs` must be a whole number >= 1", class = "amortized_error_argument")
})

test_that("subsets: on by default for sets whose size is the design variable n_obs, checked, and off on request", {
  set_model <- function(theta, n_obs) {
    array(stats::rnorm(nrow(theta) * n_obs, theta[, 1]), c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y"))
  }
  varying <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)), model = set_model, context = list(n_obs = 3:12))
  fixed <- simulator(prior = function(n) cbind(mu = stats::rnorm(n)), model = set_model, context = list(n_obs = 6))
  tiny <- coupling_flow(n_layers = 1, hidden = 4)
  ds <- deep_set(summary_dim = 2, width = 4, hidden = 4, equivariant_layers = 0)
  sims <- simulate(varying, 300, seed = 1)
  on <- train(amortizer(tiny, summary_net = ds), sims, epochs = 2, seed = 1, verbose = FALSE)
  off <- train(amortizer(tiny, summary_net = ds), sims, epochs = 2, seed = 1, verbose = FALSE, subsets = FALSE)
  expect_true(on$info$subsets)
  expect_false(off$info$subsets)
  expect_output(print(on), "trained on 300 simulations and random subsets of their sets")
  expect_output(print(off), "trained on 300 simulations: ")
  # the same seed, other training data: other losses
  expect_false(isTRUE(all.equal(on$history$train_loss, off$history$train_loss)))
  # what reaches the core: the smallest size, and the context column of n_obs (0-based; -1 without it: by
  # default n_obs, the sets' size, is no context)
  rule <- function(fit, subsets = NULL, s = sims) {
    amortized:::training_subsets(subsets, fit, s, amortized:::simulation_inputs(fit$config, s))
  }
  smallest <- min(sims$lengths)
  expect_gt(max(sims$lengths), smallest)
  expect_identical(rule(on), list(min_length = smallest, length_context = -1L, prefixes = FALSE))
  named <- train(amortizer(tiny, summary_net = ds, configurator = configurator(context_variables("n_obs"))), sims,
                 epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(rule(named), list(min_length = smallest, length_context = 0L, prefixes = FALSE))
  expect_identical(rule(on, FALSE)$min_length, 0L)
  # model comparisons: only on request
  as_models <- on
  as_models$kind <- "models"
  expect_identical(rule(as_models)$min_length, 0L)
  expect_identical(rule(as_models, TRUE)$min_length, smallest)
  # off by default where sizes do not vary, or are an outcome rather than n_obs
  fixed_fit <- train(amortizer(tiny, summary_net = ds), fixed, n_sims = 200, epochs = 1, seed = 1, verbose = FALSE)
  expect_false(fixed_fit$info$subsets)
  outcome <- sims
  outcome$context[, "n_obs"] <- 12
  expect_identical(rule(on, s = outcome)$min_length, 0L)
  expect_identical(rule(on, TRUE, s = outcome)$min_length, smallest)
  expect_error(rule(named, TRUE, s = outcome), "context variable `n_obs` the network takes differs",
               class = "amortized_error_argument")
  # where they do not apply, asking for them is an error
  expect_error(train(amortizer(tiny, summary_net = ds), fixed, n_sims = 200, epochs = 1, subsets = TRUE, verbose = FALSE),
               "all have the same size", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny), benchmark_simulator("two_moons"), n_sims = 100, epochs = 1, subsets = TRUE,
                     verbose = FALSE), "set data of one source", class = "amortized_error_argument")
  expect_error(train(amortizer(tiny, summary_net = ds), sims, subsets = NA), "`subsets` must be",
               class = "amortized_error_argument")
})

test_that("subsets for time series: prefixes, only on request", {
  walk <- function(n_obs) {
    simulator(prior = function(n) cbind(drift = stats::rnorm(n)),
              model = function(theta, n_obs) {
                steps <- matrix(stats::rnorm(nrow(theta) * n_obs, theta[, 1]), nrow(theta))
                array(t(apply(steps, 1, cumsum)), c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y"))
              },
              context = list(n_obs = n_obs))
  }
  sims <- simulate(walk(6:16), 200, seed = 1)
  a <- amortizer(coupling_flow(n_layers = 1, hidden = 4), summary_net = time_series_net(filters = 4, hidden = 4),
                 configurator = configurator(as_time_series()))
  off <- train(a, sims, epochs = 2, seed = 1, verbose = FALSE)
  on <- train(a, sims, epochs = 2, seed = 1, verbose = FALSE, subsets = TRUE)
  expect_false(off$info$subsets)
  expect_true(on$info$subsets)
  expect_output(print(on), "and random prefixes of their series")
  expect_false(isTRUE(all.equal(on$history$train_loss, off$history$train_loss)))
  spec <- amortized:::training_subsets(TRUE, on, sims, amortized:::simulation_inputs(on$config, sims))
  expect_identical(spec$prefixes, TRUE)
  expect_identical(spec$min_length, as.integer(min(sims$lengths)))
  expect_lt(min(sims$lengths), max(sims$lengths))
  expect_identical(spec$length_context, match("n_obs", on$config$context_names) - 1L)
  fixed <- simulate(walk(8), 50, seed = 1)
  expect_error(train(a, fixed, epochs = 1, subsets = TRUE, verbose = FALSE), "series all have the same length",
               class = "amortized_error_argument")
})
