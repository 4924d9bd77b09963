# Benchmark (not a test): power of misspecification_test().
# Two models, each trained with and without summary_loss = "mmd":
# 1. normal: sets of 50 iid N(mu, 1) points, mu ~ N(0, 2), deep_set();
# 2. ar1: AR(1) series of 100 steps, x_t = rho x_{t-1} + e_t, e_t ~ N(0, 1),
#    rho ~ U(-0.9, 0.9), time_series_net().
# Misspecified data: the noise's sd times 1 .. 2 (1: well specified), or a
# fraction 0 .. 20% of the points (time steps) shifted by +-(3..6).
# For each: the rejection rate at 5% over `replicates` tests of one observed
# data set each (n_sims = 1000, n_null = 500), and the time per test.
# The power curves are saved as bench/out/misspecification_power.png.
#
# Run: Rscript bench/misspecification.R [replicates] [n_sims for training] [models: normal,ar1]
suppressMessages(library(amortized))
source(file.path("bench", "common.R"))
replicates <- bench_arg(1, 100L)
n_train <- bench_arg(2, 10000L)
which_models <- bench_arg(3, c("normal", "ar1"), as = bench_list)

normal_data <- function(mu, sd = 1, outliers = 0) {
  n <- length(mu)
  y <- matrix(rnorm(n * 50, mu, sd), n, 50)
  y + shifts(n, 50, outliers)
}
ar1_data <- function(rho, sd = 1, outliers = 0) {
  n <- length(rho)
  e <- matrix(rnorm(n * 100, 0, sd), n, 100)
  x <- e
  for (t in 2:100) x[, t] <- rho * x[, t - 1] + e[, t]
  x + shifts(n, 100, outliers)
}
# A fraction `f` of each row's entries shifted by +-U(3, 6).
shifts <- function(n, len, f) {
  s <- matrix(0, n, len)
  k <- round(f * len)
  if (k == 0) return(s)
  for (i in seq_len(n)) s[i, sample.int(len, k)] <- sample(c(-1, 1), k, replace = TRUE) * runif(k, 3, 6)
  s
}
models <- list(
  normal = list(sim = simulator(function(n) cbind(mu = rnorm(n, 0, 2)),
                                function(theta) array(normal_data(theta[, 1]), c(nrow(theta), 50, 1))),
                net = function() deep_set(), configurator = NULL,
                draw = function(sd, outliers) normal_data(rnorm(1, 0, 2), sd, outliers)[1, ]),
  ar1 = list(sim = simulator(function(n) cbind(rho = runif(n, -0.9, 0.9)),
                             function(theta) array(ar1_data(theta[, 1]), c(nrow(theta), 100, 1))),
             net = function() time_series_net(), configurator = configurator(as_time_series()),
             draw = function(sd, outliers) ar1_data(runif(1, -0.9, 0.9), sd, outliers)[1, ]))
levels <- rbind(data.frame(kind = "noise sd ratio", level = c(1, 1.2, 1.4, 1.6, 1.8, 2)),
                data.frame(kind = "outlier fraction", level = c(0, 0.04, 0.08, 0.12, 0.16, 0.2)))

cat(sprintf("Misspecification benchmark: %d replicates per point, %d training simulations, 1 thread\n\n",
            replicates, n_train))
rows <- list()
for (m in which_models) {
  for (loss in c("none", "mmd")) {
    fit <- NULL
    t_train <- elapsed(fit <- train(amortizer(summary_net = models[[m]]$net(), configurator = models[[m]]$configurator),
                                    models[[m]]$sim, n_sims = n_train,
                                    seed = 1, summary_loss = loss, verbose = FALSE))
    times <- numeric(0)
    for (i in seq_len(nrow(levels))) {
      set.seed(1000 * i)
      sd <- if (levels$kind[i] == "noise sd ratio") levels$level[i] else 1
      f <- if (levels$kind[i] == "outlier fraction") levels$level[i] else 0
      p <- vapply(seq_len(replicates), function(r) {
        y <- models[[m]]$draw(sd, f)
        res <- NULL
        times[length(times) + 1] <<- elapsed(res <- misspecification_test(fit, y, models[[m]]$sim, seed = r,
                                                                          threads = 1))
        res$p_value
      }, numeric(1))
      rows[[length(rows) + 1]] <- data.frame(model = m, summary_loss = loss, kind = levels$kind[i],
                                             level = levels$level[i], power = mean(p <= 0.05))
    }
    pw <- do.call(rbind, rows)
    pw <- pw[pw$model == m & pw$summary_loss == loss, ]
    cat(sprintf("%-6s summary_loss %-4s | train %5.1f s (%d epochs) | test %.3f s | %s\n", m, loss, t_train,
                nrow(fit$history), stats::median(times),
                paste(sprintf("%s %g: %.2f", ifelse(pw$kind == "noise sd ratio", "sd", "out"), pw$level, pw$power),
                      collapse = ", ")))
  }
}
power <- do.call(rbind, rows)
for (m in which_models) {
  utils::write.csv(power[power$model == m, ], file.path(out, paste0("misspecification_power_", m, ".csv")),
                   row.names = FALSE)
}
# the plot shows every model measured so far
power <- do.call(rbind, lapply(Sys.glob(file.path(out, "misspecification_power_*.csv")), utils::read.csv))
p <- ggplot2::ggplot(power, ggplot2::aes(.data$level, .data$power, colour = .data$summary_loss)) +
  ggplot2::geom_hline(yintercept = 0.05, linetype = 2, colour = "grey50") +
  ggplot2::geom_line() + ggplot2::geom_point() +
  ggplot2::facet_grid(model ~ kind, scales = "free_x") +
  ggplot2::labs(x = "degree of misspecification", y = "rejection rate at 5%", colour = "summary_loss",
                title = "misspecification_test(): power, one observed data set")
ggplot2::ggsave(file.path(out, "misspecification_power.png"), p, width = 8, height = 5)
