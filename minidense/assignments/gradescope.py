"""The Gradescope autograder bundle: ``minidense assignment gradescope NAME --out autograder.zip --seed S``.

The zip (Gradescope's layout) holds at its root ``setup.sh`` (run once as root when the image is built),
an executable ``run_autograder`` (run as root per submission), the ``minidense`` package (the reference:
it never leaves ``/autograder/source``, which is closed to every other user), ``autograder.json`` (the
assignment and limits), ``seed``, ``requirements.txt`` and a ``README.md`` that says how the image installs.

``setup.sh`` makes a virtual environment of its own, ``/autograder/venv``, and installs the grader's
requirements there, never into the system Python (Debian 12 and Ubuntu 23.04+ mark it externally
managed, PEP 668, and refuse a system-wide ``pip install``). Built with ``--wheels``, the zip's ``wheels/``
holds NumPy's and pip's wheels for Linux x86_64 and each CPython of ``WHEEL_PYTHONS``: the image then
installs with no package index, pip running from its own wheel (so neither ``python3-pip`` nor
``python3-venv`` is needed); without it, the install uses the index (and apt's ``python3-venv`` where
``ensurepip`` is missing).

Per submission, ``run_autograder`` runs this module's ``main`` with the environment's interpreter: the
files in ``/autograder/submission/`` are graded by the same grader as ``minidense assignment grade``
(grade.py), as student ``users[0].id`` of ``/autograder/submission_metadata.json``, and the result goes to
``/autograder/results/results.json``. ``MINIDENSE_AUTOGRADER_ROOT`` (default ``/autograder``) moves every
path of both scripts, so that a test runs the shipped scripts unchanged on temporary folders;
``MINIDENSE_AUTOGRADER_PYTHON`` (default ``$ROOT/venv/bin/python``) names another interpreter.
"""
import atexit
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile

from . import get
from .generator import PACKAGE_DIR

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image. The grader gets a virtual
# environment of its own: the system Python may refuse pip (PEP 668) and is left as it is.
set -euo pipefail
ROOT="${MINIDENSE_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
WHEELS="$SOURCE/wheels"
if ! command -v python3 >/dev/null; then
    apt-get update && apt-get install -y python3
fi
make_venv() {   # Debian and Ubuntu keep ensurepip (and on some images venv) in the python3-venv package
    if ! python3 -m venv "$@" "$VENV"; then
        rm -rf "$VENV"
        apt-get update && apt-get install -y python3-venv
        python3 -m venv "$@" "$VENV"
    fi
}
rm -rf "$VENV"
PIP_WHEEL=""
for wheel in $(ls "$WHEELS"/pip-*.whl 2>/dev/null | sort -rV); do   # the newest pip this Python runs
    if python3 "$wheel/pip" --version >/dev/null 2>&1; then PIP_WHEEL="$wheel"; break; fi
done
if [ -n "$PIP_WHEEL" ]; then
    # offline: a bare environment, and pip run from its wheel in the bundle
    make_venv --without-pip
    if "$VENV/bin/python" "$PIP_WHEEL/pip" install --no-index --find-links "$WHEELS" -r "$SOURCE/requirements.txt"
    then
        echo "setup.sh: installed from the bundle's wheels (no index)"
    else
        echo "setup.sh: WARNING: the bundle's wheels do not install on $(python3 -V) (see above):" \\
             "trying the package index; rebuild the bundle with --python-version for this image" >&2
        "$VENV/bin/python" "$PIP_WHEEL/pip" install -r "$SOURCE/requirements.txt"
        echo "setup.sh: installed from the package index"
    fi
else
    make_venv
    "$VENV/bin/python" -m pip install -r "$SOURCE/requirements.txt"
    echo "setup.sh: installed from the package index"
