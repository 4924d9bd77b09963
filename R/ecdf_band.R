# Simultaneous confidence bands for the ECDF of SBC ranks (Säilynoja,
# Bürkner & Vehtari, 2022, the simulation method), and the uniformity test
# they imply. Pure functions of (N, number of draws); results are cached.
#
# With L draws a rank r lies in 0..L. u = (r + 1) / (L + 1) then has, at the
# grid points z_i = i / (L + 1), exactly the ECDF of a continuous uniform
# sample at z_i: N * ECDF(z_i) ~ Binomial(N, z_i). The band uses pointwise
# binomial intervals at level gamma, with gamma chosen so that a whole
# uniform ECDF path stays inside with the requested probability: gamma is a
# quantile of the smallest pointwise two-sided tail probability over
# simulated uniform samples.

band_cache <- new.env(parent = emptyenv())

# Grid indices i (z = i / (L + 1)) at which ECDFs are compared: all 1..L
# when L <= max_points, else max_points evenly spread ones.
sbc_grid <- function(n_draws, max_points = 100) {
  if (n_draws <= max_points) return(seq_len(n_draws))
  unique(round(seq(1, n_draws, length.out = max_points)))
}

# The grid points z_i = i / (L + 1) themselves.
sbc_z <- function(n_draws) sbc_grid(n_draws) / (n_draws + 1)

# Smallest two-sided binomial tail probability along each row of counts.
# counts: m x K matrix of N * ECDF at z (length K).
min_tail_prob <- function(counts, n, z) {
  zz <- rep(z, each = nrow(counts))
  lower <- stats::pbinom(counts, n, zz)
  upper <- stats::pbinom(counts - 1, n, zz, lower.tail = FALSE)
  tail <- matrix(pmin(1, 2 * pmin(lower, upper)), nrow = nrow(counts))
  do.call(pmin, as.data.frame(tail))
}

# The reference distribution of min_tail_prob for uniform samples of size n
# on grid z, from `m` simulated ECDF paths (fixed seed, cached).
uniform_min_tail <- function(n, z, m = 4000) {
  key <- paste(n, length(z), paste(signif(z, 8), collapse = ","), m)
  if (!is.null(band_cache[[key]])) return(band_cache[[key]])
  out <- with_seed(20220214, {
    counts <- matrix(0, m, length(z))
    have <- numeric(m)
    prev <- 0
    for (k in seq_along(z)) {
      # Conditional binomial increments: of the n - have points above prev,
      # each lands below z[k] with probability (z[k] - prev) / (1 - prev).
      have <- have + stats::rbinom(m, n - have, (z[k] - prev) / (1 - prev))
      counts[, k] <- have
      prev <- z[k]
    }
    min_tail_prob(counts, n, z)
  })
  band_cache[[key]] <- out
  out
}

# The simultaneous band for n ranks out of n_draws draws at `level`:
# data frame of z, lower and upper ECDF values.
sbc_band <- function(n, n_draws, level = 0.95) {
  z <- sbc_z(n_draws)
  gamma <- stats::quantile(uniform_min_tail(n, z), 1 - level, names = FALSE, type = 1)
  data.frame(z = z, lower = stats::qbinom(gamma / 2, n, z) / n,
             upper = stats::qbinom(1 - gamma / 2, n, z) / n, gamma = gamma)
}

# ECDF of ranks (one column per parameter) at the grid: K x p matrix.
rank_ecdf <- function(ranks, n_draws) {
  i <- sbc_grid(n_draws)
  apply(ranks, 2, function(r) vapply(i, function(k) mean(r < k), numeric(1)))
}

# p-value of the simultaneous-band uniformity test per parameter: the share
# of uniform samples whose ECDF path strays at least as far.
sbc_p_values <- function(ranks, n_draws) {
  n <- nrow(ranks)
  z <- sbc_z(n_draws)
  ecdf <- rank_ecdf(ranks, n_draws)
  observed <- min_tail_prob(t(round(ecdf * n)), n, z)
  reference <- uniform_min_tail(n, z)
  vapply(observed, function(o) (1 + sum(reference <= o)) / (1 + length(reference)), numeric(1))
}
