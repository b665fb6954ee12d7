# Two commands: `make run` and `make test`. Each sets up everything it needs.
#   .venv       what running posecoach needs (`pip install -e .`): the light install
#   .venv-test  the test stack besides (dev tools, mediapipe for the agreement tests)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_VENV := .venv-test
TPY := $(TEST_VENV)/bin/python
TEST_STAMP := $(TEST_VENV)/.installed
MODEL := models/pose_landmarker_full.task
LITERT_MODEL := models/pose_landmark_full.tflite
SAMPLE := fixtures/backward_walk_side_1080p60.mp4
OUT ?= out
# posecoach looks for its pose models here (installed copies use the user data folder).
export POSECOACH_MODELS_DIR := $(CURDIR)/models

.PHONY: setup setup-test run analyze test test-default lint bench browsers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

# mediapipe 0.10.21 depends on opencv-contrib-python, and the default install on
# opencv-python-headless: both provide `cv2`, and removing one deletes files the other wrote. So
# the headless one goes, and the contrib one (the version already chosen) is installed again whole.
$(TEST_STAMP): pyproject.toml
	$(PYTHON) -m venv $(TEST_VENV)
	$(TPY) -m pip install --quiet --upgrade pip
	$(TPY) -m pip install --quiet -e '.[dev,mediapipe]'
	if $(TPY) -m pip show --quiet opencv-contrib-python 2>/dev/null; then \
	  $(TPY) -m pip uninstall --quiet --yes opencv-python-headless && \
	  $(TPY) -m pip install --quiet --no-deps --force-reinstall \
	    "opencv-contrib-python==$$($(TPY) -c 'import importlib.metadata as m; print(m.version("opencv-contrib-python"))')"; \
	fi
	$(TPY) -c "import cv2; cv2.imencode('.jpg', __import__('numpy').zeros((8, 8, 3), 'uint8'))"
	touch $(TEST_STAMP)

# The LiteRT backend's two models, copied from the mediapipe 0.10.21 wheel (fetched as a file
# with pip when mediapipe is not installed).
$(LITERT_MODEL): $(STAMP)
	$(PY) -m posecoach.pose.model

# The mediapipe backend's bundle, made from the same weights where the test venv has mediapipe
# (Python 3.12 and earlier).
$(MODEL): $(TEST_STAMP) $(LITERT_MODEL)
	if $(TPY) -c "import importlib.util as u, sys; sys.exit(u.find_spec('mediapipe') is None)"; then \
	  $(TPY) -m posecoach.pose.model $(MODEL); fi

setup: $(STAMP) $(LITERT_MODEL)

setup-test: setup $(TEST_STAMP) $(MODEL)

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
# `make run LAN=1`: a phone on the network is the camera (HTTPS, a token and a QR code)
LAN ?=
WHERE := $(if $(LAN),--lan,--host $(HOST))

# The web UI, with the sample clip analysed into an empty library first.
run: setup
	$(VENV)/bin/posecoach serve $(WHERE) --port $(PORT) --sample $(SAMPLE)

# Analyse the sample clip on the command line and print the summary.
analyze: setup
	$(VENV)/bin/posecoach analyze $(SAMPLE) --out $(OUT)

browsers: $(TEST_STAMP)
	@$(TPY) -m tools.browsers

# Every test in the test environment (mediapipe installed, for the agreement tests), then the
# default install on its own.
test: setup-test browsers
	$(TPY) -m pytest
	$(MAKE) --no-print-directory test-default

lint: $(TEST_STAMP)
	$(TEST_VENV)/bin/ruff check posecoach tests benchmarks tools

# The benchmark needs the checkout's clips (and mediapipe, to compare the backends), so it runs
# from here, not from the installed package.
# Options: make bench BENCH_ARGS='--quick --repeats 1'
bench: setup-test
	$(TPY) -m benchmarks.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(TEST_VENV) $(DEFAULT_VENV) $(OUT) test-output
