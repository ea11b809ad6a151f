# The two commands of the quick start: `make demo` and `make test`.
# Each creates .venv when it is missing and installs the package into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST := $(PY) -m pytest -p no:cacheprovider --durations=15
export MPLBACKEND := Agg

.PHONY: venv demo test test-standin gpu-check test-slow thorough fuzz notebooks notebooks-full lab lab-check bench lint clean
.PHONY: docs docs-check
.PHONY: dist

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,data,docs]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m minidense.demo

# vermin: the oldest Python that setup.cfg's python_requires allows (3.10, Gradescope's images) can run what users
# run (the package, the examples, the notebooks); only 3.11 is installed here, so the check is static.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m mypy
	$(PY) -m mypy.stubtest minidense.tensor --mypy-config-file setup.cfg
	$(VENV)/bin/vermin --target=3.10- --violations --no-tips -q minidense examples notebooks

# Two test workers, one BLAS thread each: uses both cores without the oversubscription that makes
# OpenBLAS threads spin against each other.
SERIAL_BLAS := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# Second pass: the GPU-marked tests (and the stand-in's own) again, on the strict CuPy stand-in of tests/standin,
# first on PYTHONPATH so that subprocesses (the command line, kill/resume) import it too.
STANDIN_PATH := PYTHONPATH=$(CURDIR)/tests/standin$${PYTHONPATH:+:$$PYTHONPATH}

test: lint
	$(SERIAL_BLAS) $(PYTEST) -q -rs -n 2 -m "not slow and not standin" --hypothesis-profile=ci
	@echo "---- GPU-marked tests on the CuPy stand-in (tests/standin) ----"
	@$(MAKE) --no-print-directory test-standin

test-standin: $(STAMP)
	$(SERIAL_BLAS) $(STANDIN_PATH) $(PYTEST) -q -rs -n 2 -m "(gpu or standin) and not slow" --hypothesis-profile=ci

test-slow: $(STAMP)
	$(SERIAL_BLAS) $(PYTEST) -q -rs -n 2 -m slow --hypothesis-profile=ci

thorough: $(STAMP)
	$(PYTEST) -q --hypothesis-profile=thorough

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis runs .mypy_cache
	rm -rf dist

