# Benchmark (not a test): NPE on gaussian_linear.
# Prints training time on 10,000 simulations, the time to draw 1,000 samples
# for each of 100 observations (one batched call), and the error of posterior
# means and sds against the exact posterior N(x/2, 0.05 I).
# Run: Rscript bench/npe_gaussian_linear.R [n_sims] [threads]
suppressMessages(library(amortized))
args <- commandArgs(trailingOnly = TRUE)
n_sims <- if (length(args) >= 1) as.integer(args[1]) else 10000L
threads <- if (length(args) >= 2) as.integer(args[2]) else 1L

sim <- benchmark_simulator("gaussian_linear")
elapsed <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  force(expr)
  proc.time()[["elapsed"]] - t0
}
fit <- NULL
t_train <- elapsed(fit <- train(amortizer(), sim, n_sims = n_sims, seed = 1, verbose = FALSE,
                                threads = threads))
obs <- simulate(sim, 100, seed = 99)$data
invisible(sample_posterior(fit, obs[1:2, ], 10, seed = 1, threads = threads))  # warm-up
draws <- NULL
t_sample <- elapsed(draws <- sample_posterior(fit, obs, n_draws = 1000, seed = 2, threads = threads))

m <- posterior::as_draws_matrix(draws)
vars <- posterior::variables(draws)
# variables are theta_j[i]: parameter j, observation i
j <- as.integer(sub("theta_([0-9]+)\\[.*", "\\1", vars))
i <- as.integer(sub(".*\\[([0-9]+)\\]", "\\1", vars))
mean_err <- abs(colMeans(m) - obs[cbind(i, j)] / 2)
sd_err <- abs(apply(m, 2, sd) / sqrt(0.05) - 1)

cat(sprintf("amortized %s, LibTorch threads: %d\n", format(packageVersion("amortized")), threads))
cat(sprintf("training on %d simulations: %.2f s (%d epochs, %s, best epoch %d)\n",
            n_sims, t_train, nrow(fit$history), fit$info$stop_reason, fit$info$best_epoch))
cat(sprintf("1,000 draws x 100 observations (batched): %.3f s\n", t_sample))
cat(sprintf("posterior mean abs error:  mean %.4f, max %.4f (posterior sd %.3f)\n",
            mean(mean_err), max(mean_err), sqrt(0.05)))
cat(sprintf("posterior sd relative error: mean %.4f, max %.4f\n", mean(sd_err), max(sd_err)))
