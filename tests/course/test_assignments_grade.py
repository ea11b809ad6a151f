"""The instructor's grader: hidden cases, a child per student and part, the gradebook, hostile students.

Grading runs as Gradescope would run it (and as CI runs here): as root, with the grader's package in a
closed source folder (0700) and the term seed in a closed file, so each child drops to `nobody` and
finds nothing it can use. `make test` grades a few submissions of the convolution kit; the synthetic
class (>= 30 per assignment, every hostile kind) runs in `make test-slow`.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from assignment_class import build_class, check_results

from minidense import cli
from minidense.assignments import ASSIGNMENTS, generator
from minidense.assignments.cases import case_rng, make_cases
from minidense.assignments.grade import Rejected, summary, unpack
from minidense.assignments.grading import compare, sandbox

ROOT = sandbox.root_mode()
needs_root = pytest.mark.skipif(not ROOT, reason="the root-mode arrangement needs root (as CI and Gradescope run)")


def closed_source(tmp_path, seed):
    """The grader's source folder and seed file, closed to other users, as the Gradescope bundle keeps them."""
    source = tmp_path / "source"
    if not source.exists():
        shutil.copytree(generator.PACKAGE_DIR, source / "minidense", ignore=shutil.ignore_patterns("__pycache__"))
        os.chmod(source, 0o700)
    (source / "seed").write_text(str(seed))
    os.chmod(source / "seed", 0o600)
    return source


