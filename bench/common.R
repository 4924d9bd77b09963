# Helpers the benchmark scripts share (run them from the project root).
c2st_threads <- as.integer(Sys.getenv("AMORTIZED_C2ST_THREADS", "2"))  # the classifier is the slow part; it does not measure us; 1 when other jobs share the cores
reference_root <- Sys.getenv("AMORTIZED_REFERENCE", file.path("..", "shared", "reference"))
# The folder of a task's reference observation k: ../shared/reference (the
# sbibm tasks) or bench/reference (the held-out tasks, made by
# bench/reference_posteriors.R); NA where neither has it.
reference_dir <- function(task, k) {
  for (root in c(reference_root, file.path("bench", "reference"))) {
    dir <- file.path(root, task, paste0("num_observation_", k))
    if (dir.exists(dir)) return(dir)
  }
  NA_character_
}
# Seconds of wall-clock time that evaluating expr takes.
elapsed <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  force(expr)
  proc.time()[["elapsed"]] - t0
}
# The values of a one-row CSV file (an observation of the reference tasks).
read_row <- function(path) unname(unlist(utils::read.csv(path)))
# The i-th command-line argument, converted by `as`, or `default`.
bench_arg <- function(i, default, as = as.integer) {
  args <- commandArgs(trailingOnly = TRUE)
  if (length(args) >= i) as(args[i]) else default
}
bench_list <- function(x) strsplit(x, ",")[[1]]
# Plots and tables go here (ignored by git).
out <- file.path("bench", "out")
dir.create(out, showWarnings = FALSE, recursive = TRUE)
