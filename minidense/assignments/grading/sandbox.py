"""The scoring process's side of the child: folders, start, one call per case, limits, clean-up.

``Sandbox.create(mode)`` makes, once per grading run, a base folder the children may pass through but
not list (0711), holding ``lib/`` (child.py, protocol.py, harness.py, isolation.py: no reference code,
no case data) and ``libs/`` (a private copy, by hard links where possible, of the third-party packages
the kit imports: NumPy and friends, so the child's path leads to no site-packages that could hold the
library). Each student gets a folder with an unguessable name holding ``kit/`` (their merged package,
read-only), ``work/`` (theirs; the child's current folder) and ``view/`` (where a child with namespaces
builds its own root file system). What each isolation mode (isolation.py) adds: in the root modes each
student's children run under a uid and gid of their own (``kit/`` readable by that gid only, ``work/``
owned by that uid), and when a part ends every process of that uid is killed; with namespaces the
child's PID namespace ends with it. The grader's own folders (work folder, OUT, the reference) are 0700.
"""
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import protocol

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD_FILES = ("child.py", "protocol.py", "harness.py", "isolation.py")
#: the output a child may write to its log before its writes fail (EFBIG)
MAX_LOG_BYTES = 1 << 20
#: the students' uids and gids: FIRST_UID + UID_BLOCK * k + student number, k drawn per grading run
FIRST_UID, UID_BLOCK = 200000, 100000
ROOT_MODES = ("root", "users")
NAMESPACE_MODES = ("root", "userns")


