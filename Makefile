# One entry point for people, CI and the pipeline. Every target installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
UV          ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_ARGS ?=
CONTRACT    ?=
# 1: `make test` also runs the container parts (engine, images, testcontainers smoke set, compose e2e);
# 0: it leaves them out (no engine needed; tests marked `containers` deselected).
ONEX_CONTAINERS ?= 1
export UV_PYTHON_DOWNLOADS := never

.PHONY: help venv services tools docker docker-stop lint test run bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	@echo ">> installing uv (Python package manager)"
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

# --compile-bytecode: every interpreter start (tests spawn hundreds) reads bytecode instead of compiling
# the dependencies' sources again, which it would on a machine with PYTHONDONTWRITEBYTECODE=1 set.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	@echo ">> syncing $(VENV) from uv.lock"
	$(UV) sync --frozen --all-groups --compile-bytecode
	@touch $@

venv: $(VENV)/.synced ## create .venv from uv.lock (idempotent)

services: venv ## install native PostgreSQL, OpenBao, Consul and Kafka for the tests (no-op when present)
	@bash scripts/services/install.sh

tools: ## install the appliance and observability check tools (Debian packages, Go, the AsyncAPI parser; no-op when present)
	@bash scripts/tools/install.sh

docker: venv services tools ## a Docker engine (Debian's docker.io, started when none answers) and the stack's images (build/images.env)
	@bash scripts/docker/engine.sh ensure
	@bash scripts/docker/images.sh

docker-stop: ## stop the dockerd that `make docker` started (by its pid file)
	@bash scripts/docker/engine.sh stop

lint: venv ## ruff, mypy --strict (src and the Dagger module), import-linter
	$(VENV)/bin/ruff check src tests ci bench
	$(VENV)/bin/ruff format --check src tests ci bench
	$(VENV)/bin/mypy src
	$(VENV)/bin/mypy ci
	$(VENV)/bin/lint-imports

ifeq ($(ONEX_CONTAINERS),0)
TEST_NEEDS   :=
TEST_MARKERS := -m "not containers"
else
TEST_NEEDS   := docker
TEST_MARKERS :=
endif

test: venv services tools $(TEST_NEEDS) lint ## every quality gate and every test, with coverage
	rm -f .coverage .coverage.*
	$(VENV)/bin/pytest --cov --cov-report=term $(TEST_MARKERS) $(PYTEST_ARGS)

bench: venv services ## run the benchmark suite; writes bench/results/latest.{json,md,png}
	$(PY) -m bench.run $(BENCH_ARGS)

run: venv ## start the host on the bundled dev contract (in-memory bus, local handler)
	$(VENV)/bin/onex-host run $(CONTRACT)

clean: ## remove caches and the virtual environment
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
