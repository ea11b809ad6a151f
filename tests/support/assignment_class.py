"""A synthetic class for the grader: correct submissions, planted mistakes and hostile ones.

``build_class(name, folder, ...)`` writes one folder or zip per student into ``folder`` and returns
{student id: expectation}. A correct student submits the library's own files; a planted mistake edits
them (the spec's ``mistakes``: the parts each must lose); a hostile one puts its attack into the spec's ``target``
function (or around it), and its honest work is either the correct code ("correct") or that function
broken ("broken": the row of the student whose target just raises).
"""
import ast
import os
import stat
import zipfile
from pathlib import Path

from minidense.assignments import ASSIGNMENTS, generator, merge

LIBRARY = Path(generator.PACKAGE_DIR)

BROKEN = "raise RuntimeError('no honest work here')"

SNOOP = '''import os, sys
said = []
ppid = os.getppid()
places = [{source!r}, os.path.join({source!r}, "minidense"), "/proc/%d/cwd" % ppid, "/proc/%d/root" % ppid]
pid = ppid
while pid > 1:
    try:
        args = open("/proc/%d/cmdline" % pid, "rb").read().decode(errors="replace").split("\\0")
        places += args
        if any({seed_text!r} in a for a in args):
            said.append("the seed in the command line of %d" % pid)
        pid = int(open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        break
try:
    env = open("/proc/%d/environ" % ppid, "rb").read().decode(errors="replace")
    said.append("the parent's environment")
    places += [v.split("=", 1)[-1] for v in env.split("\\0")]
except OSError:
    pass
for p in list(sys.path) + [sys.prefix, sys.exec_prefix, os.path.dirname(os.__file__)]:
    places += [p, os.path.dirname(p)]
own = os.path.dirname(os.path.dirname(os.path.abspath(sys.modules["minidense"].__file__)))   # its own kit
for place in places:
    for folder in (place, os.path.dirname(place)):
        if os.path.abspath(folder).startswith(own):
            continue
        for name in ("seed", "job.json", "result.json", "public.npz"):
            try:
                open(os.path.join(folder, name), "rb").read(1)
                said.append(os.path.join(folder, name))
            except OSError:
                pass
        for rel in {files!r}:
            try:
                text = open(os.path.join(folder, rel), encoding="utf-8").read()
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            if "your code here" not in text and "revealed in a later assignment" not in text:
                said.append(os.path.join(folder, rel))   # a file with no stub: the library's code
raise RuntimeError("SNOOP found: " + "; ".join(sorted(set(said))) if said else "SNOOP found nothing")'''

#: the threats one student poses to the others (each names its processes and files with {marker})
LEFTOVER = '''import ctypes, os, signal, time
me = os.getpid()
if not getattr(os, "_md_left_one", False) and os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, {marker!r}.encode(), 0, 0, 0)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        end = time.time() + 300
        while time.time() < end:
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) in (me, os.getpid()):
                    continue
                try:
                    if b"child.py" in open("/proc/%s/cmdline" % pid, "rb").read():
                        os.kill(int(pid), signal.SIGKILL)
                    os.listdir("/proc/%s/cwd" % pid)
                    open("/proc/%s/environ" % pid, "rb").read()
                except OSError:
                    pass
            time.sleep(0.02)
    os._exit(0)
if not getattr(os, "_md_left_one", False):   # one leftover per process: a training part calls this every step
    os._md_left_one = True
    os.wait()'''

FORK_BOMB = '''import os, time
try:
    if os.fork() == 0:
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.5)
except OSError:
    pass'''

OTHERS = '''import glob, os, sys
own = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(sys.modules["minidense"].__file__))))
said = []
def look(path):
    if os.path.abspath(path).startswith(own):
        return
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        said.append(path)
    except OSError:
        pass
base = os.path.dirname(own)
for pattern in (base + "/s-*", base + "/s-*/*/*", "/tmp/minidense-sandbox-*/s-*", "/tmp/minidense-grader-*/*"):
    for path in glob.glob(pattern):
        look(path)
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        for what in ("cwd", "root"):
            look("/proc/%s/%s/" % (pid, what))
        try:
            env = open("/proc/%s/environ" % pid, "rb").read().decode(errors="replace").split("\\0")
        except OSError:
            continue
        for v in env:
            if v.startswith("HOME="):
                look(v[5:])
raise RuntimeError("OTHERS found: " + "; ".join(sorted(set(said))) if said else "OTHERS found nothing")'''

CONNECT = '''import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).sendall(b"LEAK")
except OSError as exc:
    raise RuntimeError("CONNECT failed: %s" % exc)
raise RuntimeError("CONNECT worked")'''

