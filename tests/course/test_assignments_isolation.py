"""No student can touch another: the threats of one submission to the others in the same class.

A tiny class of the pooling kit: two correct students, one whose graded function raises, and one
submission per threat (assignment_class.THREATS): a detached leftover (double fork, new session) that
keeps killing every grading child it can see and reading their folders through /proc; a fork bomb; a
reader of the other students' folders (by the sandbox's names and through /proc); a connect to a port
the test listens on; a file left in /tmp and /dev/shm for the next student (twice, so that one would
find the other's). Graded as root (as CI and Gradescope run), and as an unprivileged user where user
namespaces work; without namespaces, the grader says that student code is not isolated.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest
from assignment_class import THREATS, build_class, check_results
from test_assignments_grade import check_outputs, read_outputs, run_grade

from minidense.assignments import ASSIGNMENTS, generator
from minidense.assignments.grading import sandbox

ROOT = sandbox.root_mode()
NOBODY = 65534
ASSIGNMENT = "pool"


def threat_class(folder, marker, port, threats=THREATS, source=None, out=None):
    """The class described above; returns {student: expectation}. ``source``: where the "snoop" kind looks
    for the reference; ``out``: where "write-results" plants its results."""
    expect, _ = build_class(ASSIGNMENT, folder, out or folder / "unused-out", source or folder / "unused-source", 5,
                            n_correct=2, kinds=threats, marker=marker, port=port)
    keep = {"correct-00", "correct-01", "broken"} | {f"hostile-{k}" for k in threats}
    for student in set(expect) - keep:
        (folder / f"{student}.zip").unlink(missing_ok=True)
        shutil.rmtree(folder / student, ignore_errors=True)
        expect.pop(student)
    if "tmp" in threats:
        shutil.copytree(folder / "hostile-tmp", folder / "hostile-tmp-again")
        expect["hostile-tmp-again"] = expect["hostile-tmp"]
    return expect


def processes_named(marker):
    """Pids of the processes whose name (comm) is ``marker``: the leftovers of the threats."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == marker[:15]:
                    found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.fixture
def listener():
    """A socket listening on 127.0.0.1 (in the test's network namespace) that no student may reach."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def check_threats(out, expect, marker, listener, mode):
    spec = ASSIGNMENTS[ASSIGNMENT]
    book, rows = read_outputs(out)
    results = json.loads((out / "results.json").read_text())
    assert set(rows) == set(expect)
    check_results(spec, expect, rows)   # correct students (and the correct work of the threats) keep full marks

    def messages(student):
        return [c["message"] for p in rows[student]["parts"].values() for c in p["cases"] if not c["passed"]]
    for student, said in (("hostile-others", "OTHERS found nothing"), ("hostile-tmp", "TMP found nothing"),
                          ("hostile-tmp-again", "TMP found nothing"), ("hostile-connect", "CONNECT failed")):
        assert messages(student) and all(said in m for m in messages(student)), (student, messages(student)[:1])
    with pytest.raises(BlockingIOError):
        listener.accept()
    assert results["isolation"] == mode and results["processes_left"] == 0 and results["unconfirmed_ends"] == 0
    assert not processes_named(marker), "a threat's process outlived the grading run"
    for folder in ("/tmp", "/dev/shm"):
        assert not os.path.exists(os.path.join(folder, marker)), f"a file a student left in {folder}"


# ------------------------------------------------------------------ as root (make test, CI, Gradescope)
@pytest.mark.skipif(not ROOT, reason="grading as root needs root (as CI and Gradescope run)")
def test_no_student_can_touch_another_as_root(tmp_path, listener):
    marker = "mdt-" + secrets.token_hex(4)
    expect = threat_class(tmp_path / "subs", marker, listener.getsockname()[1])
    out = tmp_path / "out"
    proc, seconds = run_grade(tmp_path, ASSIGNMENT, tmp_path / "subs", out, 5, timeout=90)
    assert proc.stdout.startswith("isolation: root: ")
    assert "processes of the run left after grading: none" in proc.stdout
    check_threats(out, expect, marker, listener, "root")
    print(f"graded {len(expect)} submissions in {seconds:.1f} s")


# The scoring process ends a child with SIGTERM (sandbox.Child.close); a student's os._exit(0) can make that
# SIGTERM arrive just as the waiting process reaps PID 1. Here it arrives at exactly that moment, every time.
SIGTERM_AT_THE_REAP = """
import os, signal, sys
from minidense.assignments.grading import isolation
real_waitid, real_waitpid = os.waitid, os.waitpid
def waitid(*args):
    result = real_waitid(*args)
    os.kill(os.getpid(), signal.SIGTERM)
    return result
