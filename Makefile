# Two commands: `make run` and `make test`. Each sets up everything it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL := models/pose_landmarker_full.task
LITERT_MODEL := models/pose_landmark_full.tflite
SAMPLE := fixtures/backward_walk_side_1080p60.mp4
OUT ?= out
# posecoach looks for its pose models here (installed copies use the user data folder).
export POSECOACH_MODELS_DIR := $(CURDIR)/models

.PHONY: setup run analyze test test-default lint bench browsers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,mediapipe]'
	touch $(STAMP)

$(MODEL): $(STAMP)
	$(PY) -m posecoach.pose.model $(MODEL)

# The LiteRT backend's two models, copied from the mediapipe 0.10.21 wheel (and the mediapipe
# backend's bundle, where mediapipe is installed).
$(LITERT_MODEL): $(STAMP)
	$(PY) -m posecoach.pose.model

setup: $(STAMP) $(LITERT_MODEL)

# The default install proven on its own: a clean venv with numpy 2 and no mediapipe runs the
# analysis and pose tests.
DEFAULT_VENV := .venv-default
test-default: $(LITERT_MODEL)
	rm -rf $(DEFAULT_VENV)
	$(PYTHON) -m venv $(DEFAULT_VENV)
	$(DEFAULT_VENV)/bin/python -m pip install --quiet -e '.[dev]'
	$(DEFAULT_VENV)/bin/python -c "import importlib.util as u, numpy; assert u.find_spec('mediapipe') is None; assert int(numpy.__version__.split('.')[0]) >= 2"
	$(DEFAULT_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/test_analysis.py tests/test_pose.py tests/pose

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

# Every test in the development environment (mediapipe installed, for the agreement tests), then
# the default install on its own.
test: setup browsers
	$(PY) -m pytest
	$(MAKE) --no-print-directory test-default

lint: $(STAMP)
	$(VENV)/bin/ruff check posecoach tests benchmarks tools

# The benchmark needs the checkout's clips, so it runs from here, not from the installed package.
# Options: make bench BENCH_ARGS='--quick --repeats 1'
bench: setup
	$(PY) -m benchmarks.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(DEFAULT_VENV) $(OUT) test-output
