# wooqueue — the two commands a new user needs: `make demo` and `make test`.
# Both install what is missing (Debian/Ubuntu packages), start local Redis and PostgreSQL on loopback
# (scripts/services), and build with the Swift package manager.

SHELL := /bin/bash
SWIFT ?= swift
SERVICES := scripts/services
# Test servers' addresses, as scripts/services prints them.
SERVICE_ENV = eval "$$($(SERVICES) env)"

.PHONY: all build release services stop-services demo unit test chaos fuzz bench bench-ingest clean

all: build

build: services-packages
	$(SWIFT) build

release: services-packages
	$(SWIFT) build -c release --product wooqueue

# The C libraries the build links (libhiredis-dev, libpq-dev) come with the services' packages.
services-packages:
	@$(SERVICES) install

services:
	@$(SERVICES) start

stop-services:
	@$(SERVICES) stop

## demo: start Redis and PostgreSQL, run a worker pool on a mix of jobs, show the result.
demo: services build
	@$(SERVICE_ENV) && scripts/demo

## unit: the unit tier only (parsers, policies, mapping, routing, configuration, alert rules): no server, seconds.
unit:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter 'UnitTests|ParsingTests'

## test: the whole suite against real Redis and PostgreSQL.
test: services
	@scripts/check-module-graph
	$(SWIFT) build --build-tests
	@$(SERVICE_ENV) && $(SWIFT) test --skip-build --no-parallel
	@python3 -c "import selenium" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore selenium
	@$(SERVICE_ENV) && python3 Tests/Browser/dashboard_test.py
	@scripts/bench/html-text-linear
	@scripts/chaos/multihost --short

## chaos: the multi-host test in full (three network namespaces; every scenario with redis.waitReplicas 0 and 1,
## 30 s of load before and after each event; about 12 minutes). Needs root, like `make test`'s short form.
chaos: services build
	@scripts/chaos/multihost --seconds 30

## fuzz: libFuzzer on every parser of untrusted input, FUZZ_RUNS inputs per target from the committed seed corpus
## (Fuzz/Corpus); fails on any crash. `make fuzz FUZZ_RUNS=5000000` for a longer hunt.
FUZZ_RUNS ?= 200000
fuzz: services-packages
	scripts/fuzz $(FUZZ_RUNS)

## bench: the worker-pool benchmark on a release build (200,000 jobs).
bench: services release
	@$(SERVICE_ENV) && .build/release/wooqueue bench --jobs 200000

## bench-ingest: the webhook intake under wrk (external load generator), 16 and 64 connections.
bench-ingest: services release
	@$(SERVICE_ENV) && scripts/bench/ingest

clean:
	rm -rf .build .build-fuzz
