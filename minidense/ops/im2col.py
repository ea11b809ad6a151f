"""The column matrix, in its reference form: shared by convolution, transposed convolution and pooling.

For x (N, C, H, W) and a kernel of kH×kW taps (a fixed layout: everything that reads the columns relies on it):

    im2col(x, geo): (C·kH·kW, N·H_out·W_out), rows ordered (c, kh, kw) as weight.reshape(C_out, -1)
                    orders a weight's columns, columns ordered (n, h_out, w_out)

so a convolution is one matrix product, ``W @ im2col(x)``. im2col loops over the kH·kW kernel taps,
one strided slice each (never over pixels); col2im is the same loop with ``+=``, its exact adjoint:
where patches overlap, their entries add up.

Everything here works on raw arrays (NumPy or CuPy); F.im2col / F.col2im wrap them for tensors.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

from ..backend import Array, get_array_module

__all__ = ["Geometry", "output_size", "transposed_output_size", "pad", "im2col", "col2im"]

class Geometry(NamedTuple):
    """A 2-D convolution's (kH, kW), stride, padding and dilation, each a pair of ints."""
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]


def output_size(size: Sequence[int], geo: Geometry) -> tuple[int, ...]:
    """(H_out, W_out) of a convolution or pooling window over an input of size (H, W):

    H_out = (H + 2·p − d·(k − 1) − 1) // s + 1, per axis (the only copy of this formula in the package).
    """
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, s, p, d in zip(size, geo.kernel_size, geo.stride, geo.padding, geo.dilation))


def transposed_output_size(size: Sequence[int], geo: Geometry,
                           output_padding: Sequence[int] = (0, 0)) -> tuple[int, ...]:
    """The sizes that convolution maps onto ``size``, the smallest plus output_padding: the transposed
    convolution's (and unpooling's) output size, H_out = (H − 1)·s − 2·p + d·(k − 1) + 1 + output_padding.
    """
    return tuple((n - 1) * s - 2 * p + d * (k - 1) + 1 + extra
                 for n, k, s, p, d, extra in zip(size, geo.kernel_size, geo.stride, geo.padding, geo.dilation,
                                                 output_padding))


def pad(x: Array, padding: Sequence[int], value: float = 0) -> Array:
    """x: (N, C, H, W) -> (N, C, H + 2·pH, W + 2·pW), filled with value around x (x itself when no padding).

    The copy is laid out in (C, N, H, W) memory order, the order of the column matrix's rows and columns,
    so that the slices im2col takes are copied without a transpose.
    """
    ph, pw = padding
    if not (ph or pw):
        return x
    # pad the (C, N, H, W) view: the new array is laid out in that order, and its transpose is (N, C, H, W)
    widths = ((0, 0), (0, 0), (ph, ph), (pw, pw))
    padded = get_array_module(x).pad(x.transpose(1, 0, 2, 3), widths, constant_values=value)
    return padded.transpose(1, 0, 2, 3)


def im2col(x: Array, geo: Geometry, pad_value: float = 0) -> Array:
    """x: (N, C, H, W) -> columns (C·kH·kW, N·H_out·W_out), one strided slice per kernel tap.

    Entry [(c, i, j), (n, r, q)] is x[n, c, r·sH − pH + i·dH, q·sW − pW + j·dW] (pad_value outside x:
    0 for convolution, −inf for max pooling).
    """
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), _, (dh, dw) = geo
    ho, wo = output_size(x.shape[2:], geo)
    x = pad(x, geo.padding, pad_value).transpose(1, 0, 2, 3)   # (C, N, H + 2pH, W + 2pW)
    taps = kh * kw
    cols = xp.empty((c, taps, n, ho, wo), dtype=x.dtype)
    for t, (i, j) in enumerate(itertools.product(range(kh), range(kw))):
        # tap t = (i, j) of every window at once: rows i·dH, i·dH + sH, ...; columns j·dW, j·dW + sW, ...
        rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
        columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
        cols[:, t] = x[:, :, rows, columns]
    return cols.reshape(c * taps, n * ho * wo)


def col2im(cols: Array, geo: Geometry, x_shape: Sequence[int]) -> Array:
    """columns (C·kH·kW, N·H_out·W_out) -> (N, C, H, W) of x_shape: im2col's adjoint.

    Each entry goes back to the pixel im2col took it from; entries of overlapping windows add up, and
    those that fall on the padding are dropped.
    """
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    ho, wo = output_size((h, w), geo)
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            padded[:, :, top:top + sh * (ho - 1) + 1:sh, left:left + sw * (wo - 1) + 1:sw] += cols[:, i, j]
    return padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
