"""A grading run that can be killed and resumed, and students regraded into the same OUT.

Each student's result is saved into OUT as their scoring ends; ``--resume`` grades the rest and refuses
a run whose manifest (assignment, seed, submissions, limits, grader) does not match; ``--only`` regrades
some students. The slow test kills a class of about 40 halfway and resumes it.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from assignment_class import build_class, library_files
from test_assignments_grade import closed_source, read_outputs, run_grade

from minidense.assignments import ASSIGNMENTS
from minidense.assignments.grade import grade
from minidense.assignments.grading import sandbox

TIMING = ("seconds",)


def without_timing(results):
    """results.json's content without its timing fields."""
    return {**results, "students": [{k: v for k, v in r.items() if k not in TIMING} for r in results["students"]]}


def test_resume_keeps_the_graded_refuses_a_mismatch_and_only_regrades(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    build_class("pool", subs, tmp_path / "o", tmp_path / "s", 904173, n_correct=1, kinds=[])
    for extra in [p for p in subs.iterdir() if p.name not in ("correct-00", "mistake-0")]:
        shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
    said = []
    options = dict(jobs=2, timeout=60, memory_gb=2, progress=False, log=said.append)
    first = grade("pool", str(subs), str(out), 904173, **options)
    book = (out / "gradebook.csv").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["submissions"]) == {"correct-00", "mistake-0"} and "904173" not in json.dumps(manifest)
    with pytest.raises(FileExistsError, match="--resume"):
        grade("pool", str(subs), str(out), 904173, **options)
    # a run killed after one student: the other's result is all that is left
    for name in ("gradebook.csv", "results.json", "correct-00/result.json"):
        (out / name).unlink()
    said.clear()
    again = grade("pool", str(subs), str(out), 904173, resume=True, **options)
    assert (out / "gradebook.csv").read_text() == book and any("graded now: 1; kept from before: 1" in s for s in said)
    assert [r["total"] for r in again] == [r["total"] for r in first]
    with pytest.raises(ValueError, match="another the seed"):
        grade("pool", str(subs), str(out), 904174, resume=True, **options)
    with pytest.raises(ValueError, match=r"the limits"):
        grade("pool", str(subs), str(out), 904173, resume=True, **{**options, "timeout": 61})
    # the student fixes the mistake: --resume refuses the changed submission, --only regrades it
    for rel, text in library_files(ASSIGNMENTS["pool"]).items():
        (subs / "mistake-0" / "minidense" / rel).write_text(text)
    with pytest.raises(ValueError, match="changed: mistake-0"):
        grade("pool", str(subs), str(out), 904173, resume=True, **options)
    with pytest.raises(ValueError, match="no submission.*nobody"):
        grade("pool", str(subs), str(out), 904173, only=["nobody"], **options)
    rows = grade("pool", str(subs), str(out), 904173, only=["mistake-0"], **options)
    assert [(r["student"], r["total"]) for r in rows] == [("correct-00", 100), ("mistake-0", 100)]
    assert "mistake-0,25,20,20,20,15,100,100,ok" in (out / "gradebook.csv").read_text()
    said.clear()
    grade("pool", str(subs), str(out), 904173, resume=True, **options)   # matches again: nothing left to grade
    assert any("graded now: 0" in s for s in said)


# The time limit per part of the class below. The "memory" student fills its 2 GiB in every case of a part (nine
# of them); alone that takes well under 60 s, but beside make test-slow's other worker grading a class of its
# own it once took longer, and that part timed out in one run and not in the other. The limit is wall-clock
# time, so a run's grades are the same only where no honest part comes near it.
PART_SECONDS = 150


@pytest.mark.skipif(not sandbox.root_mode(), reason="the class's hostile students are graded as root (as CI runs)")
@pytest.mark.slow
def test_a_class_killed_halfway_and_resumed_gives_the_same_gradebook(tmp_path):
    subs = tmp_path / "subs"
    expect, _ = build_class("pool", subs, tmp_path / "out", tmp_path / "source", 31, n_correct=14)
    assert len(expect) >= 38
    whole = tmp_path / "whole"
    run_grade(tmp_path, "pool", subs, whole, 31, jobs=1, timeout=PART_SECONDS)
    # the same class with --jobs 2, killed when about half of it is saved, then resumed
    out = tmp_path / "out"
    source = closed_source(tmp_path, 31)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS", "COV"))}
    env.update(PYTHONPATH=os.pathsep.join([str(source)] + [p for p in sys.path if p.endswith("site-packages")]),
               OPENBLAS_NUM_THREADS="1")
    args = [sandbox.python_for_children(), "-m", "minidense", "assignment", "grade", "pool", str(subs), "--out",
            str(out), "--seed", f"@{source / 'seed'}", "--jobs", "2", "--timeout", str(PART_SECONDS), "--memory", "2"]
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    while len(list(out.glob("*/result.json"))) < len(expect) // 2 and time.monotonic() - start < 1200:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("*/result.json")))
    assert len(expect) // 2 <= done < len(expect) and not (out / "gradebook.csv").exists()
    time.sleep(2)   # the killed run's scoring processes end with it
    resumed, _ = run_grade(tmp_path, "pool", subs, out, 31, jobs=2, timeout=PART_SECONDS, extra=["--resume"])
    assert f"kept from before: {done}" in resumed.stdout
    assert (out / "gradebook.csv").read_text() == (whole / "gradebook.csv").read_text()
    _, rows = read_outputs(out)
    for student in rows:
        assert (out / student / "feedback.md").read_text() == (whole / student / "feedback.md").read_text()
    a, b = (without_timing(json.loads((o / "results.json").read_text())) for o in (out, whole))
    assert a == b and a["processes_left"] == 0
    print(f"\n{len(expect)} students; killed after {done} were saved; resumed")