def run_grade(tmp_path, name, submissions, out, seed, jobs=2, timeout=120, memory=2, extra=()):
    """`minidense assignment grade` in a process of its own, from the closed source folder (``extra``: more
    options)."""
    source = closed_source(tmp_path, seed)
    cwd = tmp_path / "grader-cwd"
    cwd.mkdir(mode=0o700, exist_ok=True)
    libraries = [p for p in sys.path if p.endswith("site-packages")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS", "COV"))}
    env.update(PYTHONPATH=os.pathsep.join([str(source)] + libraries), OPENBLAS_NUM_THREADS="1")
    start = time.monotonic()
    proc = subprocess.run([sandbox.python_for_children(), "-m", "minidense", "assignment", "grade", name,
                           str(submissions), "--out", str(out), "--seed", f"@{source / 'seed'}", "--jobs", str(jobs),
                           "--timeout", str(timeout), "--memory", str(memory), *extra],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, seconds


def read_outputs(out):
    with open(out / "gradebook.csv", newline="") as f:
        book = {row["student"]: row for row in csv.DictReader(f)}
    results = json.loads((out / "results.json").read_text())
    return book, {r["student"]: r for r in results["students"]}


def check_outputs(spec, out, book, rows, expect):
    assert set(book) == set(rows) == set(expect)
    assert list(next(iter(book.values()))) == ["student"] + [p.name for p in spec.parts] + ["total", "max", "status"]
    for student, row in book.items():
        assert float(row["total"]) == rows[student]["total"]
        assert row["status"] in ("ok", "timeout", "crashed", "missing", "error")
        assert (out / student / "feedback.md").is_file()
    # nothing in OUT but what the grader writes: no planted results, no files of a hostile child
    allowed = {"gradebook.csv", "results.json", "manifest.json"} | {f"{s}/feedback.md" for s in rows} | \
              {f"{s}/ANSWERS.md" for s in rows} | {f"{s}/result.json" for s in rows}
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written <= allowed, written - allowed


# ------------------------------------------------------------------ units: seeds, cases, zips, comparison
def test_hidden_cases_depend_on_seed_and_student_and_differ_from_the_public_ones():
    spec = ASSIGNMENTS["conv"]

    def inputs(seed, student):
        return [c["inputs"]["x"] for c in make_cases(spec, "im2col", case_rng(seed, student, 0), public=False)]
    a, b, c = inputs(1, "ann"), inputs(2, "ann"), inputs(1, "bob")
    assert all(np.array_equal(x, y) for x, y in zip(a, inputs(1, "ann")))   # reproducible
    assert not any(x.shape == y.shape and np.array_equal(x, y) for x in a for y in b + c)


def test_compare_says_what_is_wrong():
    e = np.arange(6.0).reshape(2, 3)
    assert compare.compare_arrays("out", e, e + 1e-12, 1e-7, 1e-9) is None
    assert "shape (3, 2), expected (2, 3)" in compare.compare_arrays("out", e, e.T.copy(), 1e-7, 1e-9)
    g = e.copy()
    g[1, 2] = 9.0
    msg = compare.compare_arrays("out", e, g, 1e-7, 1e-9)
    assert "worst at [1, 2]: expected 5, got 9" in msg and "1 of 6" in msg
    assert "not finite" in compare.compare_arrays("out", e, e * np.nan, 1e-7, 1e-9)
    assert "missing" in compare.compare_outputs({"out": e}, {}, 1e-7, 1e-9)
    switches = np.arange(6).reshape(2, 3)   # int64: the contract's switches
    assert compare.compare_arrays("idx", switches, switches.copy(), 0, 0) is None
    assert "dtype int32, expected int64" in compare.compare_arrays("idx", switches, switches.astype(np.int32), 0, 0)
    assert "dtype float64, expected int64" in compare.compare_arrays("idx", switches, switches * 1.0, 0, 0)


def test_later_hint_tiers_are_veiled_in_a_kit_and_read_back():
    hint = "the gradient is (grad − y·⟨grad, y⟩)/‖x‖"
    veiled = compare.veil(hint)
    assert veiled.startswith(compare.VEILED) and "grad" not in veiled and compare.unveil(veiled) == hint
    assert compare.unveil(hint) == hint
    assert compare.explain({"hints": ["first", veiled]}, "wrong", tier=2) == f"wrong. Hint: first. Hint 2: {hint}"


@pytest.mark.parametrize("member,why", [("../evil.py", "leaves its folder"), ("/tmp/evil.py", "absolute path"),
                                        ("a/../../evil.py", "leaves its folder"), ("C:/evil.py", "absolute path")])
def test_unsafe_zips_are_rejected_and_nothing_is_written(tmp_path, member, why):
    z = tmp_path / "s.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("minidense/ops/conv.py", "x = 1\n")
        f.writestr(member, "boom")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(Rejected, match=why):
        unpack(str(z), str(dest), ["minidense/ops/conv.py"])
    assert not any(dest.iterdir()) and not (tmp_path / "evil.py").exists()


def test_links_are_rejected(tmp_path):
    z = tmp_path / "s.zip"
    info = zipfile.ZipInfo("minidense/ops/conv.py")
    info.external_attr = (0o120777) << 16
    with zipfile.ZipFile(z, "w") as f:
        f.writestr(info, "/etc/passwd")
    with pytest.raises(Rejected, match="symbolic link"):
        unpack(str(z), str(tmp_path), ["minidense/ops/conv.py"])
    folder = tmp_path / "student" / "minidense" / "ops"
    folder.mkdir(parents=True)
    (folder / "conv.py").symlink_to("/etc/passwd")
    with pytest.raises(Rejected, match="symbolic link"):
        unpack(str(tmp_path / "student"), str(tmp_path / "dest2"), ["minidense/ops/conv.py"])


def test_grade_requires_a_seed_and_names_the_options(tmp_path, capsys):
    assert cli.main(["assignment", "grade", "conv", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--seed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["assignment", "grade", "--help"])
    text = capsys.readouterr().out
    assert all(w in text for w in ("--jobs", "--timeout", "--memory", "default 600", "default 4"))


def test_summary_has_mean_median_and_histogram():
    rows = [{"total": t, "max": 100, "status": "ok"} for t in (100, 100, 50, 0)]
    text = summary(rows)
    assert "mean 62.5, median 75.0 of 100" in text and "status: ok 4" in text
    assert text.count("#") == 4


# ------------------------------------------------------------------ a few submissions, root mode (make test)
@needs_root
def test_grade_a_few_submissions_in_root_mode(tmp_path):
    spec = ASSIGNMENTS["conv"]
    subs, out = tmp_path / "subs", tmp_path / "out"
    expect, canary = build_class("conv", subs, out, tmp_path / "source", 8142, n_correct=2,
                                 kinds=["os-exit", "kill-parent", "write-results", "monkeypatch", "snoop"])
    for drop in ("zip-absolute", "zip-symlink", "missing-file", "mistake-1", "hostile-extra-files"):
        (subs / f"{drop}.zip").unlink(missing_ok=True)
        shutil.rmtree(subs / drop, ignore_errors=True)
        expect.pop(drop)
    proc, seconds = run_grade(tmp_path, "conv", subs, out, 8142)
    book, rows = read_outputs(out)
    check_outputs(spec, out, book, rows, expect)
    check_results(spec, expect, rows)
    assert not canary.exists()
    snoop = rows["hostile-snoop"]["parts"]["im2col"]["cases"]
    assert snoop and all("SNOOP found nothing" in c["message"] for c in snoop), snoop[0]["message"]
    assert (out / "correct-00" / "ANSWERS.md").read_text() == "# answers of correct-00\n"
    feedback = (out / "mistake-0" / "feedback.md").read_text()
    assert "`grad_weight`" in feedback and "expected" in feedback and "got" in feedback
    assert "mean" in proc.stdout and "median" in proc.stdout and "grading conv" in proc.stderr
    print(f"graded {len(rows)} conv submissions in {seconds:.1f} s")


@needs_root
def test_two_seeds_give_different_cases_and_full_marks(tmp_path):
    subs = tmp_path / "subs"
    good = {f"minidense/{rel}": (Path(generator.PACKAGE_DIR) / rel).read_text()
            for rel in ASSIGNMENTS["pool"].stubs}
    for rel, text in good.items():
        (subs / "ann" / rel).parent.mkdir(parents=True, exist_ok=True)
        (subs / "ann" / rel).write_text(text)
    ids = []
    for seed in (11, 12):
        out = tmp_path / f"out{seed}"
        run_grade(tmp_path, "pool", subs, out, seed)
        _, rows = read_outputs(out)
        assert rows["ann"]["total"] == 100 and rows["ann"]["status"] == "ok", rows["ann"]["notes"]
        ids.append([c["id"] for p in rows["ann"]["parts"].values() for c in p["cases"]])
    assert ids[0] != ids[1]


# ------------------------------------------------------------------ the whole synthetic class (make test-slow)
@needs_root
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_grade_a_class_of_thirty(name, tmp_path):
    spec = ASSIGNMENTS[name]
    subs, out = tmp_path / "subs", tmp_path / "out"
    expect, canary = build_class(name, subs, out, tmp_path / "source", 2718, n_correct=12)
    assert len(expect) >= 30
    timeout = 300 if spec.training else 90
    proc, seconds = run_grade(tmp_path, name, subs, out, 2718, timeout=timeout)
    book, rows = read_outputs(out)
    check_outputs(spec, out, book, rows, expect)
    totals = check_results(spec, expect, rows)
    assert not canary.exists()
    assert rows["hostile-endless-loop"]["status"] == "timeout"
    assert rows["hostile-os-exit"]["status"] == "crashed"
    assert all("SNOOP found nothing" in c["message"] for p in rows["hostile-snoop"]["parts"].values()
               for c in p["cases"] if not c["passed"])
    print(f"\n{name}: {len(rows)} submissions graded with --jobs 2 in {seconds:.0f} s; total of totals "
          f"{sum(totals.values()):g}; {proc.stdout.strip().splitlines()[0]}")


def test_the_snoop_finds_a_reference_it_can_read(tmp_path):
    """The hostile 'snoop' is not blind: run here (as the grader's own user), it finds the library."""
    from assignment_class import SNOOP
    shutil.copytree(Path(generator.PACKAGE_DIR) / "ops", tmp_path / "src" / "minidense" / "ops")
    code = SNOOP.format(source=str(tmp_path / "src"), seed_text="8142", files=["minidense/ops/conv.py", "ops/conv.py"])
    with pytest.raises(RuntimeError, match=f"SNOOP found: .*{tmp_path / 'src' / 'minidense' / 'ops' / 'conv.py'}"):
        exec(compile(code, "snoop", "exec"), {})


# ------------------------------------------------------------------ the Gradescope bundle
GRADESCOPE_TEST_FIELDS = {"name", "score", "max_score", "status", "output", "visibility", "number", "tags"}


@needs_root
def test_gradescope_bundle_runs_on_temporary_folders_and_matches_grade(tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert cli.main(["assignment", "gradescope", "pool", "--out", str(bundle), "--seed", "77", "--timeout", "120",
                     "--memory", "2"]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        z.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "seed", "autograder.json", "requirements.txt",
            "minidense/__init__.py", "minidense/assignments/gradescope.py"} <= names
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert subprocess.run(["bash", "-n", str(root / "source" / "setup.sh")]).returncode == 0
    # one mistake in the switches; the files uploaded one by one (no folders), as Gradescope keeps single uploads
    expect, _ = build_class("pool", tmp_path / "class", tmp_path / "unused", tmp_path / "source", 77, n_correct=0,
                            kinds=[])
    (root / "submission").mkdir()
    for path in (tmp_path / "class" / "mistake-1" / "minidense" / "ops").iterdir():
        shutil.copyfile(path, root / "submission" / path.name)
    (root / "submission_metadata.json").write_text(json.dumps({"id": 1, "users": [{"id": "4242", "name": "A"}]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS"))}
    env.update(MINIDENSE_AUTOGRADER_ROOT=str(root), MINIDENSE_AUTOGRADER_PYTHON=sandbox.python_for_children(),
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p.endswith("site-packages")))
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert os.stat(root / "source").st_mode & 0o077 == 0          # closed to the child's user
    results = json.loads((root / "results" / "results.json").read_text())
    assert {"score", "output", "visibility", "stdout_visibility", "execution_time", "tests"} <= set(results)
    spec = ASSIGNMENTS["pool"]
    assert [t["tags"] for t in results["tests"]] == [[p.name] for p in spec.parts]
    for t in results["tests"]:
        assert set(t) == GRADESCOPE_TEST_FIELDS and t["status"] in ("passed", "failed")
        assert t["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
        assert t["status"] == ("passed" if t["score"] == t["max_score"] else "failed")
    by_part = {t["tags"][0]: t["score"] for t in results["tests"]}
    assert by_part["switches"] < 20 and by_part["transposed_forward"] == 25
    # the same student and seed through `minidense assignment grade`: the same scores
    subs = tmp_path / "subs"
    shutil.copytree(tmp_path / "class" / "mistake-1", subs / "4242")
    run_grade(tmp_path, "pool", subs, tmp_path / "out", 77)
    _, rows = read_outputs(tmp_path / "out")
    assert {p: v["score"] for p, v in rows["4242"]["parts"].items()} == by_part
    assert results["score"] == rows["4242"]["total"]


def test_a_student_with_two_submissions_and_a_bad_name_are_rows_with_errors(tmp_path):
    from minidense.assignments.grade import grade
    subs = tmp_path / "subs"
    (subs / "ann").mkdir(parents=True)
    with zipfile.ZipFile(subs / "ann.zip", "w") as z:
        z.writestr("minidense/ops/conv.py", "x = 1\n")
    (subs / "bad name!").mkdir()
    rows = grade("conv", str(subs), str(tmp_path / "out"), 3, progress=False, log=lambda *a: None)
    assert [(r["student"], r["status"]) for r in rows] == [("ann", "error"), ("ann_", "error"), ("bad_name_", "error")]
    assert "2 submissions" in rows[0]["notes"][0] and "student id" in rows[2]["notes"][0]
