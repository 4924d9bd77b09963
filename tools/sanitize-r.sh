#!/usr/bin/env bash
# The R package (glue and core) built with AddressSanitizer and
# UndefinedBehaviorSanitizer into its own library, then a subset of the R tests
# run against it with the sanitizer runtimes preloaded into R. Any report ends
# the run with an error (halt_on_error). This stands in for valgrind, which
# cannot run our package here: Debian's LibTorch loads libhwy, whose
# initializer executes RDTSCP (0F 01 F9), an instruction valgrind 3.19 does not
# decode (SIGILL before any of our code runs).
#
# Leaks are not checked here (detect_leaks=0): R itself does not free its heap
# at exit; the C++ suite checks leaks (make sanitize).
#
# The tests of the same copy of the tree run (the tests and the build
# match). Failures that are not sanitizer reports can occur: timings (the
# interrupt tests allow 2 s; instrumented code runs ~3x slower).
#
# Usage: tools/sanitize-r.sh [FILTER]   (a testthat filter; default: the files
# that drive every glue file)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LIB="$BUILD/asan-rlib"
FILTER=${1:-"mmd|sample_posterior|log_likelihood|posterior_model_probs|save_amortizer|simulation_store|sbc|mcmc_posterior|summary_net"}
mkdir -p "$LIB"
rm -rf "$LIB"/00LOCK-*  # left by an interrupted install
cc=$(command -v ccache >/dev/null && echo "ccache " || true)
cat > "$BUILD/Makevars.asan" <<MK
CXX17 = ${cc}g++
CXX17FLAGS = -O1 -g1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize=vptr
CXX = ${cc}g++
CXXFLAGS = -O1 -g1 -fsanitize=address,undefined -fno-sanitize=vptr
LDFLAGS = -fsanitize=address,undefined
MK
# build from a copy of the tree, so that the instrumented objects never mix
# with those of a normal install in src/
SRC="$BUILD/asan-src"
mkdir -p "$SRC"
git ls-files -z --cached --others --exclude-standard | grep -zv '^build/' | tar --null -T - -cf - | tar -xf - -C "$SRC"
echo "== building the instrumented package into $LIB (long: every translation unit at -O1 with instrumentation)"
R_MAKEVARS_USER=$PWD/$BUILD/Makevars.asan MAKEFLAGS="-j${JOBS:-2}" \
  R CMD INSTALL -l "$LIB" --no-test-load "$SRC" > "$BUILD/asan-r.log" 2>&1 || { tail -n 40 "$BUILD/asan-r.log"; exit 1; }
preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
echo "== R tests matching '$FILTER' under ASan + UBSan"
LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 NOT_CRAN=true R_LIBS="$PWD/$LIB" R_FILTER="$FILTER" R_SRC="$SRC" \
  Rscript -e '
    res <- testthat::test_dir(file.path(Sys.getenv("R_SRC"), "tests", "testthat"), package = "amortized", load_package = "installed",
                              filter = Sys.getenv("R_FILTER"), stop_on_failure = FALSE,
                              reporter = testthat::SummaryReporter$new(show_praise = FALSE))
    df <- as.data.frame(res)
    cat(sprintf("sanitized R tests: %d test blocks, %d with failures (a sanitizer report would have ended the run)\n",
                nrow(df), sum(df$failed > 0 | df$error)))
  ' 2>&1 | tee "$BUILD/asan-r-tests.log"
