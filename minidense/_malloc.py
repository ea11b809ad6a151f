"""Host memory: glibc's malloc told to keep freed memory for the next arrays (``md.tune_memory()``).

A process-wide setting, so a library makes it only where the work is, never at import: ``fit``, the
``minidense`` command and the benchmark call :func:`tune_memory`; a user who runs training steps of their
own calls ``md.tune_memory()`` once. ``import minidense`` leaves malloc alone (a Jupyter kernel that only
imports the package keeps glibc's defaults).
"""
import ctypes
import os
import platform
import sys
import warnings

# glibc gives freed memory back to the kernel once the free space at the top of its heap exceeds the
# trim threshold (at most 64 MiB by default), and serves any array over the mmap threshold (up to
# 32 MiB) from fresh pages. A training step frees its activations and columns and asks for them again
# in the next step, so by default every step re-faulted them page by page (measured on the library's benchmarks).
# These two settings keep that memory.
MALLOC_TRIM_THRESHOLD = 1 << 30    # free memory the heap may keep instead of trimming
MALLOC_MMAP_THRESHOLD = 32 << 20   # glibc's largest: arrays up to this size come from the heap
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # mallopt's parameter numbers (malloc.h)
tuned = False     # whether reuse_freed_memory applied (in this process)


def _user_set_malloc():
    """True when the environment already tells glibc's malloc what to do (then it is left alone)."""
    return (any(k.startswith("MALLOC_") and k.endswith("_") for k in os.environ)
            or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""))


def reuse_freed_memory():
    """Keep freed host memory in the process for the next arrays (glibc on Linux; elsewhere a no-op).

    The price: the process keeps its peak heap (up to MALLOC_TRIM_THRESHOLD of it free) until it
    exits, as PyTorch's caching allocator does on a GPU. Unconditional: :func:`tune_memory` is the entry
    point that respects MINIDENSE_MALLOC and the environment's own malloc settings. Returns whether it applied.
    """
    global tuned
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    tuned = bool(mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)
                        and mallopt(M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD))
    return tuned


def _malloc_choice():
    """MINIDENSE_MALLOC: "keep" (the default: reuse_freed_memory) or "system" (leave malloc alone)."""
    choice = os.environ.get("MINIDENSE_MALLOC", "keep").strip().lower() or "keep"
    if choice not in ("keep", "system"):
        warnings.warn(f"MINIDENSE_MALLOC must be 'keep' or 'system', got {choice!r}; leaving malloc alone",
                      RuntimeWarning, stacklevel=2)
        return "system"
    return choice


def tune_memory():
    """Keep freed host memory for the next arrays (:func:`reuse_freed_memory`) unless told otherwise.

    Told otherwise: ``MINIDENSE_MALLOC=system`` (default ``keep``), or a glibc malloc setting of the
    environment's own (``MALLOC_*_``, ``GLIBC_TUNABLES=glibc.malloc...``). Called by ``fit``, by the
    ``minidense`` command and by the benchmark; call it once in a process that runs training steps of its
    own (a U-Net step then spends no time re-faulting the memory the last step freed; the benchmark measures it).
    The process keeps its peak heap until it exits. Returns whether malloc is tuned (also when it
    already was). Anywhere but glibc on Linux it does nothing and returns False.
    """
    if not tuned and _malloc_choice() == "keep" and not _user_set_malloc():
        reuse_freed_memory()
    return tuned