# `make dist`: the sdist and the wheel (the wheel built from the sdist, as an index would), into dist/, checked by
# twine. The wheel is what tests/project/test_release.py installs and tries outside the source tree.
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .
	$(VENV)/bin/twine check --strict dist/*

# ---- benchmark (issue 10): `make bench` installs the peers, each into its own environment, on first use
# (PyTorch CPU; Chainer 7.8.1 needs numpy<2 and setuptools<81), then runs bench/run.py. A peer that cannot
# be installed is reported as absent in the table, not as a failure. BENCH_ARGS="--cases unet_step_64" etc.
BENCH_TORCH := .bench-venv-torch
BENCH_CHAINER := .bench-venv-chainer

$(BENCH_TORCH)/.installed:
	-( test -x $(BENCH_TORCH)/bin/python || $(PYTHON) -m venv $(BENCH_TORCH) ) && \
	  $(BENCH_TORCH)/bin/pip install -q torch==2.13.0 numpy psutil && touch $@ || \
	  echo "bench: PyTorch could not be installed; it will be reported absent"

$(BENCH_CHAINER)/.installed:
	-( test -x $(BENCH_CHAINER)/bin/python || $(PYTHON) -m venv $(BENCH_CHAINER) ) && \
	  $(BENCH_CHAINER)/bin/pip install -q 'numpy<2' 'setuptools<81' wheel psutil && \
	  $(BENCH_CHAINER)/bin/pip install -q --no-build-isolation chainer==7.8.1 && touch $@ || \
	  echo "bench: Chainer could not be installed; it will be reported absent"

bench: $(STAMP) $(BENCH_TORCH)/.installed $(BENCH_CHAINER)/.installed
	$(PY) bench/run.py $(BENCH_ARGS)

# ---- make gpu-check (issue 15): on a machine with a GPU, the GPU-marked tests on real CuPy, then the benchmark
# against PyTorch CUDA (U-Net step, conv, cross-entropy) into bench/results/gpu.md, within 4 minutes. It uses the
# CuPy, PyTorch, NumPy, matplotlib, tqdm, pytest and hypothesis already installed for $(PYTHON): a venv with
# --system-site-packages and minidense installed editable with --no-deps --no-index (nothing downloaded; where that
# cannot build, the source tree is put on PYTHONPATH instead, which also keeps the CuPy stand-in off it). Only
# pytest/hypothesis, when missing, are asked of a package index (one try, 5 s timeout).
GPU_VENV := .venv-gpu
GPU_PY := $(CURDIR)/$(GPU_VENV)/bin/python
GPU_BENCH_CASES := unet_step_64 conv3x3_n8_32to32_64_fwdbwd cross_entropy_n8_21_128_fwdbwd
GPU_LOG := bench/results/gpu-tests.log
GPU_RC := bench/results/gpu-tests.rc

gpu-check:
	@test -x $(GPU_PY) || $(PYTHON) -m venv --system-site-packages $(GPU_VENV)
	@$(GPU_PY) -m pip install -q --no-deps --no-build-isolation --no-index -e . 2>/dev/null || \
	  echo "gpu-check: minidense not installed into $(GPU_VENV) (no setuptools/wheel for $(PYTHON)); run from the source tree"
	@$(GPU_PY) -c "import pytest, hypothesis" 2>/dev/null || \
	  $(GPU_PY) -m pip install -q --retries 0 --timeout 5 pytest hypothesis || \
	  { echo "gpu-check: pytest and hypothesis are not installed for $(PYTHON) and no package index answers"; exit 1; }
	@{ env PYTHONPATH=$(CURDIR) MINIDENSE_REQUIRE_GPU=1 timeout 150 $(GPU_PY) -m pytest -p no:cacheprovider -q -rs \
	  --durations=10 -m "gpu and not slow"; echo $$? > $(GPU_RC); } 2>&1 | tee $(GPU_LOG)
	-env PYTHONPATH=$(CURDIR) MINIDENSE_PYTHON=$(GPU_PY) TORCH_PYTHON=$(GPU_PY) timeout 75 $(GPU_PY) bench/run.py \
	  --device cuda --frameworks minidense torch --cases $(GPU_BENCH_CASES) --rounds 2 --repeat 10 --warmup 3
	@{ echo "# make gpu-check: minidense (CuPy) against PyTorch CUDA"; echo; \
	   echo "GPU: $$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"; \
	   echo "CuPy $$($(GPU_PY) -c 'import cupy; print(cupy.__version__)' 2>&1 | tail -1)," \
	        "PyTorch $$($(GPU_PY) -c 'import torch; print(torch.__version__)' 2>&1 | tail -1)"; \
	   echo "GPU-marked tests on real CuPy: $$(grep -v "^ *$$" $(GPU_LOG) | tail -1) (exit status $$(cat $(GPU_RC)))"; echo; \
	   cat bench/results/latest-cuda.md 2>/dev/null || echo "(no benchmark table: see the output above)"; \
	 } > bench/results/gpu.md
	@echo "wrote bench/results/gpu.md"
	@exit $$(cat $(GPU_RC))

# ---- notebooks and the documentation site (issue 24)
# `make notebooks`: the install cell into every notebook (the course sets MINIDENSE_SOURCE in
# notebooks/make_notebooks.py), the committed notebooks/NN_*.ipynb (no outputs) from the .py files, and executed copies
# with their outputs and pictures in build/notebooks for the docs site (default size; a copy is run again only when
# its notebook changed: after a change to the package, rm -rf build/notebooks to run them all).
NB_EXECUTED := $(patsubst notebooks/%.py,build/notebooks/%.ipynb,$(wildcard notebooks/[0-9][0-9]_*.py))

notebooks: $(STAMP)
	$(PY) notebooks/make_notebooks.py install-cell
	$(PY) notebooks/make_notebooks.py ipynb
	@$(MAKE) --no-print-directory $(NB_EXECUTED)

build/notebooks/%.ipynb: notebooks/%.ipynb | $(STAMP)
	$(SERIAL_BLAS) $(PY) notebooks/make_notebooks.py execute build/notebooks $*

# `make docs`: the site in build/site (MkDocs, Material; mkdocs.yml, docs/site_hooks.py), strict: a broken link or a
# missing page fails. Its tools are the `docs` extra. `make docs-check`: headless Chromium (Debian's, installed when
# missing; no Chromium is a failure) renders its home page, an API page and a notebook page (docs/check_site.py),
# screenshots in build/screenshots. The `docs` extra is part of the set-up (tests/project/test_site.py reads the site's
# configuration in `make test`).
docs: $(STAMP) notebooks
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-check: docs
	@command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } || \
	  { echo "docs-check: Debian's chromium is missing and could not be installed (apt-get, as root)"; exit 1; }
	$(PY) docs/check_site.py --chromium "$$(command -v chromium)"

# `make lab`: JupyterLab with jupytext, installed into .venv from the `lab` extra (not part of `make test`'s
# set-up), opened on notebooks/. The jupytext extension serves the .py files as notebooks; the settings override
# below makes a double click open them as notebooks, and saving writes back to the .py file. LAB_ARGS passes options
# (e.g. LAB_ARGS=--allow-root in a container). `make lab-check` tests that set-up without a browser.
LAB_STAMP := $(VENV)/.lab-installed
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

$(LAB_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,data,lab]'
	touch $@

$(LAB_SETTINGS): notebooks/jupyterlab_overrides.json $(LAB_STAMP)
	mkdir -p $(dir $@)
	cp $< $@

lab: $(LAB_SETTINGS)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks $(LAB_ARGS)

lab-check: $(LAB_SETTINGS)
	$(SERIAL_BLAS) $(PYTEST) -q -rs tests/project/test_notebooks.py -k lab

# Every notebook at its default size (MINIDENSE_NB_SIZE unset), one at a time, each one's time listed at the end.
# These are the slow copies of tests/project/test_notebooks.py, so `make test-slow` runs them too (two at a time there).
notebooks-full: $(STAMP)
	$(SERIAL_BLAS) $(PYTEST) -q -rs -m slow tests/project/test_notebooks.py --durations=0

# make fuzz: the bad-input suite with many examples per case (make test runs 3)
fuzz: $(STAMP)
	MINIDENSE_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-60} $(PYTEST) -q -s tests/*/test_fuzz_*.py --hypothesis-profile=thorough
