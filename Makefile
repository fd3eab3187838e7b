# Two commands do everything: `make run` (set up, open the app) and `make test` (set up, test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup bench clean screenshot package

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

# Installers (packaging/README.md): the one-folder bundle, the .deb and the portable tarball in
# dist/, each self-tested (the .deb installed, run from PATH and removed). VARIANT=gpu (default)
# bundles the .venv's CUDA-enabled torch; VARIANT=cpu builds from CPU-only torch wheels in a
# separate venv (needs download.pytorch.org).
VARIANT ?= gpu
CPU_VENV := .venv-package-cpu
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

package: $(STAMP)
ifeq ($(VARIANT),cpu)
	test -x $(CPU_VENV)/bin/python || $(PYTHON) -m venv $(CPU_VENV)
	$(CPU_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CPU_VENV)/bin/python -m pip install --quiet -c constraints.txt \
	    --index-url $(TORCH_CPU_INDEX) torch torchvision torchaudio
	$(CPU_VENV)/bin/python -m pip install --quiet -c constraints.txt . \
	    -r packaging/requirements-package.txt
	$(CPU_VENV)/bin/python packaging/build.py all --variant cpu
else
	$(PY) -m pip install --quiet -r packaging/requirements-package.txt
	$(PY) packaging/build.py all --variant gpu
endif

clean:
	rm -rf $(VENV) $(CPU_VENV) build dist *.egg-info
