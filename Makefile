# strom: the two commands that do everything on a fresh Debian 12 machine are
#   make demo    build, then run the demo
#   make test    build, run the whole suite, again under ASan+UBSan, and short fuzz runs
# Both install missing Debian packages first (scripts/install-deps.sh).

JOBS    ?= $(shell nproc)
BUILD   ?= build
ASAN    ?= build-asan
FUZZB   ?= build-fuzz
FUZZ_SECONDS      ?= 14     # per target in `make test` (16 targets: ~4 min)
FUZZ_LONG_SECONDS ?= 600    # per target in `make fuzz`
CTEST_ARGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps build test test-unit test-asan fuzz fuzz-short bench demo clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan-tree: deps
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DSTROM_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)

build-fuzz-tree: deps
	@CC=clang cmake -S . -B $(FUZZB) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTROM_FUZZ=ON >/dev/null
	@cmake --build $(FUZZB) -j $(JOBS)

test-unit: build
	@cd $(BUILD) && ctest $(CTEST_ARGS)

test-asan: build-asan-tree
	@cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_ARGS)

fuzz-short: build-fuzz-tree
	@bash scripts/run-fuzz.sh $(FUZZB) $(FUZZ_SECONDS)

test: test-unit test-asan fuzz-short
	@echo "make test: all suites passed"

fuzz: build-fuzz-tree
	@bash scripts/run-fuzz.sh $(FUZZB) $(FUZZ_LONG_SECONDS)

bench: build
	@$(BUILD)/strom bench log

demo: build
	@$(BUILD)/strom demo

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZB)
