"""The Gradescope autograder bundle: ``minidense assignment gradescope NAME --out autograder.zip --seed S``.

The zip (Gradescope's layout) holds at its root ``setup.sh`` (run once as root when the image is built:
installs Python's NumPy, tqdm and matplotlib, from wheels in the zip's ``wheels/`` if there are any,
else from PyPI), an executable ``run_autograder`` (run as root per submission), the ``minidense``
package (the reference: it never leaves ``/autograder/source``, which is closed to every other user),
``autograder.json`` (the assignment and limits) and ``seed``. Per submission, ``run_autograder`` runs
this module's ``main``: the files in ``/autograder/submission/`` are graded by the same grader as
``minidense assignment grade`` (grade.py), as student ``users[0].id`` of
``/autograder/submission_metadata.json``, and the result goes to ``/autograder/results/results.json``.
``MINIDENSE_AUTOGRADER_ROOT`` (default ``/autograder``) and ``MINIDENSE_AUTOGRADER_PYTHON`` (default
``python3``) move it, so that a test runs the bundle on temporary folders.
"""
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import zipfile

from . import get
from .generator import PACKAGE_DIR

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (with network).
set -euo pipefail
cd /autograder/source
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update && apt-get install -y python3 python3-pip
fi
if ls wheels/*.whl >/dev/null 2>&1; then
    python3 -m pip install --no-index --find-links wheels -r requirements.txt
else
    python3 -m pip install -r requirements.txt
fi
# the reference, the seed and the grader stay closed to the user that runs student code
chmod -R go-rwx /autograder/source
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this as root for every submission.
set -eu
ROOT="${MINIDENSE_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
chmod 700 "$SOURCE"
cd "$SOURCE"
export PYTHONPATH="$SOURCE${PYTHONPATH:+:$PYTHONPATH}"
exec "${MINIDENSE_AUTOGRADER_PYTHON:-python3}" -m minidense.assignments.gradescope
"""

REQUIREMENTS = "numpy>=1.22\ntqdm>=4.60\nmatplotlib>=3.5\n"


def _add(z, name, text, executable=False):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, text)


def build_bundle(name, out, seed, timeout=600, memory_gb=4.0):
    """Write the autograder zip of assignment ``name`` to ``out``; returns its path."""
    from .grade import read_seed
    spec = get(name, "gradescope")
    seed = read_seed(seed)
    with zipfile.ZipFile(out, "w") as z:
        _add(z, "setup.sh", SETUP_SH, executable=True)
        _add(z, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add(z, "requirements.txt", REQUIREMENTS)
        _add(z, "autograder.json", json.dumps({"assignment": spec.name, "timeout": float(timeout),
                                               "memory_gb": float(memory_gb)}, indent=1))
        _add(z, "seed", f"{seed}\n")
        for folder, dirs, files in os.walk(PACKAGE_DIR):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for f in sorted(files):
                if f.endswith(".pyc"):
                    continue
                path = os.path.join(folder, f)
                rel = os.path.relpath(path, os.path.dirname(PACKAGE_DIR)).replace(os.sep, "/")
                with open(path, "rb") as src:
                    _add(z, rel, src.read())
    return out


def _section(part_name, part):
    failed = [c for c in part["cases"] if not c["passed"]]
    lines = [f"{part['passed']} of {part['total']} cases passed."]
    lines += [f"case {c['id']}: {' '.join(str(c['message']).split())}" for c in failed]
    return "\n".join(lines)


def gradescope_results(spec, result, seconds):
    """Gradescope's results.json from one student's grade.py result."""
    tests = []
    for number, part in enumerate(spec.parts, 1):
        p = result["parts"][part.name]
        tests.append({"name": f"{part.name}: {part.title}", "score": p["score"], "max_score": part.points,
                      "status": "passed" if p["score"] >= part.points else "failed",
                      "output": _section(part.name, p), "visibility": "visible", "number": str(number),
                      "tags": [part.name]})
    output = [f"{spec.title}: {result['total']:g} / {result['max']} (status: {result['status']})"]
    output += [" ".join(str(n).split()) for n in result["notes"]]
    return {"score": result["total"], "output": "\n".join(output), "visibility": "visible",
            "stdout_visibility": "hidden", "execution_time": round(seconds, 1), "tests": tests}


def main():
    from .grade import grade
    start = time.monotonic()
    root = os.environ.get("MINIDENSE_AUTOGRADER_ROOT", "/autograder")
    source = os.path.join(root, "source")
    with open(os.path.join(source, "autograder.json"), encoding="utf-8") as f:
        config = json.load(f)
    spec = get(config["assignment"], "gradescope")
    student = "student"
    try:
        with open(os.path.join(root, "submission_metadata.json"), encoding="utf-8") as f:
            users = json.load(f).get("users") or [{}]
        student = str(users[0].get("id") or users[0].get("email") or student)
    except (OSError, ValueError, AttributeError):
        pass
    student = "".join(c if c.isalnum() or c in "._@+-" else "_" for c in student)[:100].lstrip("._-+@") or "student"
    work = tempfile.mkdtemp(prefix="minidense-gradescope-")   # 0700: closed to the child's user
    try:
        subs = os.path.join(work, "submissions")
        os.makedirs(subs)
        shutil.copytree(os.path.join(root, "submission"), os.path.join(subs, student), symlinks=True)
        rows = grade(spec.name, subs, os.path.join(work, "out"), "@" + os.path.join(source, "seed"), jobs=1,
                     timeout=config["timeout"], memory_gb=config["memory_gb"], progress=False,
                     log=lambda *a: None)
        results = gradescope_results(spec, rows[0], time.monotonic() - start)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(root, "results"), exist_ok=True)
    with open(os.path.join(root, "results", "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    print(results["output"])


if __name__ == "__main__":
    sys.exit(main())
