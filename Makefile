# dkenv — make help lists the targets.
PYTHON ?= python3
PYTEST ?= $(PYTHON) -m pytest
PYTEST_ARGS ?=
# Engine-name comparisons outside dkenv/engines/ (scripts/engine_branches.py): none without a
# `# engine-name: why` comment on its line, and at most 10 with one.
ENGINE_BRANCHES_MAX ?= 0
ENGINE_BRANCHES_EXPLAINED_MAX ?= 10

.DEFAULT_GOAL := help
.PHONY: help install demo lint test test-stress test-oldest test-sqlite test-postgres test-mysql test-docker docker-engine images bench

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

install:  ## install dkenv and its dev tools (editable)
	$(PYTHON) -m pip install -q -e '.[dev]'

demo: install  ## deploy the example datakits with their sample rows to in-memory SQLite and validate them
	$(PYTHON) -m dkenv deploy examples/bronze-pagila examples/silver-pagila --data examples/bronze-pagila/data/sample --validate

lint:  ## ruff, the import layers (import-linter) and no import cycles
	$(PYTHON) -m ruff check dkenv tests benchmarks scripts
	PYTHONPATH=$(CURDIR) lint-imports
	PYTHONPATH=$(CURDIR) $(PYTHON) scripts/import_cycles.py
	$(PYTHON) scripts/engine_branches.py --quiet --max $(ENGINE_BRANCHES_MAX) --max-explained $(ENGINE_BRANCHES_EXPLAINED_MAX)

docker-engine:  ## install and start a Docker engine where none runs (root; Debian)
	sh scripts/docker-engine.sh

images: install docker-engine  ## build dkenv's offline PostgreSQL and MySQL (MariaDB) images, if absent
	$(PYTHON) -m dkenv image build postgres
	$(PYTHON) -m dkenv image build mysql

test: install docker-engine images  ## the whole suite: SQLite, native servers, containers
	DKENV_REQUIRE_DOCKER=1 $(PYTEST) -p no:cacheprovider $(PYTEST_ARGS)

test-stress: install docker-engine images  ## the whole suite with a CPU hog on every core (no test may rely on timing)
	PYTHON=$(PYTHON) sh scripts/cpu-hog.sh env DKENV_REQUIRE_DOCKER=1 $(PYTEST) -p no:cacheprovider $(PYTEST_ARGS)

OLDEST_VENV ?= $(or $(TMPDIR),/tmp)/dkenv-oldest-venv
test-oldest:  ## the no-Docker suite on the oldest dependency versions we declare (constraints/oldest.txt)
	rm -rf $(OLDEST_VENV)
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q --disable-pip-version-check -c constraints/oldest.txt '.[dev]'
	PYTHONPATH=$(CURDIR) $(OLDEST_VENV)/bin/python -m pytest -p no:cacheprovider -n 2 \
		-m "not docker and not postgres and not mysql" $(PYTEST_ARGS)
	rm -rf $(OLDEST_VENV)

test-sqlite: install  ## only what needs no server and no Docker
	$(PYTEST) -m "not docker and not postgres and not mysql" $(PYTEST_ARGS)

test-postgres: install docker-engine images  ## PostgreSQL tests (native server and containers)
	DKENV_REQUIRE_DOCKER=1 $(PYTEST) -m postgres $(PYTEST_ARGS)

test-mysql: install docker-engine images  ## MySQL tests (MariaDB native server and containers)
	DKENV_REQUIRE_DOCKER=1 $(PYTEST) -m mysql $(PYTEST_ARGS)

test-docker: install docker-engine images  ## everything that needs a Docker engine
	DKENV_REQUIRE_DOCKER=1 $(PYTEST) -m docker $(PYTEST_ARGS)

bench: export DKENV_POSTGRES_IMAGE ?= dkenv/postgres:15
bench: export DKENV_MYSQL_IMAGE ?= dkenv/mysql:mariadb-10.11
bench: install images  ## run the benchmarks and print their figures (README has the latest)
	$(PYTHON) benchmarks/datakit_core.py
	$(PYTHON) benchmarks/validate_queries.py --native
	$(PYTHON) benchmarks/check_static.py
	$(PYTHON) benchmarks/image_startup.py
	$(PYTHON) benchmarks/startup.py
	$(PYTHON) benchmarks/handout.py
	$(PYTHON) benchmarks/test_loop.py
	$(PYTHON) benchmarks/cpu_split.py
	$(PYTHON) benchmarks/migrations_handout.py
	$(PYTHON) benchmarks/data_load.py --rss-mb 200
	$(PYTHON) benchmarks/check_live.py
	$(PYTHON) benchmarks/xdist.py
