# Benchmark (not a test): speed of the simulation-based diagnostics, and
# their plots saved as PNG under bench/out/ (not committed) to look at.
#   SBC with 1,000 data sets x 1,000 draws on two_moons and gaussian_linear,
#   recovery / z-score / coverage on 1,000 data sets.
# Run: Rscript bench/diagnostics.R [threads]  (threads for the diagnostics;
# default: the package's inference default; training always uses 1)
suppressMessages(library(amortized))
args <- commandArgs(trailingOnly = TRUE)
threads <- if (length(args) >= 1) as.integer(args[1]) else amortized:::inference_threads()
cat("diagnostics on", threads, "thread(s)\n")
out <- file.path("bench", "out")
dir.create(out, showWarnings = FALSE, recursive = TRUE)
save_png <- function(p, name, width = 8, height = 5) {
  ggplot2::ggsave(file.path(out, name), p, width = width, height = height, dpi = 100)
}
for (task in c("two_moons", "gaussian_linear")) {
  sim <- benchmark_simulator(task)
  t_train <- system.time(fit <- train(amortizer(), sim, n_sims = 10000, seed = 1, verbose = FALSE))[["elapsed"]]
  test <- simulate(sim, 1000, seed = 2)
  t_sbc <- system.time(s <- sbc(fit, test, n_draws = 1000, seed = 3, threads = threads))[["elapsed"]]
  t_rec <- system.time(rec <- recovery(fit, test, n_draws = 1000, seed = 4, threads = threads))[["elapsed"]]
  t_zc <- system.time(zc <- z_score_contraction(fit, test, n_draws = 1000, seed = 5, threads = threads))[["elapsed"]]
  t_cov <- system.time(cov <- coverage(fit, test, n_draws = 1000, seed = 6, threads = threads))[["elapsed"]]
  cat(sprintf("%-16s train %.1f s | SBC 1000 x 1000: %.2f s | recovery: %.2f s | z/contraction: %.2f s | coverage: %.2f s\n",
              task, t_train, t_sbc, t_rec, t_zc, t_cov))
  print(summary(s))
  print(calibration_error(fit, test, n_draws = 1000, seed = 6, threads = threads))
  save_png(autoplot(s), paste0(task, "_sbc.png"))
  save_png(autoplot(rec), paste0(task, "_recovery.png"))
  save_png(autoplot(zc), paste0(task, "_z_contraction.png"))
  save_png(autoplot(cov), paste0(task, "_coverage.png"))
  save_png(autoplot(fit$history), paste0(task, "_history.png"))
}
cat("plots in", out, "\n")
