# Runs the README's example and writes its figure, man/figures/README-diagnostics.png,
# and prints the training time and the posterior summary (for the README's comments).
# Run from the repository root after `make install`: Rscript tools/readme-figure.R
library(amortized)
set.seed(1)
sim <- simulator(
  prior = function(n) cbind(mu = rnorm(n, 0, 2), sigma = rgamma(n, 2, 2)),
  model = function(theta) {
    n <- nrow(theta)
    matrix(rnorm(n * 20, theta[, "mu"], theta[, "sigma"]), n, 20)
  }
)
t <- system.time(fit <- train(amortizer(configurator = configurator(constrain(sigma = "positive"))),
                              sim, n_sims = 10000, seed = 1, verbose = FALSE))
cat(sprintf("training: %.1f s, %d epochs\n", t[["elapsed"]], nrow(fit$history)))
y <- rnorm(20, 1, 0.5)
t <- system.time(draws <- sample_posterior(fit, y, n_draws = 2000))
cat(sprintf("2,000 draws: %.3f s\n", t[["elapsed"]]))
print(posterior::summarise_draws(draws))
p <- plot(diagnostics(fit, sim, n_sims = 500, seed = 2))
dir.create(file.path("man", "figures"), showWarnings = FALSE, recursive = TRUE)
ggplot2::ggsave(file.path("man", "figures", "README-diagnostics.png"), p, width = 10, height = 7.5, dpi = 80, bg = "white")
cat("wrote man/figures/README-diagnostics.png\n")
