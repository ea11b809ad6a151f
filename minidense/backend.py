"""Which array module holds the numbers: NumPy on the CPU, CuPy on a GPU.

Everything in minidense that touches arrays asks this module for the array
module (``xp``) instead of importing numpy, so that one code path serves both
devices. CuPy is imported lazily, only when a GPU is asked for, so a machine
without CuPy (or without a GPU) imports minidense fine.

A CuPy array is recognised wherever it comes from: CuPy's arrays can only exist once
some code imported ``cupy``, so :func:`get_array_module`, :func:`device_of` and
:func:`is_array` look for it in ``sys.modules`` instead of waiting for a request for
``"cuda"``.

The random source lives here too: every random draw in the package goes
through :func:`rng`, so :func:`manual_seed` makes a run reproducible.
"""
from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy
from numpy.typing import DTypeLike  # noqa: F401  (for the modules that annotate dtypes)

if TYPE_CHECKING:
    from typing_extensions import TypeIs

# What a Tensor holds, for type checkers: a NumPy array, or a CuPy array, whose interface is NumPy's (CuPy ships
# no type information, so code that type-checks against NumPy's ndarray is what the ops may use of CuPy too).
Array = numpy.ndarray[Any, Any]

DEVICES = ("cpu", "cuda")
default_dtype = numpy.float32

_cupy: Any = None     # the cupy module once imported successfully (CuPy ships no types)
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


def _parse_device(device):
    """(name, index or None) of "cpu", "cuda", "cuda:N"; a clear error for anything else."""
    if not isinstance(device, str):
        raise TypeError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    name, sep, index = device.partition(":")
    if name not in DEVICES or (sep and not (index.isdigit() and index.isascii())) or (name == "cpu" and sep
                                                                                     and index != "0"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N' (N a device number), got {device!r}")
    return name, (int(index) if sep else None)


def check_device(device: str) -> str:
    """Normalise a device name to ``"cpu"`` or ``"cuda"`` and make sure it is usable.

    minidense runs on one GPU: CuPy's current device, ``"cuda"`` (device 0 unless the program selected
    another with ``cupy.cuda.Device(n).use()``; ``CUDA_VISIBLE_DEVICES`` picks which GPU that is).
    ``"cuda:N"`` is accepted when N is that device, and refused with a ValueError otherwise, rather
    than silently running on another GPU than the one named.
    """
    name, index = _parse_device(device)
    if name == "cpu":
        return "cpu"
    cupy = _import_cupy()
    if cupy is None:
        raise RuntimeError(f"device 'cuda' is not usable on this machine: {_cupy_error}")
    if index is not None:
        count, current = cupy.cuda.runtime.getDeviceCount(), cupy.cuda.runtime.getDevice()
        if index >= count:
            which = "only cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            raise ValueError(f"device {device!r}: this machine has {count} CUDA device"
                             f"{'s' if count != 1 else ''} ({which})")
        if index != current:
            raise ValueError(f"device {device!r}: minidense runs on one GPU, CuPy's current device "
                             f"(cuda:{current}, also called 'cuda'); to use GPU {index}, select it before making "
                             f"tensors with cupy.cuda.Device({index}).use(), or run with CUDA_VISIBLE_DEVICES={index}")
    return "cuda"


def xp_for(device: str) -> ModuleType:
    """The array module for a device name: numpy for 'cpu', cupy for 'cuda'."""
    return numpy if check_device(device) == "cpu" else _cupy


def _cupy_array_type():
    """cupy.ndarray once any code imported cupy (a CuPy array cannot exist before), else None."""
    return getattr(sys.modules.get("cupy"), "ndarray", None)


def cupy_imported() -> bool:
    """True once any code imported cupy; before that every array is a NumPy array, on the CPU (so a check
    that arrays share one device has nothing to find)."""
    return "cupy" in sys.modules and _cupy_array_type() is not None   # every op asks: the quick test first


def get_array_module(*arrays: object) -> ModuleType:
    """The array module of the given arrays (numpy unless one is a CuPy array)."""
    gpu_array = _cupy_array_type()
    if gpu_array is not None:
        for a in arrays:
            if isinstance(a, gpu_array):
                return sys.modules["cupy"]
    return numpy


