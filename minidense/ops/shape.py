"""Ops that move values without changing them: reshape, permute, indexing, concat, stack, pad."""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from .. import _checks
from ..backend import Array, get_array_module, scatter_add
from ..tensor import Function, Grads, ShapeArg, Tensor


class Reshape(Function):
    def forward(self, x: Array, *, shape: tuple[int, ...]) -> Array:
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, grad: Array) -> Grads:
        return grad.reshape(self.shape)


class Permute(Function):
    """Reorder all axes: out.shape[i] == x.shape[axes[i]]."""

    def forward(self, x: Array, *, axes: tuple[int, ...]) -> Array:
        self.axes = axes
        return x.transpose(axes)

    def backward(self, grad: Array) -> Grads:
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return grad.transpose(inverse)


class GetItem(Function):
    """x[index]: basic slicing, or integer / boolean arrays (whose repeats add up in backward)."""

    def forward(self, x: Array, *, index: Any) -> Array:   # anything NumPy indexes with
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        return x[index]

    def backward(self, grad: Array) -> Grads:
        xp = get_array_module(grad)
        out = xp.zeros(self.shape, dtype=grad.dtype)
        if _has_int_array(self.index):
            scatter_add(out, self.index, grad)   # an integer index may repeat: repeats add up
        else:
            out[self.index] = grad               # slices and masks never repeat: a plain write
        return out


def _has_int_array(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.dtype.kind in "iu" or isinstance(p, list) for p in parts)


class Concat(Function):
    def forward(self, *arrays: Array, axis: int) -> Array:
        self.axis = axis
        self.bounds = []
        start = 0
        for a in arrays:
            self.bounds.append((start, start + a.shape[axis]))
            start += a.shape[axis]
        return get_array_module(*arrays).concatenate(arrays, axis=axis)

    def backward(self, grad: Array) -> Grads:
        index = [slice(None)] * grad.ndim
        out = []
        for start, stop in self.bounds:
            index[self.axis] = slice(start, stop)
            out.append(grad[tuple(index)])
        return tuple(out)


class Stack(Function):
    def forward(self, *arrays: Array, axis: int) -> Array:
        self.axis = axis
        return get_array_module(*arrays).stack(arrays, axis=axis)

    def backward(self, grad: Array) -> Grads:
        xp = get_array_module(grad)
        return tuple(xp.take(grad, i, axis=self.axis) for i in range(grad.shape[self.axis]))


class Pad(Function):
    """Constant padding with NumPy's pad_width: ((before, after), ...) per axis."""

    def forward(self, x: Array, *, pad_width: tuple[tuple[int, int], ...], value: float) -> Array:
        self.crop = tuple(slice(b, b + n) for (b, _), n in zip(pad_width, x.shape))
        return get_array_module(x).pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, grad: Array) -> Grads:
        return grad[self.crop]


def reshape(x: Tensor | Array, *shape: ShapeArg) -> Tensor:
    """x with a new shape of the same size (one entry may be -1)."""
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    a = _checks.tensor_arg("reshape", "input", x)
    known = 1
    for n in shape:
        if not isinstance(n, numbers.Integral) or n < -1:
            raise ValueError(f"reshape: shape must hold ints >= 0 (and at most one -1), got {shape}")
        known *= n if n != -1 else 1  # type: ignore[assignment]  # n is an int, checked above
    if list(shape).count(-1) > 1 or (-1 not in shape and known != a.size) or \
            (-1 in shape and (known == 0 or a.size % known)):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {tuple(a.shape)} ({a.size} elements) "
                         f"into shape {shape}")
    return Reshape.apply(x, shape=shape)


def permute(x: Tensor | Array, *axes: ShapeArg) -> Tensor:
    """Reorder all axes (``x.permute(0, 2, 3, 1)`` takes NCHW to NHWC)."""
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    a = _checks.tensor_arg("permute", "input", x)
    if sorted(int(i) % max(a.ndim, 1) for i in axes) != list(range(a.ndim)) or len(axes) != a.ndim:  # type: ignore[arg-type]
        raise ValueError(f"permute: axes must be a permutation of 0..{a.ndim - 1} for shape {tuple(a.shape)}, "
                         f"got {axes}")
    return Permute.apply(x, axes=tuple(int(i) % a.ndim for i in axes))  # type: ignore[arg-type]  # as above


