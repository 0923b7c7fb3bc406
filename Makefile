# Readiness Tracker — the two commands a new machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install install-test run db test bench bench-reports clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

install: $(VENV)/.installed

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install-test: $(VENV)/.installed-test

# Upgrade the schema, load the library, and the demo data when there are no users yet.
db: install
	$(FLASK) db upgrade
	$(FLASK) seed library
	$(FLASK) keys init
	@if $(FLASK) users list | grep -q '^0 users'; then $(FLASK) seed demo; fi

run: db
	$(FLASK) run --host $(HOST) --port $(PORT)

# ruff (style, bugs, imports) over the whole tree; bandit (security) over the application.
# Exceptions are marked in place: `# noqa: RULE` or `# nosec BXXX`, each with its reason.
lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/bandit -q -c pyproject.toml -r tracker app.py

# Lint first; then SQLite always, PostgreSQL too when TEST_DATABASE_URL is set
# (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test). One worker process per core
# (pytest-xdist), a test file to a worker: a file's tests share its module fixtures and its
# Redis database. `make test PYTEST_ARGS=` runs in one process.
PYTEST_ARGS ?= -n auto --dist loadfile
test: install-test lint
	env -u TEST_DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== the same suite on PostgreSQL ($$TEST_DATABASE_URL) =="; \
		$(PY) -m pytest -m "not browser" $(PYTEST_ARGS); \
	else \
		echo "TEST_DATABASE_URL is not set: skipped the PostgreSQL run."; \
	fi

# Time and peak memory to render and sign reports of 100, 1,000 and 5,000 items
# (several minutes; not part of `make test`): writes docs/benchmarks.md.
bench-reports: install
	$(PY) scripts/bench_reports.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache

# Benchmarks (not part of `make test`): see docs/benchmarks.md.
bench: install
	$(PY) scripts/bench.py $(BENCH_ARGS)
