# A gaussian_linear amortizer trained once per test run and shared by the
# test files (training takes a few seconds).
fit_cache <- new.env(parent = emptyenv())

fitted_gaussian_linear <- function() {
  if (is.null(fit_cache$fit)) {
    # batch_size: the default of earlier versions, which the tolerances of the
    # tests that share this fit were set with (the default's accuracy is
    # measured by bench/npe_benchmark.R, not here)
    fit_cache$fit <- train(amortizer(), benchmark_simulator("gaussian_linear"),
                           n_sims = 10000, batch_size = 450, seed = 1, verbose = FALSE)
  }
  fit_cache$fit
}

# Fixed observations and the exact posterior N(x / 2, 0.05 I) of gaussian_linear.
gl_observations <- rbind(
  c(0.3, -0.2, 0.0, 0.5, -0.4, 0.1, 0.2, -0.3, 0.4, -0.1),
  c(-0.5, 0.4, 0.2, -0.1, 0.0, 0.6, -0.3, 0.1, -0.2, 0.3),
  rep(0.1, 10)
)

# A fresh directory under the session's temporary directory.
new_temp_dir <- function() {
  d <- tempfile("amortized-test-")
  dir.create(d)
  d
}

# Tolerances derived from the arithmetic (as tests/cpp/tolerance.h): the
# networks compute in float32, so two computations that are equal in exact
# arithmetic but take different paths (a transformed input, points in
# another order, a batch of another size, another CPU's instructions) agree
# to a few hundred float32 epsilons relative to the values' magnitude, not
# bit for bit. Bit-for-bit equality is only asked of the same computation
# with the same seed on the same machine and thread count.
float32_tolerance <- function(ulps = 256) ulps * 2^-23
