"""The Gradescope bundle as Gradescope runs it: its own setup.sh, then its own run_autograder.

The slow test runs the shipped scripts unchanged (only ``MINIDENSE_AUTOGRADER_ROOT`` moves them to a
temporary root) on Debian's ``/usr/bin/python3``, which refuses a system-wide ``pip install`` (PEP 668),
with no package index: the wheels come from the zip (``--wheels``; downloaded once per machine into a
cache, the one network step). The fast tests check the bundle's files, the command line and the schema
of Gradescope's results.json fields.
"""
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import jsonschema
import pytest
from assignment_class import hostile_files, library_files

from minidense import cli
from minidense.assignments import ASSIGNMENTS
from minidense.assignments import gradescope as gs
from minidense.assignments.grading import sandbox

VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
#: results.json as Gradescope documents it (gradescope-autograders.readthedocs.io, "Autograder Specifications"):
#: every documented field, nothing else, each of its documented type
RESULTS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["score"]}, {"required": ["tests"]}],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "test_name_format": FORMAT,
        "visibility": VISIBILITY,
        "stdout_visibility": VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "score": {"type": "number"},
                "max_score": {"type": "number", "minimum": 0},
                "status": {"enum": ["passed", "failed"]},
                "name": {"type": "string"},
                "name_format": FORMAT,
                "number": {"type": "string"},
                "output": {"type": "string"},
                "output_format": FORMAT,
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": VISIBILITY,
                "extra_data": {"type": "object"},
            }}},
        "leaderboard": {"type": "array", "items": {
            "type": "object", "required": ["name", "value"], "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "value": {"type": ["number", "string"]},
                           "order": {"enum": ["asc", "desc"]}}}},
    },
}

SEED = 4242
#: the wheels the slow test builds with, kept once per machine (the only download of these tests)
WHEEL_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minidense" / "gradescope-wheels"


def check_results_json(results, spec):
    """results.json fits Gradescope's schema, and its tests are the spec's parts with their points."""
    jsonschema.validate(results, RESULTS_SCHEMA)
    assert [t["tags"] for t in results["tests"]] == [[p.name] for p in spec.parts]
    assert [t["max_score"] for t in results["tests"]] == [p.points for p in spec.parts]
    assert results["score"] == sum(t["score"] for t in results["tests"])
    for t in results["tests"]:
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] == ("passed" if t["score"] == t["max_score"] else "failed")


def test_the_results_schema_takes_gradescope_results_and_rejects_what_gradescope_would_not():
    spec = ASSIGNMENTS["conv"]
    parts = {p.name: {"score": p.points / 2, "passed": 1, "total": 2,
                      "cases": [{"id": "a", "passed": True, "message": ""},
                                {"id": "b", "passed": False, "message": "wrong\nvalue"}]} for p in spec.parts}
    row = {"total": sum(p.points for p in spec.parts) / 2, "max": 100, "status": "ok", "parts": parts, "notes": []}
    results = gs.gradescope_results(spec, row, 1.25)
    check_results_json(results, spec)
    assert "case b: wrong value" in results["tests"][0]["output"]
    for bad in ({**results, "visibility": "students"}, {**results, "score": "50"}, {**results, "grade": 50},
                {**results, "tests": [{**results["tests"][0], "status": "ok"}]},
                {k: v for k, v in results.items() if k not in ("score", "tests")}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, RESULTS_SCHEMA)


