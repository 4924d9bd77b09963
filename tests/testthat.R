library(testthat)
library(amortized)

test_check("amortized")
