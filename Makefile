# quipu - one Makefile.  `make demo` and `make test` are the two commands a
# newcomer needs; both install missing Debian packages first (scripts/deps.sh).

CC       ?= cc
PKGS     := lmdb libsodium jansson libmicrohttpd gnutls libcurl libcrypto libuv libcbor lua5.4 \
            libqrencode zlib raft
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

.PHONY: all deps demo test unit unit-asan e2e lint format clean bench bench-quick fuzz fuzz-smoke

# Targets a newcomer types first install packages, then build in a fresh
# make so that the pkg-config flags above see the freshly installed libraries.
all: deps
	@$(MAKE) --no-print-directory $(BUILD)/quipu

deps:
	@bash scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# Rebuilt from scratch: `ar rcs` alone would keep the members of deleted
# sources, and the linker would use their stale code.
$(BUILD)/libquipu.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
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
	QUIPU_BIN=$(abspath $(BUILD)/quipu) QUIPU_E2E_RUNNER=node QUIPU_CLUSTER_KILLS=$(or $(KILLS),50) \
	  /usr/bin/python3 -m pytest -q tests/e2e

# The leader-kill loop of tests/e2e/test_cluster.py (issue 19) with KILLS kill -9s of
# the leader under load (default 50, as `make e2e` and so `make test` run it; pytest
# alone makes 3 unless QUIPU_CLUSTER_KILLS says otherwise).
.PHONY: test-cluster-kills
test-cluster-kills: $(BUILD)/quipu
	QUIPU_BIN=$(abspath $(BUILD)/quipu) QUIPU_E2E_RUNNER=node QUIPU_CLUSTER_KILLS=$(or $(KILLS),50) \
	  /usr/bin/python3 -m pytest -q -s tests/e2e/test_cluster.py -k test_leader_killed_under_load

test: deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory $(BUILD)/quipu
	@bash scripts/run-cli-tests.sh $(BUILD)/quipu
	@$(MAKE) --no-print-directory sim-quick
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory torture-quick
	@$(MAKE) --no-print-directory torture-payments-quick
	@$(MAKE) --no-print-directory test-js
	@$(MAKE) --no-print-directory test-browser

# Tests in a real browser (tests/browser, issue 14): Debian's Chromium,
# headless, driven by playwright-core (npm, pinned by the lock file, into
# tests/browser/node_modules) against a freshly started `quipu node`.
# Screenshots land in build/screens/.
.PHONY: test-browser
test-browser: deps
	@QUIPU_BROWSER=1 bash scripts/deps.sh
	@$(MAKE) --no-print-directory $(BUILD)/quipu tests/browser/node_modules/.package-lock.json
	cd tests/browser && QUIPU_BIN=$(abspath $(BUILD)/quipu) node --test static.test.mjs auth.test.mjs \
	  jsclient.test.mjs console.test.mjs shop.test.mjs wallet.test.mjs wallet-errors.test.mjs

# The JS client (clients/js, issue 17): its unit tests and its calls against
# real nodes started from $(BUILD)/quipu; no npm packages needed.
.PHONY: test-js
test-js: deps
	@QUIPU_BROWSER=1 bash scripts/deps.sh
	@$(MAKE) --no-print-directory $(BUILD)/quipu
	cd clients/js && QUIPU_BIN=$(abspath $(BUILD)/quipu) node --test --test-timeout 60000 test/

# npm ci again only when the lock file changed.
tests/browser/node_modules/.package-lock.json: tests/browser/package-lock.json tests/browser/package.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error

# Lighthouse (npm, tests/lighthouse) with mobile settings in Debian's
# Chromium against the wallet (/wallet/) of a node it starts; fails under 95
# for accessibility or 90 for performance. Not in `make test` (its timings
# depend on the machine's load). Report: build/lighthouse/wallet.html.
.PHONY: lighthouse
lighthouse: deps
	@QUIPU_BROWSER=1 bash scripts/deps.sh
	@$(MAKE) --no-print-directory $(BUILD)/quipu tests/lighthouse/node_modules/.package-lock.json
	QUIPU_BIN=$(abspath $(BUILD)/quipu) node tests/lighthouse/wallet.mjs

tests/lighthouse/node_modules/.package-lock.json: tests/lighthouse/package-lock.json tests/lighthouse/package.json
	cd tests/lighthouse && npm ci --no-audit --no-fund --loglevel=error

demo: all
	@bash scripts/demo.sh $(BUILD)/quipu

