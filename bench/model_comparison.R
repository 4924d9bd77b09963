# Benchmark (not a test): amortized model comparison.
# 1. Known answer: y_1..n iid N(mu, 1), model null: mu = 0, model effect:
#    mu ~ N(0, 1), n = 5..50: the exact posterior model probabilities are
#    closed-form; mean absolute error over 1,000 held-out data sets.
# 2. Realistic: the drift-diffusion model (benchmark_simulator("ddm")'s C++
#    simulator, 50..200 trials) with a free starting point z ~ U(0.3, 0.7)
#    against the unbiased one (z = 0.5).
# For each: training time, accuracy and expected calibration error on
# 10,000 held-out simulations, and the time for the probabilities of 1,000
# data sets (the best of 3); the calibration and confusion plots are saved
# under bench/out/.
#
# Run: Rscript bench/model_comparison.R [n_sims] [threads] [cases: known,ddm]
suppressMessages(library(amortized))
source(file.path("bench", "common.R"))
n_sims <- bench_arg(1, 20000L)
threads <- bench_arg(2, 1L)
cases <- bench_arg(3, c("known", "ddm"), as = bench_list)

normal_model <- function(theta, n_obs) {
  array(stats::rnorm(nrow(theta) * n_obs, theta[, 1]), c(nrow(theta), n_obs, 1), dimnames = list(NULL, NULL, "y"))
}
known <- list(null = simulator(function(n) cbind(mu = rep(0, n)), normal_model, context = list(n_obs = 5:50)),
              effect = simulator(function(n) cbind(mu = stats::rnorm(n)), normal_model, context = list(n_obs = 5:50)))
exact_effect <- function(y) {
  n <- length(y)
  log_null <- sum(stats::dnorm(y, log = TRUE))
  log_effect <- -0.5 * n * log(2 * pi) - 0.5 * log(n + 1) - 0.5 * (sum(y^2) - n^2 * mean(y)^2 / (n + 1))
  1 / (1 + exp(log_null - log_effect))
}

# The C++ drift-diffusion simulator for given parameters (v, a, z, t0).
ddm_model <- function(theta, n_obs) {
  amortized:::.amz_benchmark_simulate_given("ddm", theta, floor(stats::runif(1) * 2^31), 1L, n_obs, matrix(0, 0, 0))$data
}
ddm_prior <- function(free_z) {
  function(n) cbind(v = stats::runif(n, -3, 3), a = stats::runif(n, 0.5, 2),
                    z = if (free_z) stats::runif(n, 0.3, 0.7) else rep(0.5, n), t0 = stats::runif(n, 0.1, 0.5))
}
ddm <- list(unbiased = simulator(ddm_prior(FALSE), ddm_model, context = list(n_obs = 50:200)),
            free_start = simulator(ddm_prior(TRUE), ddm_model, context = list(n_obs = 50:200)))

cat(sprintf("Model comparison benchmark: %d simulations, %d thread(s), deep_set() summary, defaults\n\n", n_sims, threads))
for (case in cases) {
  candidates <- if (case == "known") known else ddm
  cmp <- NULL
  t_train <- elapsed(cmp <- train(amortizer(summary_net = deep_set(), estimate = "models"), candidates,
                                  n_sims = n_sims, seed = 1, verbose = FALSE, threads = threads))
  held <- simulate(candidates, 1000, seed = 2)
  data <- lapply(seq_len(1000), function(i) held$data[i, seq_len(held$lengths[i]), , drop = FALSE][1, , ])
  invisible(posterior_model_probs(cmp, data[1:2], threads = threads))
  t_probs <- min(vapply(1:3, function(r) elapsed(posterior_model_probs(cmp, data, threads = threads)), 0))
  mae <- if (case == "known") {
    p <- posterior_model_probs(cmp, data, threads = threads)
    sprintf(" | MAE vs exact %.4f", mean(abs(p$effect - vapply(data, exact_effect, 0))))
  } else ""
  cal <- calibration_curve(cmp, n_sims = 10000, seed = 3, threads = threads)
  cm <- confusion_matrix(cmp, n_sims = 10000, seed = 3, threads = threads)
  ggplot2::ggsave(file.path(out, paste0("model_calibration_", case, ".png")), autoplot(cal), width = 7, height = 4)
  ggplot2::ggsave(file.path(out, paste0("model_confusion_", case, ".png")), autoplot(cm), width = 5, height = 4)
  cat(sprintf("%-6s train %5.1f s (%d epochs) | accuracy %.3f | ECE %s%s | probabilities of 1,000 data sets %.3f s\n",
              case, t_train, nrow(cmp$history), cm$accuracy,
              paste(sprintf("%.4f", cal$ece), collapse = "/"), mae, t_probs))
}
