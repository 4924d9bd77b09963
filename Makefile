# amortized: two commands on a fresh Debian 12 machine with R:
#   make demo   install everything, build, and run an end-to-end example
#   make test   install everything, build, run the R and C++ test suites
SHELL := /bin/bash
R ?= R
RSCRIPT ?= Rscript
BUILD := build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

APT_PACKAGES := libtorch-dev libopenblas0-pthread cmake libgtest-dev ccache libboost-dev pandoc valgrind \
	r-base-dev r-cran-rcpp r-cran-rcppeigen r-cran-cli r-cran-rlang r-cran-posterior r-cran-ggplot2 \
	r-cran-testthat r-cran-knitr r-cran-rmarkdown r-cran-future r-cran-future.apply r-cran-callr \
	r-cran-roxygen2 r-cran-bh r-cran-desolve r-cran-jsonlite r-cran-bayesplot r-cran-gridextra r-cran-patchwork

.PHONY: setup check-setup install demo test test-r test-cpp cpp bench check docs document clean sanitize sanitize-r

## setup: system and R dependencies (skips what is installed; fast when re-run)
setup: $(BUILD)/.setup-done

$(BUILD)/.setup-done: Makefile
	@mkdir -p $(BUILD)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	else echo "setup: system packages present"; fi
	@touch $@

# Compiler settings for our builds: ccache when present, no debug info
# (LibTorch translation units are large).
$(BUILD)/Makevars.user: | setup
	@mkdir -p $(BUILD)
	@cc=$$(command -v ccache >/dev/null && echo "ccache "); \
	printf 'CXX17 = %sg++\nCXX17FLAGS = -O2 -g0 -Wall\nCXX = %sg++\nCXXFLAGS = -O2 -g0\n' "$$cc" "$$cc" > $@

## document: regenerate RcppExports, NAMESPACE and man/ (roxygen2)
document: setup
	$(RSCRIPT) -e 'Rcpp::compileAttributes(".")' -e 'roxygen2::roxygenise(".", roclets = c("rd", "namespace"))'

## install: build and install the R package
# An install that was killed leaves a lock directory (00LOCK-<source dir>) in
# the library, and every later install fails on it: remove ours first.
install: setup $(BUILD)/Makevars.user
	@lib=$$($(RSCRIPT) -e 'cat(.libPaths()[1])'); \
	for l in "$$lib/00LOCK-$(notdir $(CURDIR))" "$$lib/00LOCK-amortized"; do \
	  if [ -e "$$l" ]; then echo "install: removing $$l, left by an interrupted install"; rm -rf "$$l"; fi; \
	done
	set -o pipefail; R_MAKEVARS_USER=$(CURDIR)/$(BUILD)/Makevars.user MAKEFLAGS="-j$(JOBS)" $(R) CMD INSTALL --no-test-load --preclean . 2>&1 | tail -n 3
	@$(RSCRIPT) -e 'suppressMessages(library(amortized)); cat("installed amortized", format(packageVersion("amortized")), "\n")'

## demo: setup + install + an end-to-end example (train, sample, SBC, plot)
demo: install
	$(RSCRIPT) inst/examples/quickstart.R

## cpp: build the C++ core and its GoogleTest suite with CMake
cpp: setup
	cmake -S . -B $(BUILD)/cmake -DCMAKE_BUILD_TYPE=Release -DAMORTIZED_BUILD_BENCH=ON > $(BUILD)/cmake.log
	cmake --build $(BUILD)/cmake -j$(JOBS) > $(BUILD)/cmake-build.log 2>&1 || (tail -n 40 $(BUILD)/cmake-build.log; exit 1)

## test: setup + install + R tests + C++ tests; last line: N passed, N failed
test: install cpp
	@bash tools/run-tests.sh

