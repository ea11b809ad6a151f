"""Which array module holds the numbers: NumPy on the CPU, CuPy on a GPU.

Everything in minidense that touches arrays asks this module for the array
module (``xp``) instead of importing numpy, so that one code path serves both
devices. CuPy is imported lazily, only when a GPU is asked for, so a machine
without CuPy (or without a GPU) imports minidense fine.

The random source lives here too: every random draw in the package goes
through :func:`rng`, so :func:`manual_seed` makes a run reproducible.

On Linux, importing minidense also asks glibc's malloc to keep freed memory for the next arrays
(:func:`reuse_freed_memory`): a training step frees and allocates the same tens of megabytes every
time, and memory handed back to the kernel comes back as page faults.
"""
import ctypes
import os
import platform
import sys
import warnings

import numpy

DEVICES = ("cpu", "cuda")
default_dtype = numpy.float32

_cupy = None          # the cupy module once imported successfully
_cupy_error = None    # why it could not be used, once tried


def _import_cupy():
    """Import CuPy and check that a GPU answers; remember the reason if not."""
    global _cupy, _cupy_error
    if _cupy is not None or _cupy_error is not None:
        return _cupy
    try:
        import cupy
    except ImportError as exc:
        _cupy_error = (f"CuPy is not installed ({exc}); install it with "
                       "`pip install 'minidense[gpu]'` (cupy-cuda12x) or cupy-cuda13x for CUDA 13")
        return None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken: report, never crash the import
        _cupy_error = f"CuPy is installed but no CUDA device is usable: {exc}"
        return None
    if count < 1:
        _cupy_error = "CuPy is installed but no CUDA device was found"
        return None
    _cupy = cupy
    return cupy


def gpu_available():
    """True when CuPy is installed and a CUDA device answers."""
    return _import_cupy() is not None


def gpu_unavailable_reason():
    """Why ``"cuda"`` cannot be used here, or None when it can."""
    _import_cupy()
    return None if _cupy is not None else _cupy_error


def check_device(device):
    """Normalise a device name (``"cpu"``, ``"cuda"``, ``"cuda:0"``) and make sure it is usable."""
    if not isinstance(device, str):
        raise TypeError(f"device must be 'cpu' or 'cuda', got {device!r}")
    name = device.split(":")[0]
    if name not in DEVICES:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if name == "cuda" and _import_cupy() is None:
        raise RuntimeError(f"device 'cuda' is not usable on this machine: {_cupy_error}")
    return name


def xp_for(device):
    """The array module for a device name: numpy for 'cpu', cupy for 'cuda'."""
    return numpy if check_device(device) == "cpu" else _cupy


def get_array_module(*arrays):
    """The array module of the given arrays (numpy unless one is a CuPy array)."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return numpy


def device_of(array):
    """'cuda' for a CuPy array, 'cpu' for anything else."""
    return "cuda" if _cupy is not None and isinstance(array, _cupy.ndarray) else "cpu"


def is_array(obj):
    """True for a NumPy or CuPy ndarray."""
    return isinstance(obj, numpy.ndarray) or (_cupy is not None and isinstance(obj, _cupy.ndarray))


def to_device(array, device):
    """Move an array to 'cpu' or 'cuda' (a copy only when it has to move)."""
    device = check_device(device)
    if device == "cpu":
        return _cupy.asnumpy(array) if device_of(array) == "cuda" else numpy.asarray(array)
    return _cupy.asarray(array)


def to_numpy(array):
    """A NumPy array of the values, wherever they live."""
    return to_device(array, "cpu")


# ---------------------------------------------------------------- random source
_seed = None
_rngs = {}


def manual_seed(seed):
    """Seed every random draw of minidense, on every device."""
    global _seed
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _seed = int(seed)
    _rngs.clear()


def rng(device="cpu"):
    """The random generator for a device (numpy.random.Generator, or CuPy's on 'cuda')."""
    device = check_device(device)
    if device not in _rngs:
        xp = xp_for(device)
        _rngs[device] = xp.random.default_rng(_seed)
    return _rngs[device]


def get_rng_state():
    """The CPU generator's state as a JSON-friendly dict (for checkpoints)."""
    return rng("cpu").bit_generator.state


def set_rng_state(state):
    """Restore a state returned by :func:`get_rng_state`."""
    rng("cpu").bit_generator.state = state


def generator(seed=None):
    """A NumPy generator: a fresh one from ``seed``, or the package's CPU source when None.

    Data generators take an explicit seed so that a data set is the same whatever
    else was drawn before it.
    """
    return rng("cpu") if seed is None else numpy.random.default_rng(seed)


def scatter_add(target, index, values):
    """target[index] += values, where repeated indices add up (np.add.at; cupyx.scatter_add on a GPU)."""
    if device_of(target) == "cuda":
        import cupyx
        cupyx.scatter_add(target, index, values)
    else:
        numpy.add.at(target, index, values)


# ---------------------------------------------------------------- host memory
# glibc gives freed memory back to the kernel once the free space at the top of its heap exceeds the
# trim threshold (at most 64 MiB by default), and serves any array over the mmap threshold (up to
# 32 MiB) from fresh pages. A training step frees its ~80 MB of activations and columns and asks for
# them again in the next step, so by default every step re-faulted ~10,000 pages: ~30 ms of the
# 90 ms U-Net step of bench/ (profile in bench/README.md). These two settings keep that memory.
MALLOC_TRIM_THRESHOLD = 1 << 30    # free memory the heap may keep instead of trimming
MALLOC_MMAP_THRESHOLD = 32 << 20   # glibc's largest: arrays up to this size come from the heap
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # mallopt's parameter numbers (malloc.h)
malloc_tuned = False


def _user_set_malloc():
    """True when the environment already tells glibc's malloc what to do (then it is left alone)."""
    return (any(k.startswith("MALLOC_") and k.endswith("_") for k in os.environ)
            or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""))


def reuse_freed_memory():
    """Keep freed host memory in the process for the next arrays (glibc on Linux; elsewhere a no-op).

    The price: the process keeps its peak heap (up to MALLOC_TRIM_THRESHOLD of it free) until it
    exits, as PyTorch's caching allocator does on a GPU. Runs on import unless MINIDENSE_MALLOC=system
    (default: keep) or a MALLOC_*_ / GLIBC_TUNABLES malloc setting is in the environment. Returns whether it applied.
    """
    global malloc_tuned
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    malloc_tuned = bool(mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)
                        and mallopt(M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD))
    return malloc_tuned


def _malloc_choice():
    """MINIDENSE_MALLOC: "keep" (the default: reuse_freed_memory) or "system" (leave malloc alone)."""
    choice = os.environ.get("MINIDENSE_MALLOC", "keep").strip().lower() or "keep"
    if choice not in ("keep", "system"):
        warnings.warn(f"MINIDENSE_MALLOC must be 'keep' or 'system', got {choice!r}; leaving malloc alone",
                      RuntimeWarning, stacklevel=2)
        return "system"
    return choice


if _malloc_choice() == "keep" and not _user_set_malloc():
    reuse_freed_memory()
