# The commands people and CI use. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help run test lint fmt proto-check services python-check build bench helm-lint browser-test

help: ## Lists every target with a line each.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: ## Builds (release) and starts the whole platform on the embedded default (SQLite under ./data) with the reference data loaded.
	$(CARGO) build --release -p sharedmetrics
	./target/release/sharedmetrics serve

build: ## Builds the binary (debug).
	$(CARGO) build -p sharedmetrics

services: ## Starts PostgreSQL and Redis on 127.0.0.1 (installs them with apt-get if absent).
	./scripts/ensure-services.sh

test: services ## Runs every test: unit, service and end-to-end (PostgreSQL, SQLite, both topologies), the README's Python first call, the dashboard in headless Chromium, and the Helm chart checks.
	$(CARGO) fmt --all -- --check
	python3 scripts/check-size.py
	$(CARGO) test --workspace --no-fail-fast
	@# The cli's integration tests made cargo build target/debug/sharedmetrics with the tests'
	@# features: the scripts use it (a separate `cargo build` re-resolves features and recompiles).
	test -x target/debug/sharedmetrics
	./scripts/python-first-call.sh target/debug/sharedmetrics
	./scripts/browser-tests.sh target/debug/sharedmetrics
	./scripts/helm-lint.sh

bench: services ## Measures ingest through the gateway against a raw binary COPY on the same PostgreSQL (release build) and writes BENCHMARKS.md.
	$(CARGO) run --release -p sharedmetrics-e2e --bin bench -- $(or $(ROWS),1000000)

lint: ## Checks formatting, runs clippy with warnings as errors, and checks the size limits (no production file over 800 lines, no function over 150).
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	python3 scripts/check-size.py

helm-lint: ## Lints the Helm chart with Helm's SDK, renders ci/*-values.yaml, checks the refusals, kubernetes-validate (1.33, strict) and checkov; no cluster needed.
	./scripts/helm-lint.sh

browser-test: ## Tests the web dashboard in headless Chromium (Playwright) against a seeded debug build; screenshots in target/browser-artifacts (UPDATE_DOCS=1 copies them to docs/dashboard).
	./scripts/browser-tests.sh

fmt: ## Formats the code.
	$(CARGO) fmt --all

proto-check: ## Compiles the protos with protoc (vendored) and with Python's grpc_tools, so both toolchains accept them.
	$(CARGO) build -p sharedmetrics-proto
	python3 -c 'import grpc_tools' 2>/dev/null || python3 -m pip install -q grpcio-tools
	cd proto && python3 -m grpc_tools.protoc -I. -I$$(python3 -c 'import grpc_tools,os;print(os.path.dirname(grpc_tools.__file__)+"/_proto")') \
		--descriptor_set_out=/dev/null --include_imports $$(find sharedmetrics -name '*.proto')
