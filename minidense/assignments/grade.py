"""Grade a class: ``minidense assignment grade NAME SUBMISSIONS --out OUT --seed S``.

SUBMISSIONS holds one folder or one ``.zip`` per student (the student's id is the folder's name or
the zip's stem) with the files the handout names at their kit paths (``minidense/ops/conv.py``; a file
found elsewhere under the same name is taken too, as Gradescope's single uploads lose their folders).
Only those files, and the written answers the handout collects, are read; zips with absolute paths,
``..`` or links are rejected whole. Each student is scored by grading/score.py in a process of its
own (``jobs`` at a time), which runs the student's code only in child processes. Writes
``OUT/gradebook.csv``, ``OUT/<student>/feedback.md`` (with the collected answers) and
``OUT/results.json``, and prints a summary.
"""
import csv
import json
import os
import re
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed

from . import get
from . import resume as resume_
from .generator import PACKAGE_DIR, build_package
from .grading import isolation, sandbox
from .grading.score import STATUSES

DEFAULT_TIMEOUT = 600      # seconds per student, all parts together
DEFAULT_MEMORY_GB = 4.0    # address space of each child
MAX_FILE_BYTES = 2 << 20   # a submitted file larger than this is not read
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
#: written answers the handout collects: copied untouched into OUT/<student>/
COLLECTED = ("ANSWERS.md",)
#: the scoring process (grading/score.py), ended with the grader's thread that started it (killed grader: no orphans)
SCORER = ("import sys; from minidense.assignments.grading import isolation, score; "
          "isolation.prctl(isolation.PR_SET_PDEATHSIG, 9); score.main(sys.argv[1])")


class NoIsolation(ValueError):
    """Isolation was required and this machine gives none."""


class Rejected(Exception):
    """A submission that is not read at all (unsafe zip, links, a bad name)."""


def read_seed(value):
    """The term seed: an integer, or ``@FILE`` holding one (a command line is readable by other users)."""
    text = str(value).strip()
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            text = f.read().strip()
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"grade: seed must be an integer (or @FILE holding one), got {value!r}") from None


def wanted_files(spec):
    """{kit path: where it goes}: the files the handout names, and the collected written answers."""
    named = [f"minidense/{rel}" for rel in spec.stubs]
    return named + list(COLLECTED)


def _match(wanted, available):
    """{wanted kit path: available path}: exact path first, else a unique file of the same name."""
    found = {}
    for path in wanted:
        if path in available:
            found[path] = path
            continue
        same = [a for a in available if a.rsplit("/", 1)[-1] == path.rsplit("/", 1)[-1]]
        if len(same) == 1:
            found[path] = same[0]
    return found


def _check_member(info):
    name = info.filename
    mode = info.external_attr >> 16
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise Rejected(f"the zip holds an absolute path ({name!r})")
    if ".." in re.split(r"[/\\]", name):
        raise Rejected(f"the zip holds a path that leaves its folder ({name!r})")
    if stat.S_ISLNK(mode):
        raise Rejected(f"the zip holds a symbolic link ({name!r})")


