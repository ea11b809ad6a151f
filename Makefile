# The two commands of the quick start: `make demo` and `make test`.
# Each creates .venv when it is missing and installs the package into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST := $(PY) -m pytest -p no:cacheprovider --durations=15
export MPLBACKEND := Agg

.PHONY: venv demo test test-slow thorough fuzz notebooks bench lint clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,data]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m minidense.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: lint
	$(PYTEST) -q -m "not slow" --hypothesis-profile=ci

test-slow: $(STAMP)
	$(PYTEST) -q -m slow --hypothesis-profile=ci

thorough: $(STAMP)
	$(PYTEST) -q --hypothesis-profile=thorough

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis runs