def transpose(x: Tensor | Array, *axes: int | None) -> Tensor:
    """NumPy's transpose: a permutation of all axes, reversed when none is given."""
    a = _checks.tensor_arg("transpose", "input", x)
    if not axes or axes == (None,):
        axes = tuple(range(a.ndim))[::-1]
    return permute(x, *axes)  # type: ignore[arg-type]  # None only alone, replaced above


def getitem(x: Tensor | Array, index: Any) -> Tensor:
    index = tuple(i.data if isinstance(i, Tensor) else i for i in index) if isinstance(index, tuple) else \
        (index.data if isinstance(index, Tensor) else index)
    return GetItem.apply(x, index=index)


def _join_check(name: str, tensors: Sequence[Tensor | Array], axis: int, same_axis_size: bool) -> int:
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"{name}: expected a non-empty list of tensors, got {type(tensors).__name__}")
    arrays = [_checks.tensor_arg(name, f"tensors[{i}]", t) for i, t in enumerate(tensors)]
    ref = arrays[0]
    ndim = ref.ndim + (0 if same_axis_size else 1)
    _checks.axes_in_range(name, axis, ndim)
    _checks.same_device(name, **{f"tensors[{i}]": t for i, t in enumerate(tensors)})
    for i, a in enumerate(arrays[1:], 1):
        mismatch = a.ndim != ref.ndim or any(
            m != n for d, (m, n) in enumerate(zip(a.shape, ref.shape)) if not (same_axis_size and d == axis % ndim))
        if mismatch:
            what = "all dimensions except axis" if same_axis_size else "the same shape"
            raise ValueError(f"{name}: tensors must agree in {what} (axis={axis}): tensors[0] has shape "
                             f"{tuple(ref.shape)}, tensors[{i}] has shape {tuple(a.shape)}")
        if a.dtype != ref.dtype:
            raise TypeError(f"{name}: tensors must share a dtype: tensors[0] is {ref.dtype}, "
                            f"tensors[{i}] is {a.dtype}")
    return axis % ndim


def concat(tensors: Sequence[Tensor | Array], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (the U-Net skip: ``concat([up, skip], axis=1)``)."""
    axis = _checks.axis_arg("concat", axis if dim is None else None, dim)
    axis = _join_check("concat", tensors, axis, same_axis_size=True)
    return Concat.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor | Array], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors of one shape along a new axis."""
    axis = _checks.axis_arg("stack", axis if dim is None else None, dim)
    axis = _join_check("stack", tensors, axis, same_axis_size=False)
    return Stack.apply(*tensors, axis=axis)


def pad(x: Tensor | Array, pad_width: int | Sequence[tuple[int, int]], value: float = 0.0) -> Tensor:
    """Constant padding; ``pad_width`` as NumPy's: an int, or ((before, after), ...) per axis."""
    a = _checks.tensor_arg("pad", "input", x)
    if isinstance(pad_width, numbers.Integral):
        pad_width = ((pad_width, pad_width),) * a.ndim
    try:
        pad_width = tuple((int(b), int(e)) for b, e in pad_width)  # type: ignore[union-attr]  # an int became pairs
    except (TypeError, ValueError):
        raise TypeError(f"pad: pad_width must be an int or ((before, after), ...) per axis, "
                        f"got {pad_width!r}") from None
    if len(pad_width) != a.ndim or any(b < 0 or e < 0 for b, e in pad_width):
        raise ValueError(f"pad: pad_width needs one non-negative (before, after) pair per axis of shape "
                         f"{tuple(a.shape)}, got {pad_width}")
    return Pad.apply(x, pad_width=pad_width, value=value)
