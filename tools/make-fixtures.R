# Writes the model files in tests/testthat/fixtures/ that the tests load
# forever (one per amortizer file format). Run once per new format version,
# from the package root, with the package installed; never regenerate an
# existing fixture: old files must keep loading.
#   Rscript tools/make-fixtures.R
suppressMessages(library(amortized))
dir <- "tests/testthat/fixtures"
version <- amortized:::model_format_version
path <- file.path(dir, sprintf("model_format_%d.amortizer", version))
if (file.exists(path)) stop(path, " exists; fixtures are never regenerated")
sim <- simulator(
  prior = function(n) cbind(mu = rnorm(n), sigma = rexp(n)),
  model = function(theta, n_obs) {
    n <- nrow(theta)
    array(rnorm(n * n_obs, theta[, 1], theta[, 2]), c(n, n_obs, 1), dimnames = list(NULL, NULL, "y"))
  },
  context = list(n_obs = 3:8))
a <- amortizer(coupling_flow(n_layers = 1, hidden = 4, bins = 3),
               summary_net = deep_set(summary_dim = 2, width = 4, hidden = 4, equivariant_layers = 1),
               configurator = configurator(constrain(sigma = "positive")))
fit <- train(a, sim, n_sims = 200, epochs = 2, seed = 1, verbose = FALSE)
save_amortizer(fit, path)
# log densities at fixed points for a fixed data set: what a loaded model must reproduce
y <- c(0.3, -1.2, 0.8, 1.9, 0.1)
theta <- cbind(mu = c(-0.5, 0, 0.5, 1), sigma = c(0.5, 1, 1.5, 2))
expected <- data.frame(theta, log_density = posterior_log_density(fit, theta, y))
utils::write.csv(expected, sub("\\.amortizer$", "_log_density.csv", path), row.names = FALSE)
cat("wrote", path, "(", file.size(path), "bytes )\n")