def waitpid(*args):
    result = real_waitpid(*args)
    os.kill(os.getpid(), signal.SIGTERM)
    return result
os.waitid, os.waitpid = waitid, waitpid
isolation.enter_namespaces(False, ())
os._exit(0)   # PID 1 of the namespace ends on its own, as a student's os._exit(0) does
"""


@pytest.mark.skipif(not ROOT, reason="namespaces without a user namespace need root (as CI and Gradescope run)")
def test_a_sigterm_as_the_namespace_ends_keeps_its_exit_status():
    proc = subprocess.run([sys.executable, "-c", SIGTERM_AT_THE_REAP], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.skipif(not ROOT, reason="grading as root needs root (as CI and Gradescope run)")
def test_a_user_per_student_without_namespaces_ends_leftovers_and_fork_bombs(tmp_path):
    """Root with --no-namespaces: the students' own uids keep the leftover from the others' children, and
    killing by uid ends it and the fork bomb."""
    marker = "mdt-" + secrets.token_hex(4)
    expect = threat_class(tmp_path / "subs", marker, 9, threats=("leftover", "fork-bomb"))
    out = tmp_path / "out"
    proc, _ = run_grade(tmp_path, ASSIGNMENT, tmp_path / "subs", out, 5, timeout=90, extra=["--no-namespaces"])
    assert proc.stdout.startswith("isolation: users: ")
    _, rows = read_outputs(out)
    check_results(ASSIGNMENTS[ASSIGNMENT], expect, rows)
    results = json.loads((out / "results.json").read_text())
    assert results["isolation"] == "users" and results["processes_left"] == 0
    assert not processes_named(marker), "a threat's process outlived the grading run"


# ------------------------------------------------------------------ as an unprivileged user
def _as_nobody():
    return {"user": NOBODY, "group": NOBODY, "extra_groups": []}


def unprivileged_python():
    """An interpreter the unprivileged user can run (the project's own may live under a closed folder)."""
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for python in (sandbox.python_for_children(), f"/usr/bin/python{minor}", f"/usr/local/bin/python{minor}"):
        try:
            if subprocess.run([python, "-c", f"import sys; assert sys.version_info[:2] == {sys.version_info[:2]}"],
                              capture_output=True, **_as_nobody()).returncode == 0:
                return python
        except OSError:   # not there, or in a folder the user cannot enter
            continue
    return None


@pytest.fixture(scope="module")
def nobody():
    """(python, environment, folder): a readable copy of the library and its packages for the unprivileged
    user, with a folder of its own to work in."""
    if not ROOT:
        pytest.skip("switching to an unprivileged user needs root")
    python = unprivileged_python()
    if python is None:
        pytest.skip(f"no Python {sys.version_info[0]}.{sys.version_info[1]} the unprivileged user can run")
    folder = tempfile.mkdtemp(prefix="minidense-nonroot-")
    os.chmod(folder, 0o755)
    site = os.path.join(folder, "site")
    os.mkdir(site)
    for path in dict.fromkeys(p for p in sys.path if p.endswith("site-packages")):
        for name in os.listdir(path):
            if name in ("numpy", "numpy.libs", "tqdm", "matplotlib", "PIL", "pillow.libs"):
                if not os.path.exists(os.path.join(site, name)):
                    sandbox.copy_tree(os.path.join(path, name), os.path.join(site, name))
    shutil.copytree(generator.PACKAGE_DIR, os.path.join(folder, "src", "minidense"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    for path, dirs, files in os.walk(folder):
        os.chmod(path, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS", "COV"))}
    env.update(PYTHONPATH=os.pathsep.join([os.path.join(folder, "src"), site]), OPENBLAS_NUM_THREADS="1",
               HOME=folder, MPLCONFIGDIR=os.path.join(folder, "mpl"))
    yield python, env, folder
    shutil.rmtree(folder, ignore_errors=True)


def grade_as_nobody(nobody, subs, *options, check=True, run=None):
    """`minidense assignment grade` run by the unprivileged user on ``subs`` in the folder ``run`` (a new one
    by default); (process, OUT)."""
    python, env, folder = nobody
    run = run or tempfile.mkdtemp(prefix="run-", dir=folder)
    shutil.copytree(subs, os.path.join(run, "subs"))
    with open(os.path.join(run, "seed"), "w") as f:
        f.write("5")
    for path, dirs, files in os.walk(run):
        for p in [path] + [os.path.join(path, f) for f in files]:
            os.chown(p, NOBODY, NOBODY)
    os.chmod(os.path.join(run, "seed"), 0o600)
    out = os.path.join(run, "out")
    proc = subprocess.run([python, "-m", "minidense", "assignment", "grade", ASSIGNMENT, os.path.join(run, "subs"),
                           "--out", out, "--seed", "@" + os.path.join(run, "seed"), "--jobs", "2", "--timeout", "90",
                           "--memory", "2", *options], cwd=run, env=env, capture_output=True, text=True,
                          timeout=1800, **_as_nobody())
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, out


def userns_works(nobody):
    python, env, _ = nobody
    code = "from minidense.assignments.grading import sandbox; print(sandbox.isolation_mode())"
    proc = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, **_as_nobody())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip() == "userns"


def test_no_student_can_touch_another_without_root(nobody, tmp_path, listener):
    if not userns_works(nobody):
        pytest.skip("unprivileged user namespaces do not work on this machine")
    marker = "mdt-" + secrets.token_hex(4)
    gallery = ("kill-parent", "snoop", "write-results")   # the earlier gallery's attacks on the grader itself
    run = tempfile.mkdtemp(prefix="run-", dir=nobody[2])
    expect = threat_class(tmp_path / "subs", marker, listener.getsockname()[1], threats=THREATS + gallery,
                          source=os.path.join(nobody[2], "src"), out=os.path.join(run, "out"))
    proc, out = grade_as_nobody(nobody, tmp_path / "subs", run=run)
    assert proc.stdout.startswith("isolation: userns: ")
    from pathlib import Path
    check_threats(Path(out), expect, marker, listener, "userns")
    book, rows = read_outputs(Path(out))
    check_outputs(ASSIGNMENTS[ASSIGNMENT], Path(out), book, rows, expect)   # nothing planted in OUT
    snoop = [c["message"] for p in rows["hostile-snoop"]["parts"].values() for c in p["cases"] if not c["passed"]]
    assert snoop and all("SNOOP found nothing" in m for m in snoop), snoop[0]


def test_without_namespaces_the_grader_says_there_is_no_isolation_and_can_refuse(nobody, tmp_path):
    subs = tmp_path / "subs"
    build_class(ASSIGNMENT, subs, tmp_path / "o", tmp_path / "s", 5, n_correct=1, kinds=[])
    for extra in [p for p in subs.iterdir() if p.name != "correct-00"]:
        shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
    proc, out = grade_as_nobody(nobody, subs, "--no-namespaces", "--require-isolation", check=False)
    assert proc.returncode == 2 and "--require-isolation" in proc.stderr and "no isolation" in proc.stderr
    assert not os.path.exists(os.path.join(out, "gradebook.csv"))
    proc, out = grade_as_nobody(nobody, subs, "--no-namespaces")
    said = "none: student code can read what your account can read"
    lines = proc.stdout.splitlines()
    assert lines[0] == f"isolation: {said}" and f"  isolation: {said}" in lines   # at the start and in the summary
    results = json.loads(open(os.path.join(out, "results.json")).read())
    assert results["isolation"] == "none" and said.endswith(results["protection"])
    assert results["students"][0]["total"] == 100
