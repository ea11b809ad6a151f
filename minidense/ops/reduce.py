"""Reductions: sum, mean, max, min over NumPy's ``axis`` (``dim`` accepted as its alias)."""
from __future__ import annotations

from typing import Protocol

from .. import _checks
from ..backend import Array, get_array_module
from ..tensor import Axis, Function, Grads, Tensor


def _normalize_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in axes)) if ndim else ()


def _expand(grad: Array, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Array:
    """Give a reduced gradient its reduced axes back (size 1), ready to broadcast to ``shape``.

    grad: the reduction's output gradient; shape: the input's shape; axes: the reduced axes (sorted,
    non-negative); keepdims: as given to the reduction. Returns an array with ``len(shape)`` axes: size 1
    on ``axes``, ``shape[i]`` elsewhere.
    """
    if not keepdims:
        grad = grad.reshape([1 if i in axes else n for i, n in enumerate(shape)])
    return grad


class Sum(Function):
    def forward(self, x: Array, *, axis: Axis, keepdims: bool) -> Array:
        self.shape, self.axes, self.keepdims = x.shape, _normalize_axes(axis, x.ndim), keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad: Array) -> Grads:
        """grad: the output's shape -> the gradient of x, of x's shape (``self.shape``)."""
        g = _expand(grad, self.shape, self.axes, self.keepdims)
        return get_array_module(grad).broadcast_to(g, self.shape)


class Mean(Function):
    def forward(self, x: Array, *, axis: Axis, keepdims: bool) -> Array:
        self.shape, self.axes, self.keepdims = x.shape, _normalize_axes(axis, x.ndim), keepdims
        self.count = 1
        for a in self.axes:
            self.count *= x.shape[a]
        return x.mean(axis=axis, keepdims=keepdims)

    def backward(self, grad: Array) -> Grads:
        """grad: the output's shape -> the gradient of x, of x's shape (``self.shape``)."""
        g = _expand(grad, self.shape, self.axes, self.keepdims) / self.count
        return get_array_module(grad).broadcast_to(g, self.shape)


class Max(Function):
    """Maximum; tied maxima share the gradient equally (so the gradient is the subgradient's mean)."""
    reduce = "max"

    def forward(self, x: Array, *, axis: Axis, keepdims: bool) -> Array:
        self.axes, self.keepdims = _normalize_axes(axis, x.ndim), keepdims
        out = getattr(x, self.reduce)(axis=axis, keepdims=True)
        self.hit = x == out
        return out if keepdims else out.reshape([n for i, n in enumerate(out.shape) if i not in self.axes])

    def backward(self, grad: Array) -> Grads:
        g = _expand(grad, self.hit.shape, self.axes, self.keepdims)
        count = self.hit.sum(axis=self.axes, keepdims=True)
        return self.hit * (g / count)


class Min(Max):
    reduce = "min"


class Reduction(Protocol):
    """The signature of sum, mean, max and min (made by ``_reduction``)."""

    def __call__(self, x: Tensor | Array, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None) -> Tensor:
        ...


def _reduction(op: type[Function], name: str) -> Reduction:
    def fn(x: Tensor | Array, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None) -> Tensor:
        axis = _checks.axis_arg(name, axis, dim)
        a = _checks.tensor_arg(name, "input", x)
        _checks.axes_in_range(name, axis, a.ndim)
        if op in (Max, Min) and a.size == 0:
            raise ValueError(f"{name}: cannot take the {name} of an empty tensor (shape {tuple(a.shape)})")
        return op.apply(x, axis=axis, keepdims=bool(keepdims))
    fn.__name__ = name
    fn.__doc__ = f"{name.capitalize()} over ``axis`` (an int, a tuple, or None for all); ``dim`` is an alias."
    return fn


sum = _reduction(Sum, "sum")
mean = _reduction(Mean, "mean")
max = _reduction(Max, "max")
min = _reduction(Min, "min")
