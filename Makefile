# drwatch: plain Makefile with pkg-config (CONTRIBUTING.md). `make help` lists the targets.
CC      ?= gcc
BUILD   ?= build
BIN     ?= drwatch
PKGS    := libmicrohttpd libcurl libcares libpq lua5.4 jansson zlib openssl yaml-0.1 gnutls libxcrypt
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
REVISION := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -I. -Iexporter -Isite -Icollectors -Irules -Ialerts -Iswitchover $(PKG_CFLAGS) \
              -DDRWATCH_VERSION='"$(VERSION)"' -DDRWATCH_REVISION='"$(REVISION)"' -MMD -MP
LDLIBS  := $(PKG_LIBS) -lpthread -lm

CORE_SRC := $(filter-out exporter/main.c,$(wildcard exporter/*.c)) $(wildcard site/*.c) $(wildcard collectors/*.c) \
            $(wildcard rules/*.c) $(wildcard alerts/*.c) $(wildcard switchover/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
HEADERS  := $(wildcard exporter/*.h site/*.h collectors/*.h rules/*.h alerts/*.h switchover/*.h)
MAIN_OBJ := $(BUILD)/exporter/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%.t)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/tests/replay_%.t)

.PHONY: all deps run demo test tests-build fuzz-bins asan lint bench fuzz soak clean help format
all: $(BIN)

help:
	@echo "make          build ./drwatch"
	@echo "make run      install packages, build, start the two-site lab (two drwatch, Ctrl-C stops)"
	@echo "make demo     install packages, build, start one drwatch on the textfile demo"
	@echo "make test     install packages, build, run every test through prove"
	@echo "make soak     many lab drills with random faults (SOAK_CYCLES, SOAK_SEED to replay)"
	@echo "make asan     the whole suite on an ASan+UBSan build"
	@echo "make lint     the layer rules (.ci/check-layers), clang-format, cppcheck, pyflakes"
	@echo "make bench    benchmarks in bench/ (installs the peers it compares against)"
	@echo "make fuzz     libFuzzer targets (clang), FUZZ_SECONDS each"

deps:
	@./.ci/deps

# `make V=1` shows the full command lines.
Q := $(if $(V),,@)

$(BIN): $(CORE_OBJ) $(MAIN_OBJ)
	@echo "  LD      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.t: tests/unit/%.c tests/lib/tap.h $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib -o $@ $< $(CORE_OBJ) $(LDLIBS)

# Helper programs the integration tests run (tests/tools/), linked with the core.
$(BUILD)/tests/tools/%: tests/tools/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  TOOL    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib -o $@ $< $(CORE_OBJ) $(LDLIBS)

$(BUILD)/tests/replay_%.t: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  REPLAY  $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/lib -DFUZZ_CORPUS='"$(abspath tests/fuzz/corpus/$*)"' -o $@ $< \
	    tests/fuzz/replay_main.c $(CORE_OBJ) $(LDLIBS)

# The default plans are built into the binary (.incbin): rebuild when the file changes.
$(BUILD)/switchover/plans_default.o: switchover/plans/default.lua

tests-build: $(BIN) $(UNIT_BIN) $(REPLAY_BIN) $(TOOL_BIN)

# libFuzzer binaries (clang); `make fuzz` builds them in build-fuzz and runs each one.
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/%)
fuzz-bins: $(FUZZ_BIN)
$(BUILD)/fuzz/%: tests/fuzz/fuzz_%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(CORE_OBJ) $(LDLIBS)

# Benchmark helpers are C programs in bench/ linked with the core.
$(BUILD)/bench/%: bench/%.c $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@echo "  BENCH   $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(CORE_OBJ) $(LDLIBS)

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	@DRWATCH_BIN=$(abspath $(BIN)) ./examples/run-lab

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	@./examples/run-demo

# A failed assertion is named in the output (its name says what it saw), not only counted.
PROVE_FLAGS ?= --failures
test: deps
	@$(MAKE) --no-print-directory tests-build
	@DRWATCH_BIN=$(abspath $(BIN)) DRWATCH_BUILD=$(abspath $(BUILD)) \
	    prove $(PROVE_FLAGS) $(UNIT_BIN) $(REPLAY_BIN) tests/integration/*.t tests/scenarios/*.t

asan: deps
	@$(MAKE) --no-print-directory test BUILD=build-asan BIN=drwatch-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

# Many drills on the lab with random faults (tests/soak/soak.py); prints the seed to replay.
SOAK_CYCLES ?= 10
soak: deps
	@$(MAKE) --no-print-directory $(BIN)
	@DRWATCH_BIN=$(abspath $(BIN)) ./tests/soak/soak.py --cycles $(SOAK_CYCLES) \
	    $(if $(SOAK_SEED),--seed $(SOAK_SEED))

FUZZ_SECONDS ?= 60
fuzz:
	@./.ci/deps fuzz
	@$(MAKE) --no-print-directory fuzz-bins BUILD=build-fuzz CC=clang OPT=-O1 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer"
	@for t in $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%); do \
	    mkdir -p fuzz-out/$$t; echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	    build-fuzz/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        fuzz-out/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# Benchmarks print figures (bench/README.md); they assert nothing.
bench: deps
	@./.ci/deps bench
	@$(MAKE) --no-print-directory $(BIN) $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
	@./bench/run
	@./bench/rules.py
	@./bench/cycle_concurrency.py
	@./bench/postgres_vs_exporter.py
	@./bench/sigterm_latency.py $(abspath $(BIN))
	@$(BUILD)/bench/executor_bench
	@./bench/switchover_latency.py $(abspath $(BIN))
	@DRWATCH_BIN=$(abspath $(BIN)) ./bench/drill_rto.py
	@./bench/http_overload.py --bin $(abspath $(BIN))

lint:
	@./.ci/deps lint
	@./.ci/check-layers
	@clang-format --dry-run --Werror $(CORE_SRC) exporter/main.c $(HEADERS) \
	    $(UNIT_SRC) $(TOOL_SRC) $(FUZZ_SRC) tests/fuzz/replay_main.c tests/lib/*.h $(wildcard bench/*.c)
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --std=c11 --inline-suppr -D__GNUC__ -I exporter -I site -I collectors -I . \
	    $(CORE_SRC) exporter/main.c
	@pyflakes3 $$(grep -ls '^#!/usr/bin/env python3' tests/integration/*.t tests/scenarios/*.t bench/*) \
	    tests/lib/*.py tests/fakes/*.py tests/soak/*.py
	@echo "lint: clean"

format:
	@clang-format -i $(CORE_SRC) exporter/main.c $(HEADERS) $(UNIT_SRC) $(TOOL_SRC) \
	    $(FUZZ_SRC) tests/fuzz/replay_main.c tests/lib/*.h $(wildcard bench/*.c)

clean:
	rm -rf build build-asan build-fuzz drwatch drwatch-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
