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

test_that("every exported topic has an example and a value, and every argument is documented once", {
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
  }
  # arguments: none undocumented, none documented twice, usage matches code
  expect_length(capture.output(print(tools::checkDocFiles("amortized"))), 0)
  expect_length(capture.output(print(tools::codoc("amortized"))), 0)
  expect_length(capture.output(print(tools::undoc("amortized"))), 0)
})