## sanitize: the C++ core and its tests under AddressSanitizer and
## UndefinedBehaviorSanitizer (all tests), then ThreadSanitizer on the
## multi-threaded simulators (suppressions for LibTorch only:
## tools/sanitizers/). Long: every translation unit is built twice more.
SAN_FLAGS := -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-O1 -g1" -DAMORTIZED_BUILD_BENCH=OFF
sanitize: setup
	cmake -S . -B $(BUILD)/asan $(SAN_FLAGS) -DAMORTIZED_SANITIZE=address,undefined > $(BUILD)/asan.log
	cmake --build $(BUILD)/asan -j$(JOBS) --target amortized_tests >> $(BUILD)/asan.log 2>&1 || (tail -n 40 $(BUILD)/asan.log; exit 1)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tools/sanitizers/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(BUILD)/asan/amortized_tests --gtest_brief=1
	cmake -S . -B $(BUILD)/tsan $(SAN_FLAGS) -DAMORTIZED_SANITIZE=thread > $(BUILD)/tsan.log
	cmake --build $(BUILD)/tsan -j$(JOBS) --target amortized_tests >> $(BUILD)/tsan.log 2>&1 || (tail -n 40 $(BUILD)/tsan.log; exit 1)
	TSAN_OPTIONS=suppressions=$(CURDIR)/tools/sanitizers/tsan.supp:halt_on_error=1 OMP_NUM_THREADS=1 \
	  $(BUILD)/tsan/amortized_tests --gtest_brief=1 --gtest_filter='Simulators*'

## sanitize-r: the R package (glue and core) under AddressSanitizer and
## UndefinedBehaviorSanitizer, and a subset of the R tests against it
## (tools/sanitize-r.sh; stands in for valgrind, which cannot load LibTorch here)
sanitize-r: setup
	bash tools/sanitize-r.sh

## bench: the benchmarks in bench/
bench: install
	$(RSCRIPT) bench/npe_gaussian_linear.R
	$(RSCRIPT) bench/simulators.R

# Tools only `make check` and `make docs` need: qpdf and checkbashisms
# (devscripts) for R CMD check --as-cran, pkgdown for the site.
CHECK_PACKAGES := qpdf devscripts r-cran-pkgdown
check-setup: setup
	@missing=$$(for p in $(CHECK_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "check-setup: installing $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

## check: R CMD build (vignettes knit) + R CMD check --as-cran (no PDF manual
## unless LaTeX is installed); the package's own compiler settings
check: check-setup document $(BUILD)/Makevars.user
	cd $(BUILD) && rm -f amortized_*.tar.gz && \
	  R_MAKEVARS_USER=$(CURDIR)/$(BUILD)/Makevars.user MAKEFLAGS="-j$(JOBS)" $(R) CMD build .. && \
	  manual=$$(command -v pdflatex >/dev/null || echo --no-manual); \
	  R_MAKEVARS_USER=$(CURDIR)/$(BUILD)/Makevars.user MAKEFLAGS="-j$(JOBS)" _R_CHECK_FORCE_SUGGESTS_=false \
	  $(R) CMD check --as-cran $$manual amortized_*.tar.gz

## docs: render the vignettes to build/docs/ and, where pkgdown is
## installed, the site (_pkgdown.yml) to build/site/
docs: check-setup install
	@mkdir -p $(BUILD)/docs
	for v in vignettes/*.Rmd; do \
	  $(RSCRIPT) -e "rmarkdown::render('$$v', output_dir = '$(BUILD)/docs', quiet = TRUE)" || exit 1; \
	done
	@if $(RSCRIPT) -e 'quit(status = !requireNamespace("pkgdown", quietly = TRUE))' 2>/dev/null; then \
	  $(RSCRIPT) -e 'options(pkgdown.internet = FALSE)' -e 'pkgdown::build_site(".", override = list(destination = "$(BUILD)/site"), new_process = FALSE)'; \
	else echo "docs: pkgdown is not installed; vignettes rendered to $(BUILD)/docs/, site skipped"; fi

clean:
	rm -rf $(BUILD)
	./cleanup