def root_mode():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def isolation_mode(namespaces=True):
    """The strongest isolation this machine gives the grader's user (see isolation.py); ``namespaces=False``
    leaves namespaces out (the grader's switch, for the no-isolation path)."""
    probed = namespaces and subprocess.run(
        [python_for_children(), "-I", "-S", os.path.join(HERE, "isolation.py"), "--probe"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60).returncode == 0
    if root_mode():
        return "root" if probed else "users"
    return "userns" if probed else "none"


def _uids_in_use():
    used = set()
    with open("/etc/passwd", encoding="utf-8", errors="replace") as f:
        used |= {int(line.split(":")[2]) for line in f if line.count(":") >= 3 and line.split(":")[2].isdigit()}
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/status") as f:
                used |= {int(v) for line in f if line.startswith(("Uid:", "Gid:")) for v in line.split()[1:]}
        except (OSError, ValueError):
            continue
    return used


def first_uid(count):
    """The first of ``count`` uids (and gids) no account and no running process uses, drawn for one run."""
    if count >= UID_BLOCK:
        raise ValueError(f"grade: at most {UID_BLOCK - 1} students in one run, got {count}")
    used = _uids_in_use()
    for _ in range(100):
        first = FIRST_UID + UID_BLOCK * secrets.randbelow(20000)
        if not any(first <= u < first + count for u in used):
            return first
    raise RuntimeError("grade: found no free range of uids for the students")


def processes_of(uids):
    """Pids of the processes whose real, effective or saved uid is in ``uids`` (a range or set)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                line = next(ln for ln in f if ln.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if any(int(v) in uids for v in line.split()[1:4]):
            found.append(int(pid))
    return found


def kill_user(uid, gid):
    """Kill every process of ``uid`` (as root): kill(-1) from a process running as that uid, which no fork
    can outrun; repeated while any is left (for a moment). Returns the number still alive."""
    for attempt in range(20):
        if not processes_of({uid}):
            return 0
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            except BaseException:
                os._exit(1)
            os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.05 * attempt)
    return len(processes_of({uid}))


def processes_of_run(box, uids=()):
    """Pids of the processes a grading run left: of the students' uids, or running the run's child.py."""
    found = set(processes_of(uids)) if uids else set()
    marker = os.path.join(box.lib, "child.py").encode()
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker in f.read():
                        found.add(int(pid))
            except OSError:
                continue
    return sorted(found)


def end_run(box, uids=()):
    """Kill what a grading run left (there should be nothing) and remove what the students' uids left in
    the shared temporary folders; returns how many processes were found."""
    left = processes_of_run(box, uids)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for folder in ("/tmp", "/var/tmp", "/dev/shm") if uids else ():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                if os.lstat(path).st_uid in uids:
                    shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
            except OSError:
                pass
    return len(left)


def python_for_children():
    """The base interpreter (not a virtual environment's: its prefix would lead to site-packages)."""
    exe = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(exe) if os.path.exists(exe) else sys.executable


def copy_tree(src, dest):
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

    def __init__(self, base, mode, uid=None):
        if mode in ROOT_MODES and uid is None:
            raise ValueError(f"sandbox: isolation mode {mode!r} needs the student's uid")
        self.base, self.mode = base, mode
        self.root = mode in ROOT_MODES
        self.namespaces = mode in NAMESPACE_MODES
        self.lib, self.libs = os.path.join(base, "lib"), os.path.join(base, "libs")
        self.uid = self.gid = uid if self.root else None
        #: parts whose end could not be confirmed: a process of the student may have been left
        self.unconfirmed = 0

    @classmethod
    def for_job(cls, job):
        return cls(job["sandbox"], job["isolation"], job.get("uid"))

    @classmethod
    def create(cls, mode):
        root = mode in ROOT_MODES
        base = tempfile.mkdtemp(prefix="minidense-sandbox-")
        os.chmod(base, 0o711 if root else 0o700)   # the child's user passes through; it cannot list
        box = cls(base, mode, uid=0 if root else None)
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
                copy_tree(origin, dest)
                companion = origin.rstrip(os.sep) + ".libs"   # wheels' bundled shared libraries (numpy.libs)
                if os.path.isdir(companion):
                    copy_tree(companion, dest + ".libs")
            else:
                shutil.copy2(origin, dest)
        for folder, dirs, files in os.walk(base):   # folders only: the libs' files are links to the originals
            os.chmod(folder, 0o755)
        for name in CHILD_FILES:
            os.chmod(os.path.join(box.lib, name), 0o644)
        os.chmod(base, 0o711 if root else 0o700)
        return box

    def student_folder(self, package_src):
        """A new folder for one student: kit/minidense (a read-only copy of ``package_src``), work/ and view/.
        In the root modes kit/ is readable by the student's gid only and work/ belongs to the student."""
        folder = os.path.join(self.base, "s-" + secrets.token_hex(16))
        os.mkdir(folder, 0o711 if self.root else 0o700)
        kit = os.path.join(folder, "kit")
        shutil.copytree(package_src, os.path.join(kit, "minidense"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for path, dirs, files in os.walk(kit):
            for p, mode in [(path, 0o750 if self.root else 0o755)] + \
                    [(os.path.join(path, f), 0o640 if self.root else 0o644) for f in files]:
                os.chmod(p, mode)
                if self.root:
                    os.chown(p, 0, self.gid)
        work = os.path.join(folder, "work")
        os.mkdir(work, 0o700)
        os.mkdir(os.path.join(folder, "view"), 0o755)
        if self.root:
            os.chown(work, self.uid, self.gid)
        return folder

    def end_processes(self):
        """After a part: in the root modes, kill every process of the student's uid; count what is left."""
        if self.root and kill_user(self.uid, self.gid):
            self.unconfirmed += 1

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
                 "view": os.path.join(folder, "view"), "namespaces": box.namespaces,
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
            if self.box.namespaces and code is not None and code > 128:   # the waiting process's report
                code = 128 - code
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
        """End the child and every process it started; counts in the sandbox a part whose end is unconfirmed."""
        if self.proc.poll() is None:
            try:
                protocol.send(self.request_w, {"fn": "__exit__"}, None, time.monotonic() + 1)
            except Exception:
                pass   # not listening (busy, or already ending on its own): it may still end by itself
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None and self.box.namespaces:   # the waiting process kills PID 1 and reaps it
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.kill()
            self.proc.wait()
        if self.box.namespaces and self.proc.returncode < 0:   # killed before it could say its namespace is empty
            self.box.unconfirmed += 1
        self.box.end_processes()
        for fd in (self.request_w, self.reply_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.request_w = self.reply_r = -1


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