TMP = '''import os, sys
own = os.path.abspath(sys.modules["minidense"].__file__)
found = []
for folder in ("/tmp", "/dev/shm"):
    path = os.path.join(folder, {marker!r})
    try:
        text = open(path).read()
    except OSError:
        text = None
    if text is not None and text != own:
        found.append(path + " of " + text)
    try:
        open(path, "w").write(own)
    except OSError:
        pass
raise RuntimeError("TMP found: " + "; ".join(found) if found else "TMP found nothing")'''

#: hostile kinds: (code put at the start of the target's body, or "module:" code at the file's top;
#: the honest work it has: "correct" (the rest of the function is the library's) or "broken")
HOSTILE = {
    "exit-at-import": ("module:import os\nos._exit(0)\n", "correct"),
    "sys-exit-at-import": ("module:import sys\nsys.exit(0)\n", "correct"),
    "os-exit": ("import os\nos._exit(0)", "broken"),
    "sys-exit": ("import sys\nsys.exit(0)", "broken"),
    "endless-loop": ("while True:\n    pass", "broken"),
    "memory": ("hog = []\nwhile True:\n    hog.append(bytearray(1 << 26))", "broken"),
    "print-flood": ("while True:\n    print('x' * 10000)", "broken"),
    "monkeypatch": ("import numpy, numpy.testing, sys, types\nimport minidense\n"
                    "numpy.allclose = lambda *a, **k: True\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"
                    "numpy.array_equal = lambda *a, **k: True\nminidense.gradcheck = lambda *a, **k: True\n"
                    "sys.modules['pytest'] = types.ModuleType('pytest')\n" + BROKEN, "broken"),
    "write-results": ("import os\nfor p in {targets!r}:\n    try:\n"
                      "        os.makedirs(os.path.dirname(p), exist_ok=True)\n"
                      "        open(p, 'w').write('{{\"total\": 100}}')\n    except OSError:\n        pass", "correct"),
    "kill-parent": ("import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError:\n    pass",
                    "correct"),
    "snoop": (SNOOP, "broken"),
    "leftover": (LEFTOVER, "correct"),
    "fork-bomb": (FORK_BOMB, "correct"),
    "others": (OTHERS, "broken"),
    "connect": (CONNECT, "broken"),
    "tmp": (TMP, "broken"),
}
#: the kinds that attack other students (a test of isolation; their messages say what they found)
THREATS = ("leftover", "fork-bomb", "others", "connect", "tmp")


def library_files(spec):
    return {rel: (LIBRARY / rel).read_text() for rel in spec.stubs}


def _inject(source, qualname, code):
    """``code`` as the first statements of ``qualname``'s body (after its docstring)."""
    node = merge.functions(ast.parse(source))[qualname]
    first = node.body[1] if merge.has_docstring(node) and len(node.body) > 1 else node.body[0]
    lines = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    block = "".join(indent + line + "\n" for line in code.splitlines())
    lines.insert(first.lineno - 1, block)
    return "".join(lines)


def hostile_files(spec, kind, out_dir, source_dir, seed, marker="md-threat", port=9):
    files = library_files(spec)
    rel, qualname = spec.target
    code, honest = HOSTILE[kind]
    code = code.format(source=str(source_dir), seed_text=str(seed), marker=marker, port=port,
                       files=[p for rel in spec.stubs for p in (f"minidense/{rel}", rel)],
                       targets=[os.path.join(out_dir, n) for n in ("results.json", "gradebook.csv", "planted.txt",
                                                                   "manifest.json", f"hostile-{kind}/result.json",
                                                                   f"{kind}/feedback.md")] + ["results.json",
                                                                                              "../results.json"])
    if code.startswith("module:"):
        files[rel] = code[len("module:"):] + files[rel]
    else:
        files[rel] = _inject(files[rel], qualname, code)
    return files, honest


def _write_folder(folder, files):
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _write_zip(path, files, prefix=""):
    with zipfile.ZipFile(path, "w") as z:
        for rel, text in files.items():
            z.writestr(prefix + rel, text)


def _symlink_zip(path, files, target):
    with zipfile.ZipFile(path, "w") as z:
        for rel, text in files.items():
            z.writestr("minidense/" + rel, text)
        info = zipfile.ZipInfo("minidense/evil")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(info, target)


