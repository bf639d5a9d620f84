# The two commands of the README: `make run` (the quick catalogue on scratch filesystems) and
# `make test` (the test suite; .ci/run calls it).
SWIFT ?= swift
REPORT ?= dio-torture-report.json
ARGS ?=

.PHONY: deps build run test bench clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release

run: build
	$$($(SWIFT) build -c release --show-bin-path)/dio-torture run --json $(REPORT) $(ARGS)

bench: build
	$$($(SWIFT) build -c release --show-bin-path)/dio-torture bench $(ARGS)

test: deps
	$(SWIFT) test

clean:
	rm -rf .build $(REPORT)
