# Two entry points: `make quickstart` (set up and run the example campaign)
# and `make test` (set up and run the test suite). Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch is installed first, pinned, so that the package's
# torch range never pulls a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: venv install install-dev quickstart test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PIN)

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/python
install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

quickstart: install
	$(BIN)/shinka run experiments/quickstart.yaml

test: install-dev
	$(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV) runs mlflow.db mlartifacts
