# `make bench`: the embedded-default benchmark table; `make test`: the test suite.
# Both create .venv when it is missing and install dalib into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dalib-installed

.PHONY: bench test clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e ".[dev,text]"
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/dalib bench --dataset rotated-digits --methods source_only,dann --seeds 0,1,2 --workers 2 --out runs/default

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
