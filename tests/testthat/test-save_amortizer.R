small_fit <- function() {
  sim <- benchmark_simulator("two_moons")
  train(amortizer(coupling_flow(n_layers = 2, hidden = 8), configurator = configurator(constrain(theta_1 = c(-1, 1)))),
        sim, n_sims = 400, epochs = 2, seed = 1, verbose = FALSE)
}

# Runs R code in a fresh R process and returns what it prints.
fresh_r <- function(code) {
  script <- tempfile(fileext = ".R")
  writeLines(code, script)
  out <- system2(file.path(R.home("bin"), "Rscript"), c("--vanilla", script), stdout = TRUE, stderr = TRUE)
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) stop(paste(out, collapse = "\n"))
  out
}

test_that("save_amortizer() and load_amortizer() round-trip in this and in a fresh R process", {
  fit <- small_fit()
  path <- file.path(new_temp_dir(), "fit.amortizer")
  expect_identical(save_amortizer(fit, path), path)
  back <- load_amortizer(path)
  x <- c(0.1, -0.2)
  expect_identical(as.matrix(sample_posterior(back, x, 50, seed = 3)), as.matrix(sample_posterior(fit, x, 50, seed = 3)))
  expect_equal(back$history, fit$history)
  expect_identical(back$config, fit$config)
  expect_identical(back$state, fit$state)
  expect_output(print(back), "bounds: theta_1 in \\(-1, 1\\)")
  expect_error(save_amortizer(fit, path), "already exists", class = "amortized_error_argument")
  expect_silent(save_amortizer(fit, path, overwrite = TRUE))
  expect_error(save_amortizer(amortizer(), path, overwrite = TRUE), "not trained yet", class = "amortized_error_untrained")
  # a fresh R session: file and RDS give the same draws
  rds <- file.path(dirname(path), "fit.rds")
  saveRDS(fit, rds)
  want <- as.matrix(sample_posterior(fit, x, 5, seed = 9))[, c("theta_1", "theta_2")]
  out <- fresh_r(c("suppressMessages(library(amortized))",
                   sprintf("a <- load_amortizer('%s'); b <- readRDS('%s')", path, rds),
                   "da <- as.matrix(sample_posterior(a, c(0.1, -0.2), 5, seed = 9))[, c('theta_1', 'theta_2')]",
                   "db <- as.matrix(sample_posterior(b, c(0.1, -0.2), 5, seed = 9))[, c('theta_1', 'theta_2')]",
                   "cat(sprintf('%.12f', c(da, db)), sep = '\\n')"))
  got <- as.numeric(out)
  expect_equal(got[1:10], as.vector(want), tolerance = 1e-10)
  expect_equal(got[11:20], as.vector(want), tolerance = 1e-10)
})

test_that("damaged, foreign and newer files give clear errors", {
  fit <- small_fit()
  dir <- new_temp_dir()
  path <- file.path(dir, "fit.amortizer")
  save_amortizer(fit, path)
  bytes <- readBin(path, "raw", file.size(path))
  write_variant <- function(b) {
    p <- tempfile(tmpdir = dir)
    writeBin(b, p)
    p
  }
  flipped <- bytes
  flipped[length(bytes) - 10] <- xor(flipped[length(bytes) - 10], as.raw(1))
  expect_error(load_amortizer(write_variant(flipped)), "checksum of its weights", class = "amortized_error_file")
  expect_error(load_amortizer(write_variant(bytes[-length(bytes)])), "truncated", class = "amortized_error_file")
  expect_error(load_amortizer(write_variant(charToRaw("hello world, not a model at all"))), "does not start like",
               class = "amortized_error_file")
  text <- rawToChar(bytes[21:(20 + readBin(bytes[17:20], "integer", size = 4, endian = "little"))])
  current <- amortized:::model_format_version
  newer <- sub(sprintf('"format_version":%d', current), '"format_version":9', text, fixed = TRUE)
  expect_equal(nchar(newer), nchar(text))
  v <- bytes
  v[21:(20 + nchar(text))] <- charToRaw(newer)
  expect_error(load_amortizer(write_variant(v)), sprintf("format 9 .* reads up to format %d", current),
               class = "amortized_error_file")
  broken <- bytes
  broken[21] <- charToRaw("x")
  expect_error(load_amortizer(write_variant(broken)), "not valid JSON", class = "amortized_error_file")
  expect_error(load_amortizer(file.path(dir, "nope")), "does not exist", class = "amortized_error_argument")
})

