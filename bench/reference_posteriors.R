# Reference posteriors (not a test) for the held-out tasks that the project
# holds no reference for: bernoulli_glm, sir, lotka_volterra and
# gaussian_mixture. Five observations of our own, drawn from the prior
# predictive (seed 2026), and 10,000 exact posterior draws for each, in the
# layout of ../shared/reference (written to bench/reference/<task>/...):
# - gaussian_mixture: exact draws (the posterior is the likelihood's mixture
#   of two Gaussians around x, truncated to the prior's box: rejection);
# - the others: random-walk Metropolis on the exact likelihood
#   (`Simulator::log_likelihood` in C++) and prior, on log scale for positive
#   parameters, 8 chains started from an importance resample of 20,000 prior
#   draws, the proposal's covariance and scale adapted during warm-up only;
#   R-hat (rank-normalized) < 1.01 and bulk ESS are checked and printed: a
#   run that misses them is extended, and fails if it still does.
#
# Run: Rscript bench/reference_posteriors.R [tasks]   (default: all four)
# Then: AMORTIZED_REFERENCE=bench/reference Rscript bench/npe_benchmark.R bernoulli_glm
suppressMessages(library(amortized))
source(file.path("bench", "common.R"))
tasks <- bench_arg(1, c("gaussian_mixture", "bernoulli_glm", "sir", "lotka_volterra"), bench_list)
root <- file.path("bench", "reference")
n_draws <- 10000L
n_chains <- 8L

# log prior of the rows of theta (the simulator's options carry the design)
log_prior <- function(sim, theta) {
  amortized:::.amz_benchmark_log_prior(sim$name, theta, sim$options$n_obs, sim$options$design)
}

# log prior + log likelihood of x at the rows of theta
log_posterior <- function(sim, theta, x) {
  lp <- log_prior(sim, theta)
  ok <- is.finite(lp)
  out <- rep(-Inf, nrow(theta))
  if (any(ok)) {
    out[ok] <- lp[ok] + amortized:::.amz_benchmark_log_likelihood(
      sim$name, theta[ok, , drop = FALSE], x[rep(1, sum(ok)), , drop = FALSE], sim$options$n_obs, sim$options$design)
  }
  out[is.na(out)] <- -Inf
  out
}

# Random-walk Metropolis with n_chains chains moved together (one C++ call a
# step); u = log(theta) for positive parameters (Jacobian included).
metropolis <- function(sim, x, positive, warmup = 6000L, iter = 15000L, seed = 1) {
  set.seed(seed)
  d <- length(sim$parameter_names)
  to_theta <- function(u) if (positive) exp(u) else u
  target <- function(u) log_posterior(sim, to_theta(u), x) + if (positive) rowSums(u) else 0
  # start: an importance resample of prior draws, by their likelihood
  prior <- simulate(sim, 20000, seed = seed)$parameters
  w <- log_posterior(sim, prior, x) - log_prior(sim, prior)
  w[!is.finite(w)] <- -Inf
  p <- exp(w - max(w))
  p <- p / sum(p)
  start <- prior[sample.int(nrow(prior), n_chains, replace = TRUE, prob = p), , drop = FALSE]
  u <- if (positive) log(start) else start
  lp <- target(u)
  # the proposal starts from the importance sample's spread (the prior's / 1e4 if it is too thin)
  prior_u <- if (positive) log(prior) else prior
  cov_u <- if (1 / sum(p^2) > 20) stats::cov.wt(prior_u, p)$cov else stats::cov(prior_u) / 1e4
  scale <- 2.38^2 / d
  kept <- array(NA_real_, c(iter, n_chains, d))
  history <- matrix(NA_real_, warmup, d * n_chains)
  accepted <- 0
  for (t in seq_len(warmup + iter)) {
    chol_u <- chol(scale * cov_u + diag(1e-12, d))
    prop <- u + matrix(stats::rnorm(n_chains * d), n_chains, d) %*% chol_u
    lq <- target(prop)
    move <- log(stats::runif(n_chains)) < lq - lp
    u[move, ] <- prop[move, ]
    lp[move] <- lq[move]
    if (t <= warmup) {
      history[t, ] <- c(u)
      accepted <- accepted + mean(move)
      if (t %% 100 == 0) {  # adapt: scale toward 25% acceptance; covariance of the pooled second half so far
        rate <- accepted / 100
        scale <- scale * exp(3 * (rate - 0.25))
        accepted <- 0
        if (t >= 1000 && t %% 500 == 0) {
          recent <- history[ceiling(t / 2):t, , drop = FALSE]
          pooled <- do.call(rbind, lapply(seq_len(n_chains), function(k) recent[, (0:(d - 1)) * n_chains + k, drop = FALSE]))
          cov_u <- stats::cov(pooled) + diag(1e-10, d)
          scale <- 2.38^2 / d
        }
      }
    } else {
      kept[t - warmup, , ] <- u
    }
  }
  thin <- max(1L, iter * n_chains %/% n_draws)
  draws <- kept[seq(thin, iter, by = thin), , , drop = FALSE]
  if (positive) draws <- exp(draws)
  dimnames(draws) <- list(NULL, NULL, sim$parameter_names)
  posterior::as_draws_array(draws)
}