def unpack(source, dest, wanted):
    """Copy the wanted files of a student's folder or zip into ``dest``; returns notes. Raises Rejected."""
    files = {}
    if os.path.isdir(source):
        for folder, dirs, names in os.walk(source, followlinks=False):
            for n in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                full = os.path.join(folder, n)
                rel = os.path.relpath(full, source).replace(os.sep, "/")
                files[rel] = full
        chosen = _match(wanted, files)
        for path in chosen.values():
            if os.path.islink(files[path]):
                raise Rejected(f"{path} is a symbolic link")
        read = {w: files[p] for w, p in chosen.items()}

        def content(full):
            with open(full, "rb") as f:
                return f.read(MAX_FILE_BYTES + 1)
    else:
        try:
            archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError) as exc:
            raise Rejected(f"not a readable zip ({exc})") from None
        with archive:
            infos = archive.infolist()
            for info in infos:
                _check_member(info)
            files = {i.filename.replace("\\", "/"): i for i in infos if not i.is_dir()}
            chosen = _match(wanted, files)
            data = {}
            for w, p in chosen.items():
                with archive.open(files[p]) as f:
                    data[w] = f.read(MAX_FILE_BYTES + 1)
        read = data

        def content(blob):
            return blob
    notes = []
    for kit_path, where in read.items():
        blob = content(where)
        if len(blob) > MAX_FILE_BYTES:
            notes.append(f"`{kit_path}` is larger than {MAX_FILE_BYTES} bytes and was not read")
            continue
        target = os.path.join(dest, *kit_path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(blob)
    return notes


def find_submissions(folder):
    """[(student id, path)] of the folders and zips in ``folder``, sorted by id."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"grade: submissions folder {folder!r} does not exist")
    out = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith("."):
            continue
        if name.lower().endswith(".zip") and (os.path.isfile(path) or os.path.islink(path)):
            out.append((name[:-4], path))
        elif os.path.isdir(path) or os.path.islink(path):
            out.append((name, path))
    return out


def _blank_result(spec, student, status, notes):
    parts = {p.name: {"title": p.title, "points": p.points, "score": 0.0, "passed": 0, "total": 0, "cases": []}
             for p in spec.parts}
    return {"student": student, "status": status, "total": 0.0, "max": sum(p.points for p in spec.parts),
            "parts": parts, "notes": notes, "seconds": 0.0}


def _scorer_env():
    """The scoring process finds the same (reference) minidense and libraries as this process."""
    paths = [os.path.dirname(PACKAGE_DIR)] + [p for p in sys.path if p]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "MINIDENSE_GRADE"))}
    env.update(PYTHONPATH=os.pathsep.join(paths), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    return env


def _run_scorer(spec, job, job_path):
    why = ""
    try:
        proc = subprocess.run([sandbox.python_for_children(), "-c", SCORER, job_path],
                              env=_scorer_env(), cwd=os.path.dirname(job_path), capture_output=True, text=True,
                              timeout=job["timeout"] + 120)
        why = proc.stderr[-1500:]
        with open(job["result"], encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        why = why or str(exc)
    return _blank_result(spec, job["student"], "crashed", [f"the grader's scoring process failed: {why}"])


def _one_line(text):
    return " ".join(str(text).split())


def feedback_markdown(spec, result):
    lines = [f"# {spec.title}", "", f"Student: `{result['student']}`", "",
             f"**Total: {result['total']:g} / {result['max']}** (status: {result['status']})", ""]
    if result["notes"]:
        lines += ["## Notes", ""] + [f"- {_one_line(n)}" for n in result["notes"]] + [""]
    lines += ["| part | score | cases passed |", "|---|---|---|"]
    lines += [f"| `{name}` | {p['score']:g} / {p['points']} | {p['passed']} / {p['total']} |"
              for name, p in result["parts"].items()]
    lines.append("")
    for name, p in result["parts"].items():
        failed = [c for c in p["cases"] if not c["passed"]]
        lines += [f"## {name}: {p['title']}", ""]
        if not p["cases"]:
            lines += ["Not graded.", ""]
            continue
        if not failed:
            lines += [f"All {p['total']} cases passed.", ""]
            continue
        lines += [f"Passed {p['passed']} of {p['total']} cases. Failed:", ""]
        lines += [f"- case `{c['id']}`: {_one_line(c['message'])}" for c in failed]
        lines.append("")
    return "\n".join(lines)


def summary(results, run=None):
    """The class's mean, median, histogram and statuses; with ``run``, the isolation and what was left."""
    totals = [r["total"] for r in results]
    if not totals:
        return "no submissions"
    top = results[0]["max"]
    bins = [0] * 10
    for t in totals:
        bins[min(int(10 * t / top), 9) if top else 0] += 1
    lines = [f"{len(totals)} students: mean {statistics.mean(totals):.1f}, median {statistics.median(totals):.1f} "
             f"of {top}"]
    for i, n in enumerate(bins):
        lo, hi = top * i / 10, top * (i + 1) / 10
        lines.append(f"  {lo:5.0f}-{hi:<5.0f}{'' if i < 9 else '(incl.)'} {'#' * n} {n}")
    counts = {s: sum(r["status"] == s for r in results) for s in STATUSES}
    lines.append("  status: " + ", ".join(f"{s} {n}" for s, n in counts.items() if n))
    if run is not None:
        lines.append(f"  isolation: {run['isolation']}: {run['protection']}")
        left = run["processes_left"]
        lines.append("  processes of the run left after grading: " + (
            f"{left} (killed now)" if left else "none") + (
            f"; {run['unconfirmed_ends']} parts' ends unconfirmed" if run["unconfirmed_ends"] else ""))
    return "\n".join(lines)


def _closed_folder(prefix):
    path = tempfile.mkdtemp(prefix=prefix)   # 0700, owned by the grader
    os.chmod(path, 0o700)
    return path


def choose_isolation(namespaces=True, require_isolation=False, log=print):
    """The isolation mode for a run (grading/isolation.py), said at the start; "none" is an error when
    ``require_isolation``."""
    mode = sandbox.isolation_mode(namespaces)
    log(f"isolation: {mode}: {isolation.MODES[mode]}")
    if mode == "none" and require_isolation:
        raise NoIsolation("grade: --require-isolation, but this machine gives no isolation to student code (not "
                           "root, and unprivileged user namespaces do not work here" +
                           ("" if namespaces else "; namespaces were switched off") + ")")
    return mode


def _prepare_out(spec, out, seed, students, limits, resume, only):
    """Check OUT against this run (a new folder, or the run to resume / regrade into) and write its manifest;
    returns the ids to grade now (None: all)."""
    digests = {}
    for student, path in students:   # a student with two submissions: both count
        digests[student] = resume_.submission_digest(path) + digests.get(student, "")
    if not (resume or only):
        if os.path.exists(out) and os.listdir(out):
            raise FileExistsError(f"grade: {out!r} exists and is not empty; choose a new folder (or --resume, "
                                  "--only)")
        os.makedirs(out, exist_ok=True)
        os.chmod(out, 0o700)                      # closed to the children's users
        resume_.write_manifest(out, resume_.new_manifest(spec.name, seed, digests, limits))
        return None
    old = resume_.read_manifest(out)
    resume_.check_manifest(old, spec.name, seed, limits, out)
    if only:
        unknown = sorted(set(only) - set(digests))
        if unknown:
            raise ValueError(f"grade: --only names students with no submission in the folder: {', '.join(unknown)}")
        old["submissions"] = dict(sorted({**old.get("submissions", {}),
                                          **{s: digests[s] for s in only}}.items()))
        resume_.write_manifest(out, old)
        return set(only)
    changed, new, gone = resume_.changed_submissions(old, digests)
    if changed or new or gone:
        said = [f"{what}: {', '.join(ids)}" for what, ids in (("changed", changed), ("new", new), ("gone", gone))
                if ids]
        raise ValueError(f"grade: the submissions differ from the run in {out!r} ({'; '.join(said)}); grade into a "
                         "new folder, or regrade some with --only")
    return {s for s in digests if resume_.load_result(out, s) is None}


def grade(name, submissions, out, seed, jobs=1, timeout=DEFAULT_TIMEOUT, memory_gb=DEFAULT_MEMORY_GB,
          progress=True, log=print, namespaces=True, require_isolation=False, resume=False, only=None):
    """Grade every submission in ``submissions`` into ``out``; returns the list of per-student results.

    ``namespaces=False`` grades without namespaces (as where they do not work); ``require_isolation``
    refuses to grade where student code would run with no isolation. ``resume`` grades the students a
    killed run into ``out`` had not finished; ``only`` (student ids) regrades those into ``out``."""
    spec = get(name, "grade")
    seed = read_seed(seed)
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"grade: jobs must be a positive int, got {jobs!r}")
    if not timeout > 0 or not memory_gb > 0:
        raise ValueError(f"grade: timeout and memory must be positive, got {timeout!r} s and {memory_gb!r} GB")
    if resume and only:
        raise ValueError("grade: --resume and --only do not go together (--only regrades into a finished run)")
    students = find_submissions(submissions)
    mode = choose_isolation(namespaces, require_isolation, log)
    todo = _prepare_out(spec, out, seed, students, {"timeout": float(timeout), "memory_gb": float(memory_gb)},
                        resume, only)
    sandbox.import_library()
    work = _closed_folder("minidense-grader-")
    box = sandbox.Sandbox.create(mode)
    first_uid = sandbox.first_uid(len(students)) if box.root else None
    uids = range(first_uid, first_uid + len(students)) if box.root else ()
    everyone, graded = [], 0
    try:
        pristine = os.path.join(work, "pristine")
        build_package(spec, pristine)
        jobs_list = []
        ids = [s for s, _ in students]
        for number, (student, path) in enumerate(students):
            folder = os.path.join(work, "students", f"{number:05d}")
            os.makedirs(os.path.join(folder, "files"))
            try:
                if ids.count(student) > 1:
                    raise Rejected(f"{student!r} has {ids.count(student)} submissions (a folder and a zip?)")
                if not STUDENT_ID.match(student):
                    raise Rejected(f"{student!r} is not usable as a student id (letters, digits, . _ @ + -)")
                if os.path.islink(path):
                    raise Rejected("the submission is a symbolic link")
                if todo is not None and student not in todo:
                    everyone.append(student)
                    continue
                notes = unpack(path, os.path.join(folder, "files"), wanted_files(spec))
            except Rejected as exc:
                safe = student if STUDENT_ID.match(student) else re.sub(r"[^A-Za-z0-9._@+-]", "_", student)[:100]
                while safe in everyone or (safe != student and safe in ids):
                    safe += "_"
                everyone.append(safe)
                _finished(spec, out, _blank_result(spec, safe, "error", [f"submission rejected: {exc}; nothing was "
                                                                         "read"]), None)
                continue
            everyone.append(student)
            job = {"assignment": spec.name, "student": student, "seed": seed, "timeout": float(timeout),
                   "memory_bytes": int(memory_gb * (1 << 30)), "pristine": pristine,
                   "submission": os.path.join(folder, "files"), "sandbox": box.base, "isolation": mode,
                   "uid": first_uid + number if box.root else None,
                   "result": os.path.join(folder, "result.json"), "notes": notes}
            job_path = os.path.join(folder, "job.json")
            sandbox.write_json(job_path, job)
            jobs_list.append((job, job_path))
        graded = _run_all(spec, jobs_list, jobs, out, mode, progress)
    finally:
        left = sandbox.end_run(box, uids)
        if os.environ.get("MINIDENSE_GRADE_KEEP"):   # for debugging the grader: keep its folders
            log(f"kept: {work} and {box.base}")
        else:
            box.remove()
            shutil.rmtree(work, ignore_errors=True)
    ordered = [resume_.load_result(out, s) for s in sorted(everyone)]
    missing = [s for s, r in zip(sorted(everyone), ordered) if r is None]
    if missing:
        raise RuntimeError(f"grade: no result was saved for {', '.join(missing)}")
    unconfirmed = sum(r.get("unconfirmed_ends", 0) for r in ordered)
    run = {"isolation": mode, "protection": isolation.MODES[mode], "processes_left": left,
           "unconfirmed_ends": unconfirmed}
    write_outputs(spec, ordered, out, run)
    log(summary(ordered, run))
    if graded < len(ordered):
        log(f"  graded now: {graded}; kept from before: {len(ordered) - graded}")
    return ordered


