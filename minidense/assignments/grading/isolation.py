"""What keeps one student's code from another's: namespaces, a view of the file system, limits.

Standard library only (the child imports it from the sandbox's ``lib/`` before any student code). Linux
calls through ctypes (Python 3.11 has no ``os.unshare``). The modes, strongest first:

- ``root``: the grader runs as root; each student's children run under a uid and gid of their own (drawn
  for the run from a range no account uses), in a PID, network, mount and IPC namespace of their own,
  with a root file system that holds only the interpreter, the libraries, the kit and the work folder
  (a private ``/tmp``, ``/dev/shm`` and ``/proc``).
- ``userns``: not root, but unprivileged user namespaces work: the same namespaces and view, inside a
  user namespace whose only user is the grader's own (mapped to root there, every capability dropped).
- ``users``: root with namespaces switched off: a uid per student, nothing else (``/tmp`` is shared).
- ``none``: student code runs as the grader's user and can read what that account can read.

Each child is started as ``child.py``: it calls ``enter_namespaces`` (unshare, then fork: the fork is
PID 1 of the new PID namespace and runs the student's code; the original process only waits for it, so
that its exit status says the namespace is empty), then ``enter_view`` and ``lock_down``.
"""
import ctypes
import os
import platform
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41}
#: the statvfs flags a bind remount must keep (a user namespace may not clear them)
KEPT_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC))

MODES = {
    "root": "a user, PID, network and mount namespace and a file system view per student (root)",
    "userns": "a PID, network and mount namespace and a file system view per student (user namespaces)",
    "users": "a user per student, no namespaces: /tmp is shared and the network is open",
    "none": "student code can read what your account can read",
}
#: processes (threads included) one student may have at once
MAX_PROCESSES = 64
TMPFS_SIZE = "size=64m,mode=1777"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype=None, flags=0, data=None):
    def enc(text):
        return None if text is None else text.encode()
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def prctl(option, value):
    _check(_libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)),
           f"prctl {option}")


def namespace_flags(user):
    flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS
    return flags | CLONE_NEWUSER if user else flags


def _unshare(user):
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(namespace_flags(user)), "unshare")
    if user:   # the grader's own user is root inside; nobody else exists there
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)


def enter_namespaces(user, keep_fds):
    """Unshare and fork. Returns in the fork (PID 1 of the new namespaces); the original process waits
    for it and exits with its status (128 + signal when killed), or kills it on SIGTERM."""
    _unshare(user)
    pid = os.fork()
    if pid == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)   # the waiting process killed: this one (and its namespace) too
        os.setsid()   # a process group without the waiting process: kill(0, ...) cannot reach it
        return
    for fd in keep_fds:
        os.close(fd)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)   # the scoring process gone: end the namespace, as on SIGTERM
    # PID 1 ends only once every process of its namespace has ended: its exit means "none left". Wait for
    # it without reaping, so that a SIGTERM arriving meanwhile kills at most a zombie that is still ours
    # (once reaped, the pid is gone or another process's), then stop listening, then reap.
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _, status = os.waitpid(pid, 0)
    os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


def _bind(source, target, writable=False):
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if writable else MS_RDONLY)
    kept = os.statvfs(target).f_flag
    flags |= sum(ms for st, ms in KEPT_FLAGS if kept & st)
    _mount(None, target, None, flags)


def _tmpfs(target, readonly=False):
    os.makedirs(target, exist_ok=True)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | (MS_RDONLY if readonly else 0),
           "size=1m,mode=0755" if readonly else TMPFS_SIZE)


def system_trees():
    """The folders the interpreter and its shared libraries live in (links such as /lib -> usr/lib kept)."""
    tops = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
    exe = os.path.realpath(sys.executable)
    extra = [sys.base_prefix, os.path.dirname(exe)]
    return tops + [p for p in extra if not any(p == t or p.startswith(t + "/") for t in tops)]


def hidden_trees():
    """Site-packages folders of the interpreter's installation: the library may be installed there."""
    import sysconfig
    paths = {sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})[k]
             for k in ("purelib", "platlib")}
    major = f"python{sys.version_info[0]}"
    ver = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    paths |= {f"/usr/lib/{major}/dist-packages", f"/usr/local/lib/{ver}/dist-packages",
              f"/usr/local/lib/{ver}/site-packages", f"/usr/lib/{ver}/site-packages"}
    return sorted(p for p in paths if os.path.isdir(p))


def enter_view(new, readonly, writable):
    """Make the mount namespace's root a new file system (mounted on the empty folder ``new``) holding only
    the system's trees, ``readonly`` and ``writable`` folders (at their own paths), a private /tmp,
    /dev/shm and /proc, and a few devices."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)   # nothing mounted here reaches the grader's namespace
    _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for top in system_trees():
        if os.path.islink(top):
            os.symlink(os.readlink(top), new + top)
        elif os.path.isdir(top):
            _bind(top, new + top)
    for path in hidden_trees():
        if os.path.isdir(new + path):
            _tmpfs(new + path, readonly=True)
    if os.path.exists("/etc/ld.so.cache"):
        _bind("/etc/ld.so.cache", new + "/etc/ld.so.cache")
    _tmpfs(new + "/tmp")
    os.makedirs(new + "/dev", exist_ok=True)
    _mount("tmpfs", new + "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755")
    for dev in ("null", "zero", "full", "random", "urandom"):
        _bind("/dev/" + dev, new + "/dev/" + dev, writable=True)
    _tmpfs(new + "/dev/shm")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, new + "/dev/" + name)
    os.makedirs(new + "/proc", exist_ok=True)
    _mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in readonly:
        _bind(path, new + path)
    for path in writable:
        _bind(path, new + path, writable=True)
    os.makedirs(new + "/.old", exist_ok=True)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    _check(_libc.syscall(ctypes.c_long(number), new.encode(), (new + "/.old").encode()), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount /.old")   # the grader's file system: gone from here
    os.rmdir("/.old")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities():
    """Every capability, from the bounding set too (root of a user namespace keeps none)."""
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), ctypes.c_ulong(0), ctypes.c_ulong(0),
                      ctypes.c_ulong(0)) == 0:
        cap += 1
    header = _CapHeader(0x20080522, 0)   # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def lock_down(keep_fds):
    """No new privileges (no setuid program helps), no /proc access from others, no inherited files; killed
    with its parent (a change of user clears that setting, so it is set again here)."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_DUMPABLE, 0)
    keep = sorted({0, 1, 2, *keep_fds})
    start = 0
    for fd in keep + [1 << 20]:
        if fd > start:
            os.closerange(start, min(fd, os.sysconf("SC_OPEN_MAX")))
        start = fd + 1


def probe(user):
    """True when namespaces and the view can be made here (tried in a throwaway process)."""
    import tempfile
    folder = tempfile.mkdtemp(prefix="minidense-probe-")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            enter_namespaces(user, ())
            enter_view(folder, [], [])
            code = 0
        except BaseException:
            pass
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    os.rmdir(folder)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


if __name__ == "__main__" and sys.argv[1:] == ["--probe"]:   # run by the grader in a process of its own
    sys.exit(0 if probe(os.geteuid() != 0) else 1)
