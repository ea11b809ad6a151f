"""Making tensors: md.tensor and the constructors students expect."""
from __future__ import annotations

from typing import Any

import numpy
from numpy.typing import ArrayLike

from . import backend
from .backend import DTypeLike
from .tensor import ShapeArg, Tensor, check_numeric


def tensor(data: ArrayLike | Tensor, requires_grad: bool = False, dtype: DTypeLike | None = None,
           device: str | None = None) -> Tensor:
    """A Tensor from a list, a number, or an array (copied), on ``device``.

    device: None keeps an array's (or Tensor's) device, as PyTorch does, and puts other data on the CPU.
    Floating-point data becomes float32 unless ``dtype`` says otherwise; integer
    and boolean data keep their dtype (label maps stay integers).
    """
    if isinstance(data, Tensor):
        data = data.data
    if device is None:
        device = backend.device_of(data)
    device = backend.check_device(device)
    xp = backend.xp_for(device)
    if backend.is_array(data) and backend.device_of(data) != device:
        data = backend.to_device(data, device)
    arr = xp.array(data, dtype=dtype, copy=True)
    check_numeric(arr.dtype, "tensor")
    if dtype is None and arr.dtype.kind == "f" and not (backend.is_array(data) and data.dtype.kind == "f"):
        arr = arr.astype(backend.default_dtype)
    return Tensor(arr, requires_grad=requires_grad)


def _shape(shape: tuple[ShapeArg, ...]) -> tuple[int, ...]:
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)  # type: ignore[arg-type]  # ints when not one sequence


def _filled(fill: str, shape: tuple[ShapeArg, ...], dtype: DTypeLike | None, device: str,
            requires_grad: bool) -> Tensor:
    xp = backend.xp_for(device)
    return Tensor(getattr(xp, fill)(_shape(shape), dtype=dtype or backend.default_dtype), requires_grad=requires_grad)


def zeros(*shape: ShapeArg, dtype: DTypeLike | None = None, device: str = "cpu",
          requires_grad: bool = False) -> Tensor:
    return _filled("zeros", shape, dtype, device, requires_grad)


def ones(*shape: ShapeArg, dtype: DTypeLike | None = None, device: str = "cpu",
         requires_grad: bool = False) -> Tensor:
    return _filled("ones", shape, dtype, device, requires_grad)


def zeros_like(t: Tensor, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def _random_dtype(fname: str, dtype: DTypeLike | None) -> numpy.dtype[Any]:
    """float32 or float64, on every device: NumPy's generator takes only these, and CuPy's would draw float32
    and cast to anything else (float16 rounded, integers all zeros)."""
    dt = numpy.dtype(dtype or backend.default_dtype)
    if dt not in (numpy.float32, numpy.float64):
        raise TypeError(f"{fname}: dtype must be float32 or float64, got {dt}")
    return dt


def randn(*shape: ShapeArg, dtype: DTypeLike | None = None, device: str = "cpu",
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the package's random source (see md.manual_seed)."""
    dtype = _random_dtype("randn", dtype)
    return Tensor(backend.rng(device).standard_normal(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def rand(*shape: ShapeArg, dtype: DTypeLike | None = None, device: str = "cpu",
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the package's random source."""
    dtype = _random_dtype("rand", dtype)
    return Tensor(backend.rng(device).random(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: DTypeLike | None = None,
           device: str = "cpu") -> Tensor:
    xp = backend.xp_for(device)
    return Tensor(xp.arange(start, stop, step, dtype=dtype) if stop is not None else xp.arange(start, dtype=dtype))