def _finished(spec, out, result, submission):
    """Save one student's result, feedback and collected answers into OUT as soon as they are known."""
    resume_.save_result(out, result)
    resume_.write_atomic(os.path.join(out, result["student"], "feedback.md"), feedback_markdown(spec, result))
    for rel in COLLECTED if submission else ():   # the written answers, untouched
        src = os.path.join(submission, rel)
        if os.path.isfile(src):
            shutil.copyfile(src, os.path.join(out, result["student"], os.path.basename(rel)))


def _run_all(spec, jobs_list, jobs, out, mode, progress):
    """Score the students of ``jobs_list``, ``jobs`` at a time, saving each as it ends; returns how many."""
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs_list), desc=f"grading {spec.name} ({mode})", unit="student", file=sys.stderr)
    seconds = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_run_scorer, spec, job, path): job for job, path in jobs_list}
        for future in as_completed(futures):
            result = future.result()
            _finished(spec, out, result, futures[future]["submission"])
            seconds.append(result["seconds"])
            if bar is not None:
                bar.set_postfix_str(f"{statistics.mean(seconds):.1f} s per student", refresh=False)
                bar.update(1)
    if bar is not None:
        bar.close()
    return len(jobs_list)


def write_outputs(spec, results, out, run):
    with open(os.path.join(out, "gradebook.csv.tmp"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student"] + [p.name for p in spec.parts] + ["total", "max", "status"])
        for r in results:
            writer.writerow([r["student"]] + [f"{r['parts'][p.name]['score']:g}" for p in spec.parts]
                            + [f"{r['total']:g}", r["max"], r["status"]])
    os.replace(os.path.join(out, "gradebook.csv.tmp"), os.path.join(out, "gradebook.csv"))
    resume_.write_atomic(os.path.join(out, "results.json"), json.dumps(
        {"assignment": spec.name, "title": spec.title,
         "parts": [{"name": p.name, "points": p.points, "title": p.title} for p in spec.parts],
         "students": results, **run}, indent=1))
