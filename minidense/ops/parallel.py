"""Big passes over memory split between threads: the fast paths' copies and elementwise loops on all cores.

NumPy lets go of Python's lock inside its loops, so two threads can each run half of one copy (or one
``exp``) at the same time on two cores. NumPy itself runs every such pass on one core; only its matrix
products (BLAS) use more. PyTorch splits these passes too. The fast paths (conv_fast, loss_fast, ...)
cut a pass into pieces along one axis with :func:`split` and run them with :func:`run`:

    def fill(rows):                       # one piece: writes out[rows] and nothing else
        out[rows] = x[rows] * 2
    parallel.run(fill, parallel.split(len(out), out, min_bytes=1 << 20))

Each piece writes its own part of the output, so the result does not depend on the number of threads
(the same bits with one thread or eight). With one thread, on arrays below the caller's ``min_bytes``
(where handing a piece to a thread costs more than it saves: each fast path measures its own floor) and
for GPU arrays, ``split`` gives one piece and ``run`` calls the function itself: no thread is started.

How many threads: ``md.set_num_threads(n)`` (PyTorch's name), else the environment's
``MINIDENSE_NUM_THREADS`` or ``OMP_NUM_THREADS``, else the cores this process may use. The threads are
started on first use and kept (a forked child starts its own).

Whole pieces of work (nn.DataParallel: a network's forward and backward on part of a batch) run on the same
threads with :func:`run_apart`, each with its products on one BLAS thread (:class:`blas_threads`): BLAS
splitting every product of two such pieces between all cores at once would put two threads on each core.
"""
from __future__ import annotations

import ctypes
import functools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from .. import backend
from ..backend import Array

__all__ = ["get_num_threads", "set_num_threads", "split", "run", "run_apart", "in_piece", "blas_threads"]

_lock = threading.Lock()
_state: dict[str, object] = {"threads": None, "pool": None, "pid": None}
_apart = threading.local()   # .inside: this thread runs a piece of run_apart (its passes are not split again)
_T = TypeVar("_T")


def _default_threads() -> int:
    for name in ("MINIDENSE_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def get_num_threads() -> int:
    """How many threads the fast paths split a pass between (1: none started)."""
    threads = _state["threads"]
    if threads is None:
        threads = _state["threads"] = _default_threads()
    return threads  # type: ignore[return-value]  # an int once set


def set_num_threads(n: int) -> None:
    """Split the fast paths' passes between ``n`` threads from now on (1: run them in the calling thread).

    As ``torch.set_num_threads``, for this library's own passes; NumPy's matrix products follow their BLAS
    library's setting (e.g. ``OPENBLAS_NUM_THREADS``).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    with _lock:
        _state["threads"] = n
        pool = _state["pool"]
        _state["pool"] = None
    if isinstance(pool, ThreadPoolExecutor):
        pool.shutdown(wait=False)


def split(length: int, out: Array, min_bytes: int) -> list[slice]:
    """Pieces of ``range(length)`` (an axis of ``out``, the array the pass writes), one per thread; one
    piece when one thread is set, ``out`` is under ``min_bytes`` or on the GPU."""
    threads = min(get_num_threads(), length)
    if threads < 2 or out.nbytes < min_bytes or backend.device_of(out) != "cpu" or in_piece():
        return [slice(0, length)]
    bounds = [length * k // threads for k in range(threads + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _pool() -> ThreadPoolExecutor:
    with _lock:
        pool = _state["pool"]
        if not isinstance(pool, ThreadPoolExecutor) or _state["pid"] != os.getpid():
            # a forked child inherits the parent's pool object but not its threads: it makes its own
            pool = _state["pool"] = ThreadPoolExecutor(max(1, get_num_threads() - 1),
                                                       thread_name_prefix="minidense")
            _state["pid"] = os.getpid()
        return pool


def run(fn: Callable[[_T], object], pieces: Sequence[_T]) -> None:
    """``fn(piece)`` for every piece: the first in this thread, the others on the pool's threads at the same
    time. Returns when all are done; an exception in any is raised here (after all have finished)."""
    if len(pieces) == 1:
        fn(pieces[0])
        return
    pool = _pool()
    futures: list[Future[object]] = [pool.submit(fn, piece) for piece in pieces[1:]]
    try:
        fn(pieces[0])
    finally:
        for f in futures:   # wait for every piece before leaving: they write into the caller's arrays
            f.exception()
    for f in futures:
        f.result()


def in_piece() -> bool:
    """Whether this thread is running a piece of :func:`run_apart` (where nothing is split between threads
    again: the pool's threads may all be taken by the pieces)."""
    return bool(getattr(_apart, "inside", False))


def run_apart(fn: Callable[[_T], object], items: Sequence[_T]) -> None:
    """``fn(item)`` for every item, as :func:`run` does (the first in this thread, the others on the pool's),
    each a whole piece of work: inside it no pass is split between threads again (``split`` gives one piece),
    so that a piece never waits for a pool thread that another piece holds."""
    def alone(item: _T) -> None:
        _apart.inside = True
        try:
            fn(item)
        finally:
            _apart.inside = False
    run(alone, items)


# ------------------------------------------------------------------ BLAS's own threads

@functools.cache   # found once per process
def _openblas_calls() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """OpenBLAS's get_num_threads and set_num_threads in the library NumPy loaded, or None (another BLAS, or a
    system without /proc/self/maps). NumPy's wheels bundle OpenBLAS with a prefix and a suffix on its names
    (scipy_openblas_set_num_threads64_); a system build has the plain ones."""
    calls = None
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line})
    except OSError:
        paths = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                set_ = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and set_ is not None and calls is None:
                    get.restype, set_.restype, set_.argtypes = ctypes.c_int, None, [ctypes.c_int]
                    calls = (get, set_)
    return calls


class blas_threads:
    """``with blas_threads(1):`` NumPy's matrix products run on one BLAS thread inside, on as many as before
    after. ``blas_threads.available()`` says whether this process's BLAS can be told (OpenBLAS, found in the
    libraries loaded); where it cannot, the block runs with BLAS as it is."""

    def __init__(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"blas_threads: n must be a positive int, got {n!r}")
        self.n = n
        self._previous: int | None = None

    @staticmethod
    def available() -> bool:
        return _openblas_calls() is not None

    @staticmethod
    def get() -> int | None:
        """BLAS's thread count now, or None where it cannot be asked."""
        calls = _openblas_calls()
        return None if calls is None else calls[0]()

    def __enter__(self) -> blas_threads:
        calls = _openblas_calls()
        if calls is not None:
            self._previous = calls[0]()
            calls[1](self.n)
        return self

    def __exit__(self, *exc: object) -> None:
        calls = _openblas_calls()
        if calls is not None and self._previous is not None:
            calls[1](self._previous)