def test_a_bundle_without_wheels_installs_from_the_index_into_its_own_environment(tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert cli.main(["assignment", "gradescope", "conv", "--out", str(bundle), "--seed", str(SEED)]) == 0
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        readme = z.read("README.md").decode()
        setup = z.read("setup.sh").decode()
        run = z.read("run_autograder").decode()
        assert z.read("requirements.txt").decode() == gs.REQUIREMENTS
    assert not any(n.startswith("wheels/") for n in names)
    assert "From the package index" in readme and "keep it private" in readme
    # every path the scripts use follows MINIDENSE_AUTOGRADER_ROOT; nothing goes into the system Python
    for script in (setup, run):
        assert script.count("/autograder") == 1 and 'ROOT="${MINIDENSE_AUTOGRADER_ROOT:-/autograder}"' in script
    assert '"$VENV/bin/python" -m pip install' in setup and "python3 -m pip" not in setup
    assert '${MINIDENSE_AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}' in run
    for name in ("setup.sh", "run_autograder"):
        (tmp_path / name).write_text(setup if name == "setup.sh" else run)
        assert subprocess.run(["bash", "-n", str(tmp_path / name)]).returncode == 0


def test_the_wheel_options_go_with_wheels_and_take_python_versions(tmp_path, capsys):
    out = str(tmp_path / "a.zip")
    assert cli.main(["assignment", "gradescope", "conv", "--out", out, "--seed", "1", "--python-version", "3.12"]) == 2
    assert "--python-version and --wheel-cache go with --wheels" in capsys.readouterr().err
    assert cli.main(["assignment", "gradescope", "conv", "--out", out, "--seed", "1", "--wheels",
                     "--python-version", "312"]) == 2
    assert "python_versions must be CPython versions like '3.12', got ['312']" in capsys.readouterr().err
    assert not os.path.exists(out)


def refusing_system_python():
    """Debian's /usr/bin/python3 when it refuses a system-wide pip install (PEP 668), else None."""
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        return None
    probe = subprocess.run([python, "-c", "import sysconfig, os; print(os.path.join(sysconfig.get_path('stdlib'), "
                                          "'EXTERNALLY-MANAGED'))"], capture_output=True, text=True)
    return python if probe.returncode == 0 and os.path.exists(probe.stdout.strip()) else None


def clean_env(root, offline=True, **extra):
    """An environment like Gradescope's: no virtual environment, no PYTHONPATH; offline: no pip settings, no index."""
    drop = ("PYTEST", "HYPOTHESIS", "PYTHON", "COV") + (("PIP_",) if offline else ())
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)
           and k not in ("VIRTUAL_ENV", "MINIDENSE_AUTOGRADER_PYTHON")}
    env.update(MINIDENSE_AUTOGRADER_ROOT=str(root), OPENBLAS_NUM_THREADS="1", **extra)
    if offline:
        env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1")
    return env


