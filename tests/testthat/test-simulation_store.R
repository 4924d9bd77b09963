# simulate(store = ): finished chunks survive a killed process, a second
# call simulates the missing ones only and gives what an uninterrupted run
# gives; failing chunks are retried once, then reported while the others
# are kept; a store of another run is an error; train() takes a store.

store_prior <- function(n) cbind(mu = rnorm(n))
# Counts its calls in $AMZ_STORE_COUNTER; kills its own process at call
# $AMZ_KILL_AT; fails on call $AMZ_FAIL_ONCE; fails whenever $AMZ_FAIL_BIG
# is set and the chunk's first mu exceeds 1.
store_model <- function(theta) {
  counter <- Sys.getenv("AMZ_STORE_COUNTER")
  k <- if (file.exists(counter)) as.integer(readLines(counter)) + 1L else 1L
  writeLines(as.character(k), counter)
  if (identical(Sys.getenv("AMZ_KILL_AT"), as.character(k))) tools::pskill(Sys.getpid(), tools::SIGKILL)
  if (identical(Sys.getenv("AMZ_FAIL_ONCE"), as.character(k))) stop("a transient fault")
  if (nzchar(Sys.getenv("AMZ_FAIL_BIG")) && theta[1, 1] > 1) stop("mu too big")
  cbind(y = rnorm(nrow(theta), theta[, 1]))
}
store_sim <- function() simulator(store_prior, store_model)
model_calls <- function() as.integer(readLines(Sys.getenv("AMZ_STORE_COUNTER")))
chunk_files <- function(dir) list.files(dir, pattern = "^chunk-")

with_counter <- function(code) {
  withr::local_envvar(AMZ_STORE_COUNTER = file.path(new_temp_dir(), "calls"))
  force(code)
}

test_that("a killed run resumes with the missing chunks only and matches an uninterrupted one", {
  skip_if_not_installed("callr")
  with_counter({
    dir <- file.path(new_temp_dir(), "store")
    sim <- store_sim()  # its construction calls the model once (a probe)
    start <- model_calls()
    t_killed <- system.time(expect_error(callr::r(function(sim, dir, counter, kill_at) {
      library(amortized)
      Sys.setenv(AMZ_KILL_AT = kill_at, AMZ_STORE_COUNTER = counter)
      simulate(sim, 1000, seed = 7, chunk_size = 100, store = dir, progress = FALSE)
    }, args = list(sim, dir, Sys.getenv("AMZ_STORE_COUNTER"), as.character(start + 4)))))[["elapsed"]]
    expect_equal(model_calls() - start, 4)  # killed in the 4th chunk
    expect_length(chunk_files(dir), 3)
    expect_length(list.files(dir, pattern = "partial", all.files = TRUE), 0)
    t_resume <- system.time(resumed <- simulate(sim, 1000, store = dir, chunk_size = 100,
                                                progress = FALSE))[["elapsed"]]  # the stored seed
    expect_equal(model_calls() - start, 4 + 7)
    expect_length(chunk_files(dir), 10)
    whole <- simulate(sim, 1000, seed = 7, chunk_size = 100, progress = FALSE)
    expect_identical(resumed$parameters, whole$parameters)
    expect_identical(resumed$data, whole$data)
    # complete: nothing more is simulated
    before <- model_calls()
    again <- simulate(sim, 1000, seed = 7, chunk_size = 100, store = dir, progress = FALSE)
    expect_equal(model_calls(), before)
    expect_identical(again$data, whole$data)
    message(sprintf("store resume test: killed run %.1f s, resume %.2f s", t_killed, t_resume))
  })
})

test_that("Ctrl-C while futures are in flight returns at once and keeps the finished chunks", {
  skip_if_not_installed("callr")
  skip_on_cran()
  dir <- file.path(new_temp_dir(), "store")
  slow <- simulator(store_prior, function(theta) {
    if (nzchar(Sys.getenv("AMZ_SLOW"))) Sys.sleep(0.25)  # only in the run that is interrupted
    cbind(y = rnorm(nrow(theta), theta[, 1]))
  })
  p <- callr::r_bg(function(sim, dir) {
    library(amortized)
    Sys.setenv(AMZ_SLOW = "yes")  # the workers inherit it
    future::plan(future::multisession, workers = 2)
    simulate(sim, 4000, seed = 11, chunk_size = 100, store = dir, progress = FALSE)
  }, args = list(slow, dir))
  on.exit(p$kill(), add = TRUE)
  deadline <- Sys.time() + 60
  while (length(chunk_files(dir)) < 4 && p$is_alive() && Sys.time() < deadline) Sys.sleep(0.05)
  expect_true(p$is_alive())  # 40 chunks of 0.25 s on 2 workers: far from done
  p$interrupt()  # SIGINT, as Ctrl-C sends
  t <- system.time(p$wait(5000))[["elapsed"]]
  expect_false(p$is_alive())
  expect_lt(t, 1.5)
  kept <- length(chunk_files(dir))
  expect_gte(kept, 4)
  expect_lt(kept, 40)
  # the same call finishes the run; the result is that of an uninterrupted one
  resumed <- simulate(slow, 4000, seed = 11, chunk_size = 100, store = dir, progress = FALSE)
  expect_length(chunk_files(dir), 40)
  whole <- simulate(slow, 4000, seed = 11, chunk_size = 100, progress = FALSE)
  expect_identical(resumed$data, whole$data)
})

