# Sluice — build, test and run targets. Every target works on a fresh machine:
# services are installed and started by scripts/services.sh.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
PKGS     ?= ./...
# Services the test suite needs; later issues append to this list.
TEST_SERVICES ?= postgres kafka mariadb mongo s3 opensearch
# Packages run in parallel (-p) and tests inside them as they allow.
TEST_FLAGS ?= -race -count=1 -p 2 -timeout 25m

.PHONY: all build test unit bench soak lint demo services-up services-down clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/sluice ./cmd/sluice

## test: lint, start the real services, run every test (CI runs exactly this).
test: lint services-up
	$(GO) test $(TEST_FLAGS) $(PKGS)

## unit: tests that need no service (integration tests skip when run by hand).
unit:
	$(GO) test -count=1 -short $(PKGS)

## bench: Go benchmarks (benchstat-compatible output): the packages' micro
## benchmarks, then Postgres → Kafka end to end (internal/bench; each case runs
## once: BENCH_SCALE=0.1 for a tenth of the issue's sizes, BENCH_E2E=Live for one
## case, SLUICE_BENCH_BROKERS=kfake for the in-process broker only).
BENCH_FLAGS ?= -benchmem
BENCH_SCALE ?= 1
BENCH_E2E   ?= .
bench: services-up
	$(GO) test -run '^$$' -bench . $(BENCH_FLAGS) $$($(GO) list $(PKGS) | grep -v '/internal/bench$$')
	SLUICE_BENCH_SCALE=$(BENCH_SCALE) $(GO) test -run '^$$' -bench '$(BENCH_E2E)' -benchtime=1x -timeout 4h ./internal/bench

## soak: the no-loss test with many more SIGKILLs (SOAK_KILLS) than make test.
SOAK_KILLS ?= 200
soak: services-up
	SLUICE_SOAK_KILLS=$(SOAK_KILLS) $(GO) test -count=1 -run 'NoLoss' -timeout 3h -v ./internal/e2e

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

## demo: Sluice's main job end to end on local defaults.
demo:
	GO="$(GO)" scripts/demo.sh

services-up:
	scripts/services.sh up $(TEST_SERVICES)

services-down:
	scripts/services.sh down

clean:
	rm -rf bin
