# Multi-source data: simulators returning a named list of blocks, fusion()
# of summary networks, and the exact posterior of a model whose parameters
# are each informed by different sources.

# mu ~ N(0, 1) informs a set of n_obs points N(mu, 1) (n_obs varies);
# nu ~ N(0, 1) informs a set of 10 points N(nu, 1) and two flat values
# N(nu, 0.5^2). The posterior: independent normals.
two_source_simulator <- function() {
  simulator(
    prior = function(n) cbind(mu = rnorm(n), nu = rnorm(n)),
    model = function(theta, n_obs) {
      n <- nrow(theta)
      list(trials = array(rnorm(n * n_obs, theta[, "mu"]), c(n, n_obs, 1), dimnames = list(NULL, NULL, "y")),
           other = array(rnorm(n * 10, theta[, "nu"]), c(n, 10, 1), dimnames = list(NULL, NULL, "w")),
           z = cbind(z1 = rnorm(n, theta[, "nu"], 0.5), z2 = rnorm(n, theta[, "nu"], 0.5)))
    },
    context = list(n_obs = 3:30))
}

exact_two_source <- function(y, w, z) {
  prec_nu <- 1 + length(w) + 4 * length(z)
  list(mu = c(mean = sum(y) / (1 + length(y)), sd = 1 / sqrt(1 + length(y))),
       nu = c(mean = (sum(w) + 4 * sum(z)) / prec_nu, sd = 1 / sqrt(prec_nu)))
}

fitted_fusion <- function() {
  if (is.null(fit_cache$fusion)) {
    sims <- simulate(two_source_simulator(), 5000, seed = 1)
    fit_cache$fusion <- train(amortizer(), sims, epochs = 40, seed = 1, verbose = FALSE)
  }
  fit_cache$fusion
}

test_that("fusion() checks its arguments and prints its nets", {
  expect_error(fusion(deep_set()), class = "amortized_error_argument")
  expect_error(fusion(a = deep_set(), a = deep_set()), class = "amortized_error_argument")
  expect_error(fusion(a = "deep_set"), "summary network", class = "amortized_error_argument")
  expect_error(fusion(a = fusion(b = deep_set())), class = "amortized_error_argument")
  f <- fusion(trials = set_transformer(), series = time_series_net())
  expect_match(format(f), "fusion of 2 sources: trials = set transformer.*; series = time series net")
  expect_output(print(f), "fusion of 2 sources")
})

test_that("multi-source simulators return each source with its own shape and lengths", {
  sim <- two_source_simulator()
  expect_output(print(sim), "3 sources")
  expect_equal(names(sim$data_names), c("trials", "other", "z"))
  sims <- simulate(sim, 300, seed = 2)
  expect_equal(names(sims$data), c("trials", "other", "z"))
  expect_equal(dim(sims$data$z), c(300, 2))
  expect_equal(dim(sims$data$other), c(300, 10, 1))
  expect_equal(names(sims$lengths), c("trials", "other"))
  expect_equal(sims$lengths$trials, as.integer(sims$context[, "n_obs"]))
  expect_true(all(sims$lengths$other == 10))
  # padding after each data set's points, never inside
  i <- which.min(sims$lengths$trials)
  expect_true(all(is.na(sims$data$trials[i, -seq_len(sims$lengths$trials[i]), 1])))
  expect_false(anyNA(sims$data$trials[i, seq_len(sims$lengths$trials[i]), 1]))
  expect_output(print(sims), "trials: [0-9]+\\.\\.[0-9]+ observations of \\(1\\): y")
  expect_equal(unique(summary(sims)$block), c("parameters", "data$trials", "data$other", "data$z", "context"))
  # the same seed gives the same simulations; subsets and combinations keep the sources aligned
  again <- simulate(sim, 300, seed = 2)
  expect_identical(again$data, sims$data)
  sub <- amortized:::subset_simulations(sims, c(5, 1))
  expect_equal(sub$data$z, sims$data$z[c(5, 1), ])
  expect_equal(sub$lengths$trials, sims$lengths$trials[c(5, 1)])
  both <- amortized:::combine_simulations(sub, amortized:::subset_simulations(sims, 2))
  expect_equal(both$data$other[3, , ], sims$data$other[2, , ])
  expect_equal(both$lengths$trials, sims$lengths$trials[c(5, 1, 2)])
})

