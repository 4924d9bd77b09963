# The getting-started vignette runs from start to end with the installed
# package (the other vignettes are built by `make check` and `make docs`).

test_that("the getting-started vignette knits, and what it shows holds", {
  skip_on_cran()
  skip_if_not_installed("knitr")
  source <- testthat::test_path("..", "..", "vignettes", "amortized.Rmd")
  skip_if_not(file.exists(source), "the vignettes' sources are not here (an installed package's tests)")
  source <- normalizePath(source)
  out <- withr::local_tempfile(fileext = ".md")
  withr::local_dir(tempdir())  # figures are written beside the output
  old <- knitr::opts_chunk$get()
  withr::defer(knitr::opts_chunk$restore(old))
  knitr::opts_chunk$set(error = FALSE)  # an error in a chunk fails the knit instead of being printed
  withr::with_seed(1, knitr::knit(source, output = out, envir = new.env(), quiet = TRUE))
  md <- readLines(out)
  expect_false(any(grepl("^#> Error", md)))
  # the posterior summaries are printed, and the reloaded amortizer draws the same as the saved one
  expect_true(any(grepl("mean +sd", md)))
  reload <- grep("identical(sample_posterior(again", md, fixed = TRUE)
  expect_length(reload, 1)
  expect_match(md[reload + 2], "#> \\[1\\] TRUE")
  expect_gte(length(grep("!\\[", md)), 3)  # the plots: loss history, diagnostics, SBC
})
