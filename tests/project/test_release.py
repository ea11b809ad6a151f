"""The release: one version everywhere, the licence and metadata, optional dependencies named by their extra, and
the wheel itself, built from the sdist and installed into a fresh virtual environment outside the source tree.

``test_the_wheel_works_outside_the_source_tree`` is what a user who installs the wheel gets: first the wheel
alone (the command line trains, evaluates; the commands that need an extra say which, in one line, exit status
2, and write nothing), then with its extras (export, a kit of every assignment, one kit graded untouched and
with the reference code, a lecture notebook at its small size). It builds with the dev extra's ``build``
(``--no-isolation``: no build environment to download) and installs with pip, whose cache makes a second run
quick; nothing is downloaded but packages from the index.
"""
import configparser
import os
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import trove_classifiers
from paths import ROOT

import minidense
from minidense import cli
from minidense.assignments import ASSIGNMENTS, COURSE, generator, notebook

VERSION = minidense.__version__
WHEEL_NAME = f"minidense-{VERSION}-py3-none-any.whl"
SETUP = configparser.ConfigParser(interpolation=None)
SETUP.read(ROOT / "setup.cfg", encoding="utf-8")
#: the kit graded in the wheel's environment (its public cases grade in seconds) and the notebook run there
GRADED_KIT = "engine"
NOTEBOOK = "08_segmentation_unet.py"


# ------------------------------------------------------------------ metadata

def test_the_version_is_written_once_and_the_rest_follow_it():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION
    assert SETUP["metadata"]["version"] == "attr: minidense.__version__"
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^version: (\S+)$", citation, re.M).group(1) == VERSION, "CITATION.cff's version"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(VERSION)}\b", changelog, re.M), f"CHANGELOG.md has no '## {VERSION}'"
    assert f"minidense-{VERSION}-py3-none-any.whl" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_licence_authors_and_classifiers_agree():
    meta = SETUP["metadata"]
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "the minidense contributors" in licence
    assert meta["license"] == "MIT" and meta["author"] == "the minidense contributors"
    classifiers = [c.strip() for c in meta["classifiers"].splitlines() if c.strip()]
    known = trove_classifiers.classifiers
    assert not [c for c in classifiers if c not in known], "not a classifier of the package index"
    assert "License :: OSI Approved :: MIT License" in classifiers
    assert {"Intended Audience :: Education", "Intended Audience :: Science/Research"} <= set(classifiers)
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert "license: MIT" in citation and 'name: "the minidense contributors"' in citation


def test_the_oldest_python_is_the_same_everywhere():
    """python_requires, the lowest Python classifier, ruff's target and vermin's target in `make lint` agree."""
    floor = re.fullmatch(r">=3\.(\d+)", SETUP["options"]["python_requires"]).group(1)
    classifiers = SETUP["metadata"]["classifiers"]
    versions = [int(m) for m in re.findall(r"Programming Language :: Python :: 3\.(\d+)", classifiers)]
    assert min(versions) == int(floor), (floor, versions)
    assert f'target-version = "py3{floor}"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(rf"vermin --target=3\.{floor}- --violations .* minidense", (ROOT / "Makefile").read_text())


def test_pillow_is_declared_where_it_is_imported():
    imports = [p for p in (ROOT / "minidense").rglob("*.py") if re.search(r"^\s*from PIL import", p.read_text(), re.M)]
    assert imports, "the package no longer imports Pillow: drop it from install_requires"
    assert any(r.strip().startswith("pillow") for r in SETUP["options"]["install_requires"].split("\n"))


_PROCESS_SETTINGS = """
import json, os, sys, warnings
import numpy as np
def settings():
    return {"environ": dict(os.environ), "warnings": [repr(f) for f in warnings.filters], "seterr": np.geterr(),
            "printoptions": repr(np.get_printoptions()), "recursion": sys.getrecursionlimit(),
            "malloc": sys.modules.get("minidense._malloc") and sys.modules["minidense._malloc"].tuned}
before = settings()
import minidense as md
import minidense.assignments, minidense.cli, minidense.train
for name in md._LAZY_SUBMODULES:
    getattr(md, name)
after = settings()
print(json.dumps({k: [before[k], after[k]] for k in before if before[k] != after[k] and k != "malloc"}))
print(json.dumps(after["malloc"]))
"""


def test_importing_minidense_leaves_the_process_settings_alone():
    """The package and every sub-package imported: the environment, warning filters, NumPy's error and print
    settings and the recursion limit are as before, and malloc was not tuned (tests/engine/test_backend.py
    measures it)."""
    env = {k: v for k, v in os.environ.items() if k != "MINIDENSE_MALLOC"}
    out = subprocess.run([sys.executable, "-c", _PROCESS_SETTINGS], capture_output=True, text=True, env=env,
                         check=True, timeout=300).stdout.splitlines()
    assert out[-2] == "{}", f"changed by import minidense: {out[-2][:2000]}"
    assert out[-1] == "false"


