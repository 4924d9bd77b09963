# Benchmark (not a test): training recipes compared by the held-out negative
# log posterior density, -mean log q(theta | x) over 5,000 fresh simulations
# (lower is better; its differences are differences of the expected KL
# divergence from the true posterior, so no reference posteriors are needed
# and every task can be scored in seconds). Prints one row per task and recipe.
#
# Run: Rscript bench/recipe.R [tasks] [n_sims] [recipes]
#   tasks:   comma-separated benchmark tasks, or "normal" (the README's example)
#   recipes: R expressions for extra train() arguments, separated by ";"; an
#            element .amortizer = list(...) goes to amortizer() instead
# e.g. Rscript bench/recipe.R bernoulli_glm,sir 10000 'list();list(weight_decay = 1e-2)'
suppressMessages(library(amortized))
args <- commandArgs(trailingOnly = TRUE)
tasks <- strsplit(if (length(args) >= 1) args[1] else "normal,bernoulli_glm,sir,lotka_volterra", ",")[[1]]
n_sims <- if (length(args) >= 2) as.integer(args[2]) else 10000L
recipes <- strsplit(if (length(args) >= 3) args[3] else "list()", ";")[[1]]

task_simulator <- function(task) {
  if (task != "normal") return(benchmark_simulator(task))
  simulator(
    prior = function(n) cbind(mu = rnorm(n, 0, 2), sigma = rgamma(n, 2, 2)),
    model = function(theta) {
      n <- nrow(theta)
      matrix(rnorm(n * 20, theta[, "mu"], theta[, "sigma"]), n, 20)
    })
}
task_amortizer <- function(task, args = NULL) {
  if (is.null(args)) args <- list()
  if (task == "normal") args$configurator <- configurator(constrain(sigma = "positive"))
  do.call(amortizer, args)
}

cat(sprintf("%-16s %-40s %8s %6s %6s %8s\n", "task", "recipe", "test NLL", "epochs", "best", "train s"))
for (task in tasks) {
  sim <- task_simulator(task)
  train_sims <- simulate(sim, n_sims, seed = 1)
  test <- simulate(sim, 5000, seed = 77)
  for (r in recipes) {
    extra <- eval(parse(text = r))
    amortizer_args <- extra$.amortizer
    extra$.amortizer <- NULL
    fit <- NULL
    t <- system.time(fit <- suppressWarnings(do.call(train, c(list(task_amortizer(task, amortizer_args), train_sims, seed = 1,
                                                                 verbose = FALSE, threads = 1), extra))))
    lq <- posterior_log_density(fit, test$parameters[, fit$parameter_names, drop = FALSE], test$data, threads = 1)
    cat(sprintf("%-16s %-40s %8.4f %6d %6d %8.1f\n", task, r, -mean(lq[is.finite(lq)]), nrow(fit$history),
                fit$info$best_epoch, t[["elapsed"]]))
  }
}
