# The human front door. Every target installs what it needs first.
BUILD_DIR ?= build
SAN_DIR   ?= build-sanitize
JOBS      ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps build test test-sanitize clean demo sim-long sim-replica-long threshold-bench bench bench-compare bench-build fuzz chaos compose-build compose-test compose-image-full

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# A local 4-replica cluster and a real 3S session through the CLI (scripts/demo.sh). Only
# the programs the demo runs are built: no tests, simulators or benchmarks (`make test`
# builds those), so a first run on a fresh machine compiles about half as much.
DEMO_TARGETS = belfry-replica belfry-setup belfry-cluster belfry
demo: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS) --target $(DEMO_TARGETS)
	BIN=$(BUILD_DIR)/bin ./scripts/demo.sh

# AddressSanitizer + UndefinedBehaviorSanitizer build of everything, with the full suite.
test-sanitize: deps
	cmake -S . -B $(SAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DBELFRY_SANITIZE=ON
	cmake --build $(SAN_DIR) -j $(JOBS)
	cd $(SAN_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# 10,000 seeded runs of the consensus simulator (test/sim) across N, schedulers and
# Byzantine strategies, then 10,000 of the whole-replica simulator (test/replica_sim)
# across its fault mix.
sim-long: build
	$(BUILD_DIR)/test/sim/belfry-sim --matrix --seed 1 --seeds 10000
	$(BUILD_DIR)/test/replica_sim/belfry-replica-sim --matrix --seed 1 --seeds 10000 --scenario mix

# The whole-replica simulator's part of sim-long alone.
sim-replica-long: build
	$(BUILD_DIR)/test/replica_sim/belfry-replica-sim --matrix --seed 1 --seeds 10000 --scenario mix

# Fault-injection matrix (test/chaos/README.md): every scenario x CHAOS_SEEDS seeds on N=4
# and N=7, CHAOS_SECONDS of load each, on loopback ports from 21000.
CHAOS_SEEDS ?= 3
CHAOS_SECONDS ?= 30
chaos: build
	$(BUILD_DIR)/test/chaos/belfry-chaos --matrix --seed 1 --seeds $(CHAOS_SEEDS) \
		--seconds $(CHAOS_SECONDS) --base-port 21000 --bin $(BUILD_DIR)/bin

threshold-bench: build
	$(BUILD_DIR)/tools/threshold-bench

# Benchmarks (tools/bench/README.md). Only the programs they run are built; the configure
# step is repeated so that a build folder from before tools/bench existed learns its targets.
BENCH_TARGETS = belfry-replica belfry-setup belfry-cluster belfry-bench etcd-load
bench-build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS) --target $(BENCH_TARGETS)

# W1..W5 on a fresh local 4-replica cluster, W1 on 7 and 10; one summary table.
# BENCH_SECONDS, BENCH_OPS, BENCH_WORKLOADS, BENCH_SCALE_N, BENCH_OUT override the defaults.
bench: bench-build
	BIN=$(BUILD_DIR)/bin ./tools/bench/run.sh bench

# Belfry W1, W2, W5 and the same workloads on a 3-member etcd cluster, with ratios.
bench-compare: bench-build
	./scripts/install-deps.sh etcd-server etcd-client
	BIN=$(BUILD_DIR)/bin ./tools/bench/run.sh compare

# deploy/docker-compose.yml for real under podman + docker-compose (deploy/README.md,
# "Running it for real"): the engine is installed and configured first, and only the host
# programs the image and the test need are built. compose-test feeds the image's runtime stage
# with those programs; compose-image-full builds the whole Dockerfile, compiling Belfry in
# the image, and runs the same test on it. The Debian base image's tarball is kept in
# $(BUILD_DIR)/compose-e2e/ for a week.
COMPOSE_TARGETS = belfry-replica belfry-setup belfry
COMPOSE_E2E = BELFRY_E2E_BASE_TAR=$(BUILD_DIR)/compose-e2e/debian-12-minbase.tar \
	./test/deploy/compose_e2e.sh . $(BUILD_DIR)/bin
compose-build:
	./scripts/install-deps.sh --container-engine
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS) --target $(COMPOSE_TARGETS)

compose-test: compose-build
	$(COMPOSE_E2E)

compose-image-full: compose-build
	$(COMPOSE_E2E) --full-image

# libFuzzer + ASan + UBSan on every parser of untrusted bytes (test/fuzz/README.md):
# FUZZ_SECONDS per target on a copy of the committed corpus; findings land in
# $(FUZZ_DIR)/crashes/<target>/ and fail the target.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	./scripts/install-deps.sh clang-14 libclang-rt-14-dev
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBELFRY_FUZZ=ON -DBELFRY_WERROR=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_targets
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./test/fuzz/run_fuzz.sh $(FUZZ_DIR)

clean:
	rm -rf $(BUILD_DIR) $(SAN_DIR) $(FUZZ_DIR)
