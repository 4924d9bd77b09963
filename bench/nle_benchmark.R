# Benchmark (not a test): neural likelihood estimation on the standard tasks.
# For each task: train a likelihood amortizer on n_sims simulations (seed 1)
# with the defaults of train(); draw 10,000 posterior samples by MCMC
# (sample_posterior()) for each reference observation in ../shared/reference/
# (all five at once) and score them with C2ST against the exact posterior
# draws; print C2ST per observation and the mean, the training time, the time
# for 1,000 draws for one observation and for 100 observations at once. On
# gaussian_linear also train a joint amortizer and print the error of its
# log evidence against the exact one (x ~ N(0, 0.2 I)) on the five
# observations.
#
# Run: Rscript bench/nle_benchmark.R [task|all] [n_sims] [threads]
# e.g. Rscript bench/nle_benchmark.R two_moons 10000 1
# Environment: AMORTIZED_REFERENCE: the reference folder.
suppressMessages(library(amortized))
args <- commandArgs(trailingOnly = TRUE)
tasks <- if (length(args) >= 1 && args[1] != "all") strsplit(args[1], ",")[[1]] else
  c("two_moons", "slcp", "gaussian_linear")
n_sims <- if (length(args) >= 2) as.integer(args[2]) else 10000L
threads <- if (length(args) >= 3) as.integer(args[3]) else 1L
source(file.path("bench", "common.R"))
quietly <- function(expr) suppressWarnings(expr)  # R-hat warnings are reported in the table instead

cat(sprintf("NLE benchmark: %d simulations, %d thread(s), defaults\n\n", n_sims, threads))
for (task in tasks) {
  sim <- benchmark_simulator(task)
  fit <- NULL
  t_train <- elapsed(fit <- quietly(train(amortizer(estimate = "likelihood"), sim, n_sims = n_sims, seed = 1,
                                          verbose = FALSE, threads = threads)))
  obs100 <- simulate(sim, 100, seed = 99)$data
  t_one <- min(vapply(1:3, function(r) elapsed(quietly(sample_posterior(fit, obs100[1, ], 1000, seed = r,
                                                                        threads = threads))), 0))
  t_batch <- elapsed(quietly(sample_posterior(fit, obs100, n_draws = 1000, seed = 2, threads = threads)))
  dirs <- vapply(1:5, function(k) reference_dir(task, k), "")
  scores <- rep(NA_real_, 5)
  rhat <- NA_real_
  if (!anyNA(dirs)) {
    obs <- do.call(rbind, lapply(dirs, function(d) read_row(file.path(d, "observation.csv"))))
    draws <- quietly(sample_posterior(fit, obs, n_draws = 10000, seed = 1, threads = threads))
    rhat <- max(posterior::summarise_draws(draws, posterior::rhat)$`posterior::rhat`)
    k <- length(fit$parameter_names)
    for (i in 1:5) {
      ref <- as.matrix(utils::read.csv(bzfile(file.path(dirs[i], "reference_posterior_samples.csv.bz2"))))
      mine <- posterior::as_draws_matrix(draws)[, paste0(fit$parameter_names, "[", i, "]")]
      mine <- unclass(mine)[, seq_len(k)]
      colnames(mine) <- colnames(ref)
      scores[i] <- c2st(mine, ref, seed = 1, threads = c2st_threads)$score
    }
  }
  cat(sprintf("%-16s C2ST %s  mean %s | max R-hat %.3f | train %5.1f s (%d epochs) | 1000 draws %5.2f s | 1000 x 100 obs %5.1f s\n",
              task, paste(ifelse(is.na(scores), "  -  ", sprintf("%.3f", scores)), collapse = " "),
              if (all(is.na(scores))) "  -  " else sprintf("%.3f", mean(scores, na.rm = TRUE)), rhat,
              t_train, nrow(fit$history), t_one, t_batch))
  if (task == "gaussian_linear") {
    joint <- NULL
    t_joint <- elapsed(joint <- quietly(train(amortizer(estimate = "joint"), sim, n_sims = n_sims, seed = 1,
                                              verbose = FALSE, threads = threads)))
    x <- if (all(dir.exists(dirs))) obs else simulate(sim, 5, seed = 3)$data
    exact <- rowSums(stats::dnorm(x, 0, sqrt(0.2), log = TRUE))
    lml <- log_marginal_likelihood(joint, x, n_draws = 1000, seed = 1, threads = threads)
    cat(sprintf("%-16s joint: log evidence error %s (max |error| %.3f nats; se <= %.3f; spread <= %.2f) | train %5.1f s\n",
                task, paste(sprintf("%+.3f", lml$log_marginal_likelihood - exact), collapse = " "),
                max(abs(lml$log_marginal_likelihood - exact)), max(lml$se), max(lml$spread), t_joint))
  }
}
