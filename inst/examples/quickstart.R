# amortized quickstart: train a neural posterior estimator on a simulator,
# draw posteriors for new data in milliseconds, and check calibration.
# Run with: Rscript inst/examples/quickstart.R [output directory]
library(amortized)

out_dir <- commandArgs(trailingOnly = TRUE)[1]
if (is.na(out_dir)) out_dir <- file.path(getwd(), "build", "demo")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
step <- function(...) cat("\n==", ..., "\n")

step("1. A simulator: gaussian_linear (10 parameters, C++), exact posterior N(x/2, 0.05 I)")
sim <- benchmark_simulator("gaussian_linear")
print(sim)

step("2. Train an amortizer on 10,000 simulations")
t0 <- proc.time()[["elapsed"]]
fit <- train(amortizer(), sim, n_sims = 10000, seed = 1, verbose = TRUE)
cat(sprintf("training took %.1f s\n", proc.time()[["elapsed"]] - t0))
print(fit)

step("3. Posterior for one new data set, compared with the exact answer")
x_obs <- c(0.3, -0.2, 0.0, 0.5, -0.4, 0.1, 0.2, -0.3, 0.4, -0.1)
t0 <- proc.time()[["elapsed"]]
draws <- sample_posterior(fit, x_obs, n_draws = 4000, seed = 2)
cat(sprintf("4,000 draws in %.3f s\n", proc.time()[["elapsed"]] - t0))
s <- posterior::summarise_draws(draws, "mean", "sd")
s$exact_mean <- x_obs / 2
s$exact_sd <- sqrt(0.05)
print(as.data.frame(s), digits = 3, row.names = FALSE)

step("4. Posteriors for 100 data sets at once (amortized)")
new_data <- simulate(sim, 100, seed = 3)$data
t0 <- proc.time()[["elapsed"]]
many <- sample_posterior(fit, new_data, n_draws = 1000, seed = 4)
cat(sprintf("100 x 1,000 draws in %.3f s; variables such as %s\n",
            proc.time()[["elapsed"]] - t0, paste(posterior::variables(many)[1:3], collapse = ", ")))

step("5. Simulation-based calibration on 500 fresh simulations")
t0 <- proc.time()[["elapsed"]]
check <- sbc(fit, sim, n_sims = 500, n_draws = 100, seed = 5)
cat(sprintf("SBC took %.2f s\n", proc.time()[["elapsed"]] - t0))
print(check)
png_path <- file.path(out_dir, "sbc_ecdf_diff.png")
ggplot2::ggsave(png_path, autoplot(check), width = 9, height = 6, dpi = 100)
cat("\nSBC plot written to", png_path, "\n")
