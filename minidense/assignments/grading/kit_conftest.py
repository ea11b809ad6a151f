"""The autograder's bookkeeping: one pytest mark per graded part, a score per part, results.json.

Every test carries exactly one part mark (listed in parts.json). A part's points are shared equally
by its tests; a test earns its share when it passes (setup, call and teardown). At the end the score
table is printed and written to the kit's results.json. The grader only runs against the kit's own
copy of minidense: anything else stops it at once.
"""
import json
import os
import sys
from pathlib import Path

import pytest

# small matrices: one BLAS thread is fastest, and several oversubscribe a busy machine (before numpy loads)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

GRADER = Path(__file__).resolve().parent
KIT = GRADER.parent
RESULTS = KIT / "results.json"
SPEC = json.loads((GRADER / "parts.json").read_text(encoding="utf-8"))
PARTS = {p["name"]: p for p in SPEC["parts"]}

_part_of = {}      # nodeid -> part
_failed = set()    # nodeids with a failed phase
_passed = set()    # nodeids whose call passed


def pytest_configure(config):
    for name, part in PARTS.items():
        config.addinivalue_line("markers", f"{name}: {part['title']} ({part['points']} points)")


def pytest_sessionstart(session):
    if RESULTS.exists():
        RESULTS.unlink()   # never leave an old score behind a run that stopped
    import minidense
    where = Path(minidense.__file__).resolve()
    if KIT not in where.parents:
        pytest.exit(f"grader: minidense was imported from {where}, not from this kit ({KIT / 'minidense'}). "
                    "Run `python grader/run.py` from the kit's folder (or PYTHONPATH=. python -m pytest grader), "
                    "and do not pip install minidense.", returncode=3)


def pytest_collection_modifyitems(config, items):
    for item in items:
        marks = [m.name for m in item.iter_markers() if m.name in PARTS]
        if len(set(marks)) != 1:
            raise pytest.UsageError(f"grader: {item.nodeid} must carry exactly one part mark of "
                                    f"{sorted(PARTS)}, has {marks}")
        _part_of[item.nodeid] = marks[0]


def pytest_runtest_logreport(report):
    if report.failed:
        _failed.add(report.nodeid)
    elif report.when == "call" and report.passed:
        _passed.add(report.nodeid)


def _scores(session):
    ran = {item.nodeid for item in session.items}
    parts, total, possible = {}, 0.0, 0
    for name, part in PARTS.items():
        tests = sorted(n for n in ran if _part_of.get(n) == name)
        passed = [n for n in tests if n in _passed and n not in _failed]
        score = round(part["points"] * len(passed) / len(tests), 2) if tests else 0.0
        parts[name] = {"title": part["title"], "points": part["points"], "score": score, "tests": len(tests),
                       "passed": len(passed), "run": bool(tests),
                       "failed_tests": [n.split("::", 1)[-1] for n in tests if n not in passed]}
        total += score
        possible += part["points"]
    return {"assignment": SPEC["assignment"], "title": SPEC["title"], "parts": parts, "total": round(total, 2),
            "max": possible, "python": sys.version.split()[0]}


def pytest_sessionfinish(session, exitstatus):
    if not hasattr(session, "items"):
        return   # stopped before collection (pytest.exit): no score
    session.config._grader_results = results = _scores(session)
    RESULTS.write_text(json.dumps(results, indent=1), encoding="utf-8")
    import hint_tiers  # beside this file: a part that failed again shows its next hint
    hint_tiers.record(name for name, p in results["parts"].items() if p["run"] and p["passed"] < p["tests"])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = getattr(config, "_grader_results", None)
    if results is None:
        return
    tr = terminalreporter
    tr.section(f"score: {results['title']}")
    for name, p in results["parts"].items():
        status = f"{p['passed']}/{p['tests']} tests" if p["run"] else "not run"
        tr.write_line(f"{name:22s} {p['score']:6.2f} / {p['points']:3d}   ({status})")
    tr.write_line(f"{'total':22s} {results['total']:6.2f} / {results['max']:3d}")
    tr.write_line(f"written to {RESULTS}")
