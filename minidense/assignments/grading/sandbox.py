"""The scoring process's side of the child: folders, start, one call per case, limits, clean-up.

``Sandbox.create(root_mode)`` makes, once per grading run, a base folder the child's user may pass
through but not list (0711), holding ``lib/`` (child.py, protocol.py, harness.py: no reference code,
no case data) and ``libs/`` (a private copy, by hard links where possible, of the third-party packages
the kit imports: NumPy and friends, so the child's path leads to no site-packages that could hold the
library). Each student gets a folder with an unguessable name holding ``kit/`` (their merged package,
read-only) and ``work/`` (theirs; the child's current folder). In root mode the child drops to
``nobody`` before importing the kit; the grader's own folders (work folder, OUT, the reference) are
0700 root, so it reads nothing but its own kit.
"""
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import protocol

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD_FILES = ("child.py", "protocol.py", "harness.py")
#: the output a child may write to its log before its writes fail (EFBIG)
MAX_LOG_BYTES = 1 << 20
UNPRIVILEGED = "nobody"


def root_mode():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def python_for_children():
    """The base interpreter (not a virtual environment's: its prefix would lead to site-packages)."""
    exe = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(exe) if os.path.exists(exe) else sys.executable


def _copy_tree(src, dest):
    def link_or_copy(s, d):
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
    shutil.copytree(src, dest, copy_function=link_or_copy, symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "tests"))


def third_party_modules():
    """Top-level third-party modules loaded now (after the reference was imported), minus minidense."""
    stdlib = set(sys.stdlib_module_names)
    names = set()
    for name, module in list(sys.modules.items()):
        top = name.split(".")[0]
        if top in stdlib or top in names or top.startswith("_") or top == "minidense" or module is None:
            continue
        if getattr(module, "__file__", None) or getattr(module, "__path__", None):
            names.add(top)
    return sorted(names)


def import_library():
    """Import the parts of the (reference) library a graded case uses, so that the lists below see what
    they load."""
    import minidense.data.scenes  # noqa: F401
    import minidense.functional  # noqa: F401
    import minidense.models  # noqa: F401
    import minidense.train  # noqa: F401


def preload_list():
    """Standard-library and NumPy modules the grader has loaded: the child imports them before it drops
    privileges (the interpreter's own files may be closed to the child's user)."""
    keep = set(sys.stdlib_module_names) | {"numpy"}
    # __future__ is a real module that `from __future__ import annotations` imports (the library uses it);
    # the other dunder names (__main__, ...) are not modules to import
    return sorted(n for n in sys.modules if n.split(".")[0] in keep
                  and (n == "__future__" or not n.startswith(("__", "_pytest"))) and "test" not in n.split(".")[-1])


