# The two commands a newcomer needs: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCAL_PACKAGES := -e ./shared -e ./services/planner -e ./services/ambassadors \
	-e ./services/content -e ./services/metrics -e ./services/gateway \
	-e ./services/devtools
STAMP := $(VENV)/.installed

.PHONY: run test lint imports typecheck check lock clean bench bench-machine bench-metrics bench-content deploy-check asyncapi

# The install ends by writing the bytecode caches Python and pytest would otherwise make at every
# run where PYTHONDONTWRITEBYTECODE is set (as on the project's CI machines): the project's
# modules compiled, and the test modules and pytest plugins as pytest's assertion rewriting
# leaves them. About 10 s here; every suite run and every service start then reads them
# (docs/backbone.md, "Round 12"). A failure to warm them fails nothing.
WARM_CACHES := PYTHONDONTWRITEBYTECODE=

$(STAMP): requirements.lock shared/pyproject.toml services/*/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps $(LOCAL_PACKAGES)
	$(WARM_CACHES) $(BIN)/python -m compileall -q -j 0 shared services tests bench >/dev/null \
		|| echo "compiling the project's modules failed: they compile as they are imported"
	$(WARM_CACHES) $(BIN)/pytest --collect-only -q -p no:cacheprovider >/dev/null 2>&1 \
		|| echo "warming pytest's caches failed: test modules are rewritten as they run"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/advocacy run $(if $(DEMO),--demo)

# Two pytest-xdist workers by default (each with its own nats-server, database templates and
# schemas); `--dist loadgroup` keeps the tests that share one whole platform on one worker
# (tests/conftest.py, SHARED_PLATFORM_GROUPS). PYTEST_WORKERS=0 runs in one process
# (docs/backbone.md, "The suite").
PYTEST_WORKERS ?= 2

test: $(STAMP)
	$(WARM_CACHES) $(BIN)/pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadgroup) $(PYTEST_ARGS)

lint: $(STAMP) imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The architecture's rules (pyproject.toml, [tool.importlinter]): shared/ imports no service, the
# gateway no domain service, services not each other.
imports: $(STAMP)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# deploy/ offline: the Kustomize overlays rendered and validated against the Kubernetes schemas,
# docker-compose.yml against the Compose specification, the alert rules' PromQL, the AsyncAPI
# document (tests/deploy/; `make test` runs them too).
deploy-check: $(STAMP)
	$(BIN)/pytest tests/deploy -q

# Regenerate the AsyncAPI document of every event and request after a contract changed
# (tests/deploy/test_asyncapi.py fails while the committed copy is stale).
asyncapi: $(STAMP)
	$(BIN)/python -m advocacy_shared.asyncapi > docs/asyncapi.json

# The gateway next to a bare FastAPI handler (docs/performance.md); PostgreSQL when DATABASE_URL
# is set, NATS_URL when set. Not a test: it prints figures. Pass options with BENCH_ARGS.
bench: $(STAMP)
	$(BIN)/python bench/gateway.py $(BENCH_ARGS)

# The machine under the figures (a CPU loop, a round trip between processes on one CPU and across
# two, fdatasync): `make bench` and `make bench-metrics` print it first (bench/machine.py).
bench-machine: $(STAMP)
	$(BIN)/python bench/machine.py $(BENCH_ARGS)

# Snapshot ingestion from NATS into PostgreSQL (needs DATABASE_URL=postgresql://...; NATS_URL or
# an embedded nats-server): the metrics service's batch consumer against a raw nats-py + asyncpg
# COPY pipeline, and the publish-to-commit latency at a paced rate (docs/metrics.md).
bench-metrics: $(STAMP)
	$(BIN)/python bench/metrics_ingest.py $(BENCH_ARGS)

# Re-resolve the pinned third-party dependencies: the development environment, and the runtime
# subset that container images install (deploy/requirements.runtime.lock). The current lock seeds
# the output, so uv keeps its pins and changes only what the inputs ask for.
lock: $(STAMP)
	cp requirements.lock requirements.lock.tmp
	$(BIN)/uv pip compile requirements-dev.in --python-version 3.11 --universal \
		--generate-hashes --no-header --quiet -o requirements.lock.tmp
	grep -v '^-e ' requirements.lock.tmp > requirements.lock && rm requirements.lock.tmp
	cp deploy/requirements.runtime.lock requirements.lock.tmp
	$(BIN)/uv pip compile deploy/requirements.runtime.in --python-version 3.11 --universal \
		--generate-hashes --no-header --quiet -o requirements.lock.tmp
	grep -v '^-e ' requirements.lock.tmp > deploy/requirements.runtime.lock && rm requirements.lock.tmp

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# The content service's ranking: 10,000 ambassadors x 5,000 items, time, peak memory and the ratio
# against a per-pair loop in the same process (bench/content_ranking.py). Pass options with
# BENCH_ARGS (e.g. "--baseline-ambassadors 0" runs the loop over every pair: about an hour).
bench-content: $(STAMP)
	$(BIN)/python bench/content_ranking.py $(BENCH_ARGS)
