# Benchmark (not a test): simulations per second of the C++ benchmark
# simulators at 1 and 2 threads (parameters from the prior + data).
# Run: Rscript bench/simulators.R [n]
suppressMessages(library(amortized))
args <- commandArgs(trailingOnly = TRUE)
n <- if (length(args) >= 1) as.integer(args[1]) else 1000000L
cat(sprintf("%-20s %14s %14s\n", "simulator", "1 thread", "2 threads"))
for (name in c("gaussian_linear", "two_moons", "slcp", "gaussian_mixture", "inverse_kinematics")) {
  sim <- benchmark_simulator(name)
  rate <- vapply(1:2, function(threads) {
    invisible(simulate(sim, 1000, seed = 1, threads = threads))  # warm-up
    t <- system.time(simulate(sim, n, seed = 1, threads = threads))[["elapsed"]]
    n / t
  }, numeric(1))
  cat(sprintf("%-20s %12.3g/s %12.3g/s\n", name, rate[1], rate[2]))
}
