# The two commands of the README: `make run` (the quick catalogue on scratch filesystems) and
# `make test` (the test suite; .ci/run calls it).
SWIFT ?= swift
REPORT ?= dio-torture-report.json
ARGS ?=

.PHONY: deps kernels build run test bench matrix clean install uninstall

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

# The binary, a man page per command (swift-argument-parser's generate-manual plugin: `man
# dio-torture`, `man dio-torture.run`), bash, zsh
# and fish completions, and the shipped known-kernel-bugs list and sweep files.
PREFIX ?= /usr/local
BIN = $$($(SWIFT) build -c release --show-bin-path)/dio-torture
MAN_DIR = $(DESTDIR)$(PREFIX)/share/man/man1
BASH_DIR = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
ZSH_DIR = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
FISH_DIR = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
SHARE_DIR = $(DESTDIR)$(PREFIX)/share/dio-torture
install: build
	$(SWIFT) package plugin generate-manual --multi-page --configuration release >/dev/null
	install -d $(DESTDIR)$(PREFIX)/bin $(MAN_DIR) $(BASH_DIR) $(ZSH_DIR) $(FISH_DIR) $(SHARE_DIR)
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/dio-torture
	for page in .build/plugins/GenerateManual/outputs/dio-torture/*.1; do \
	    case $$page in *.case-worker.1) ;; *) install -m 644 $$page $(MAN_DIR)/ ;; esac; done
	$(BIN) --generate-completion-script bash > $(BASH_DIR)/dio-torture
	$(BIN) --generate-completion-script zsh > $(ZSH_DIR)/_dio-torture
	$(BIN) --generate-completion-script fish > $(FISH_DIR)/dio-torture.fish
	install -m 644 configs/known-kernel-bugs.expunge configs/*.yaml $(SHARE_DIR)/
	@echo "installed dio-torture in $(DESTDIR)$(PREFIX) (man dio-torture; completions for bash, zsh and fish)"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/dio-torture $(MAN_DIR)/dio-torture.1 $(MAN_DIR)/dio-torture.*.1
	rm -f $(BASH_DIR)/dio-torture $(ZSH_DIR)/_dio-torture $(FISH_DIR)/dio-torture.fish
	rm -rf $(SHARE_DIR)

# The kernel matrix: the quick suite inside every test kernel of ../shared/kernels and Debian's
# 6.1 and 6.12, one guest per CPU (each kernel's run in shards when the kernels alone would leave
# a CPU idle at the end); then, in Debian's two kernels (which have the modules), every
# other kind of filesystem at 5 iterations a case; one merged report and matrix. The quick suite's
# cases share one process per guest (each guest is isolated anyway); the other kinds run in case
# processes, for a case that hangs (gfs2) ends only its own process.
MATRIX_REPORT ?= dio-torture-matrix.json
MATRIX_KINDS ?= f2fs,gfs2,exfat,jfs,nfs3,nfs4.2,fuse,fuse-direct-io,overlay
# Every scenario but writeback-error, which leaves a gfs2 or NFS guest unable to finish (docs/filesystems.md).
MATRIX_KIND_SCENARIOS ?= nowait-partial-fault,fault-patterns,mmap-same-file,direct-write,dio-alignment,partly-cached-read,zero-range-dirty-unwritten,file-backed-consumers,ops
matrix: build kernels
	@status=0; \
	$(BIN) vm --json $(MATRIX_REPORT).quick \
	    $$(for k in ../shared/kernels/bzImage-* .cache/kernels/*/boot/vmlinuz-*; do [ -f "$$k" ] && echo --kernel "$$k"; done) \
	    -- run --isolation none $(ARGS) > /dev/null || status=$$?; \
	$(BIN) vm --json $(MATRIX_REPORT).kinds --timeout 3000 \
	    $$(for k in .cache/kernels/*/boot/vmlinuz-*; do [ -f "$$k" ] && echo --kernel "$$k"; done) \
	    -- run --fs $(MATRIX_KINDS) --scenario $(MATRIX_KIND_SCENARIOS) --iterations 5 --case-timeout 30 $(ARGS) > /dev/null \
	    || [ $$status -ne 0 ] || status=$$?; \
	$(BIN) report $(MATRIX_REPORT).quick $(MATRIX_REPORT).kinds --json $(MATRIX_REPORT) --text | sed -n '/^KERNEL  *ACCEL/,$$p'; \
	rm -f $(MATRIX_REPORT).quick $(MATRIX_REPORT).kinds; exit $$status
