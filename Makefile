# The two commands of the README: `make run` (the quick catalogue on scratch filesystems) and
# `make test` (the test suite; .ci/run calls it).
SWIFT ?= swift
REPORT ?= dio-torture-report.json
ARGS ?=

.PHONY: deps kernels build run test bench matrix clean

deps:
	@scripts/install-deps.sh

# Debian's 6.1 and 6.12 kernels for the kernel-matrix tests; without them those tests use the
# ../shared/kernels pair only, and say so.
kernels: deps
	@scripts/fetch-debian-kernels.sh >/dev/null || echo "make: Debian kernels not fetched; the matrix tests run without them" >&2

build: deps
	$(SWIFT) build -c release

run: build
	$$($(SWIFT) build -c release --show-bin-path)/dio-torture run --json $(REPORT) $(ARGS)

bench: build
	$$($(SWIFT) build -c release --show-bin-path)/dio-torture bench $(ARGS)

test: deps kernels
	$(SWIFT) test

clean:
	rm -rf .build .cache $(REPORT)

# The kernel matrix: the quick suite inside every test kernel of ../shared/kernels and Debian's
# 6.1 and 6.12, two guests at a time, one matrix and one merged report. The cases share one
# process per guest: under TCG a process per case triples the time (each guest is isolated anyway).
MATRIX_REPORT ?= dio-torture-matrix.json
matrix: build kernels
	$$($(SWIFT) build -c release --show-bin-path)/dio-torture vm --json $(MATRIX_REPORT) \
	    $$(for k in ../shared/kernels/bzImage-* .cache/kernels/*/boot/vmlinuz-*; do [ -f "$$k" ] && echo --kernel "$$k"; done) \
	    -- run --isolation none $(ARGS)
