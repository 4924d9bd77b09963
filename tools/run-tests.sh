#!/usr/bin/env bash
# Runs the R (testthat) and C++ (ctest/GoogleTest) suites and prints one
# summary line over both: "N passed, N failed, N skipped". Exits non-zero on
# any failure. Expects the package installed and the CMake build done
# (make test does both). NOT_CRAN=true: the full suite, as devtools runs it.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
mkdir -p "$BUILD"

# run_r_tests COUNTS [FILTER]: the testthat files (matching FILTER), their
# counts "passed failed skipped" written to COUNTS; a crash counts as one failure.
run_r_tests() {
  rm -f "$1"
  NOT_CRAN=true R_COUNTS="$1" R_FILTER="${2:-}" Rscript -e '
    filter <- Sys.getenv("R_FILTER")
    res <- testthat::test_dir("tests/testthat", package = "amortized", load_package = "installed",
                              filter = if (nzchar(filter)) filter,
                              reporter = testthat::ProgressReporter$new(show_praise = FALSE),
                              stop_on_failure = FALSE)
    df <- as.data.frame(res)
    failed <- sum(df$failed > 0 | df$error)
    skipped <- sum(df$skipped & !(df$failed > 0 | df$error))
    passed <- nrow(df) - failed - skipped
    writeLines(sprintf("%d %d %d", passed, failed, skipped), Sys.getenv("R_COUNTS"))
  ' 2>&1
  [ -s "$1" ] || echo "0 1 0" > "$1"
}

echo "== R tests (testthat)"
run_r_tests "$BUILD/r-counts"
read -r r_pass r_fail r_skip < "$BUILD/r-counts"

# The tests that compare two computation paths (transformed inputs, points
# in another order, batches, thread counts, SIMD levels) once more on the
# baseline instruction set of our kernels and of LibTorch's, so that a
# difference between paths shows up on any machine.
echo "== R tests comparing computation paths, on the baseline SIMD path (AMORTIZED_SIMD=baseline, ATEN_CPU_CAPABILITY=default)"
AMORTIZED_SIMD=baseline ATEN_CPU_CAPABILITY=default \
  run_r_tests "$BUILD/r-counts-baseline" "configurator|summary_net|simulator|sample_posterior|fusion"
read -r b_pass b_fail b_skip < "$BUILD/r-counts-baseline"
r_pass=$((r_pass + b_pass)); r_fail=$((r_fail + b_fail)); r_skip=$((r_skip + b_skip))

echo "== C++ tests (ctest)"
ctest --test-dir "$BUILD/cmake" --output-on-failure -j2 > "$BUILD/ctest.log" 2>&1
grep -vE '^ *Start +[0-9]+:|^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed' "$BUILD/ctest.log"
total=$(grep -oE 'tests failed out of [0-9]+' "$BUILD/ctest.log" | grep -oE '[0-9]+$')
c_fail=$(grep -oE '[0-9]+ tests failed out of' "$BUILD/ctest.log" | grep -oE '^[0-9]+')
c_skip=$(grep -cE '\*\*\*Skipped|Not Run' "$BUILD/ctest.log")
if [ -z "$total" ]; then total=1; c_fail=1; fi
c_pass=$((total - c_fail - c_skip))

echo "R: $r_pass passed, $r_fail failed, $r_skip skipped; C++: $c_pass passed, $c_fail failed, $c_skip skipped"
passed=$((r_pass + c_pass)); failed=$((r_fail + c_fail)); skipped=$((r_skip + c_skip))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