bench: all
	@QUIPU_EXTRA_PKGS="postgresql-15 libpq-dev libcurl4-openssl-dev" bash scripts/deps.sh
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-bench
	@bash bench/run.sh $(BUILD)

lint:
	@bash scripts/lint.sh

# Applies .clang-format to every C file (generated ones excepted).
FORMAT_SRC = $(shell grep -rL 'GENERATED by scripts/' $$(find src tests/unit tests/fuzz bench -name '*.[ch]'))
format:
	clang-format -i $(FORMAT_SRC)

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

# ---- cluster benchmark (bench/cluster/, issue 19) ----
# `make bench-cluster` starts 3 replicas on loopback (test_cluster.py's
# Cluster) and one `quipu serve`, loads both with `quipu client load` and
# prints RESULT lines: transfers/s with batches of 8,190 (and the ratio to
# the single node), batch-of-1 requests/s and p99, and failover time over
# KILLS leader kills (default 20).  `make bench-cluster-quick`: 2 s loads,
# 3 kills.  docs/cluster.md, "Speed".
.PHONY: bench-cluster bench-cluster-quick
bench-cluster: $(BUILD)/quipu
	/usr/bin/python3 bench/cluster/bench_cluster.py --quipu $(BUILD)/quipu --kills $(or $(KILLS),20)

bench-cluster-quick: $(BUILD)/quipu
	/usr/bin/python3 bench/cluster/bench_cluster.py --quipu $(BUILD)/quipu --quick $(if $(KILLS),--kills $(KILLS))