exact_mixture <- function(x, n) {
  out <- matrix(NA_real_, 0, 2)
  while (nrow(out) < n) {
    sd <- ifelse(stats::runif(2 * n) < 0.5, 1, 0.1)
    th <- cbind(x[1] + sd * stats::rnorm(2 * n), x[2] + sd * stats::rnorm(2 * n))
    out <- rbind(out, th[rowSums(abs(th) <= 10) == 2, , drop = FALSE])
  }
  out[seq_len(n), , drop = FALSE]
}

for (task in tasks) {
  sim <- benchmark_simulator(task)
  obs <- simulate(sim, 50, seed = 2026)
  ok <- which(rowSums(is.finite(obs$data)) == ncol(obs$data))[1:5]
  positive <- task %in% c("sir", "lotka_volterra")
  for (k in 1:5) {
    x <- obs$data[ok[k], , drop = FALSE]
    truth <- obs$parameters[ok[k], , drop = FALSE]
    t0 <- proc.time()[["elapsed"]]
    if (task == "gaussian_mixture") {
      set.seed(k)
      draws <- exact_mixture(c(x), n_draws)
      colnames(draws) <- sim$parameter_names
      diag_line <- "exact (rejection)"
    } else {
      iter <- 15000L
      repeat {
        arr <- metropolis(sim, x, positive, iter = iter, seed = k)
        s <- posterior::summarise_draws(arr, "rhat", "ess_bulk")
        diag_line <- sprintf("max R-hat %.4f, min bulk ESS %.0f (%d iterations x %d chains)",
                             max(s$rhat), min(s$ess_bulk), iter, n_chains)
        if (max(s$rhat) < 1.01 && min(s$ess_bulk) > 1000) break
        if (iter >= 60000L) stop(task, " observation ", k, ": ", diag_line)
        iter <- iter * 2L
      }
      draws <- posterior::as_draws_matrix(arr)[, sim$parameter_names]
      draws <- unclass(draws)[sample.int(nrow(draws), min(n_draws, nrow(draws))), , drop = FALSE]
      attr(draws, "nchains") <- NULL
    }
    dir <- file.path(root, task, paste0("num_observation_", k))
    dir.create(dir, recursive = TRUE, showWarnings = FALSE)
    write_row <- function(v, prefix, file) {
      utils::write.csv(stats::setNames(as.data.frame(matrix(v, 1)), paste0(prefix, seq_along(v))),
                       file.path(dir, file), row.names = FALSE)
    }
    write_row(c(x), "data_", "observation.csv")
    write_row(c(truth), "parameter_", "true_parameters.csv")
    con <- bzfile(file.path(dir, "reference_posterior_samples.csv.bz2"), "w")
    utils::write.csv(stats::setNames(as.data.frame(signif(matrix(draws, ncol = ncol(draws)), 8)),
                                     paste0("parameter_", seq_len(ncol(draws)))), con, row.names = FALSE)
    close(con)
    cat(sprintf("%-16s obs %d: %s; %.0f s\n", task, k, diag_line, proc.time()[["elapsed"]] - t0))
  }
}
