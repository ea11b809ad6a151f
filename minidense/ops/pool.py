"""Pooling and unpooling: the decoder's half of the lecture (upsampling is in ops/resample.py).

Max pooling is two steps. First find the switches: for each window, the flat index of its
maximum within the (H·W) plane of the input (PyTorch's ``return_indices``), by an argmax over
the kernel taps of im2col's columns; ties go to the first maximum. Then gather the input at the
switches. Only the gather carries a gradient, and its backward scatters each gradient to its
switch. Max-unpooling is the same pair the other way round: its forward scatters values to the
switches (zeros elsewhere) and its backward gathers. Two linear maps, each the other's adjoint,
like im2col and col2im.

The lecture's three unpoolings are one call each:

    F.bed_of_nails(x, 2)                              value in the top-left corner, zeros elsewhere
    F.interpolate(x, scale_factor=2, mode="nearest")  value copied into the whole 2×2 block
    F.max_unpool2d(y, switches, 2)                    value back where max pooling found it
"""
from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Literal, overload

from .. import _checks
from ..backend import Array, DTypeLike, get_array_module, scatter_add
from ..tensor import Function, Grads, IntOrTuple, Tensor
from . import fastpaths, pool_fast
from . import im2col as columns
from .im2col import Geometry

__all__ = ["max_pool2d", "max_unpool2d", "avg_pool2d"]


# ------------------------------------------------------------------ switches