# ------------------------------------------------------------------ a missing extra

def test_a_missing_course_extra_is_one_line_exit_2_and_no_kit(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "nbformat", None)   # as if the course extra were not installed
    for out in (tmp_path / "new", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        assert cli.main(["assignment", "make", "conv", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "pip install 'minidense[course]'" in err and "nbformat" in err, err
        assert (not out.exists()) if out.name == "new" else list(out.iterdir()) == []


def test_a_kit_that_fails_half_way_is_removed(tmp_path, monkeypatch):
    """Past the import check, a failure while writing (here the starter notebook) leaves no half-written kit."""
    def broken(spec, kit_dir):
        raise RuntimeError("a starter cell failed")
    monkeypatch.setattr(notebook, "starter_notebook", broken)
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (tmp_path / "new", empty):
        with pytest.raises(RuntimeError, match="a starter cell failed"):
            generator.make_kit(ASSIGNMENTS["engine"], str(out))
        assert (not out.exists()) if out.name == "new" else list(out.iterdir()) == []


# ------------------------------------------------------------------ the wheel, outside the source tree

class Steps:
    """Runs commands in the wheel's environment (cwd: a folder outside the source tree); keeps each one's time."""

    def __init__(self, venv, cwd):
        self.venv, self.cwd, self.times, self.cpu = venv, cwd, {}, {}
        path = os.pathsep.join([str(venv / "bin"), os.environ.get("PATH", "")])
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("PYTEST", "HYPOTHESIS", "PYTHON", "VIRTUAL_ENV", "MINIDENSE_"))}
        self.env.update(PATH=path, VIRTUAL_ENV=str(venv), MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1",
                        OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def run(self, name, *args, expect=0, cwd=None, env=None, timeout=600):
        start, cpu = time.monotonic(), _children_cpu()
        proc = subprocess.run([str(a) for a in args], cwd=cwd or self.cwd, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)
        self.times[name] = self.times.get(name, 0) + time.monotonic() - start
        self.cpu[name] = self.cpu.get(name, 0) + _children_cpu() - cpu
        assert proc.returncode == expect, (f"{name}: exit status {proc.returncode}, expected {expect}\n"
                                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def python(self, name, code, **kw):
        return self.run(name, self.venv / "bin" / "python", "-c", code, **kw)

    def minidense(self, name, *args, **kw):
        return self.run(name, self.venv / "bin" / "minidense", *args, **kw)

    def pip(self, name, *args):
        # this interpreter's pip installs into the environment (made --without-pip: ensurepip is slow);
        # --no-compile: most of an install's time is writing .pyc files for modules no step imports
        return self.run(name, sys.executable, "-m", "pip", "--python", self.venv / "bin" / "python", "install",
                        "-q", "--no-compile", "--disable-pip-version-check", *args)


def _children_cpu():
    """CPU seconds of the finished child processes (a machine shared with other work stretches the wall time)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _source_files():
    """The files of the source tree as a clone has them (tracked, and new files git does not ignore)."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode()
        return [f for f in out.split("\0") if f and (ROOT / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("the wheel test copies the tree that git lists; run it from a git checkout")


def build_dist(tmp_path):
    """(sdist, wheel) built from a copy of the tree, the wheel from the unpacked sdist, as `make dist` does."""
    src = tmp_path / "src"
    for rel in _source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    dist = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    twine = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
                           capture_output=True, text=True, timeout=300)
    assert twine.returncode == 0, twine.stdout + twine.stderr
    return dist / f"minidense-{VERSION}.tar.gz", dist / WHEEL_NAME


def check_sdist_and_wheel(sdist, wheel):
    """Both hold every file of the package; the sdist the licence, changelog and citation, and no tests."""
    package = {f for f in _source_files() if f.startswith("minidense/")}
    with tarfile.open(sdist) as tar:
        in_sdist = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    with zipfile.ZipFile(wheel) as z:
        in_wheel = set(z.namelist())
    assert package <= in_sdist, f"the sdist lacks {sorted(package - in_sdist)[:10]}"
    assert package <= in_wheel, f"the wheel lacks {sorted(package - in_wheel)[:10]}"
    assert {"LICENSE", "CHANGELOG.md", "CITATION.cff", "README.md"} <= in_sdist
    assert not [n for n in in_sdist if n.startswith("tests/")], "the sdist leaves the tests out (README says so)"
    assert f"minidense-{VERSION}.dist-info/LICENSE" in in_wheel


def without_extras(steps, tmp_path):
    """The wheel alone: version, train, eval; the commands that need an extra name it and write nothing."""
    got = steps.python("version", "import importlib.metadata, minidense; "
                       "print(minidense.__version__, importlib.metadata.version('minidense'), minidense.__file__)")
    version, metadata, where = got.stdout.split()
    assert version == metadata == VERSION and Path(where).is_relative_to(steps.venv), got.stdout
    assert steps.minidense("--version", "--version").stdout.strip() == f"minidense {VERSION}"
    steps.minidense("train", "train", "--model", "unet", "--size", "16", "--n-train", "8", "--n-val", "4",
                    "--epochs", "1", "--batch-size", "4", "--base-channels", "4", "--depth", "2", "--no-progress",
                    "--out", "run")
    assert (steps.cwd / "run" / "best.npz").is_file() and (steps.cwd / "run" / "curves.png").is_file()
    assert "miou" in steps.minidense("eval", "eval", "--checkpoint", "run/best.npz", "--n", "4").stdout
    missing = {"course": ("assignment", "make", GRADED_KIT, "--out", "kit-without-course"),
               "export": ("export", "--checkpoint", "run/best.npz", "--out", "without-export.onnx")}
    for extra, args in missing.items():
        err = steps.minidense(f"without {extra}", *args, expect=2).stderr
        assert err.count("\n") == 1 and f"pip install 'minidense[{extra}]'" in err, err
    assert not (steps.cwd / "kit-without-course").exists() and not (steps.cwd / "without-export.onnx").exists()
    err = steps.python("without data", "from minidense.data import digits; digits.load_source_digits()",
                       expect=1).stderr
    assert "pip install 'minidense[data]'" in err.strip().splitlines()[-1], err


def with_extras(steps, tmp_path):
    """The wheel with its extras: export, a kit of every assignment, one kit graded, a lecture notebook."""
    steps.minidense("export", "export", "--checkpoint", "run/best.npz", "--out", "model.onnx")
    assert (steps.cwd / "model.onnx").stat().st_size > 0
    assert steps.python("digits", "from minidense.data import digits; print(len(digits.load_source_digits()[1]))"
                        ).stdout.strip() == "1797"
    for spec in COURSE:
        steps.minidense("assignment make", "assignment", "make", spec.name, "--out", f"kits/{spec.name}")
        assert (steps.cwd / "kits" / spec.name / "starter.ipynb").is_file()
    untouched = steps.cwd / "kits" / GRADED_KIT
    reference = steps.cwd / "reference"
    shutil.copytree(untouched, reference)
    # the library's own files (the installed ones) put back where the kit has stubs
    steps.python("reference", "import shutil, sys; from minidense.assignments import ASSIGNMENTS, generator\n"
                 f"for rel in generator.kit_stubs(ASSIGNMENTS[{GRADED_KIT!r}]):\n"
                 f"    shutil.copyfile(f'{{generator.PACKAGE_DIR}}/{{rel}}', f'{reference}/minidense/{{rel}}')")
    for kit, expect_total in ((untouched, 0), (reference, 100)):
        steps.run("grade", steps.venv / "bin" / "python", "grader/run.py", cwd=kit, expect=0 if expect_total else 1)
        results = (kit / "results.json").read_text()
        total = float(re.search(r'"total": ([\d.]+)', results).group(1))
        assert total == expect_total, f"{kit.name}: {results[:2000]}"
    import jupytext
    nb = tmp_path / "notebook" / NOTEBOOK.replace(".py", ".ipynb")
    nb.parent.mkdir()
    jupytext.write(jupytext.read(ROOT / "notebooks" / NOTEBOOK), nb)
    steps.run("notebook", steps.venv / "bin" / "python", "-c",
              "import sys, nbclient, nbformat\n"
              "nb = nbformat.read(sys.argv[1], as_version=4)\n"
              "nbclient.NotebookClient(nb, kernel_name='python3', timeout=300,\n"
              "                        resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
              "assert all(c.get('execution_count') for c in nb.cells if c.cell_type == 'code')",
              nb, nb.parent, env={"MINIDENSE_NB_SIZE": "small"})


def test_the_wheel_works_outside_the_source_tree(tmp_path):
    start, cpu = time.monotonic(), _children_cpu()
    sdist, wheel = build_dist(tmp_path)
    check_sdist_and_wheel(sdist, wheel)
    built, built_cpu = time.monotonic() - start, _children_cpu() - cpu
    venv, work = tmp_path / "venv", tmp_path / "user"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    steps = Steps(venv, work)
    steps.pip("install the wheel", wheel)
    without_extras(steps, tmp_path)
    # the extras as the README writes them; the notebook runner (a kernel and nbclient) is the reader's Jupyter
    steps.pip("install the extras", f"{wheel}[course,data,export]", "ipykernel", "nbclient")
    with_extras(steps, tmp_path)
    times = {"build": (built, built_cpu), **{k: (v, steps.cpu[k]) for k, v in steps.times.items()}}
    print(f"wheel test: {time.monotonic() - start:.0f} s ({_children_cpu() - cpu:.0f} s CPU) in all; "
          + ", ".join(f"{name} {wall:.1f} s ({used:.1f} s CPU)" for name, (wall, used) in times.items()))
