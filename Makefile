# One command installs everything and runs the demo (`make demo`); one runs the tests (`make test`).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test serve
install: $(VENV)/.installed

# torch is installed first and pinned, so pip takes the CPU build instead of a multi-GB CUDA one.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev]'
	touch $@

demo: install
	$(BIN)/deskhand demo

test: install
	$(BIN)/pytest -q

serve: install
	$(BIN)/deskhand serve
