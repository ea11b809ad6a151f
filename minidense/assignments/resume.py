"""A grading run's OUT folder, kept as the run goes, so that a run killed at any point can be resumed.

``OUT/manifest.json`` (written before any student is graded) holds what the results depend on: the
assignment, a salted hash of the term seed, the SHA-256 of each submission, the limits and the
grader's version (minidense's version and a SHA-256 of its source). Each student's result goes to
``OUT/<student>/result.json`` the moment their scoring ends (written to a temporary name, then renamed:
a killed run leaves whole files or none). ``--resume`` grades the students without a result and refuses
a run whose manifest does not match; ``--only ID ...`` regrades some students into the same OUT.
"""
import hashlib
import json
import os
import secrets

import minidense

MANIFEST = "manifest.json"
RESULT = "result.json"
SEED_ROUNDS = 200_000   # the seed is a small secret: its hash is slow to try


def write_atomic(path, text):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def submission_digest(path):
    """SHA-256 of a submission: a zip's bytes, or a folder's relative paths, links and file contents."""
    h = hashlib.sha256()
    if os.path.islink(path):
        h.update(b"link:" + os.readlink(path).encode())
    elif os.path.isdir(path):
        for folder, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]):
                full = os.path.join(folder, name)
                h.update(os.path.relpath(full, path).encode() + b"\0")
                if os.path.islink(full):
                    h.update(b"link:" + os.readlink(full).encode() + b"\0")
                else:
                    h.update(_file_digest(full).encode())
    else:
        h.update(_file_digest(path).encode())
    return h.hexdigest()


def _file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def grader_version():
    """minidense's version and a SHA-256 of its Python source (the reference and the grader)."""
    root = os.path.dirname(os.path.abspath(minidense.__file__))
    h = hashlib.sha256()
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(n for n in names if n.endswith(".py")):
            full = os.path.join(folder, name)
            h.update(os.path.relpath(full, root).encode() + b"\0" + _file_digest(full).encode())
    return f"{minidense.__version__} {h.hexdigest()[:16]}"


def seed_hash(seed, salt):
    return hashlib.pbkdf2_hmac("sha256", str(seed).encode(), bytes.fromhex(salt), SEED_ROUNDS).hex()


def new_manifest(assignment, seed, digests, limits):
    salt = secrets.token_hex(16)
    return {"assignment": assignment, "seed_salt": salt, "seed_hash": seed_hash(seed, salt),
            "grader": grader_version(), "limits": limits, "submissions": dict(sorted(digests.items()))}


def read_manifest(out):
    path = os.path.join(out, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"grade: {out!r} holds no readable {MANIFEST} ({exc}); it is not the folder of a "
                         "grading run to resume") from None


def check_manifest(old, assignment, seed, limits, out):
    """Raise ValueError naming what differs between the run in ``out`` and this one (not the submissions)."""
    wrong = []
    if old.get("assignment") != assignment:
        wrong.append(f"the assignment ({old.get('assignment')!r} there, {assignment!r} now)")
    if seed_hash(seed, old.get("seed_salt", "")) != old.get("seed_hash"):
        wrong.append("the seed")
    if old.get("grader") != grader_version():
        wrong.append(f"the grader's version ({old.get('grader')!r} there, {grader_version()!r} now)")
    if old.get("limits") != limits:
        wrong.append(f"the limits ({old.get('limits')} there, {limits} now)")
    if wrong:
        raise ValueError(f"grade: {out!r} was graded with another " + ", ".join(wrong) + "; grade into a new folder")


def changed_submissions(old, digests):
    """What differs between the manifest's submissions and ``digests``: (changed, new, gone) student ids."""
    before = old.get("submissions", {})
    changed = sorted(s for s in digests if s in before and before[s] != digests[s])
    return changed, sorted(set(digests) - set(before)), sorted(set(before) - set(digests))


def write_manifest(out, manifest):
    write_atomic(os.path.join(out, MANIFEST), json.dumps(manifest, indent=1))


def save_result(out, result):
    folder = os.path.join(out, result["student"])
    os.makedirs(folder, exist_ok=True)
    write_atomic(os.path.join(folder, RESULT), json.dumps(result, indent=1))


def load_result(out, student):
    """The result saved for ``student``, or None."""
    try:
        with open(os.path.join(out, student, RESULT), encoding="utf-8") as f:
            result = json.load(f)
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and result.get("student") == student else None