test_that("model files of every format written so far keep loading", {
  files <- list.files(test_path("fixtures"), pattern = "\\.amortizer$", full.names = TRUE)
  expect_gte(length(files), 1)
  for (f in files) {
    fit <- load_amortizer(f)
    expected <- utils::read.csv(sub("\\.amortizer$", "_log_density.csv", f))
    theta <- as.matrix(expected[, c("mu", "sigma")])
    got <- posterior_log_density(fit, theta, c(0.3, -1.2, 0.8, 1.9, 0.1))
    expect_equal(got, expected$log_density, tolerance = float32_tolerance(), label = basename(f))  # written on another CPU
    d <- as.matrix(sample_posterior(fit, c(0.3, -1.2, 0.8, 1.9, 0.1), n_draws = 100, seed = 1))
    expect_true(all(d[, "sigma"] > 0))
  }
})

test_that("a trained amortizer travels to future workers (a separate R process)", {
  skip_on_cran()
  fit <- small_fit()
  old <- future::plan(future::multisession, workers = 1)
  on.exit(future::plan(old), add = TRUE)
  x <- c(0.1, -0.2)
  f <- future::future(as.matrix(amortized::sample_posterior(fit, x, 5, seed = 4)), seed = TRUE)
  expect_equal(future::value(f), as.matrix(sample_posterior(fit, x, 5, seed = 4)))
})

test_that("amortizers of an older format (saveRDS) are brought forward and sample identically", {
  # without declared structure: the fields added since format 1 are empty, as format 1 implies; the
  # spline's interval of format 1 (tail_bound 3, which an upgrade restores)
  fit <- train(amortizer(coupling_flow(n_layers = 2, hidden = 8, tail_bound = 3), use_structure = FALSE),
               benchmark_simulator("two_moons"), n_sims = 400, epochs = 2, seed = 1, verbose = FALSE)
  added <- c("symmetric", "rotation", "truncate_lower", "truncate_upper", "equivariances")
  expect_true(all(lengths(fit$config$core[added]) == 0))
  x <- c(0.1, -0.2)
  want <- as.matrix(sample_posterior(fit, x, 50, seed = 3))
  expect_identical(fit$kind, "posterior")
  expect_identical(fit$format_version, amortized:::amortizer_format_version)
  # format 1: no kind or format, the embedding's tensors at the top, fewer config fields and net options
  old <- unserialize(serialize(fit, NULL))
  old$.handle <- new.env(parent = emptyenv())
  old$kind <- NULL
  old$format_version <- NULL
  old$state$names <- sub("^embedding\\.", "", old$state$names)
  old$optimizer_state$names <- sub("^embedding\\.", "", old$optimizer_state$names)
  old$config$core[added] <- NULL
  old$inference_net[c("bins", "tail_bound")] <- NULL
  expect_true(any(!startsWith(old$state$names, "net.")))
  up <- upgrade_amortizer(old)
  expect_identical(up$state$names, fit$state$names)
  expect_identical(up$optimizer_state$names, fit$optimizer_state$names)
  expect_identical(up$kind, "posterior")
  expect_identical(upgrade_amortizer(up), up)
  expect_identical(as.matrix(sample_posterior(old, x, 50, seed = 3)), want)
  # and training goes on from it
  more <- train(old, simulate(benchmark_simulator("two_moons"), 200, seed = 2), epochs = 1, seed = 1, verbose = FALSE)
  expect_identical(more$format_version, amortized:::amortizer_format_version)
  expect_equal(nrow(more$history), nrow(fit$history) + 1)
})

