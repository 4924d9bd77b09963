# Benchmark (not a test): neural posterior estimation on the standard tasks.
# For each task: train one amortizer on n_sims simulations (seed 1) with the
# defaults of train(), draw 10,000 samples for each reference observation in
# ../shared/reference/ (bench/reference/ for the held-out tasks, made by
# bench/reference_posteriors.R) and score them with C2ST against the exact posterior
# draws; print C2ST per observation and the mean, training and sampling time,
# and the time to draw 1,000 samples for each of 100 observations at once
# (the best of 3 runs: these shared machines jitter by +-10%).
#
# Run: Rscript bench/npe_benchmark.R [task|all] [n_sims] [threads] [net]
#   net: an R expression for the inference network, default "coupling_flow()"
# e.g. Rscript bench/npe_benchmark.R two_moons 10000 1 'coupling_flow(transform = "affine")'
# Environment: AMORTIZED_TRAIN_ARGS='list(batch_size = 128)' overrides train()
# defaults (for exploring recipes); AMORTIZED_AMORTIZER_ARGS='list(use_structure = FALSE)'
# likewise for amortizer(); AMORTIZED_REFERENCE: the reference folder;
# AMORTIZED_OBSERVATIONS='1,2': score only these reference observations (the
# C2ST classifier takes minutes per observation in 10 dimensions);
# AMORTIZED_DIAGNOSE=1: also, per observation, the errors of the draws' means
# (in reference sds), their sds over the reference's, and C2ST once more with
# the draws moved to the reference's mean (what the shape alone scores).
suppressMessages(library(amortized))
args <- commandArgs(trailingOnly = TRUE)
tasks <- if (length(args) >= 1 && args[1] != "all") strsplit(args[1], ",")[[1]] else
  c("two_moons", "slcp", "gaussian_linear", "bernoulli_glm", "sir", "lotka_volterra", "gaussian_mixture")
n_sims <- if (length(args) >= 2) as.integer(args[2]) else 10000L
threads <- if (length(args) >= 3) as.integer(args[3]) else 1L
net_expr <- if (length(args) >= 4) args[4] else "coupling_flow()"
train_args <- eval(parse(text = Sys.getenv("AMORTIZED_TRAIN_ARGS", "list()")))
amortizer_args <- eval(parse(text = Sys.getenv("AMORTIZED_AMORTIZER_ARGS", "list()")))
source(file.path("bench", "common.R"))

cat(sprintf("NPE benchmark: %d simulations, %d thread(s), net %s, train args %s\n\n", n_sims, threads,
            net_expr, Sys.getenv("AMORTIZED_TRAIN_ARGS", "defaults")))
rows <- list()
for (task in tasks) {
  sim <- benchmark_simulator(task)
  net <- eval(parse(text = net_expr))
  fit <- NULL
  t_train <- elapsed(fit <- suppressWarnings(do.call(train, c(
    list(do.call(amortizer, c(list(net), amortizer_args)), sim, n_sims = n_sims, seed = 1, verbose = FALSE, threads = threads), train_args))))
  obs100 <- simulate(sim, 100, seed = 99)$data
  invisible(sample_posterior(fit, obs100[1:2, ], 10, seed = 1, threads = threads))  # warm-up
  t_batch <- min(vapply(1:3, function(r) elapsed(sample_posterior(fit, obs100, n_draws = 1000, seed = 2, threads = threads)), 0))
  scores <- rep(NA_real_, 5)
  t_sample <- NA_real_
  for (k in as.integer(strsplit(Sys.getenv("AMORTIZED_OBSERVATIONS", "1,2,3,4,5"), ",")[[1]])) {
    dir <- reference_dir(task, k)
    if (is.na(dir)) next
    obs <- read_row(file.path(dir, "observation.csv"))
    ref <- as.matrix(utils::read.csv(bzfile(file.path(dir, "reference_posterior_samples.csv.bz2"))))
    draws <- NULL
    t <- elapsed(draws <- sample_posterior(fit, obs, n_draws = 10000, seed = k, threads = threads))
    t_sample <- max(t_sample, t, na.rm = TRUE)
    scores[k] <- c2st(draws, ref, seed = 1, threads = c2st_threads)$score
    if (nzchar(Sys.getenv("AMORTIZED_DIAGNOSE"))) {
      d <- posterior::as_draws_matrix(draws)
      d <- matrix(as.numeric(d), nrow(d), dimnames = list(NULL, colnames(ref)))
      z <- (colMeans(d) - colMeans(ref)) / apply(ref, 2, stats::sd)
      r <- apply(d, 2, stats::sd) / apply(ref, 2, stats::sd)
      shape <- c2st(sweep(d, 2, colMeans(d) - colMeans(ref)), ref, seed = 1, threads = c2st_threads)$score
      cat(sprintf("  observation %d: C2ST %.3f, with the mean moved to the reference's %.3f | mean errors max %.2f, rms %.2f sd | sd ratios %.2f-%.2f\n",
                  k, scores[k], shape, max(abs(z)), sqrt(mean(z^2)), min(r), max(r)))
    }
  }
  ep <- nrow(fit$history)
  cat(sprintf("%-16s C2ST %s  mean %s | train %5.1f s (%d epochs, best %d) | 10k draws %5.3f s | 1000 x 100 obs %5.3f s\n",
              task, paste(ifelse(is.na(scores), "  -  ", sprintf("%.3f", scores)), collapse = " "),
              if (all(is.na(scores))) "  -  " else sprintf("%.3f", mean(scores, na.rm = TRUE)),
              t_train, ep, fit$info$best_epoch, t_sample, t_batch))
  rows[[task]] <- data.frame(task = task, c2st = mean(scores, na.rm = TRUE), train_s = t_train,
                             batch_sample_s = t_batch)
}
invisible(rows)