# ---- chain benchmark (bench/chain/, issue 11): build/bench/quipu-chain-bench ----
# `make bench-chain` starts 4 validators from build/quipu in a temp dir, sends
# signed kv transactions over HTTP, prints the table and RESULT lines
# (committed tx/s, commit p50/p99, Ed25519 verifications/s on one core) and
# tears the network down, then does the same for the GM/T suite (SM2/SM3,
# a third of the transactions, figures named sm2_*) and prints the two side
# by side, then a run of receivable issues by registered core enterprises
# (RESULT receivable_ops_per_s_consensus, issue 13).  `make bench-chain-quick`
# is the small run of all three.
# CHAIN_BENCH_ARGS adds flags (--rate N, --txs N, --connections N, --keep);
# the binary alone runs one suite (--crypto ed25519|sm2) or both.
CHAIN_BENCH_SRC := $(sort $(wildcard bench/chain/*.c))
CHAIN_BENCH_OBJ := $(CHAIN_BENCH_SRC:bench/%.c=$(BUILD)/obj/bench/%.o) \
                   $(BUILD)/obj/bench/bench_common.o $(BUILD)/obj/bench/workload.o

$(BUILD)/bench/quipu-chain-bench: $(CHAIN_BENCH_OBJ) $(BUILD)/libquipu.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(CHAIN_BENCH_OBJ) $(BUILD)/libquipu.a $(DEP_LIBS) $(EXTRA_LDFLAGS)

.PHONY: bench-chain bench-chain-quick bench-chain-lua
bench-chain: all
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-chain-bench
	$(BUILD)/bench/quipu-chain-bench --quipu $(BUILD)/quipu --crypto both --receivable $(CHAIN_BENCH_ARGS)

bench-chain-quick: all
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-chain-bench
	$(BUILD)/bench/quipu-chain-bench --quipu $(BUILD)/quipu --quick --crypto both --receivable $(CHAIN_BENCH_ARGS)

# The same run with Lua counter-contract calls (gas metered) instead of kv
# puts: RESULT lua_calls_per_s_consensus.  Every bench-chain run also prints
# the in-process Lua figures (lua_calls_per_s_metered/_unmetered).
bench-chain-lua: all
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-chain-bench
	$(BUILD)/bench/quipu-chain-bench --quipu $(BUILD)/quipu --lua $(CHAIN_BENCH_ARGS)

# ---- auth benchmark (bench/auth/, issue 14): build/bench/quipu-auth-bench ----
# `make bench-auth` measures, on one core, the auth module's assertion
# verification (ES256, EdDSA) beside OpenSSL's P-256 and libsodium's Ed25519
# verify in the same run, then starts build/quipu (ledger + auth) in a temp
# dir and confirms payments over HTTP (confirms/s, p50/p99, whole flows/s),
# checking the ledger afterwards.  `make bench-auth-quick` is the small run
# (well under a minute).  AUTH_BENCH_ARGS adds flags (--payments N,
# --users N, --connections N, --verify-ms N, --keep).
AUTH_BENCH_SRC := $(sort $(wildcard bench/auth/*.c))
AUTH_BENCH_OBJ := $(AUTH_BENCH_SRC:bench/%.c=$(BUILD)/obj/bench/%.o) \
                  $(BUILD)/obj/bench/bench_common.o $(BUILD)/obj/bench/workload.o \
                  $(BUILD)/obj/bench/bench_node.o $(BUILD)/obj/bench/bench_authn.o

$(BUILD)/bench/quipu-auth-bench: $(AUTH_BENCH_OBJ) $(BUILD)/libquipu.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(AUTH_BENCH_OBJ) $(BUILD)/libquipu.a $(DEP_LIBS) $(EXTRA_LDFLAGS)

.PHONY: bench-auth bench-auth-quick
bench-auth: all
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-auth-bench
	$(BUILD)/bench/quipu-auth-bench --quipu $(BUILD)/quipu $(AUTH_BENCH_ARGS)

bench-auth-quick: all
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-auth-bench
	$(BUILD)/bench/quipu-auth-bench --quipu $(BUILD)/quipu --quick $(AUTH_BENCH_ARGS)

# ---- payments benchmark (bench/payments/, issue 16): build/bench/quipu-payments-bench ----
# `make bench-payments` starts a node (ledger, auth, payments) in a temp dir
# and pays orders end to end over HTTP (order, payment intent, challenge, a
# passkey assertion from the software authenticator in bench/bench_authn.c,
# confirm, read until paid), collects orders by payment code (a wallet device
# enrolled per collect), then measures the same node's raw ledger rate
# (simple transfers, one per request) for the ratio, and reads the ledger
# back.  `make bench-payments-quick` is the small run (300 orders).  Not
# part of `make test`.  docs/bench.md, "Payments benchmark".
PAY_BENCH_SRC := $(sort $(wildcard bench/payments/*.c))
PAY_BENCH_OBJ := $(PAY_BENCH_SRC:bench/%.c=$(BUILD)/obj/bench/%.o) \
                 $(BUILD)/obj/bench/bench_common.o $(BUILD)/obj/bench/workload.o \
                 $(BUILD)/obj/bench/bench_node.o $(BUILD)/obj/bench/bench_authn.o

$(BUILD)/bench/quipu-payments-bench: $(PAY_BENCH_OBJ) $(BUILD)/libquipu.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(PAY_BENCH_OBJ) $(BUILD)/libquipu.a $(DEP_LIBS) $(EXTRA_LDFLAGS)

.PHONY: bench-payments bench-payments-quick
bench-payments: all
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-payments-bench
	$(BUILD)/bench/quipu-payments-bench --quipu $(BUILD)/quipu $(PAY_BENCH_ARGS)

bench-payments-quick: all
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-payments-bench
	$(BUILD)/bench/quipu-payments-bench --quipu $(BUILD)/quipu --quick $(PAY_BENCH_ARGS)

# ---- risk benchmark (bench/risk/, issue 15): build/bench/quipu-risk-bench ----
# `make bench-risk` generates a ruleset of 250 rules over 20 features and
# decides 1,000,000 seeded events in-process on one core: decisions/s and
# the p50/p99 time of one decision as RESULT lines (docs/risk.md, "Speed");
# then the same ruleset and events over HTTP on a real `quipu node`, in
# batches of 1,000 over 2 keep-alive connections: decisions/s, p50/p99 of a
# batch request.  `make bench-risk-quick` decides 100,000 each way.
# RISK_BENCH_ARGS adds flags to the in-process part (--events N),
# RISK_HTTP_ARGS to the HTTP part (--events N, --batch N, --connections N,
# --keep).
RISK_BENCH_SRC := $(sort $(wildcard bench/risk/*.c))
RISK_BENCH_OBJ := $(RISK_BENCH_SRC:bench/%.c=$(BUILD)/obj/bench/%.o) \
                  $(BUILD)/obj/bench/bench_common.o $(BUILD)/obj/bench/workload.o \
                  $(BUILD)/obj/bench/bench_node.o

$(BUILD)/bench/quipu-risk-bench: $(RISK_BENCH_OBJ) $(BUILD)/libquipu.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(RISK_BENCH_OBJ) $(BUILD)/libquipu.a $(DEP_LIBS) $(EXTRA_LDFLAGS)

.PHONY: bench-risk bench-risk-quick
bench-risk: all
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-risk-bench
	taskset -c 0 $(BUILD)/bench/quipu-risk-bench $(RISK_BENCH_ARGS)
	$(BUILD)/bench/quipu-risk-bench --http --quipu $(BUILD)/quipu $(RISK_HTTP_ARGS)

bench-risk-quick: all
	@$(MAKE) --no-print-directory $(BUILD)/quipu $(BUILD)/bench/quipu-risk-bench
	taskset -c 0 $(BUILD)/bench/quipu-risk-bench --quick $(RISK_BENCH_ARGS)
	$(BUILD)/bench/quipu-risk-bench --http --quipu $(BUILD)/quipu --quick $(RISK_HTTP_ARGS)

# ---- deterministic simulation (src/drills, docs/drills.md) ----
# `make sim SEEDS=100000` runs many seeds of `quipu sim ledger`; a failing
# seed prints the command that replays it.
.PHONY: sim
sim: all
	@mkdir -p build/drills
	$(BUILD)/quipu sim ledger --seed $${SEED:-1} --seeds $${SEEDS:-1000} --steps $${STEPS:-200} --json build/drills/sim.json
	@$(MAKE) --no-print-directory sim-chain

# The consensus simulator (docs/chain.md, "Simulator"): `make sim-chain
# CHAIN_SEEDS=10000` runs that many seeds of 4 validators (1 Byzantine) and a
# fifth as many of 7 (2 Byzantine) and of 10 (3 Byzantine), then a twentieth
# as many of 4 in the GM/T suite (--crypto sm2).
.PHONY: sim-chain
sim-chain: $(BUILD)/quipu
	$(BUILD)/quipu sim chain --validators 4 --byzantine 1 --seed $${CHAIN_SEED:-1} --seeds $${CHAIN_SEEDS:-2000} --steps $${CHAIN_STEPS:-300}
	$(BUILD)/quipu sim chain --validators 7 --byzantine 2 --seed $${CHAIN_SEED:-1} --seeds $$(( $${CHAIN_SEEDS:-2000} / 5 )) --steps $${CHAIN_STEPS:-300}
	$(BUILD)/quipu sim chain --validators 10 --byzantine 3 --seed $${CHAIN_SEED:-1} --seeds $$(( $${CHAIN_SEEDS:-2000} / 5 )) --steps $${CHAIN_STEPS:-300}
	$(BUILD)/quipu sim chain --validators 4 --byzantine 1 --seed $${CHAIN_SEED:-1} --seeds $$(( $${CHAIN_SEEDS:-2000} / 20 )) --steps $${CHAIN_STEPS:-300} --crypto sm2

# A few hundred seeds for `make test` (ledger results in build/drills/sim.json),
# then 300 seeds of the consensus simulator, and 46 more in the GM/T suite
# (SM2 signing and verifying is several times slower: about 20 s on one core).
# Seed 354 at 7 validators is a regression run: a validator far behind
# filled its 8 fetch slots with blocks it already held as orphans and never
# asked for the parent it lacked (docs/chain.md, "Catching up").
sim-quick: $(BUILD)/quipu
	@mkdir -p build/drills
	$(BUILD)/quipu sim ledger --seed 1 --seeds 300 --steps 120 --json build/drills/sim.json
	$(BUILD)/quipu sim chain --validators 4 --byzantine 1 --seed 1 --seeds 250 --steps 300
	$(BUILD)/quipu sim chain --validators 7 --byzantine 2 --seed 1 --seeds 50 --steps 300
	$(BUILD)/quipu sim chain --validators 7 --byzantine 2 --seed 354 --seeds 1 --steps 300
	$(BUILD)/quipu sim chain --validators 4 --byzantine 1 --seed 1 --seeds 40 --steps 300 --crypto sm2
	$(BUILD)/quipu sim chain --validators 7 --byzantine 2 --seed 1 --seeds 6 --steps 300 --crypto sm2

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

# kill -9 torture of the payments module (tests/torture/payments_torture.py,
# docs/payments.md "Crash safety"): orders, intents confirmed by passkey,
# partial refunds and Idempotency-Key retries under SIGKILL, checked after
# every restart.  `make torture-payments KILLS=200 [SEED=…]`;
# `make torture-payments-quick` (≤ 90 s) is meant for `make test`.
.PHONY: torture-payments torture-payments-quick
torture-payments: $(BUILD)/quipu
	/usr/bin/python3 tests/torture/payments_torture.py --kills $${KILLS:-100} $${SEED:+--seed $$SEED} --quipu $(BUILD)/quipu

torture-payments-quick: $(BUILD)/quipu
	/usr/bin/python3 tests/torture/payments_torture.py --kills 10 --load-ms-max 1000 --rounds-per-dir 5 $${SEED:+--seed $$SEED} --quipu $(BUILD)/quipu
