# Helpers the benchmark scripts share (run them from the project root).
c2st_threads <- 2L  # the classifier is the slow part; it does not measure us
reference_root <- Sys.getenv("AMORTIZED_REFERENCE", file.path("..", "shared", "reference"))
# Seconds of wall-clock time that evaluating expr takes.
elapsed <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  force(expr)
  proc.time()[["elapsed"]] - t0
}
# The values of a one-row CSV file (an observation of the reference tasks).
read_row <- function(path) unname(unlist(utils::read.csv(path)))