test_that("row-by-row multi-source models and bad source lists", {
  sim <- simulator(prior = function(n) cbind(a = rnorm(n), b = rexp(n)),
                   model = function(theta) list(pts = cbind(u = rnorm(4, theta["a"]), v = rnorm(4)),
                                                s = c(m = theta[["b"]])),
                   vectorized = FALSE)
  sims <- simulate(sim, 7, seed = 1)
  expect_equal(dim(sims$data$pts), c(7, 4, 2))
  expect_equal(colnames(sims$data$s), "m")
  expect_equal(sims$data$s[, 1], sims$parameters[, "b"])
  # a non-finite value in any source drops the row
  nan_sim <- simulator(prior = function(n) cbind(a = rnorm(n)),
                       model = function(theta) {
                         n <- nrow(theta)
                         list(s = array(1, c(n, 3, 1)), f = cbind(x = ifelse(seq_len(n) %% 2 == 0, NaN, 1)))
                       })
  expect_warning(out <- simulate(nan_sim, 10, seed = 1), class = "amortized_warning_nonfinite")
  expect_equal(nrow(out$parameters), 5)
  expect_equal(nrow(out$data$s), 5)
  expect_error(simulator(prior = function(n) cbind(a = rnorm(n)),
                         model = function(theta) list(matrix(1, nrow(theta), 2), matrix(2, nrow(theta), 1))),
               "unique names", class = "amortized_error_simulator")
  expect_error(simulator(prior = function(n) cbind(a = rnorm(n)),
                         model = function(theta) list(a = matrix(1, nrow(theta), 2), b = matrix(2, 1, 1))),
               "Source b", class = "amortized_error_simulator")
  flip <- simulator(prior = function(n) cbind(a = rnorm(n)),  # the first call (3 rows) differs from the rest
                    model = function(theta) {
                      if (nrow(theta) == 3) list(a = matrix(1, 3, 2)) else list(b = matrix(1, nrow(theta), 2))
                    })
  expect_error(simulate(flip, 10, seed = 1), "other data sources", class = "amortized_error_simulator")
})

test_that("multi-source simulations are stored and read back (format 3)", {
  sims <- simulate(two_source_simulator(), 50, seed = 3)
  path <- file.path(new_temp_dir(), "sims")
  write_simulations(sims, path)
  meta <- jsonlite::read_json(file.path(path, "simulations.json"))
  expect_equal(meta$format_version, 3)
  expect_equal(names(meta$sources), c("trials", "other", "z"))
  back <- read_simulations(path)
  expect_identical(back$data, sims$data)
  expect_identical(back$lengths, sims$lengths)
  expect_equal(back$context, sims$context)
  # a flipped byte in a source is found
  f <- file.path(path, "source_2.f64")
  bytes <- readBin(f, "raw", file.size(f))
  bytes[9] <- as.raw(bitwXor(as.integer(bytes[9]), 1L))
  writeBin(bytes, f)
  expect_error(read_simulations(path), "checksum", class = "amortized_error_data")
})