def _switches(x: Array, geo: Geometry) -> Array:
    """x: (N, C, H, W) -> int64 (N, C, H_out, W_out): the flat index in the H·W plane of each window's maximum."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    ho, wo = columns.output_size((h, w), geo)
    # padding with -inf never wins the max, so the switch always lies in the unpadded input
    cols = columns.im2col(x, geo, pad_value=-xp.inf).reshape(c, kh * kw, n, ho, wo)
    # the tap of each window's maximum; argmax gives the first on ties (md.fast_paths: ops/pool_fast.py's loop)
    tap = pool_fast.first_max_tap(cols) if fastpaths.enabled() else cols.argmax(axis=1)
    # tap (i, j) of window (r, q) reads input row r·sh − ph + i·dh, column q·sw − pw + j·dw: its flat index
    # in the H·W plane is the window's corner plus the tap's offset
    corner = (xp.arange(ho).reshape(ho, 1) * sh - ph) * w + xp.arange(wo) * sw - pw
    offset = (xp.arange(kh).reshape(kh, 1) * (dh * w) + xp.arange(kw) * dw).reshape(-1)
    flat = offset[tap] + corner                       # (C, N, H_out, W_out)
    return flat.transpose(1, 0, 2, 3)


def _inside_where_all_neginf(x: Array, geo: Geometry, indices: Array) -> Array:
    """The switches ``indices`` (N, C, H_out, W_out) of ``x`` (N, C, H, W), except in windows whose pixels are all
    -inf: there the -inf padding ties with them and may come first, so the window's first pixel inside the plane
    is taken (as PyTorch does). Not part of ``_switches`` (what the pool kit's students write): a fix-up here."""
    xp = get_array_module(x)
    if not any(geo.padding) or not (x == -xp.inf).any():
        return indices   # no padding, or no -inf: the maximum is a pixel of the plane
    w = x.shape[3]
    sizes = columns.output_size(x.shape[-2:], geo)
    # each window's maximum, (C, taps, N·H_out·W_out) -> (N, C, H_out, W_out)
    padded_windows = columns.im2col(x, geo, -xp.inf)
    window_max = padded_windows.reshape(x.shape[1], -1, x.shape[0], *sizes).max(axis=1)
    # window r starts at r·s − p; its first tap inside is i0 = ceil((p − r·s) / d) (or 0), at r·s − p + i0·d
    firsts = []
    for size, s, p, d in zip(sizes, geo.stride, geo.padding, geo.dilation):
        start = xp.arange(size) * s - p
        firsts.append(start + xp.maximum(0, -(start // d)) * d)
    first_inside = firsts[0].reshape(-1, 1) * w + firsts[1]
    return xp.where(window_max.transpose(1, 0, 2, 3) == -xp.inf, first_inside, indices)


def _flat_index(indices: Array, plane_size: Sequence[int]) -> Array:
    """Switches (N, C, h, w), each a flat index in its H·W plane -> flat indices into the whole (N, C, H, W) array.

    One gather or scatter over the flat array then serves every plane at once.
    """
    xp = get_array_module(indices)
    n, c = indices.shape[:2]
    return xp.arange(n * c).reshape(n, c, 1, 1) * (plane_size[0] * plane_size[1]) + indices


def _gather(x: Array, flat: Array) -> Array:
    """out[n, c, i, j] = x.ravel()[flat[n, c, i, j]]."""
    return get_array_module(x).take(x.reshape(-1), flat)


def _scatter(values: Array, flat: Array, shape: tuple[int, ...], accumulate: bool) -> Array:
    """Zeros of ``shape`` with each value at its flat index; repeated indices add when accumulate."""
    xp = get_array_module(values)
    out = xp.zeros(shape, dtype=values.dtype)
    if accumulate:
        scatter_add(out.reshape(-1), flat.reshape(-1), values.reshape(-1))
    else:   # every position owns at most one switch (or, unpooling, the values written there are equal)
        out.reshape(-1)[flat.reshape(-1)] = values.reshape(-1)
    return out


class GatherSwitches(Function):
    """x: (N, C, H, W), indices: (N, C, h, w) -> x at the switches; backward sends each gradient to its switch."""

    def forward(self, x: Array, *, indices: Array, overlapping: bool) -> Array:
        self.flat, self.shape, self.overlapping = _flat_index(indices, x.shape[2:]), x.shape, overlapping
        return _gather(x, self.flat)

    def backward(self, grad: Array) -> Grads:
        # overlapping windows can share a switch: their gradients add up there
        return _scatter(grad, self.flat, self.shape, accumulate=self.overlapping)


class ScatterSwitches(Function):
    """x: (N, C, h, w), indices like x -> (N, C, *plane_size), each value at its switch, zeros elsewhere."""

    def forward(self, x: Array, *, indices: Array, plane_size: Sequence[int]) -> Array:
        self.flat = _flat_index(indices, plane_size)
        return _scatter(x, self.flat, x.shape[:2] + tuple(plane_size), accumulate=False)

    def backward(self, grad: Array) -> Grads:
        return _gather(grad, self.flat)


# ------------------------------------------------------------------ pooling

def _pool_geometry(fname: str, x: Tensor | Array, kernel_size: IntOrTuple, stride: IntOrTuple | None,
                   padding: IntOrTuple, dilation: IntOrTuple = 1) -> tuple[Array, Geometry]:
    a = _checks.tensor_arg(fname, "input", x, ndim=4, floating=True)
    if 0 in a.shape:
        raise ValueError(f"{fname}: input must have no empty dimension, got shape {tuple(a.shape)}")
    kernel = _checks.int_tuple(fname, "kernel_size", kernel_size, 2, minimum=1)
    geo = columns.Geometry(kernel, _checks.int_tuple(fname, "stride", kernel if stride is None else stride, 2,
                                                     minimum=1),
                           _checks.int_tuple(fname, "padding", padding, 2, minimum=0),
                           _checks.int_tuple(fname, "dilation", dilation, 2, minimum=1))
    _checks.pool_padding(fname, geo.padding, kernel)
    _checks.kernel_fits(fname, a.shape[2:], geo)
    return a, geo


@overload
def max_pool2d(input: Tensor | Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, *, return_indices: Literal[False] = False) -> Tensor:
    ...


@overload
def max_pool2d(input: Tensor | Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, *,
               return_indices: Literal[True]) -> tuple[Tensor, Tensor]:
    ...


@overload
def max_pool2d(input: Tensor | Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, *,
               return_indices: bool) -> Tensor | tuple[Tensor, Tensor]:
    ...


def max_pool2d(input: Tensor | Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, *,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling: input (N, C, H, W) -> (N, C, H_out, W_out); stride defaults to kernel_size.

    return_indices=True also returns the switches: an int64 tensor (no gradient) holding, for each
    output, the flat index of its maximum within the input's H·W plane (for F.max_unpool2d).
    Padding (at most half the kernel) is -inf; ties go to the first maximum in the window.
    """
    a, geo = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation)
    indices = _inside_where_all_neginf(a, geo, _switches(a, geo))
    spans = [d * (k - 1) + 1 for k, d in zip(geo.kernel_size, geo.dilation)]
    overlapping = any(s < span for s, span in zip(geo.stride, spans))
    out = GatherSwitches.apply(input, indices=indices, overlapping=overlapping)
    return (out, Tensor(indices)) if return_indices else out


def max_unpool2d(input: Tensor | Array, indices: Tensor | Array, kernel_size: IntOrTuple,
                 stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                 output_size: Sequence[int] | None = None) -> Tensor:
    """Max-unpooling: each value back at its switch, zeros elsewhere.

    input, indices: (N, C, H, W), as returned by ``max_pool2d(..., return_indices=True)``
    -> (N, C, H_out, W_out), by default H_out = (H − 1)·s − 2p + kH. output_size ((H_out, W_out),
    or a full shape whose last two entries are taken) settles the size that pooling rounded down.
    """
    fname = "max_unpool2d"
    a = _checks.tensor_arg(fname, "input", input, ndim=4, floating=True)
    idx = _checks.tensor_arg(fname, "indices", indices)
    _checks.same_device(fname, input=input, indices=indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fname}: indices must be an integer tensor, got dtype {idx.dtype}")
    if tuple(idx.shape) != tuple(a.shape):
        raise ValueError(f"{fname}: indices has shape {tuple(idx.shape)} but input has shape {tuple(a.shape)}; "
                         "they must be the same (the pooled values and their switches)")
    kernel = _checks.int_tuple(fname, "kernel_size", kernel_size, 2, minimum=1)
    stride = _checks.int_tuple(fname, "stride", kernel if stride is None else stride, 2, minimum=1)
    padding = _checks.int_tuple(fname, "padding", padding, 2, minimum=0)
    # pooling's windows run backwards: the transposed window geometry's output size
    default = columns.transposed_output_size(a.shape[2:], columns.Geometry(kernel, stride, padding, (1, 1)))
    size = default if output_size is None else _unpool_size(fname, output_size, default, stride)
    if min(size) < 1:
        raise ValueError(f"{fname}: the output size {size} is empty; padding {padding} is too large")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size[0] * size[1]):
        raise ValueError(f"{fname}: indices must lie in [0, {size[0] * size[1]}) for an output of size {size}, "
                         f"got values from {int(idx.min())} to {int(idx.max())}")
    return ScatterSwitches.apply(input, indices=idx, plane_size=size)


def _unpool_size(fname: str, output_size: Sequence[int], default: Sequence[int],
                 stride: Sequence[int]) -> tuple[int, ...]:
    if not isinstance(output_size, (tuple, list)) or len(output_size) < 2:
        raise TypeError(f"{fname}: output_size must be (H, W) or a shape ending in (H, W), got {output_size!r}")
    size = _checks.int_tuple(fname, "output_size", tuple(output_size)[-2:], 2, minimum=1)
    for n, d, s in zip(size, default, stride):
        if not d - s < n < d + s:
            raise ValueError(f"{fname}: output_size {size} is not reachable from this pooling: each size must "
                             f"lie strictly between default - stride and default + stride, default {default}, "
                             f"stride {stride}")
    return size


class AvgPool2d(Function):
    """x: (N, C, H, W) -> the mean of each window, (N, C, H_out, W_out); backward spreads g/count over it."""

    def forward(self, x: Array, *, geo: Geometry, count_include_pad: bool) -> Array:
        xp = get_array_module(x)
        n, c = x.shape[:2]
        self.geo, self.shape, self.out_size = geo, x.shape, columns.output_size(x.shape[-2:], geo)
        taps = geo.kernel_size[0] * geo.kernel_size[1]
        self.divisor = taps if count_include_pad else _window_counts(xp, x.shape[-2:], geo, self.out_size, x.dtype)
        cols = columns.im2col(x, geo).reshape(c, taps, n, *self.out_size)
        mean = cols.sum(axis=1) / self.divisor            # (C, N, H_out, W_out)
        return mean.transpose(1, 0, 2, 3)

    def backward(self, grad: Array) -> Grads:
        xp = get_array_module(grad)
        c, taps = self.shape[1], self.geo.kernel_size[0] * self.geo.kernel_size[1]
        share = grad.transpose(1, 0, 2, 3) / self.divisor          # (C, N, H_out, W_out)
        cols = xp.broadcast_to(share[:, None], (c, taps) + share.shape[1:]).reshape(c * taps, -1)
        return columns.col2im(cols, self.geo, self.shape)


def _window_counts(xp: ModuleType, size: Sequence[int], geo: Geometry, out_size: Sequence[int],
                   dtype: DTypeLike) -> Array:
    """(H_out, W_out): how many taps of each window fall on the input rather than on the padding."""
    counts = []
    for n, k, s, p, d, m in zip(size, geo.kernel_size, geo.stride, geo.padding, geo.dilation, out_size):
        pos = xp.arange(m).reshape(m, 1) * s - p + xp.arange(k) * d
        counts.append(((pos >= 0) & (pos < n)).sum(axis=1))
    return (counts[0].reshape(-1, 1) * counts[1]).astype(dtype)


def avg_pool2d(input: Tensor | Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, *, count_include_pad: bool = True) -> Tensor:
    """Average pooling: input (N, C, H, W) -> (N, C, H_out, W_out); stride defaults to kernel_size.

    count_include_pad=True (PyTorch's default) divides by kH·kW, padding zeros included;
    False divides by the number of input values in each window.
    """
    _, geo = _pool_geometry("avg_pool2d", input, kernel_size, stride, padding)
    if not isinstance(count_include_pad, bool):
        raise TypeError(f"avg_pool2d: count_include_pad must be True or False, got {count_include_pad!r}")
    return AvgPool2d.apply(input, geo=geo, count_include_pad=count_include_pad)
