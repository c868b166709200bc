# One toolchain: ruff (lint + format), mypy (strict on the package), pytest.
PY ?= .venv/bin/python

.PHONY: check lint fmt typecheck test test-unit test-ui test-real
check: lint typecheck test

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt:
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

typecheck:
	$(PY) -m mypy

test:
	$(PY) -m pytest $(PYTEST_ARGS)

# one layer at a time (tests/unit, tests/ui, tests/real; see README "Development")
test-unit test-ui test-real:
	$(PY) -m pytest tests/$(@:test-%=%) $(PYTEST_ARGS)