test_that("the configurator resolves multi-source data and checks fusion()", {
  sims <- simulate(two_source_simulator(), 200, seed = 4)
  plan <- amortized:::resolve_configuration(amortizer(), sims)
  expect_equal(plan$structure, "fusion")
  expect_equal(plan$sources, c("trials", "other"))
  expect_equal(plan$flat_sources, "z")
  expect_equal(plan$core$dim_x, 2)
  expect_equal(plan$core$source_dims, c(1L, 1L))
  expect_true(plan$core$variable_length)
  expect_equal(vapply(plan$summary_net$nets, `[[`, "", "type"), c(trials = "deep_set", other = "deep_set"))
  # named nets are used, data steps apply to the sources that have the variables
  a <- amortizer(summary_net = fusion(other = set_transformer(summary_dim = 4)),
                 configurator = configurator(drop_data("z2"), nan_to_num()))
  plan <- amortized:::resolve_configuration(a, sims)
  expect_equal(plan$summary_net$nets$other$type, "set_transformer")
  expect_equal(plan$summary_net$nets$other$summary_dim, 4)
  expect_equal(plan$core$dim_x, 2)  # z1 and its missing indicator
  expect_equal(plan$core$source_dims, c(2L, 2L))
  expect_equal(vapply(plan$data_steps$trials, `[[`, "", "step"), "nan_to_num")
  expect_equal(vapply(plan$data_steps$z, `[[`, "", "step"), c("drop_data", "nan_to_num"))
  expect_equal(plan$data_names$z, c("z1", "z1_missing"))
  inputs <- amortized:::simulation_inputs(plan, amortized:::subset_simulations(sims, 1:3))
  expect_equal(dim(inputs$x$flat), c(3, 2))
  expect_equal(inputs$x$flat[, 1], sims$data$z[1:3, "z1"])
  expect_length(inputs$x$sources, 2)
  expect_equal(dim(inputs$x$sources[[2]]$x), c(3, 10, 2))
  expect_equal(inputs$x$sources[[1]]$lengths, sims$lengths$trials[1:3])
  expect_error(amortized:::resolve_configuration(amortizer(configurator = configurator(drop_data("nope"))), sims),
               "no source has", class = "amortized_error_argument")
  expect_error(amortized:::resolve_configuration(amortizer(summary_net = fusion(z = deep_set())), sims),
               "flat source", class = "amortized_error_argument")
  expect_error(amortized:::resolve_configuration(amortizer(summary_net = fusion(elsewhere = deep_set())), sims),
               "do not have", class = "amortized_error_argument")
  expect_error(amortized:::resolve_configuration(amortizer(summary_net = deep_set()), sims),
               "need .*fusion", class = "amortized_error_argument")
  expect_error(amortized:::resolve_configuration(amortizer(configurator = configurator(as_set())), sims),
               class = "amortized_error_argument")
  one_block <- simulate(benchmark_simulator("ddm", n_obs = 20), 20, seed = 1)
  expect_error(amortized:::resolve_configuration(amortizer(summary_net = fusion(x = deep_set())), one_block),
               "multi-source", class = "amortized_error_argument")
})

test_that("a fusion amortizer learns the exact posterior from every source", {
  fit <- fitted_fusion()
  expect_output(print(fit), "3 sources: trials \\(1\\), other \\(1\\), z \\(2\\)")
  expect_output(print(fit), "fusion of 2 sources")
  for (case in list(list(y = rep(0.5, 4), w = rep(-0.4, 10), z = c(0.2, 0.2)),
                    list(y = seq(-1, 1, length.out = 25), w = rep(0.8, 10), z = c(1.2, 0.6)))) {
    obs <- list(trials = matrix(case$y, ncol = 1), other = case$w, z = c(z1 = case$z[1], z2 = case$z[2]))
    draws <- posterior::as_draws_matrix(sample_posterior(fit, obs, 4000, seed = 2))
    want <- exact_two_source(case$y, case$w, case$z)
    for (p in c("mu", "nu")) {
      expect_lt(abs(mean(draws[, p]) - want[[p]][["mean"]]) / want[[p]][["sd"]], 0.35)  # network accuracy varies across CPUs; a source ignored moves it by more than 1 sd
      expect_lt(abs(sd(draws[, p]) / want[[p]][["sd"]] - 1), 0.2)
    }
  }
})

