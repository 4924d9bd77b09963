test_that("write_simulations() and read_simulations() round-trip flat and set data", {
  dir <- new_temp_dir()
  flat <- simulate(benchmark_simulator("two_moons"), 300, seed = 1)
  write_simulations(flat, file.path(dir, "flat"))
  back <- read_simulations(file.path(dir, "flat"))
  expect_identical(back, flat)
  expect_identical(back$truncated, c("theta_1", "theta_2"))  # declared by two_moons
  expect_identical(back$reflections, flat$reflections)
  expect_equal(unname(back$reflections), matrix(sqrt(0.5), 1, 2))
  declared <- simulate(benchmark_simulator("slcp"), 30, seed = 1)  # a set of points, symmetric parameters
  write_simulations(declared, file.path(dir, "declared"))
  expect_identical(read_simulations(file.path(dir, "declared")), declared)
  expect_identical(declared$symmetric, c("theta_3", "theta_4"))
  expect_length(declared$equivariances, 3)  # kept: the read-back object is identical
  meta_file <- file.path(dir, "declared", "simulations.json")
  meta <- readLines(meta_file)
  writeLines(sub("-5", "-6", meta, fixed = TRUE), meta_file)  # theta_6 does not exist
  expect_error(read_simulations(file.path(dir, "declared")), "equivariances do not match the parameters",
               class = "amortized_error_data")
  positive <- simulate(benchmark_simulator("sir"), 20, seed = 1)  # support (0, Inf): infinity survives JSON
  write_simulations(positive, file.path(dir, "positive"))
  expect_identical(read_simulations(file.path(dir, "positive")), positive)
  expect_identical(unname(positive$support[2, ]), c(Inf, Inf))
  sets <- simulate(benchmark_simulator("ddm", n_obs = 7), 50, seed = 2)
  write_simulations(sets, file.path(dir, "sets"))
  expect_identical(read_simulations(file.path(dir, "sets")), sets)
  # the binary layout is row-major little-endian float64, as documented
  con <- file(file.path(dir, "sets", "data.f64"), "rb")
  first <- readBin(con, "double", n = 3, size = 8, endian = "little")
  close(con)
  expect_identical(first, unname(c(sets$data[1, 1, 1], sets$data[1, 1, 2], sets$data[1, 2, 1])))
  meta <- jsonlite::read_json(file.path(dir, "sets", "simulations.json"), simplifyVector = TRUE)
  expect_equal(meta$format_version, 1)
  expect_equal(meta$data$dim, c(50, 7, 2))
})

test_that("stored simulations are checked: overwrite, corruption, newer formats", {
  dir <- new_temp_dir()
  sims <- simulate(benchmark_simulator("gaussian_linear"), 40, seed = 3)
  path <- file.path(dir, "s")
  write_simulations(sims, path)
  expect_error(write_simulations(sims, path), "already exists", class = "amortized_error_argument")
  expect_silent(write_simulations(sims, path, overwrite = TRUE))
  dir.create(file.path(dir, "other"))
  expect_error(write_simulations(sims, file.path(dir, "other"), overwrite = TRUE), "not a store",
               class = "amortized_error_argument")
  expect_error(write_simulations(list(), path), "`sims` must be simulations", class = "amortized_error_argument")
  expect_error(write_simulations(sims, file.path(dir, "no", "such")), "parent directory",
               class = "amortized_error_argument")
  expect_error(read_simulations(file.path(dir, "missing")), "not a store of simulations",
               class = "amortized_error_data")

  # a flipped byte fails the checksum
  f <- file.path(path, "data.f64")
  bytes <- readBin(f, "raw", n = file.size(f))
  bytes[100] <- xor(bytes[100], as.raw(1))
  writeBin(bytes, f)
  expect_error(read_simulations(path), "checksum of data.f64 does not match", class = "amortized_error_data")
  # a truncated file fails the size check
  writeBin(bytes[1:80], f)
  expect_error(read_simulations(path), "data.f64 holds 80 bytes", class = "amortized_error_data")

  write_simulations(sims, path, overwrite = TRUE)
  meta_file <- file.path(path, "simulations.json")
  meta <- readLines(meta_file)
  writeLines(sub('"format_version": 1', '"format_version": 99', meta), meta_file)
  expect_error(read_simulations(path), "format 99.*Update the amortized package", class = "amortized_error_data")
  writeLines("{ not json", meta_file)
  expect_error(read_simulations(path), "Unreadable metadata", class = "amortized_error_data")
})

test_that("train() takes simulations read back from disk", {
  dir <- new_temp_dir()
  sims <- simulate(benchmark_simulator("two_moons"), 600, seed = 5)
  write_simulations(sims, file.path(dir, "tm"))
  fit <- train(amortizer(coupling_flow(n_layers = 2, hidden = 16)), read_simulations(file.path(dir, "tm")),
               epochs = 2, seed = 1, verbose = FALSE)
  expect_equal(fit$info$n_sims, 600)
  expect_equal(fit$parameter_names, c("theta_1", "theta_2"))
})

test_that("simulations with varying set sizes and context round-trip (format 2)", {
  sims <- simulate(benchmark_simulator("ddm", n_obs = 5:12), 120, seed = 1)
  path <- file.path(new_temp_dir(), "ddm")
  write_simulations(sims, path)
  meta <- jsonlite::read_json(file.path(path, "simulations.json"))
  expect_equal(meta$format_version, 2)
  back <- read_simulations(path)
  expect_identical(back$lengths, sims$lengths)
  expect_equal(back$context, sims$context)
  expect_equal(back$data, sims$data)
  expect_true(anyNA(back$data))
})

test_that("a store whose metadata ask for 1e15 values is a clear error, not an allocation", {
  sims <- simulate(benchmark_simulator("gaussian_linear"), 50, seed = 1)
  path <- file.path(new_temp_dir(), "sims")
  write_simulations(sims, path)
  meta_file <- file.path(path, "simulations.json")
  meta <- jsonlite::read_json(meta_file)
  meta$data$dim[[1]] <- 1e15
  jsonlite::write_json(meta, meta_file, auto_unbox = TRUE, digits = NA)
  t <- system.time(expect_error(read_simulations(path), "holds .* bytes", class = "amortized_error_data"))
  expect_lt(t[["elapsed"]], 5)
})
