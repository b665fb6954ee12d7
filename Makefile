# Two commands: `make run` and `make test`. Each sets up everything it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL := models/pose_landmarker_full.task
SAMPLE := fixtures/backward_walk_side_1080p60.mp4
OUT ?= out
# posecoach looks for its pose models here (installed copies use the user data folder).
export POSECOACH_MODELS_DIR := $(CURDIR)/models

.PHONY: setup run analyze test lint bench browsers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(MODEL): $(STAMP)
	$(PY) -m posecoach.pose.model $(MODEL)

setup: $(STAMP) $(MODEL)

HOST ?= 127.0.0.1
PORT ?= 8000

# The web UI, with the sample clip analysed into an empty library first.
run: setup
	$(VENV)/bin/posecoach serve --host $(HOST) --port $(PORT) --sample $(SAMPLE)

# Analyse the sample clip on the command line and print the summary.
analyze: setup
	$(VENV)/bin/posecoach analyze $(SAMPLE) --out $(OUT)

browsers: $(STAMP)
	@$(PY) -m tools.browsers

test: setup browsers
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check posecoach tests benchmarks tools

# The benchmark needs the checkout's clips, so it runs from here, not from the installed package.
# Options: make bench BENCH_ARGS='--quick --repeats 1'
bench: setup
	$(PY) -m benchmarks.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(OUT) test-output
