# Two commands on a fresh clone:  `make run` (set up + launch)  and  `make test` (set up + test).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test setup benchmarks walkthrough clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,onnx,bm3d]"
	touch $(STAMP)

setup: $(STAMP)

# On Linux the window needs a display and, on X11, libxcb-cursor0 (sudo apt install libxcb-cursor0);
# without them main.py says what is missing and exits 1. Over SSH use the command line: main.py --help.
run: $(STAMP)
	$(BIN)/python main.py

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/overhead.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/ui_latency.py
	$(BIN)/python benchmarks/time_to_quality.py
	$(BIN)/python benchmarks/denoise_quality.py
	$(BIN)/python benchmarks/denoise_quality.py --memory

# The real app under Xvfb at 1280x800, driven with xdotool through every tab; screenshots in docs/walkthrough/.
# Needs Xvfb and xdotool (sudo apt-get install -y xvfb xdotool libxcb-cursor0); a few minutes on 2 cores.
walkthrough: $(STAMP)
	$(BIN)/python tools/walkthrough.py --out docs/walkthrough

clean:
	rm -rf $(VENV) build *.egg-info