class Autograder:
    """A bundle unpacked as Gradescope unpacks it, in a root that others may pass through (as /autograder)."""

    def __init__(self, base, bundle, python, offline=True):
        self.root, self.offline = base / "autograder", offline
        with zipfile.ZipFile(bundle) as z:
            z.extractall(self.root / "source")
        for name in ("setup.sh", "run_autograder"):   # the modes Gradescope's unzip keeps
            os.chmod(self.root / "source" / name, 0o755)
        fake_bin = base / "bin"   # apt-get must not be needed: this one only says it was called
        fake_bin.mkdir()
        (fake_bin / "apt-get").write_text("#!/bin/sh\necho 'apt-get called' >&2\nexit 1\n")
        os.chmod(fake_bin / "apt-get", 0o755)
        self.path = os.pathsep.join([str(fake_bin), os.path.dirname(python), "/bin"])   # python3: the system's

    def setup(self):
        proc = subprocess.run(["bash", str(self.root / "source" / "setup.sh")], cwd=self.root, capture_output=True,
                              text=True, env=clean_env(self.root, self.offline, PATH=self.path), timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "apt-get called" not in proc.stderr
        prefixes = subprocess.run([str(self.root / "venv" / "bin" / "python"), "-c",
                                   "import sys, numpy; print(sys.prefix, sys.base_prefix)"],
                                  capture_output=True, text=True, check=True).stdout.split()
        assert prefixes[0] == str(self.root / "venv") != prefixes[1]   # a virtual environment of its own
        assert os.stat(self.root / "source").st_mode & 0o077 == 0
        return proc.stdout

    def grade(self, files, spec):
        """run_autograder as Gradescope calls it (no MINIDENSE_AUTOGRADER_PYTHON) on a submission of ``files``."""
        root = self.root
        sub = root / "submission"
        shutil.rmtree(sub, ignore_errors=True)
        for rel, text in files.items():
            (sub / "minidense" / rel).parent.mkdir(parents=True, exist_ok=True)
            (sub / "minidense" / rel).write_text(text)
        (root / "submission_metadata.json").write_text(json.dumps({"id": 7, "users": [{"id": "31337"}]}))
        (root / "results").mkdir(exist_ok=True)
        os.chmod(root / "results", 0o777)   # as a careless harness might leave it: the bundle must close it
        proc = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, capture_output=True, text=True,
                              env=clean_env(root, self.offline, PATH=self.path), timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        result = root / "results" / "results.json"
        assert not result.is_symlink() and result.stat().st_uid == 0
        results = json.loads(result.read_text())
        check_results_json(results, spec)
        assert sorted(os.listdir(root / "results")) == ["results.json"]   # nothing else was planted
        return results


@pytest.fixture
def base():
    """A fresh folder for /autograder's place, open for others to pass through, as / is."""
    folder = Path(tempfile.mkdtemp(prefix="minidense-gradescope-test-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def system_python_refuses_pip(python, root):
    """The system Python refuses a system-wide install (as the old setup.sh met it); its site-packages listing."""
    refused = subprocess.run([python, "-m", "pip", "install", "--no-index", "numpy"], capture_output=True, text=True,
                             env=clean_env(root))
    assert refused.returncode != 0
    assert "externally-managed-environment" in refused.stderr or "No module named pip" in refused.stderr
    site = json.loads(subprocess.run([python, "-c", "import json, site; print(json.dumps(site.getsitepackages()))"],
                                     capture_output=True, text=True, check=True).stdout)
    return {d: sorted(os.listdir(d)) for d in site if os.path.isdir(d)}


def on_a_python_that_refuses_pip(test):
    """Slow (a pip install; --wheels downloads once per machine), as root, on Debian's PEP 668 Python."""
    for mark in (pytest.mark.slow,
                 pytest.mark.skipif(not sandbox.root_mode(), reason="Gradescope runs setup.sh and run_autograder as "
                                    "root"),
                 pytest.mark.skipif(refusing_system_python() is None,
                                    reason="needs Debian's /usr/bin/python3 marked EXTERNALLY-MANAGED (PEP 668)")):
        test = mark(test)
    return test


@on_a_python_that_refuses_pip
def test_the_bundle_sets_up_offline_on_a_python_that_refuses_pip_and_grades_as_gradescope_runs_it(tmp_path, base):
    python = refusing_system_python()
    spec = ASSIGNMENTS["conv"]
    bundle = tmp_path / "autograder.zip"
    assert cli.main(["assignment", "gradescope", "conv", "--out", str(bundle), "--seed", str(SEED), "--timeout",
                     "300", "--memory", "2", "--wheels", "--wheel-cache", str(WHEEL_CACHE)]) == 0
    with zipfile.ZipFile(bundle) as z:
        wheels = [n for n in z.namelist() if n.startswith("wheels/")]
        assert "Offline: wheels/ holds" in z.read("README.md").decode()
    for version in ("cp310", "cp311", "cp312", "cp313"):
        assert any(n.startswith("wheels/numpy-") and f"-{version}-" in n and "x86_64" in n for n in wheels)
    assert any(n.startswith("wheels/pip-") for n in wheels)
    grader = Autograder(base, bundle, python)
    before = system_python_refuses_pip(python, grader.root)
    assert "setup.sh: installed from the bundle's wheels (no index)" in grader.setup()
    assert system_python_refuses_pip(python, grader.root) == before   # nothing went into the system Python

    correct = grader.grade(library_files(spec), spec)
    assert correct["score"] == 100, correct["output"]
    wrong = spec.mistakes[0].apply(library_files(spec))
    partial = grader.grade(wrong, spec)
    lost = {t["tags"][0] for t in partial["tests"] if t["score"] < t["max_score"]}
    assert 0 < partial["score"] < 100 and set(spec.mistakes[0].loses) <= lost, partial["output"]
    # hostile: a correct solution that writes its own results.json (and more) into the results folder
    writer, _ = hostile_files(spec, "write-results", grader.root / "results", grader.root / "source", SEED)
    written = grader.grade(writer, spec)
    assert written["score"] == 100
    # hostile: its target snoops for the seed, the reference and the grader's files, and reports what it read
    snooper, _ = hostile_files(spec, "snoop", grader.root / "results", grader.root / "source", SEED)
    snooped = grader.grade(snooper, spec)
    outputs = " ".join(t["output"] for t in snooped["tests"])
    assert "SNOOP found nothing" in outputs and "SNOOP found:" not in outputs, outputs
    assert snooped["score"] < 100
    assert not list(base.rglob("planted.txt")) and not (base / "results.json").exists()


@on_a_python_that_refuses_pip
def test_the_bundle_without_wheels_sets_up_from_the_index_on_a_python_that_refuses_pip(tmp_path, base):
    """The index install (this machine's pip settings: PyPI or its mirror) into the bundle's own environment."""
    python = refusing_system_python()
    if subprocess.run([python, "-c", "import ensurepip"], capture_output=True).returncode != 0:
        pytest.skip(f"{python} has no ensurepip (Debian's python3-venv): setup.sh would install it with apt-get")
    spec = ASSIGNMENTS["conv"]
    bundle = tmp_path / "autograder.zip"
    assert cli.main(["assignment", "gradescope", "conv", "--out", str(bundle), "--seed", str(SEED)]) == 0
    grader = Autograder(base, bundle, python, offline=False)
    before = system_python_refuses_pip(python, grader.root)
    assert "setup.sh: installed from the package index" in grader.setup()
    assert system_python_refuses_pip(python, grader.root) == before
    assert grader.grade(library_files(spec), spec)["score"] == 100