def build_class(name, folder, out_dir, source_dir, seed, n_correct=12, kinds=None, marker="md-threat", port=9):
    """Write a class of submissions for assignment ``name`` into ``folder``; returns {student: expectation}.

    expectation: ("full",), ("mistake", parts that lose), ("broken",) honest work is the TARGET raising,
    ("correct-hostile",), ("status", status) for rejected / missing / syntax-error submissions. ``marker``
    names the threats' processes and files, ``port`` is where the "connect" kind connects."""
    spec = ASSIGNMENTS[name]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    expect = {}
    good = {f"minidense/{rel}": text for rel, text in library_files(spec).items()}
    for i in range(n_correct):   # half folders, half zips (one with the files at the zip's root: matched by name)
        student = f"correct-{i:02d}"
        if i % 2:
            _write_zip(folder / f"{student}.zip", good if i % 4 == 1 else
                       {rel.rsplit("/", 1)[-1]: t for rel, t in good.items()})
        else:
            _write_folder(folder / student, {**good, "ANSWERS.md": f"# answers of {student}\n"})
        expect[student] = ("full",)
    for i, mistake in enumerate(spec.mistakes):
        files = mistake.apply(library_files(spec))
        _write_folder(folder / f"mistake-{i}", {f"minidense/{rel}": t for rel, t in files.items()})
        expect[f"mistake-{i}"] = ("mistake", set(mistake.loses))
    rel, qualname = spec.target
    broken = library_files(spec)
    broken[rel] = _inject(broken[rel], qualname, BROKEN)
    _write_folder(folder / "broken", {f"minidense/{r}": t for r, t in broken.items()})
    expect["broken"] = ("broken",)
    for kind in (kinds if kinds is not None else HOSTILE):
        files, honest = hostile_files(spec, kind, out_dir, source_dir, seed, marker, port)
        _write_folder(folder / f"hostile-{kind}", {f"minidense/{r}": t for r, t in files.items()})
        expect[f"hostile-{kind}"] = ("full",) if honest == "correct" else ("broken",)
    # files outside the named ones: a gradcheck that always passes, a results.json, a grader of its own
    extra = dict(good)
    extra.update({"minidense/gradcheck.py": "def gradcheck(*a, **k):\n    return True\n",
                  "results.json": '{"total": 100}', "grader/conftest.py": "import os\nos._exit(0)\n"})
    _write_folder(folder / "hostile-extra-files", extra)
    expect["hostile-extra-files"] = ("full",)
    syntax = {rel: text + "\ndef broken(:\n" for rel, text in good.items()}   # every named file
    _write_folder(folder / "syntax-error", syntax)
    expect["syntax-error"] = ("status", "error")
    _write_folder(folder / "missing-file", {"minidense/README.txt": "I forgot my file\n"})
    expect["missing-file"] = ("status", "missing")
    canary = Path(out_dir).parent / "canary-written-by-a-zip"
    _write_zip(folder / "zip-dotdot.zip", {**good, "../../canary-written-by-a-zip": "x"})
    _write_zip(folder / "zip-absolute.zip", {**good, str(canary): "x"})
    _symlink_zip(folder / "zip-symlink.zip", {r[len("minidense/"):]: t for r, t in good.items()}, "/etc/passwd")
    for z in ("zip-dotdot", "zip-absolute", "zip-symlink"):
        expect[z] = ("status", "error")
    return expect, canary


def check_results(spec, expect, rows):
    """Assert each row against its expectation; returns the per-student totals."""
    full = {p.name: p.points for p in spec.parts}
    broken = rows["broken"]["parts"]
    assert any(broken[p]["score"] == 0 for p in full) and any(broken[p]["score"] == full[p] for p in full)
    for student, e in expect.items():
        r = rows[student]
        got = {p: r["parts"][p]["score"] for p in full}
        if e[0] == "full":
            assert got == full and r["status"] == "ok", (student, r["status"], got, r["notes"])
        elif e[0] == "mistake":   # loses in its parts, and may in the parts declared to build on them
            assert all(got[p] < full[p] for p in e[1]), (student, got)
            dependents = {p.name for p in spec.parts if set(p.builds_on) & e[1]}
            assert all(got[p] == full[p] for p in set(full) - e[1] - dependents), (student, got)
        elif e[0] == "broken":
            for p in full:   # never more than the honest work; parts the attack cannot reach keep their points
                assert got[p] <= broken[p]["score"], (student, p, got, r["notes"])
                if broken[p]["score"] == full[p] and r["status"] != "timeout":   # a timeout ends the rest
                    assert got[p] == full[p], (student, p, got, r["notes"])
        elif e[0] == "status":
            assert r["status"] == e[1] and r["total"] == 0, (student, r["status"], r["total"], r["notes"])
    return {s: rows[s]["total"] for s in rows}
