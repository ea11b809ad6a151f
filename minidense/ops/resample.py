"""Upsampling: interpolation and the lecture's "bed of nails", the decoder's other ways up.

interpolate is separable: out = A_h · x · A_wᵀ per image and channel, with A the 1-D interpolation
matrix along each axis (PyTorch's definitions), and its backward is the transpose, A_hᵀ · g · A_w.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from types import ModuleType

from .. import _checks
from ..backend import Array, DTypeLike, get_array_module
from ..tensor import Function, Grads, IntOrTuple, Tensor

__all__ = ["interpolate", "upsample_nearest", "upsample_bilinear", "bed_of_nails"]


def _interp_matrix(xp: ModuleType, n_in: int, n_out: int, mode: str, align_corners: bool | None,
                   scale_factor: float | None, dtype: DTypeLike) -> Array:
    """(n_out, n_in): row o holds the weights that output o takes from the inputs (PyTorch's definitions).

    scale_factor: the user's factor when one was given (PyTorch then maps with 1/scale_factor), else None.
    """
    rows = xp.arange(n_out)
    matrix = xp.zeros((n_out, n_in), dtype=dtype)
    if mode == "nearest":
        # src = floor(dst · scale), computed in float32 as PyTorch does
        scale = xp.float32(1.0 / scale_factor if scale_factor else n_in / n_out)
        src = xp.floor(rows.astype(xp.float32) * scale).astype(xp.int64)
        matrix[rows, xp.minimum(src, n_in - 1)] = 1
        return matrix
    if align_corners:   # the corner pixels' centres line up: src = dst · (in − 1) / (out − 1)
        src = rows * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:               # pixel centres line up: src = (dst + ½) · scale − ½, clamped at 0
        scale = 1.0 / scale_factor if scale_factor else n_in / n_out
        src = xp.maximum((rows + 0.5) * scale - 0.5, 0.0)
    src = src.astype(dtype)
    left = xp.minimum(xp.floor(src).astype(xp.int64), n_in - 1)
    right = xp.minimum(left + 1, n_in - 1)
    weight = src - left
    matrix[rows, left] = 1 - weight
    matrix[rows, right] += weight   # at the last input left == right: the weights still sum to 1
    return matrix


class Interpolate(Function):
    """x: (N, C, H, W) -> A_h · x · A_wᵀ: (N, C, H_out, W_out); backward is the transpose, A_hᵀ · g · A_w."""

    def forward(self, x: Array, *, size: tuple[int, ...], mode: str, align_corners: bool | None,
                scale_factor: tuple[float | None, ...]) -> Array:
        xp = get_array_module(x)
        self.a_h, self.a_w = (_interp_matrix(xp, n, m, mode, align_corners, f, x.dtype)
                              for n, m, f in zip(x.shape[2:], size, scale_factor))
        return self.a_h @ x @ self.a_w.T

    def backward(self, grad: Array) -> Grads:
        return self.a_h.T @ grad @ self.a_w


def _scale_pair(fname: str, scale_factor: float | Sequence[float] | None) -> tuple[float, ...]:
    vals = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
    if len(vals) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in vals):
        raise TypeError(f"{fname}: scale_factor must be a number or a pair of numbers, got {scale_factor!r}")
    if not all(v > 0 for v in vals):
        raise ValueError(f"{fname}: scale_factor must be positive, got {scale_factor!r}")
    return tuple(float(v) for v in vals)


def interpolate(input: Tensor | Array, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None) -> Tensor:
    """Resize input (N, C, H, W) to ``size`` (H_out, W_out), or by ``scale_factor``, as PyTorch does.

    mode "nearest": src = floor(dst · scale); "bilinear": align_corners=False (the default) lines up
    pixel centres, True lines up the corner pixels. scale is in/out, or 1/scale_factor when a
    scale_factor is given (unless recompute_scale_factor=True); the output size is floor(in · scale_factor).
    """
    fname = "interpolate"
    a = _checks.tensor_arg(fname, "input", input, ndim=4, floating=True)
    if 0 in a.shape:
        raise ValueError(f"{fname}: input must have no empty dimension, got shape {tuple(a.shape)}")
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{fname}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if align_corners is not None and mode == "nearest":
        raise ValueError(f"{fname}: align_corners can only be set with mode='bilinear', got mode={mode!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{fname}: give exactly one of size and scale_factor, got size={size!r} and "
                         f"scale_factor={scale_factor!r}")
    factors: tuple[float | None, ...] = (None, None)
    if size is not None:
        size = _checks.int_tuple(fname, "size", size, 2, minimum=1)
    else:
        factors = _scale_pair(fname, scale_factor)
        size = tuple(int(n * f // 1) for n, f in zip(a.shape[2:], factors))
        if min(size) < 1:
            raise ValueError(f"{fname}: scale_factor {scale_factor!r} makes an empty output {size} "
                             f"from input size {tuple(a.shape[2:])}")
        if recompute_scale_factor:
            factors = (None, None)
    return Interpolate.apply(input, size=size, mode=mode, align_corners=bool(align_corners), scale_factor=factors)


def upsample_nearest(input: Tensor | Array, size: int | Sequence[int] | None = None,
                     scale_factor: float | Sequence[float] | None = None) -> Tensor:
    """PyTorch's upsample_nearest: interpolate with mode='nearest'."""
    return interpolate(input, size=size, scale_factor=scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor | Array, size: int | Sequence[int] | None = None,
                      scale_factor: float | Sequence[float] | None = None) -> Tensor:
    """PyTorch's upsample_bilinear: interpolate with mode='bilinear' and align_corners=True."""
    return interpolate(input, size=size, scale_factor=scale_factor, mode="bilinear", align_corners=True)


class BedOfNails(Function):
    """x: (N, C, H, W) -> (N, C, H·sH, W·sW): each value in the top-left corner of its block, zeros elsewhere."""

    def forward(self, x: Array, *, scale: tuple[int, ...]) -> Array:
        xp = get_array_module(x)
        (n, c, h, w), (sh, sw) = x.shape, scale
        self.scale = scale
        out = xp.zeros((n, c, h * sh, w * sw), dtype=x.dtype)
        out[:, :, ::sh, ::sw] = x
        return out

    def backward(self, grad: Array) -> Grads:
        sh, sw = self.scale
        return grad[:, :, ::sh, ::sw]


def bed_of_nails(input: Tensor | Array, scale_factor: IntOrTuple = 2) -> Tensor:
    """The lecture's "bed of nails" unpooling: input (N, C, H, W) -> (N, C, H·s, W·s), zeros but the corners."""
    _checks.tensor_arg("bed_of_nails", "input", input, ndim=4, floating=True)
    scale = _checks.int_tuple("bed_of_nails", "scale_factor", scale_factor, 2, minimum=1)
    return BedOfNails.apply(input, scale=scale)
