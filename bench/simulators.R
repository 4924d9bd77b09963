# Benchmark (not a test): simulations per second of the C++ benchmark
# simulators at 1 and 2 threads (parameters from the prior + data), and of
# idiomatic R versions of two_moons (vectorized) and SIR (deSolve) for
# comparison. Run: Rscript bench/simulators.R [n]
suppressMessages(library(amortized))
args <- commandArgs(trailingOnly = TRUE)
n <- if (length(args) >= 1) as.integer(args[1]) else 1000000L

# Fewer simulations for the slow ones so that each line takes seconds.
size <- c(sir = n / 20, lotka_volterra = n / 20, ddm = n / 1000)
# The best of three runs (each timed alone), for C++ and R alike.
best_time <- function(expr) {
  expr <- substitute(expr)
  env <- parent.frame()
  min(replicate(3, system.time(eval(expr, env))[["elapsed"]]))
}
rates <- list()
cat(sprintf("%-20s %14s %14s\n", "simulator", "1 thread", "2 threads"))
for (name in amortized:::.amz_benchmark_names()) {
  sim <- benchmark_simulator(name)  # ddm: 100 trials per data set
  m <- if (is.na(size[name])) n else as.integer(size[name])
  rate <- vapply(1:2, function(threads) {
    invisible(simulate(sim, 100, seed = 1, threads = threads))  # warm-up
    m / best_time(suppressWarnings(simulate(sim, m, seed = 1, threads = threads)))
  }, numeric(1))
  rates[[name]] <- rate
  cat(sprintf("%-20s %12.3g/s %12.3g/s\n", name, rate[1], rate[2]))
}

# Idiomatic R: two_moons vectorized over simulations.
two_moons_r <- function(n) {
  theta <- matrix(runif(2 * n, -1, 1), n)
  a <- runif(n, -pi / 2, pi / 2)
  r <- rnorm(n, 0.1, 0.01)
  cbind(r * cos(a) + 0.25 - abs(theta[, 1] + theta[, 2]) / sqrt(2),
        r * sin(a) + (theta[, 2] - theta[, 1]) / sqrt(2))
}
# Idiomatic R: SIR with deSolve (lsoda, tight tolerances), one solve per simulation.
sir_r <- function(n) {
  beta <- rlnorm(n, log(0.4), 0.5)
  gamma <- rlnorm(n, log(0.125), 0.2)
  f <- function(t, y, p) {
    inf <- p[1] * y[1] * y[2] / 1e6
    list(c(-inf, inf - p[2] * y[2], p[2] * y[2]))
  }
  days <- seq(0, 153, by = 17)
  t(vapply(seq_len(n), function(i) {
    out <- deSolve::lsoda(c(1e6 - 1, 1, 0), days, f, c(beta[i], gamma[i]), rtol = 1e-10, atol = 1e-8)
    stats::rbinom(10, 1000, pmin(pmax(out[, 3] / 1e6, 0), 1))
  }, numeric(10)))
}
cat("\nR implementations (1 R session) and the speed-up of C++ at 1 and 2 threads:\n")
r_rate <- function(f, m) {
  invisible(f(10))
  m / best_time(f(m))
}
tm <- r_rate(two_moons_r, n)
speedup <- function(rate, r) sprintf("C++ is %5.1fx (1 thread) and %5.1fx (2 threads) faster", rate[1] / r, rate[2] / r)
cat(sprintf("%-20s %12.3g/s   %s\n", "two_moons (R)", tm, speedup(rates$two_moons, tm)))
if (requireNamespace("deSolve", quietly = TRUE)) {
  sr <- r_rate(sir_r, 2000)
  cat(sprintf("%-20s %12.3g/s   %s\n", "sir (R, deSolve)", sr, speedup(rates$sir, sr)))
} else {
  cat("sir (R, deSolve): deSolve is not installed\n")
}
