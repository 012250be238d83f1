# edgeppg: the project's vocabulary. `make demo` runs the pipeline, `make test` runs the tests.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.edgeppg-setup
APT_PKGS := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
PRESET ?= default
OUT ?= runs/demo

.PHONY: setup toolchain demo test smoke bench fuzz hostile clean help peers

help:
	@echo "make demo   - set up, then run the whole pipeline on the built-in default ($(OUT))"
	@echo "make test   - set up, then the whole pytest suite"
	@echo "make setup  - .venv with pinned versions + ARM toolchain/QEMU (idempotent)"
	@echo "make bench  - data generator and pipeline benchmarks (JSON in runs/bench)"
	@echo "make fuzz   - long hypothesis run over manifests, sidecars, configs and model/array bytes"
	@echo "make hostile - rerun issue 12's hostile attempts as subprocesses and print the table"
	@echo "make peers  - optional published PPG HR models (KID-PPG, BeliefPPG) into .venv/peers for the real-PPG benchmark"

# Pinned install: requirements.lock pins every package (torch CPU build); the project goes in --no-deps
# so the resolver can never swap in a CUDA torch.
$(STAMP): requirements.lock requirements-real.txt pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# data-only packages (never imported) go to a --target folder: their absent deps stay out of pip check
	@# --ignore-requires-python: kid-ppg 0.0.4 (data only here) pins Python ==3.10.8
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --ignore-requires-python --upgrade --target $(VENV)/real-data -r requirements-real.txt
	$(BIN)/pip check
	@touch $(STAMP)

setup: $(STAMP) toolchain

# Optional, not part of setup/test: published PPG HR models + their TF add-ons, --no-deps into their own folder
# (edgeppg/realppg/estimators.py puts it on sys.path in a subprocess only). Runs on the venv's tensorflow-cpu.
peers: $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --ignore-requires-python --upgrade --target $(VENV)/peers -r requirements-peers.txt

# ARM toolchain + QEMU for firmware_harness/. Installs as root or with non-interactive sudo;
# otherwise prints the command and the toolchain tests skip with that reason.
toolchain:
	@if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null; then \
	  true; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing $(APT_PKGS) ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PKGS)) >/dev/null; \
	elif sudo -n true 2>/dev/null; then \
	  (sudo -n apt-get update -qq && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PKGS)) >/dev/null; \
	else \
	  echo "NOTE: ARM toolchain/QEMU missing and no root: run 'sudo apt-get install -y $(APT_PKGS)';"; \
	  echo "      firmware tests will skip until then."; \
	fi

demo: setup
	$(BIN)/edgeppg run --preset $(PRESET) --out $(OUT)

smoke: setup
	$(BIN)/edgeppg run --preset smoke --out runs/smoke

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: setup
	$(BIN)/python tools/bench_data.py --out runs/bench/data.json

# the same fuzz tests `make test` runs briefly, with many more examples (EDGEPPG_FUZZ_EXAMPLES per test)
FUZZ_EXAMPLES ?= 400
fuzz: setup
	EDGEPPG_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_fuzz_hostile.py

hostile: setup
	$(BIN)/python tools/hostile_table.py --json runs/hostile.json

clean:
	rm -rf runs build firmware_harness/build .pytest_cache
