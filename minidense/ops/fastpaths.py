"""The switch for the fast paths (ops/conv_fast.py): on by default, off for teaching and debugging.

    md.fast_paths(False)              # from now on, every op runs its reference form
    with md.fast_paths(False): ...    # only inside the block
    MINIDENSE_FAST=0 python ...       # the default for a whole process

Like ``torch.set_grad_enabled``, ``fast_paths`` takes effect when called and, used as a context
manager, puts the previous setting back on exit. ``column_block_bytes`` sets how large a piece of a
convolution's column matrix the fast path builds at a time (tests set it small to reach the blocked
and banded code on small inputs). ``budget_share(parts)`` gives the calling thread 1/parts of it: each of
nn.DataParallel's threads, so that the threads' columns together take what one thread's would.
"""
from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["fast_paths", "enabled", "column_block_bytes", "budget_share"]

# The assignment kits ship with this set to False (and without the fast paths' code).
ON_BY_DEFAULT = True
# 4 MiB (8 before Winograd came): with Winograd on the U-Net's big layers, its peak over 10 steps is 58.6 MB
# against 65.7 MB at 8 MiB, at no measurable cost in time (cpu time per step alternating, 1 thread)
DEFAULT_COLUMN_BLOCK_BYTES = 4 * 2**20

_state: dict[str, Any] = {"enabled": ON_BY_DEFAULT and os.environ.get("MINIDENSE_FAST", "1") != "0",
          "column_block_bytes": DEFAULT_COLUMN_BLOCK_BYTES}


def enabled() -> bool:
    """Whether ops take their fast paths (else their reference forms)."""
    return _state["enabled"]


_thread = threading.local()   # .share: the calling thread's part of the budget (budget_share)


def column_block_bytes() -> int:
    """The largest piece of a column matrix the fast convolution builds at a time, in bytes (this thread's)."""
    return _state["column_block_bytes"] // getattr(_thread, "share", 1)


class budget_share:
    """``with budget_share(parts):`` this thread's column blocks are 1/parts of the budget inside (one of
    ``parts`` threads that build columns at the same time: together they keep to the budget)."""

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self._previous = 1

    def __enter__(self) -> budget_share:
        self._previous = getattr(_thread, "share", 1)
        _thread.share = self.parts
        return self

    def __exit__(self, *exc: object) -> None:
        _thread.share = self._previous


class fast_paths:
    """Turn the fast paths on or off (and optionally set the column block budget); a context manager too."""

    def __init__(self, enabled: bool = True, *, column_block_bytes: int | None = None) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(f"fast_paths: enabled must be True or False, got {enabled!r}")
        if column_block_bytes is not None and (isinstance(column_block_bytes, bool)
                                               or not isinstance(column_block_bytes, int) or column_block_bytes < 1):
            raise ValueError(f"fast_paths: column_block_bytes must be a positive int, got {column_block_bytes!r}")
        self._previous = dict(_state)
        _state["enabled"] = enabled
        if column_block_bytes is not None:
            _state["column_block_bytes"] = column_block_bytes

    def __enter__(self) -> fast_paths:
        return self

    def __exit__(self, *exc: object) -> None:
        _state.update(self._previous)
