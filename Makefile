# accountd — everything a person (and CI) runs goes through these targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint typecheck unit fuzz run bench bench-claims bench-scale vectors clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

## make test: install what is needed, then lint, type-check and run every test
test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check accountd tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

## make fuzz: the property-based tests of tests/fuzz with a long budget (FUZZ_EXAMPLES per test, default 20000)
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q tests/fuzz --timeout=0

## make run: a real nats-server in operator mode + accountd serve + a demo account
run: $(STAMP)
	$(BIN)/accountd dev

## make bench: throughput and latency benchmarks; results go to BENCHMARKS.md by hand
bench: $(STAMP) bench-claims
	$(BIN)/python -m bench.serve
	$(BIN)/python -m bench.store
	$(BIN)/python -m bench.resolver
	$(BIN)/python -m bench.kv
	$(BIN)/python -m bench.scale

## make bench-scale: start-up, memory, GETs and POSTs with 1,000 to 1,000,000 accounts (caches data in bench/.scale-data/)
bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

bench-claims: $(STAMP)
	$(BIN)/python -m bench.claims

## make vectors: rewrite tests/vectors/nsc with the official Go libraries (same bytes on every run; installs nothing)
GOCODE ?= /usr/share/gocode
vectors:
	@command -v go >/dev/null && test -d $(GOCODE)/src/github.com/nats-io/jwt/v2 || { \
	  echo "make vectors needs Go and the NATS Go libraries; as root: apt-get install golang-go" \
	       "golang-github-nats-io-jwt-dev golang-github-nats-io-nkeys-dev (Debian bookworm: jwt 2.3.0)" >&2; exit 1; }
	cd tests/vectors/gen && GO111MODULE=off GOPATH=$(GOCODE) GOPROXY=off GOFLAGS= \
	  GOCACHE=$${TMPDIR:-/tmp}/accountd-vectors-gocache go run main.go -out ../nsc

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
