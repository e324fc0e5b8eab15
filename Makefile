# `make bench`: the embedded-default benchmark table; `make test`: the test suite.
# Both create .venv when it is missing and install dalib into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dalib-installed

.PHONY: bench test mutation clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e ".[dev,text,vision]"
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/dalib bench --dataset rotated-digits --methods source_only,dann --seeds 0,1,2 --workers 2 --out runs/default

test: $(STAMP)
	$(BIN)/python -m pytest -q

# `make mutation` (not part of `make test`; one to two hours on 2 cores): mutmut over the math
# packages and files (`[tool.mutmut] only_mutate`), one package after the other; lists the
# surviving mutants, then the kill rate per package without the equivalent mutants named in
# tests/MUTATION.md.
MUTATION_PACKAGES ?= alignment reweighting shallow eval finetune compress train
MUTATION_JOBS ?= 2
mutation: $(STAMP)
	$(BIN)/pip install -q "mutmut==3.8.1"
	rm -rf mutants
	for pkg in $(MUTATION_PACKAGES); do \
	  echo "== mutation testing dalib/$$pkg"; \
	  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  DALIB_DATA=$${DALIB_DATA:-$(CURDIR)/../shared/data} \
	  $(BIN)/mutmut run --max-children $(MUTATION_JOBS) "dalib.$$pkg.*" || exit 1; \
	done
	$(BIN)/mutmut results
	$(BIN)/python tests/mutation_summary.py

clean:
	rm -rf $(VENV) runs .pytest_cache