def invalid_ignored() -> Any:
    """A context manager in which NumPy does not warn of invalid values (∞·0, ∞ − ∞): for a fast path whose
    own intermediate makes them where the reference does not (CuPy never warns)."""
    return numpy.errstate(invalid="ignore")


# device_of and is_array run several times per op (Function.apply, Tensor, the argument checks): an exact
# NumPy array is answered before looking for CuPy.
def device_of(array: object) -> str:
    """'cuda' for a CuPy array, 'cpu' for anything else."""
    if type(array) is numpy.ndarray:
        return "cpu"
    gpu_array = _cupy_array_type()
    return "cuda" if gpu_array is not None and isinstance(array, gpu_array) else "cpu"


def is_array(obj: object) -> TypeIs[Array]:
    """True for a NumPy or CuPy ndarray."""
    if type(obj) is numpy.ndarray:
        return True
    gpu_array = _cupy_array_type()
    return isinstance(obj, numpy.ndarray) or (gpu_array is not None and isinstance(obj, gpu_array))


def to_device(array: Array, device: str) -> Array:
    """Move an array to 'cpu' or 'cuda' (a copy only when it has to move)."""
    device = check_device(device)
    if device == "cpu":
        return sys.modules["cupy"].asnumpy(array) if device_of(array) == "cuda" else numpy.asarray(array)
    return _cupy.asarray(array)


def to_numpy(array: Array) -> numpy.ndarray[Any, Any]:
    """A NumPy array of the values, wherever they live."""
    return to_device(array, "cpu")


# ---------------------------------------------------------------- random source
# The CPU generator is one NumPy stream whose state a checkpoint saves. CuPy's generators have no state
# to read or set, so the GPU's draws come from a generator derived from (seed, epoch, step), as the data
# loader's augmentations come from (seed, epoch, index): fit calls set_rng_step before each step, and a
# checkpoint keeps the three counters (get_rng_state), so a resumed run draws what it would have drawn.
_seed = None
_rng_step = (0, 0)   # (epoch, step) the device's stream was derived for
_rngs: dict[str, Any] = {}


def manual_seed(seed):
    """Seed every random draw of minidense, on every device."""
    global _seed, _rng_step
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _seed = int(seed)
    _rng_step = (0, 0)
    _rngs.clear()


def set_rng_step(epoch, step):
    """Derive the GPU's random stream from (seed, epoch, step) from now on (fit calls it before each step)."""
    global _rng_step
    for name, value in (("epoch", epoch), ("step", step)):
        if not isinstance(value, (int, numpy.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"set_rng_step: {name} must be a non-negative int, got {value!r}")
    _rng_step = (int(epoch), int(step))
    _rngs.pop("cuda", None)


def rng(device="cpu"):
    """The random generator for a device (numpy.random.Generator, or CuPy's on 'cuda')."""
    device = check_device(device)
    if device not in _rngs:
        if device == "cpu":
            _rngs[device] = numpy.random.default_rng(_seed)
        else:   # CuPy's default_rng takes a sequence of ints (through numpy.random.SeedSequence), as NumPy's
            _rngs[device] = _cupy.random.default_rng(None if _seed is None else [_seed, *_rng_step])
    return _rngs[device]


def get_rng_state():
    """The random state as a JSON-friendly dict (for checkpoints): the CPU generator's state and the counters
    the GPU's stream is derived from."""
    return {"cpu": rng("cpu").bit_generator.state,
            "device_stream": {"seed": _seed, "epoch": _rng_step[0], "step": _rng_step[1]}}


def set_rng_state(state):
    """Restore a state returned by :func:`get_rng_state` (or, from older checkpoints, the CPU state alone)."""
    global _seed
    if "cpu" not in state:
        rng("cpu").bit_generator.state = state
        return
    rng("cpu").bit_generator.state = state["cpu"]
    stream = state["device_stream"]
    _seed = stream["seed"]
    set_rng_step(stream["epoch"], stream["step"])


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