fi
"$VENV/bin/python" -c "import numpy, platform; print('setup.sh: NumPy', numpy.__version__, platform.python_version())"
# the reference, the seed and the grader stay closed to the user that runs student code
chmod -R go-rwx "$SOURCE"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this as root for every submission.
set -eu
ROOT="${MINIDENSE_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
chmod 700 "$SOURCE"
cd "$SOURCE"
export PYTHONPATH="$SOURCE${PYTHONPATH:+:$PYTHONPATH}"
exec "${MINIDENSE_AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}" -m minidense.assignments.gradescope
"""

# the grader and its children import NumPy only (sandbox.third_party_modules: the children get nothing else)
REQUIREMENTS = "numpy>=1.22\n"

#: the CPython versions whose wheels ``--wheels`` puts in the zip: Gradescope's Ubuntu 22.04 base image runs 3.10,
#: Debian 12 3.11, Ubuntu 24.04 3.12, and 3.13 the next images
WHEEL_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
#: glibc 2.28 and later (Debian 10, Ubuntu 20.04 on): every base image Gradescope offers with Python 3.10+
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                   "manylinux2014_x86_64")


def _check_versions(python_versions):
    versions = list(python_versions)
    bad = [v for v in versions if not re.fullmatch(r"3\.\d{1,2}", str(v))]
    if not versions or bad:
        raise ValueError(f"build_bundle: python_versions must be CPython versions like '3.12', got {versions!r}")
    return sorted(set(versions), key=lambda v: int(v.split(".")[1]))


def _pip_download(version, dest, offline_from=None):
    """``pip download`` of the requirements and pip, as wheels for Linux x86_64 and CPython ``version``."""
    abi = "cp" + version.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
           "--implementation", "cp", "--python-version", version, "--abi", abi, "--abi", "abi3", "--abi", "none",
           "--dest", dest]
    for platform in WHEEL_PLATFORMS:
        cmd += ["--platform", platform]
    if offline_from:
        cmd += ["--no-index", "--find-links", offline_from]
    cmd += [line for line in REQUIREMENTS.split() if line] + ["pip"]
    return subprocess.run(cmd, capture_output=True, text=True)


def download_wheels(python_versions=WHEEL_PYTHONS, cache=None, log=print):
    """The wheel files of the grader's requirements and of pip, for each CPython of ``python_versions``.

    cache: a folder that keeps each version's wheels (``cache/cp312/``): a later call finds them there with no
    index; None downloads into a temporary folder (removed when the process exits)."""
    versions = _check_versions(python_versions)
    if cache is None:
        cache = tempfile.mkdtemp(prefix="minidense-wheels-")
        atexit.register(shutil.rmtree, cache, True)
    files = {}
    for version in versions:
        folder = os.path.join(cache, "cp" + version.replace(".", ""))
        if not (os.path.isdir(folder) and _pip_download(version, folder, offline_from=folder).returncode == 0):
            shutil.rmtree(folder, ignore_errors=True)
            os.makedirs(folder)
            log(f"downloading the wheels for CPython {version} (Linux x86_64) ...")
            proc = _pip_download(version, folder)
            if proc.returncode != 0:
                raise RuntimeError(f"pip download of the wheels for CPython {version} failed (exit status "
                                   f"{proc.returncode}); build without --wheels to install from the index on "
                                   f"Gradescope:\n{proc.stderr.strip()[-2000:]}")
        for name in sorted(os.listdir(folder)):
            if name.endswith(".whl"):
                files.setdefault(name, os.path.join(folder, name))
    return [files[name] for name in sorted(files)]


def _readme(spec, wheel_names, versions):
    if wheel_names:
        install = textwrap.fill(
            f"Offline: wheels/ holds the wheels of NumPy and pip for Linux x86_64 and CPython {', '.join(versions)}, "
            "so the image installs with no package index (pip runs from its wheel; neither python3-pip nor "
            "python3-venv is needed). On another Python, setup.sh says so and tries the index.", 100)
        install += "\n\nThe wheels:\n\n" + "".join(f"- {n}\n" for n in wheel_names)
    else:
        install = textwrap.fill(
            "From the package index: setup.sh installs NumPy from PyPI when the image is built (network needed, "
            "and apt's python3-venv where the image's Python lacks ensurepip). Build the zip with --wheels for an "
            "image that installs with no index.", 100) + "\n"
    return f"""# Gradescope autograder: {spec.name} ({spec.title})

Upload this zip as the assignment's autograder (Configure Autograder, Zip file upload; base image
Ubuntu 22.04 or later). It holds the reference solution and the term seed: keep it private.

setup.sh makes the virtual environment /autograder/venv (never the system Python) and installs
requirements.txt into it. How:

{install}
run_autograder grades /autograder/submission with /autograder/venv/bin/python and writes
/autograder/results/results.json.
"""


def _add(z, name, text, executable=False, compress=zipfile.ZIP_DEFLATED):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    info.compress_type = compress
    z.writestr(info, text)


def build_bundle(name, out, seed, timeout=600, memory_gb=4.0, wheels=False, python_versions=WHEEL_PYTHONS,
                 wheel_cache=None, log=print):
    """Write the autograder zip of assignment ``name`` to ``out``; returns its path.

    wheels: put the wheels of the grader's requirements (``download_wheels(python_versions, wheel_cache)``) in
    the zip's ``wheels/``, so that the image installs with no package index; False installs from the index."""
    from .grade import read_seed
    spec = get(name, "gradescope")
    seed = read_seed(seed)
    versions = _check_versions(python_versions)
    wheel_files = download_wheels(versions, wheel_cache, log=log) if wheels else []
    with zipfile.ZipFile(out, "w") as z:
        _add(z, "setup.sh", SETUP_SH, executable=True)
        _add(z, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add(z, "requirements.txt", REQUIREMENTS)
        _add(z, "README.md", _readme(spec, [os.path.basename(f) for f in wheel_files], versions))
        _add(z, "autograder.json", json.dumps({"assignment": spec.name, "timeout": float(timeout),
                                               "memory_gb": float(memory_gb)}, indent=1))
        _add(z, "seed", f"{seed}\n")
        for path in wheel_files:   # already compressed: stored as they are
            with open(path, "rb") as f:
                _add(z, "wheels/" + os.path.basename(path), f.read(), compress=zipfile.ZIP_STORED)
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
    results_dir = os.path.join(root, "results")
    os.makedirs(results_dir, exist_ok=True)
    os.chmod(results_dir, 0o755)   # Gradescope's folder: only root writes in it while student code runs
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
    _write_results(results_dir, results)
    print(results["output"])


def _write_results(results_dir, results):
    """results.json written anew (a rename: a link or file planted in its place is replaced, never followed)."""
    fd, temporary = tempfile.mkstemp(prefix=".results-", dir=results_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    os.chmod(temporary, 0o644)
    os.replace(temporary, os.path.join(results_dir, "results.json"))


if __name__ == "__main__":
    sys.exit(main())
