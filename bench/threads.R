# Benchmark (not a test): inference on 1 and 2 threads, and what the measured
# default (amortized.inference_threads unset) picks on this machine.
# Run: Rscript bench/threads.R
suppressMessages(library(amortized))
cat("fastest_threads(2) x5:", replicate(5, amortized:::.amz_fastest_threads(2L)), "\n")
cat("inference_threads():", amortized:::inference_threads(), "\n")
sim <- benchmark_simulator("gaussian_linear")
fit <- train(amortizer(), sim, n_sims = 10000, epochs = 5, seed = 1, verbose = FALSE)
obs <- simulate(sim, 100, seed = 2)$data
for (th in c(1, 2)) {
  invisible(sample_posterior(fit, obs[1:2, ], 10, threads = th))
  t <- min(replicate(3, system.time(sample_posterior(fit, obs, n_draws = 1000, seed = 1, threads = th))[["elapsed"]]))
  s <- system.time(sbc(fit, sim, n_sims = 1000, n_draws = 1000, seed = 1, threads = th))[["elapsed"]]
  cat(sprintf("threads %d: 100 x 1000 draws %.3f s; SBC 1000 x 1000 %.2f s\n", th, t, s))
}
