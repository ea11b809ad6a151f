"""The scoring process of one student: ``python -m minidense.assignments.grading.score JOB.json``.

Started by grade.py (one per student, ``--jobs`` at a time), it reads its job (assignment, student,
where their files and the pristine package are, the term seed, the limits) from a file in the grader's
closed work folder, and

1. merges the student's functions of this assignment into a copy of the pristine kit's package, in a
   folder of the student's own (sandbox.py);
2. per part: draws the hidden cases from (term seed, student id, part), computes the expected outputs
   with the library's reference code here, runs the student's code on the inputs in a child process
   (child.py; one per part, reused across its cases), and compares here (compare.py);
3. writes the result (scores, what failed and why, status) next to its job.

The student's code never runs in this process; nothing the child does reaches the result but the
arrays it returns.
"""
import json
import os
import sys
import time

from .. import merge
from ..cases import case_rng, make_cases
from ..course import ASSIGNMENTS
from . import compare, harness, sandbox

#: how a student's row is marked, most serious first
STATUSES = ("missing", "error", "crashed", "timeout", "ok")


def merge_submission(spec, package, submission):
    """Merge the student's functions of ``spec`` into ``package`` in place; (notes, files found, bad files)."""
    notes, found, bad = [], 0, 0
    revealing = spec.all_stubs()   # the student's functions, and the helpers stubbed with them, if written
    for rel in spec.stubs:
        names = revealing[rel]
        path = os.path.join(submission, "minidense", rel)
        if not os.path.isfile(path):
            notes.append(f"`minidense/{rel}` was not submitted: its functions ({', '.join(spec.stubs[rel])}) "
                         "score 0")
            continue
        found += 1
        try:
            with open(path, encoding="utf-8") as f:
                theirs = f.read()
        except (UnicodeDecodeError, OSError) as exc:
            notes.append(f"`minidense/{rel}` could not be read ({exc})")
            bad += 1
            continue
        target = os.path.join(package, rel)
        with open(target, encoding="utf-8") as f:
            merged, skipped = merge.merge_functions(f.read(), theirs, names)
        with open(target, "w", encoding="utf-8") as f:
            f.write(merged)
        if any("does not parse" in why for why in skipped.values()):
            bad += 1
            notes.append(f"`minidense/{rel}`: {next(iter(skipped.values()))}; none of its functions was taken")
        else:
            notes.extend(f"`minidense/{rel}`: `{q}` {why}" for q, why in skipped.items() if q in spec.stubs[rel])
    return notes, found, bad


def expected_outputs(case):
    if "expected" in case:   # given by the case (held-out labels a training run is judged on)
        return case["expected"]
    return harness.FUNCTIONS[case["fn"]](case["inputs"], case["params"])


def score_part(box, folder, spec, index, part, job, deadline, preload):
    cases = make_cases(spec, part.name, case_rng(job["seed"], job["student"], index), public=False)
    results, trouble = [], None
    child = None
    try:
        if time.monotonic() >= deadline:
            raise sandbox.ChildError("timeout", "the time limit was reached before this part")
        child = sandbox.Child(box, folder, job["memory_bytes"], deadline, preload)
        for case in cases:
            problem = compare.verdict(case, expected_outputs, lambda c: child.call(c["fn"], c["params"], c["inputs"]))
            results.append({"id": case["id"], "passed": problem is None, "message": problem})
    except sandbox.ChildError as exc:
        trouble = exc
    finally:
        if child is not None:
            child.close()
    for case in cases[len(results):]:
        results.append({"id": case["id"], "passed": False, "message": str(trouble)})
    passed = sum(r["passed"] for r in results)
    score = round(part.points * passed / len(results), 2)
    return {"title": part.title, "points": part.points, "score": score, "passed": passed, "total": len(results),
            "cases": results}, trouble


def score_student(job):
    spec = ASSIGNMENTS[job["assignment"]]
    start = time.monotonic()
    deadline = start + job["timeout"]
    box = sandbox.Sandbox.for_job(job)
    folder = box.student_folder(job["pristine"])
    notes = list(job.get("notes", []))
    merge_notes, found, bad = merge_submission(spec, os.path.join(folder, "kit", "minidense"), job["submission"])
    notes += merge_notes
    kinds = set()
    if found == 0:
        kinds.add("missing")
    if bad:
        kinds.add("error")
    sandbox.import_library()
    preload = sandbox.preload_list()
    parts = {}
    for index, part in enumerate(spec.parts):
        parts[part.name], trouble = score_part(box, folder, spec, index, part, job, deadline, preload)
        if trouble is not None:
            kinds.add(trouble.kind)
            notes.append(f"part `{part.name}`: {trouble}")
    status = next(s for s in STATUSES if s in kinds or s == "ok")
    total = round(sum(p["score"] for p in parts.values()), 2)
    return {"student": job["student"], "status": status, "total": total,
            "max": sum(p.points for p in spec.parts), "parts": parts, "notes": notes,
            "seconds": round(time.monotonic() - start, 1), "unconfirmed_ends": box.unconfirmed}


def main(job_path):
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    result = score_student(job)
    tmp = job["result"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, job["result"])


if __name__ == "__main__":
    main(sys.argv[1])
