"""Max pooling's fast path: the same switches as the reference argmax of ops/pool.py, faster on the CPU.

pool.py takes this when the fast paths are on (ops/fastpaths.py: ``md.fast_paths``, ``MINIDENSE_FAST``),
as convolution takes ops/conv_fast.py. The reference form, ``cols.argmax(axis=1)`` over the kernel taps,
makes NumPy copy the column array to put the tap axis last and then scan rows of only kH·kW values; one
pass per tap over whole (C, N, H_out, W_out) slices streams through memory instead (bench/README.md has
the measurements). Tests (tests/ops/test_pool.py) check it against the reference on ties and NaNs.
"""
from __future__ import annotations

from ..backend import Array, get_array_module

__all__ = ["first_max_tap"]


def first_max_tap(cols: Array) -> Array:
    """cols (C, taps, N, H_out, W_out) -> int32 (C, N, H_out, W_out): the tap of each window's first maximum.

    The same answer as ``cols.argmax(axis=1)``: ties go to the first maximum; a NaN wins once, as in argmax.
    """
    xp = get_array_module(cols)
    best = cols[:, 0].copy()                          # (C, N, H_out, W_out): the running maximum
    tap = xp.zeros(best.shape, dtype=xp.int32)        # and the tap where it was found
    for t in range(1, cols.shape[1]):
        value = cols[:, t]
        # strictly greater: ties go to the first maximum; a NaN wins once, as in argmax
        better = (value > best) | ((value != value) & (best == best))
        xp.maximum(best, value, out=best)
        xp.maximum(tap, better * xp.int32(t), out=tap)   # taps come in order: the last winner is the largest
    return tap