test_that("a transient failure is retried; lasting ones are reported while every other chunk is kept", {
  with_counter({
    sim <- store_sim()
    dir <- file.path(new_temp_dir(), "store")
    withr::with_envvar(c(AMZ_FAIL_ONCE = as.character(model_calls() + 2)), {
      retried <- simulate(sim, 500, seed = 3, chunk_size = 100, store = dir, progress = FALSE)
    })
    expect_identical(retried$data, simulate(sim, 500, seed = 3, chunk_size = 100, progress = FALSE)$data)

    dir <- file.path(new_temp_dir(), "store")
    err <- withr::with_envvar(c(AMZ_FAIL_BIG = "yes"), {
      expect_error(simulate(sim, 2000, seed = 5, chunk_size = 100, store = dir, progress = FALSE),
                   "failed twice", class = "amortized_error_simulator_chunks")
    })
    expect_match(conditionMessage(err), "Chunk [0-9]+: .*mu too big")
    kept <- length(chunk_files(dir))
    expect_gt(kept, 0)
    expect_lt(kept, 20)
    # fixed: the same call finishes the run
    before <- model_calls()
    done <- simulate(sim, 2000, seed = 5, chunk_size = 100, store = dir, progress = FALSE)
    expect_equal(model_calls() - before, 20 - kept)
    expect_identical(done$data, simulate(sim, 2000, seed = 5, chunk_size = 100, progress = FALSE)$data)
  })
})

test_that("a damaged chunk is simulated again; a store of another run is an error", {
  with_counter({
    sim <- store_sim()
    dir <- file.path(new_temp_dir(), "store")
    first <- simulate(sim, 300, seed = 1, chunk_size = 100, store = dir, progress = FALSE)
    f <- file.path(dir, chunk_files(dir)[2])
    bytes <- readBin(f, "raw", file.size(f))
    bytes[length(bytes) %/% 2] <- as.raw(255 - as.integer(bytes[length(bytes) %/% 2]))
    writeBin(bytes, f)
    before <- model_calls()
    second <- simulate(sim, 300, seed = 1, chunk_size = 100, store = dir, progress = FALSE)
    expect_equal(model_calls() - before, 1)
    expect_identical(second$data, first$data)
    expect_error(simulate(sim, 400, seed = 1, chunk_size = 100, store = dir), "another run.*number of simulations",
                 class = "amortized_error_argument")
    expect_error(simulate(sim, 300, seed = 2, chunk_size = 100, store = dir), "seed",
                 class = "amortized_error_argument")
    expect_error(simulate(benchmark_simulator("two_moons"), 300, seed = 1, store = dir), "another run",
                 class = "amortized_error_argument")
  })
})

test_that("train() simulates into a store and takes a finished store", {
  dir <- file.path(new_temp_dir(), "store")
  sim <- benchmark_simulator("gaussian_linear")
  fit <- train(amortizer(), sim, n_sims = 600, epochs = 2, seed = 4, store = dir, verbose = FALSE)
  expect_length(chunk_files(dir), 1)
  expect_identical(simulate(sim, 600, seed = 4, store = dir)$data, simulate(sim, 600, seed = 4)$data)
  from_store <- train(amortizer(), dir, epochs = 2, seed = 4, verbose = FALSE)
  expect_equal(from_store$info$n_sims, 600)
  expect_equal(from_store$history$train_loss, fit$history$train_loss)
  expect_error(train(amortizer(), sim, online = TRUE, store = dir), "store", class = "amortized_error_argument")
  unlink(file.path(dir, chunk_files(dir)))
  expect_error(train(amortizer(), dir, epochs = 1), "incomplete", class = "amortized_error_data")
})