test_that("observed multi-source data: several data sets, checks, summaries, persistence", {
  fit <- fitted_fusion()
  one <- list(trials = matrix(c(0.1, 0.4, -0.2), ncol = 1), other = rep(0.3, 10), z = c(z1 = 0, z2 = 0.1))
  two <- list(trials = list(matrix(c(0.1, 0.4, -0.2), ncol = 1), matrix(rnorm(20), ncol = 1)),
              other = array(0.3, c(2, 10, 1)), z = rbind(c(0, 0.1), c(1, 1)))
  d1 <- sample_posterior(fit, one, 100, seed = 3)
  d2 <- sample_posterior(fit, two, 100, seed = 3)
  expect_equal(posterior::variables(d1), c("mu", "nu"))
  expect_equal(posterior::variables(d2), c("mu[1]", "mu[2]", "nu[1]", "nu[2]"))
  # the first data set alone and within a batch: the same density
  lp <- posterior_log_density(fit, rbind(c(0.1, 0.2), c(0.1, 0.2)), two)
  expect_equal(lp[1], posterior_log_density(fit, c(mu = 0.1, nu = 0.2), one), tolerance = float32_tolerance())
  expect_error(sample_posterior(fit, one[c("trials", "z")], 10), "Missing", class = "amortized_error_data")
  expect_error(sample_posterior(fit, c(one, extra = 1), 10), "Unknown", class = "amortized_error_data")
  expect_error(sample_posterior(fit, matrix(1, 3, 1), 10), "named list", class = "amortized_error_data")
  expect_error(sample_posterior(fit, list(trials = two$trials, other = one$other, z = one$z), 10),
               "same number of data sets", class = "amortized_error_data")
  expect_error(sample_posterior(fit, list(trials = one$trials, other = one$other, z = c(1, NA)), 10),
               "z", class = "amortized_error_data")
  expect_warning(sample_posterior(fit, list(trials = matrix(0, 40, 1), other = one$other, z = one$z), 10),
                 class = "amortized_warning_extrapolation")
  s <- learned_summaries(fit, two)
  expect_equal(colnames(s), c(paste0("trials_", 1:8), paste0("other_", 1:8)))
  expect_equal(nrow(s), 2)
  # the set summaries of a source depend on that source alone
  three <- two
  three$other[2, , 1] <- 5
  s3 <- learned_summaries(fit, three)
  expect_equal(s3[, 1:8], s[, 1:8], tolerance = float32_tolerance())
  expect_false(isTRUE(all.equal(s3[2, 9:16], s[2, 9:16])))
  # save/load and serialization
  path <- file.path(new_temp_dir(), "fusion.amortizer")
  save_amortizer(fit, path)
  back <- load_amortizer(path)
  expect_equal(posterior_log_density(back, c(mu = 0.1, nu = 0.2), one),
               posterior_log_density(fit, c(mu = 0.1, nu = 0.2), one))
  rds <- unserialize(serialize(fit, NULL))
  rds$.handle$ptr <- NULL
  expect_equal(posterior_log_density(rds, c(mu = 0.1, nu = 0.2), one),
               posterior_log_density(fit, c(mu = 0.1, nu = 0.2), one))
  expect_error(posterior_predictive(fit, two_source_simulator(), one), "multi-source",
               class = "amortized_error_argument")
})

test_that("multi-source amortizers train online and diagnose with sbc()", {
  sim <- simulator(prior = function(n) cbind(a = rnorm(n), b = rnorm(n)),
                   model = function(theta) {
                     n <- nrow(theta)
                     list(s = array(rnorm(n * 5, theta[, "a"]), c(n, 5, 1)), f = cbind(v = rnorm(n, theta[, "b"])))
                   })
  fit <- train(amortizer(summary_net = fusion(s = deep_set(summary_dim = 4, width = 8))), sim, n_sims = 400,
               online = TRUE, steps_per_epoch = 5, epochs = 2, seed = 1, verbose = FALSE)
  expect_equal(nrow(fit$history), 2)
  more <- train(fit, sim, n_sims = 300, epochs = 1, seed = 2, verbose = FALSE)
  expect_equal(nrow(more$history), 3)
  res <- sbc(more, sim, n_sims = 20, n_draws = 20, seed = 1)
  expect_equal(dim(res$ranks), c(20, 2))
})