class Sandbox:
    """The per-run folders every child of this grading run uses."""

    def __init__(self, base, root):
        self.base, self.root = base, root
        self.lib, self.libs = os.path.join(base, "lib"), os.path.join(base, "libs")
        self.uid = self.gid = None
        if root:
            entry = pwd.getpwnam(UNPRIVILEGED)
            self.uid, self.gid = entry.pw_uid, entry.pw_gid

    @classmethod
    def create(cls, root=None):
        root = root_mode() if root is None else root
        base = tempfile.mkdtemp(prefix="minidense-sandbox-")
        os.chmod(base, 0o711 if root else 0o700)   # the child's user passes through; it cannot list
        box = cls(base, root)
        os.makedirs(box.lib)
        for name in CHILD_FILES:
            shutil.copyfile(os.path.join(HERE, name), os.path.join(box.lib, name))
        os.makedirs(box.libs)
        for top in third_party_modules():
            spec = importlib.util.find_spec(top)
            origin = spec and (spec.submodule_search_locations or [spec.origin])[0]
            if not origin or not os.path.exists(origin):
                continue
            dest = os.path.join(box.libs, os.path.basename(origin))
            if os.path.isdir(origin):
                _copy_tree(origin, dest)
                companion = origin.rstrip(os.sep) + ".libs"   # wheels' bundled shared libraries (numpy.libs)
                if os.path.isdir(companion):
                    _copy_tree(companion, dest + ".libs")
            else:
                shutil.copy2(origin, dest)
        for folder, dirs, files in os.walk(base):   # folders only: the libs' files are links to the originals
            os.chmod(folder, 0o755)
        for name in CHILD_FILES:
            os.chmod(os.path.join(box.lib, name), 0o644)
        os.chmod(base, 0o711 if root else 0o700)
        return box

    def student_folder(self, package_src):
        """A new folder for one student: kit/minidense (a read-only copy of ``package_src``) and work/."""
        folder = os.path.join(self.base, "s-" + secrets.token_hex(16))
        os.mkdir(folder, 0o711 if self.root else 0o700)
        kit = os.path.join(folder, "kit")
        shutil.copytree(package_src, os.path.join(kit, "minidense"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for path, dirs, files in os.walk(kit):
            os.chmod(path, 0o755)
            for f in files:
                os.chmod(os.path.join(path, f), 0o644)
        work = os.path.join(folder, "work")
        os.mkdir(work, 0o700)
        if self.root:
            os.chown(work, self.uid, self.gid)
        return folder

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)


class ChildError(Exception):
    """What ended a child: kind is "timeout", "crashed" or "error"."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class Child:
    """One child for one student and part; ``call`` one case at a time; ``close`` at the end."""

    def __init__(self, box, folder, memory_bytes, deadline, preload):
        self.box, self.folder, self.deadline = box, folder, deadline
        request_r, self.request_w = os.pipe()
        self.reply_r, reply_w = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": os.path.join(folder, "work"), "MPLBACKEND": "Agg",
               "MINIDENSE_FAST": "0", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        # the child's own start-up messages (before it sends its output to its log): the grader's folder
        self.start_log = os.path.join(folder, "start.log")
        with open(self.start_log, "wb") as err:
            self.proc = subprocess.Popen(
                [python_for_children(), "-I", "-S", os.path.join(box.lib, "child.py"), str(request_r),
                 str(reply_w)], pass_fds=(request_r, reply_w), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err, cwd=box.lib, env=env, start_new_session=True)
        os.close(request_r)
        os.close(reply_w)
        setup = {"kit": os.path.join(folder, "kit"), "work": os.path.join(folder, "work"),
                 "uid": box.uid, "gid": box.gid, "memory_bytes": int(memory_bytes),
                 "max_file_bytes": MAX_LOG_BYTES, "preload": preload, "fast_paths_off": True}
        self._send(setup)
        header, _ = self._receive()
        if not header.get("ready"):
            self.close()
            raise ChildError("error", str(header.get("error", "the child did not start")))

    def _fail(self, exc):
        self.close()
        if isinstance(exc, protocol.Deadline):
            return ChildError("timeout", "the time limit was reached")
        if isinstance(exc, protocol.Closed):
            code = self.proc.poll()
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
            with open(self.start_log, "rb") as f:
                said = f.read()[-600:].decode("utf-8", "replace").strip()
            return ChildError("crashed", f"the process running your code stopped ({how})"
                              + (f"; it said: {said}" if said else ""))
        return ChildError("error", f"the process running your code sent no valid answer ({exc})")

    def _send(self, header, arrays=None):
        try:
            protocol.send(self.request_w, header, arrays, self.deadline)
        except (protocol.Deadline, protocol.Closed, protocol.ProtocolError) as exc:
            raise self._fail(exc) from None

    def _receive(self):
        try:
            return protocol.receive(self.reply_r, self.deadline)
        except (protocol.Deadline, protocol.Closed, protocol.ProtocolError) as exc:
            raise self._fail(exc) from None

    def call(self, fn, params, arrays):
        """(outputs, None) or (None, the error the student's code raised); ChildError when the child is gone."""
        self._send({"fn": fn, "params": params}, arrays)
        header, outputs = self._receive()
        if header.get("ok") is True:
            return outputs, None
        return None, str(header.get("error", "no answer"))[:2000]

    def close(self):
        if self.proc.poll() is None:
            try:
                protocol.send(self.request_w, {"fn": "__exit__"}, None, time.monotonic() + 1)
                self.proc.wait(timeout=2)
            except Exception:
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.kill()
            self.proc.wait()
        for fd in (self.request_w, self.reply_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.request_w = self.reply_r = -1


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
