# Shortcuts for the README's commands; each sets up its own virtual environment.
export DAGSTER_HOME := $(CURDIR)/data/dagster_home

.PHONY: demo test lint

.venv/bin/python:
	python3.11 -m venv .venv

demo: .venv/bin/python
	.venv/bin/pip install -q -e . && .venv/bin/python -m bigcommerce_assets.sandbox.demo

test: .venv/bin/python
	.venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest

lint: .venv/bin/python
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
