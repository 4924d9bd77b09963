# The package's surface as a whole.

test_that("no exported name masks a function of packages our users load alongside", {
  ours <- getNamespaceExports("amortized")
  # autoplot() is ggplot2's own generic, re-exported (the same function)
  expect_identical(get("autoplot", asNamespace("amortized")), ggplot2::autoplot)
  ours <- setdiff(ours, "autoplot")
  for (pkg in c("base", "stats", "utils", "graphics", "grDevices", "methods", "dplyr", "tidyr", "ggplot2",
                "posterior", "bayesplot", "brms", "rstan", "cmdstanr")) {
    if (!requireNamespace(pkg, quietly = TRUE)) next
    expect_identical(intersect(ours, getNamespaceExports(pkg)), character(0), label = paste("names shared with", pkg))
  }
  # the packages not installed here: their exports that users reach for most
  others <- c("summarise", "summarize", "mutate", "filter", "select", "pivot_longer", "nest", "as_draws_df",
              "summarise_draws", "rhat", "ess_bulk", "mcmc_hist", "mcmc_pairs", "brm", "posterior_predict",
              "posterior_epred", "log_lik", "loo", "pp_check", "ranef", "fixef", "bayes_R2", "hypothesis")
  expect_identical(intersect(ours, others), character(0))
})

test_that("every exported topic has an example, a value and related topics, and every argument is documented once", {
  db <- tools::Rd_db("amortized")
  skip_if(length(db) == 0, "the installed package has no Rd database")
  exports <- getNamespaceExports("amortized")
  tagged <- function(rd, tag) Filter(function(x) identical(attr(x, "Rd_tag"), tag), rd)
  for (name in names(db)) {
    rd <- db[[name]]
    aliases <- unlist(lapply(tagged(rd, "\\alias"), as.character))
    if (!any(aliases %in% exports) || grepl("-package|reexports", name)) next  # re-exports: documented upstream
    expect_true(length(tagged(rd, "\\value")) > 0, label = paste(name, "has \\value"))
    expect_true(length(tagged(rd, "\\examples")) > 0, label = paste(name, "has \\examples"))
    expect_true(length(tagged(rd, "\\seealso")) > 0, label = paste(name, "has \\seealso (@family)"))
  }
  # arguments: none undocumented, none documented twice, usage matches code
  expect_length(capture.output(print(tools::checkDocFiles("amortized"))), 0)
  expect_length(capture.output(print(tools::codoc("amortized"))), 0)
  expect_length(capture.output(print(tools::undoc("amortized"))), 0)
})

test_that("every verb that runs a network takes `threads` and `device`, checked the same way", {
  ns <- asNamespace("amortized")
  # c2st() and mmd() run their own CPU kernels; simulate() of a simulator runs no network
  cpu_only <- c("c2st", "mmd")
  verbs <- Filter(function(e) is.function(get(e, ns)) && "threads" %in% names(formals(get(e, ns))),
                  setdiff(getNamespaceExports("amortized"), cpu_only))
  expect_gt(length(verbs), 15)
  for (v in verbs) expect_true("device" %in% names(formals(get(v, ns))), label = paste(v, "has `device`"))
  fit <- fitted_gaussian_linear()
  sims <- simulate(benchmark_simulator("gaussian_linear"), 20, seed = 3)
  for (call in list(quote(sbc(fit, sims, device = "tpu")), quote(recovery(fit, sims, device = "tpu")),
                    quote(coverage(fit, sims, device = "tpu")), quote(diagnostics(fit, sims, device = "tpu")),
                    quote(z_score_contraction(fit, sims, device = "tpu")),
                    quote(posterior_log_density(fit, rep(0, 10), rep(0, 10), device = "tpu")),
                    quote(sample_posterior(fit, rep(0, 10), device = "gpu")))) {
    expect_error(eval(call), "`device` must be one of", class = "amortized_error_argument")
  }
  # the CPU device is the default and gives the same draws as asking for it
  a <- sbc(fit, sims, n_draws = 50, seed = 1, threads = 1)
  b <- sbc(fit, sims, n_draws = 50, seed = 1, threads = 1, device = "cpu")
  expect_identical(a$ranks, b$ranks)
})
