"""The fast paths' dispatch table: which algorithm computes an (op, shape, dtype), chosen by measuring.

By default no measuring: each kernel takes its fallback (the first candidate offered: the columns, not
Winograd), so that two processes compute the same bits (a resumed run repeats an uninterrupted one), as
PyTorch leaves ``torch.backends.cudnn.benchmark`` off. The fallback, not the specialised candidate: on the
machine measured last (AMD EPYC with AVX-512, bench/README.md) Winograd's transforms cost more than its
products save on every layer of the benchmark's U-Net but a few input gradients, and on small images far
more.

In benchmark mode (``benchmark(True)`` or ``MINIDENSE_BENCHMARK=1``), as cuDNN's benchmark mode does, the
first call of a kernel on a new key runs every candidate on its own arguments (once untimed, then ROUNDS
times each, alternating), keeps the fastest in the table and runs it once more for the result; later calls
with the same key run the winner only. The key holds the op, the shapes, the geometry, the dtype, the array
module and the CPU (``cpu()``), so a table carried to another machine is never applied there.
The table lives as long as the process (``table()`` shows it, ``clear()`` empties it).

Every candidate computes the same function; they differ by rounding only, within the bounds their
modules state (ops/winograd.py) and their tests check, so the choice changes no result beyond that bound
and the results of one process are the same on every call after the first. ``md.fast_paths(False)``
never reaches this module: the reference kernels of conv.py run instead.

``prefer(name)`` (a context manager) skips the measurement and takes that candidate wherever it is
offered: for tests, and for comparing algorithms (the first candidate offered is the fallback where the
preferred one is not offered). Arrays of a GPU module are not timed here (their calls return before the
work is done): they take the first candidate.
"""
from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

__all__ = ["cpu", "pick", "table", "clear", "prefer", "benchmark"]

T = TypeVar("T")

_table: dict[Hashable, str] = {}
_preferred: list[str] = []
_cpu: list[str] = []
#: measure the candidates (True) or take the fallback (False, the default): see the module's docstring
_benchmark = [os.environ.get("MINIDENSE_BENCHMARK", "0") == "1"]
ROUNDS = 5   # timed runs of each candidate, alternating (the order reversed every round); the minimum decides


def cpu() -> str:
    """The machine in a few words: processor model, architecture and core count (part of every key)."""
    if not _cpu:
        model = platform.processor()
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
        except OSError:
            pass
        _cpu.append(f"{model} {platform.machine()} {os.cpu_count()} cores")
    return _cpu[0]


def table() -> dict[Hashable, str]:
    """A copy of the table: {key: the winning candidate's name}."""
    return dict(_table)


def clear() -> None:
    """Forget every choice (the next call of each key measures again)."""
    _table.clear()


def benchmark(flag: bool | None = None) -> bool:
    """Benchmark mode: with ``flag``, turn it on or off; returns the setting before."""
    before = _benchmark[0]
    if flag is not None:
        if not isinstance(flag, bool):
            raise TypeError(f"benchmark: flag must be a bool, got {flag!r}")
        _benchmark[0] = flag
    return before


class prefer:
    """Take candidate ``name`` wherever it is offered, without measuring (a context manager too)."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"prefer: name must be a str, got {name!r}")
        _preferred.append(name)

    def __enter__(self) -> prefer:
        return self

    def __exit__(self, *exc: object) -> None:
        _preferred.pop()


def pick(key: Hashable, candidates: dict[str, Callable[[], T]], timed: bool = True) -> tuple[str, T]:
    """(name, result) of the candidate the table holds for key, measuring them all the first time.

    candidates: {name: a function of no arguments computing the result}, the fallback first. Outside benchmark
    mode the fallback is taken, unmeasured; so are arrays whose calls cannot be timed on the host (timed=False).
    Neither records anything.
    The measured runs' results are dropped as soon as each is timed and the winner runs once more for the
    result: the measurement holds no more memory at a time than one call does.
    """
    names = list(candidates)
    if _preferred:
        name = _preferred[-1] if _preferred[-1] in candidates else names[0]
        return name, candidates[name]()
    if len(names) == 1 or not timed or not _benchmark[0]:
        return names[0], candidates[names[0]]()
    full_key = (key, cpu())
    if full_key not in _table:
        best: dict[str, float] = {}
        for name in names:   # one untimed run each first (its buffers' first touch, cold caches), dropped
            candidates[name]()
        for round_ in range(ROUNDS):
            for name in (names if round_ % 2 == 0 else names[::-1]):   # neither always runs first (cold caches)
                start = time.perf_counter()
                result = candidates[name]()
                elapsed = time.perf_counter() - start
                del result
                best[name] = min(best.get(name, elapsed), elapsed)
        _table[full_key] = min(names, key=lambda n: (best[n], names.index(n)))
    name = _table[full_key]
    return name, candidates[name]()
