# Two commands do everything: `make run` (set up, open the app) and `make test` (set up, test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup bench clean screenshot

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) -m playground

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

screenshot: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m playground.ui.screenshot assets/screenshot-image-tab.png --tab image
	QT_QPA_PLATFORM=offscreen $(PY) -m playground.ui.screenshot assets/screenshot-text-tab.png --tab text
	QT_QPA_PLATFORM=offscreen $(PY) -m playground.ui.screenshot assets/screenshot-translate.png --tab translate
	QT_QPA_PLATFORM=offscreen $(PY) -m playground.ui.screenshot assets/screenshot-speech-tab.png --tab speech
	QT_QPA_PLATFORM=offscreen $(PY) -m playground.ui.screenshot assets/screenshot-builder.png --tab builder

clean:
	rm -rf $(VENV) build *.egg-info