test_that("load_amortizer() restores no code unless trusted", {
  sim <- simulator(function(n) cbind(mu = rnorm(n)), function(theta) cbind(y = rnorm(nrow(theta), theta[, 1])),
                   log_prior = function(theta) dnorm(theta[, "mu"], log = TRUE))
  fit <- train(amortizer(coupling_flow(n_layers = 2, hidden = c(8, 8))), sim, n_sims = 300, epochs = 1,
               verbose = FALSE)
  flag <- file.path(new_temp_dir(), "ran")
  # code a crafted file could carry, in a field and in an attribute
  fit$prior$draw <- eval(bquote(function(n) { writeLines("ran", .(flag)); stop("ran") }))
  attr(fit$history, "hook") <- eval(bquote(function() writeLines("ran", .(flag))))
  path <- file.path(new_temp_dir(), "fit.amz")
  save_amortizer(fit, path)
  expect_message(back <- load_amortizer(path), "holds R code; it was not restored: the prior",
                 class = "amortized_message_code_dropped")
  has_code <- function(x) {
    if (is.function(x) || is.language(x) || is.environment(x)) return(TRUE)
    if (!is.null(attributes(x)) && any(vapply(attributes(x), has_code, logical(1)))) return(TRUE)
    is.list(x) && any(vapply(x, has_code, logical(1)))
  }
  expect_false(has_code(unclass(back)[setdiff(names(back), ".handle")]))
  expect_null(back$prior)
  expect_false(file.exists(flag))
  # the weights are all there
  expect_identical(as.matrix(sample_posterior(back, 0.5, n_draws = 20, seed = 1)),
                   as.matrix(sample_posterior(fit, 0.5, n_draws = 20, seed = 1)))
  trusted <- load_amortizer(path, trust = TRUE)
  expect_true(is.function(trusted$prior$log_density))
  expect_false(file.exists(flag))  # restoring code does not run it
})

test_that("sizes in a crafted header are checked against the file before anything is allocated", {
  fit <- small_fit()
  dir <- new_temp_dir()
  path <- file.path(dir, "fit.amortizer")
  save_amortizer(fit, path)
  bytes <- readBin(path, "raw", file.size(path))
  n_header <- readBin(bytes[17:20], "integer", size = 4, endian = "little")
  header <- jsonlite::fromJSON(rawToChar(bytes[21:(20 + n_header)]), simplifyVector = FALSE)
  payload <- bytes[-seq_len(20 + n_header)]
  rewrite <- function(h, values = payload) {
    json <- charToRaw(as.character(jsonlite::toJSON(h, auto_unbox = TRUE, digits = NA, null = "null")))
    p <- tempfile(tmpdir = dir)
    writeBin(c(bytes[1:16], writeBin(length(json), raw(), size = 4, endian = "little"), json, values), p)
    p
  }
  huge <- header
  huge$n_values <- 1e15
  expect_error(load_amortizer(rewrite(huge)), "size does not match its header", class = "amortized_error_file")
  # a network asking for more weights than the file holds is refused before it is built
  settings <- jsonlite::unserializeJSON(header$object)
  settings$inference_net$hidden <- c(1e9, 1e9)
  wide <- header
  wide$object <- unclass(jsonlite::serializeJSON(settings, digits = NA))
  t <- system.time(expect_error(load_amortizer(rewrite(wide)), "architecture asks for more weights",
                                class = "amortized_error_file"))
  expect_lt(t[["elapsed"]], 5)
  shapes <- header
  shapes$tensors$shapes[[1]] <- list(1e6, 1e6)
  expect_error(load_amortizer(rewrite(shapes)), "shapes of its tensors", class = "amortized_error_file")
})

test_that("readRDS() of something that is not an amortizer is a clear error in every verb", {
  path <- file.path(new_temp_dir(), "not.rds")
  saveRDS(data.frame(a = 1:3), path)
  x <- readRDS(path)
  fake <- structure(list(), class = "amortizer")  # the right class, nothing inside
  sim <- benchmark_simulator("gaussian_linear")
  y <- rep(0.1, 10)
  verbs <- list(
    sample_posterior = function(o) sample_posterior(o, y),
    posterior_log_density = function(o) posterior_log_density(o, rbind(rep(0, 10)), y),
    log_likelihood = function(o) log_likelihood(o, y, rbind(rep(0, 10))),
    learned_summaries = function(o) learned_summaries(o, y),
    misspecification_test = function(o) misspecification_test(o, y, sim),
    posterior_model_probs = function(o) posterior_model_probs(o, y),
    sbc = function(o) sbc(o, sim, n_sims = 10),
    recovery = function(o) recovery(o, simulate(sim, 10, seed = 1)),
    save_amortizer = function(o) save_amortizer(o, tempfile()),
    train = function(o) train(o, sim, n_sims = 10)
  )
  for (v in names(verbs)) {
    expect_error(verbs[[v]](x), class = "amortized_error_argument", info = v)
    err <- tryCatch(verbs[[v]](fake), error = function(e) e)
    expect_true(inherits(err, "amortized_error_argument") || inherits(err, "amortized_error_untrained") ||
                  inherits(err, "amortized_error_file"), info = v)
  }
})
