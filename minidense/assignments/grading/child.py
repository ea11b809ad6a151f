"""The child process that runs a student's code: ``python -I -S child.py REQUEST_FD REPLY_FD``.

Started by the scoring process (grading/sandbox.py) for one student and one part, and reused across
that part's cases. It never sees an expected output or the term seed. In order:

1. read its set-up from the request pipe (never from the command line, which other users can read);
2. where the set-up asks for namespaces (isolation.py): unshare and fork; the fork, PID 1 of a new PID
   namespace with no network, goes on, the original only waits for it;
3. set its limits (memory, file size, processes, no core files) and import what the kit needs from the
   standard library and NumPy while it can still read them;
4. with namespaces: move into a file system of its own (the interpreter, the libraries, its kit, its
   work folder; a private /tmp, /dev/shm and /proc); send its output to a log file in its work folder;
5. drop privileges: as root, to the student's own uid and gid; in a user namespace, every capability;
   then no new privileges, not dumpable (its /proc closed to others), no inherited files but the pipes;
6. only then import the kit's ``minidense`` (the student's code runs from here on), and answer each
   request with the harness's outputs as plain arrays, or with the error it raised.
"""
import os
import sys


def _limit(resource, name, value):
    if value:
        try:
            resource.setrlimit(name, (value, value))
        except (ValueError, OSError):
            pass


def _drop(setup):
    os.setgroups([])
    os.setgid(setup["gid"])
    os.setuid(setup["uid"])
    if os.getuid() != setup["uid"] or os.geteuid() != setup["uid"] or os.getgid() != setup["gid"]:
        raise SystemExit("child: could not drop privileges")


def main():
    request_fd, reply_fd = int(sys.argv[1]), int(sys.argv[2])
    here = os.path.dirname(os.path.abspath(__file__))
    libs = os.path.join(os.path.dirname(here), "libs")   # the sandbox's copy of NumPy and friends
    sys.path[:] = [here, libs] + [p for p in sys.path if p not in (here, libs)]
    import protocol
    setup, _ = protocol.receive(request_fd)
    import isolation
    if setup["namespaces"]:
        isolation.enter_namespaces(setup["uid"] is None, (request_fd, reply_fd))
    import resource
    _limit(resource, resource.RLIMIT_NPROC, isolation.MAX_PROCESSES)
    _limit(resource, resource.RLIMIT_CORE, 0)
    _limit(resource, resource.RLIMIT_FSIZE, setup["max_file_bytes"])
    _limit(resource, resource.RLIMIT_AS, setup["memory_bytes"])
    for name in setup["preload"]:
        try:
            __import__(name)
        except BaseException:   # a module of the grader's Python this one lacks: the kit may not need it
            pass
    import harness
    if setup["namespaces"]:
        isolation.enter_view(setup["view"], [here, libs, setup["kit"]], [setup["work"]])
    os.chdir(setup["work"])
    log = os.open(os.path.join(setup["work"], "output.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if setup["uid"] is not None:
        os.fchown(log, setup["uid"], setup["gid"])
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    if setup["uid"] is not None:
        _drop(setup)
    elif setup["namespaces"]:
        isolation.drop_capabilities()
    if setup["uid"] is not None or setup["namespaces"]:
        isolation.lock_down((request_fd, reply_fd))
    # the student's code: the kit's package first; the grader's folders are not on the path
    sys.path[:] = [setup["kit"], libs] + [p for p in sys.path if p.startswith(sys.base_prefix)]
    sys.path_importer_cache.clear()
    for name in [m for m in sys.modules if m == "minidense" or m.startswith("minidense.")]:
        del sys.modules[name]
    try:
        import minidense  # noqa: F401  (the student's code runs from here on)
        import minidense.functional  # noqa: F401
        if setup.get("fast_paths_off") and hasattr(minidense, "fast_paths"):
            minidense.fast_paths(False)
    except BaseException as exc:   # SystemExit, KeyboardInterrupt, anything: reported, not obeyed
        protocol.send(reply_fd, {"ready": False, "error": "importing minidense failed: " + harness.describe_error(exc)})
        return
    protocol.send(reply_fd, {"ready": True})
    while True:
        header, arrays = protocol.receive(request_fd)
        if header.get("fn") == "__exit__":
            return
        try:
            outputs = harness.call(header["fn"], arrays, header["params"])
            payload = b"".join(protocol.array_bytes(v) for v in outputs.values())   # refuses object arrays
            del payload
        except BaseException as exc:
            protocol.send(reply_fd, {"ok": False, "error": harness.describe_error(exc)})
            continue
        protocol.send(reply_fd, {"ok": True}, outputs)


if __name__ == "__main__":
    main()
