# grokmon: two entry points. `make demo` runs the whole paper workflow on the tiny offline default;
# `make test` runs the test suite. Both create the pinned environment in .venv if it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
# Portable CPU numerics (threads, torch/MKL/OpenBLAS/numpy kernels), defined once in src/grokmon/workflow/numerics.py
# (standard library only): exported to every recipe, so a commit and seed give the same bits on any x86-64 CPU
# (docs/reproducibility.md).
NUMERICS := $(shell $(PYTHON) src/grokmon/workflow/numerics.py)
$(if $(NUMERICS),,$(error '$(PYTHON) src/grokmon/workflow/numerics.py' printed no CPU numerics pins))
$(foreach pin,$(NUMERICS),$(eval export $(pin)))
export TOKENIZERS_PARALLELISM := false
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: env demo demo-docs demo-check demo-seeds demo-dense test test-record test-paper test-slurm lint bench clean

env: $(STAMP)

# torch first: otherwise peft/transformers pull the multi-GB CUDA build of a newer torch.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml --report results/demo/report.html
	@echo
	@echo "Report:   $(CURDIR)/results/demo/report.html"
	@echo "Table 1:  $(CURDIR)/results/demo/seed0/correlation/table1.tsv"
	@echo "Verdicts: $(CURDIR)/results/demo/verdicts/claims.md"

# The demo's numbers in docs/ come from `make demo` on a pinned run (docs/reproducibility.md): demo-docs copies
# them there (commit the change); demo-check runs the demo and fails unless this machine reproduces them byte for byte.
DEMO_TABLES := seed0/correlation/table1.tsv:demo_table1.tsv verdicts/claims.md:demo_verdicts.md
DEMO_DOCS := $(DEMO_TABLES) seed0/figures/fig1_memorization.png:images/demo_fig1.png \
	seed0/figures/fig4_distance.png:images/demo_fig4.png seed0/figures/fig13_entropy_distance.png:images/demo_fig13.png

demo-docs:
	for pair in $(DEMO_DOCS); do cp results/demo/$${pair%%:*} docs/$${pair##*:} || exit 1; done
	$(BIN)/python scripts/demo_summary.py results/demo docs/demo.md

demo-check: demo
	for pair in $(DEMO_TABLES); do cmp results/demo/$${pair%%:*} docs/$${pair##*:} || exit 1; done
	@echo "docs/ reproduced byte for byte: $(DEMO_TABLES)"

# The demo with three seeds (config/seeds.yaml on top of the demo config): verdicts pooled over seeds, ~3x the time.
demo-seeds: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml config/seeds.yaml
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml config/seeds.yaml --report results/demo-seeds/report.html
	@echo
	@echo "Report:   $(CURDIR)/results/demo-seeds/report.html"
	@echo "Verdicts: $(CURDIR)/results/demo-seeds/verdicts/claims.md"

# The dense control (config/dense.yaml on top of the demo config, issue #17), after the demo: its report puts the
# demo's and the dense twin's Table 1 and verdicts side by side (results/dense/comparison/demo.md).
demo-dense: demo
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml config/dense.yaml --config compare_with=demo
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml config/dense.yaml --config compare_with=demo --report results/dense/report.html
	@echo
	@echo "Report:     $(CURDIR)/results/dense/report.html"
	@echo "Comparison: $(CURDIR)/results/dense/comparison/demo.md"

# The test files are spread over $(CORES) pytest-xdist workers, each file in one worker (its module fixtures run once).
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not paper" -n $(CORES) --dist loadfile tests

# The digests of config/test.yaml's artifacts that the tests check every run of it against, locally and on SLURM
# (tests/fixtures/test_config.sha256): after a change that moves the test config's results on purpose, commit it anew.
test-record: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile config/test.yaml --forceall
	$(BIN)/python -m grokmon.files.digests results/test tests/fixtures/test_config.sha256

# config/nanomoe.yaml's real run through Table 1 (Table 5) and the verdicts: opt-in (config/olmoe.yaml's stand-in
# run is part of `make test`, and its SLURM twin part of `make test-slurm`).
test-paper: $(STAMP)
	$(BIN)/python -m pytest -q -m paper tests/test_nanomoe_config.py

# The workflow (config/test.yaml, and config/olmoe.yaml on its stand-ins) through `snakemake --profile slurm` on a
# real local SLURM cluster (root + apt; skips otherwise). One pytest-xdist worker per file: the fixture workflow and the
# two workflow runs submit to the one cluster at the same time, so one run's waits overlap another's work.
SLURM_TESTS := tests/test_slurm.py tests/test_slurm_workflow.py tests/test_slurm_paper.py
test-slurm: $(STAMP)
	$(BIN)/python -m pytest -q -m slurm -n $(words $(SLURM_TESTS)) --dist loadfile $(SLURM_TESTS)

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf results .snakemake
