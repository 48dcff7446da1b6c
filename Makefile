# quipu - one Makefile.  `make demo` and `make test` are the two commands a
# newcomer needs; both install missing Debian packages first (scripts/deps.sh).

CC       ?= cc
PKGS     := lmdb libsodium jansson libmicrohttpd libcurl libcrypto
WARN     := -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Werror
CSTD     := -std=c11 -D_GNU_SOURCE
DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
OPT      ?= -O2 -g
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) -Isrc $(DEP_CFLAGS) $(EXTRA_CFLAGS)

BUILD    ?= build
LIB_SRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' ! -name main.c | sort)
CLI_SRC  := $(shell find src/cli -name '*.c' | sort) src/main.c
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(shell find tests/unit -name 'test_*.c' ! -name test_util.c | sort)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_COMMON := tests/unit/test_util.c

SAN_BUILD := build/asan
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all deps demo test unit unit-asan e2e lint clean bench bench-quick fuzz fuzz-smoke

# Targets a newcomer types first install packages, then build in a fresh
# make so that the pkg-config flags above see the freshly installed libraries.
all: deps
	@$(MAKE) --no-print-directory $(BUILD)/quipu

deps:
	@bash scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libquipu.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(BUILD)/quipu: $(CLI_OBJ) $(BUILD)/libquipu.a
	$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libquipu.a $(DEP_LIBS) $(EXTRA_LDFLAGS)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_COMMON) $(BUILD)/libquipu.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(TEST_COMMON) $(BUILD)/libquipu.a $(DEP_LIBS) -lcmocka $(EXTRA_LDFLAGS)

# Unit tests in the current build flavour.
unit: $(UNIT_BIN)
	@bash scripts/run-unit.sh $(BUILD)/tests $(UNIT_BIN:$(BUILD)/tests/%=%)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
unit-asan:
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) OPT="$(SAN_FLAGS)" EXTRA_LDFLAGS="-fsanitize=address,undefined" unit

# End-to-end tests: the real binary over HTTP on loopback (tests/e2e), once
# against `quipu serve` and once against `quipu node --home DIR` with the
# equivalent node.json (the node must pass the same suite).
e2e: $(BUILD)/quipu
	QUIPU_BIN=$(abspath $(BUILD)/quipu) /usr/bin/python3 -m pytest -q tests/e2e
	QUIPU_BIN=$(abspath $(BUILD)/quipu) QUIPU_E2E_RUNNER=node /usr/bin/python3 -m pytest -q tests/e2e

test: deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory $(BUILD)/quipu
	@bash scripts/run-cli-tests.sh $(BUILD)/quipu
	@$(MAKE) --no-print-directory sim-quick
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory torture-quick

demo: all
	@bash scripts/demo.sh $(BUILD)/quipu

bench: all
	@QUIPU_EXTRA_PKGS="postgresql-15 libpq-dev libcurl4-openssl-dev" bash scripts/deps.sh
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-bench
	@bash bench/run.sh $(BUILD)

lint:
	@bash scripts/lint.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- fuzzing (libFuzzer via clang): one binary per tests/fuzz/fuzz_*.c ----
FUZZ_SRC  := $(shell find tests/fuzz -maxdepth 1 -name 'fuzz_*.c' | sort)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_CC   := clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined -Isrc $(DEP_CFLAGS)
FUZZ_OBJ  := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_SECONDS ?= 60
.SECONDARY: $(FUZZ_OBJ)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -MMD -MP -c $< -o $@

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(DEP_LIBS)

# `make fuzz FUZZ_SECONDS=600` fuzzes every target; `make fuzz-smoke` (part
# of `make test`) gives each a few seconds.  Findings land in build/fuzz/.
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@bash scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-smoke: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@bash scripts/run-fuzz.sh $${FUZZ_SMOKE_SECONDS:-8} $(FUZZ_BIN)

# ---- benchmark (bench/, issue 4): build/bench/quipu-bench, run by `make bench` ----
# `make bench` installs PostgreSQL 15 and the client libraries itself, then
# bench/run.sh starts PostgreSQL in a temp dir and runs quipu-bench against
# quipu in-process, `quipu serve` over HTTP and PostgreSQL.  BENCH_QUICK=1
# (or `make bench-quick`) is the small run, under 2 minutes.
BENCH_SRC    := $(sort $(wildcard bench/*.c))
BENCH_OBJ    := $(BENCH_SRC:bench/%.c=$(BUILD)/obj/bench/%.o)
BENCH_CFLAGS := $(shell pkg-config --cflags libcurl libpq 2>/dev/null)
BENCH_LIBS   := $(shell pkg-config --libs libcurl libpq 2>/dev/null)

$(BUILD)/obj/bench/%.o: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(BENCH_CFLAGS) -Ibench -MMD -MP -c $< -o $@

$(BUILD)/bench/quipu-bench: $(BENCH_OBJ) $(BUILD)/libquipu.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(BENCH_OBJ) $(BUILD)/libquipu.a $(BENCH_LIBS) $(DEP_LIBS) $(EXTRA_LDFLAGS)

bench-quick:
	@BENCH_QUICK=1 $(MAKE) --no-print-directory bench

# ---- deterministic simulation (src/drills, docs/drills.md) ----
# `make sim SEEDS=100000` runs many seeds of `quipu sim ledger`; a failing
# seed prints the command that replays it.
.PHONY: sim
sim: all
	@mkdir -p build/drills
	$(BUILD)/quipu sim ledger --seed $${SEED:-1} --seeds $${SEEDS:-1000} --steps $${STEPS:-200} --json build/drills/sim.json

# A few hundred seeds for `make test`; results in build/drills/sim.json.
sim-quick: $(BUILD)/quipu
	@mkdir -p build/drills
	$(BUILD)/quipu sim ledger --seed 1 --seeds 300 --steps 120 --json build/drills/sim.json

# ---- real-process torture (tests/torture, docs/drills-torture.md) ----
# `quipu serve` under load, kill -9 at seeded random moments, restart, check
# every acknowledged transfer, balances, the audit and `quipu verify`.
# `make torture KILLS=5000 [SEED=…]`; `make torture-quick` (200 kills) is part
# of `make test`.  Results in build/drills/torture.json.
.PHONY: torture torture-quick
torture: $(BUILD)/quipu
	/usr/bin/python3 tests/torture/torture.py --kills $${KILLS:-1000} $${SEED:+--seed $$SEED} --quipu $(BUILD)/quipu

torture-quick: $(BUILD)/quipu
	/usr/bin/python3 tests/torture/torture.py --kills 200 --load-ms-max 300 $${SEED:+--seed $$SEED} --quipu $(BUILD)/quipu
