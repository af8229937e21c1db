# Shortcuts for the README's commands; each sets up its own virtual environment.
.PHONY: demo ui test lint

.venv/bin/python:
	python3.11 -m venv .venv

# The demo keeps to data/demo/, its own Dagster instance included (README, "Two commands").
demo: .venv/bin/python
	.venv/bin/pip install -q -e . && .venv/bin/python -m bigcommerce_sandbox.demo

ui: .venv/bin/python
	.venv/bin/pip install -q -e . && .venv/bin/python -m bigcommerce_sandbox.demo --ui

test: .venv/bin/python
	.venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest

lint: .venv/bin/python
	.venv/bin/pip install -q -e '.[test]' && .venv/bin/ruff check . && \
	.venv/bin/ruff format --check . && .venv/bin/lint-imports && .venv/bin/mypy
