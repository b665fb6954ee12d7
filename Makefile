# Two commands: `make run` and `make test`. Each sets up everything it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL := models/pose_landmarker_full.task
SAMPLE := fixtures/backward_walk_side_1080p60.mp4
OUT ?= out

.PHONY: setup run analyze test lint bench browsers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(MODEL): $(STAMP)
	$(PY) -m posecoach.model_bundle $(MODEL)

setup: $(STAMP) $(MODEL)

run: setup
	$(VENV)/bin/posecoach analyze $(SAMPLE) --out $(OUT)

analyze: run

browsers: $(STAMP)
	@$(PY) -m posecoach.devtools.browsers

test: setup browsers
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check posecoach tests

bench: setup
	$(VENV)/bin/posecoach bench

clean:
	rm -rf $(VENV) $(OUT) test-output
