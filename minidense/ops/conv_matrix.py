"""Convolution as one explicit matrix, for teaching sizes: the lecture's picture of a convolution.

conv2d(x, w) for one image is ``C @ x.ravel()``, and conv_transpose2d is ``C.T @ y.ravel()``: the
transposed convolution's name comes from this matrix.
"""
from __future__ import annotations

from collections.abc import Sequence

from .. import _checks
from ..backend import Array, get_array_module
from ..tensor import Function, Grads, IntOrTuple, Tensor
from .conv import geometry
from .im2col import Geometry, output_size

__all__ = ["conv2d_matrix"]


class ConvMatrix(Function):
    """weight (C_out, C_in, kH, kW) -> the dense matrix (C_out·H_out·W_out, C_in·H·W) of the convolution.

    Entry [(o, h_out, w_out), (c, h, w)] is weight[o, c, i, j] where h = s·h_out − p + d·i and
    w = s·w_out − p + d·j, zero elsewhere; with padded_input the columns index the padded image.
    """

    def forward(self, weight: Array, *, geo: Geometry, input_size: tuple[int, ...], padded_input: bool) -> Array:
        xp = get_array_module(weight)
        c_out, c_in, kh, kw = weight.shape
        (sh, sw), (ph, pw), (dh, dw) = geo.stride, geo.padding, geo.dilation
        (h, w), (ho, wo) = input_size, output_size(input_size, geo)
        o, r, q, c, i, j = xp.ix_(*(xp.arange(n) for n in (c_out, ho, wo, c_in, kh, kw)))
        # every (output position, tap) pair names one entry; no two pairs of one row share a column
        self.index = (o, r, q, c, r * sh + i * dh, q * sw + j * dw)
        self.padding = None if padded_input else (ph, pw)
        self.grad_shape = (c_out, ho, wo, c_in) + ((h + 2 * ph, w + 2 * pw) if padded_input else (h, w))
        matrix = xp.zeros((c_out, ho, wo, c_in, h + 2 * ph, w + 2 * pw), dtype=weight.dtype)
        matrix[self.index] = weight[:, None, None]
        if not padded_input:   # columns of the padding multiply zeros: drop them
            matrix = matrix[..., ph:ph + h, pw:pw + w]
        return matrix.reshape(c_out * ho * wo, -1)

    def backward(self, grad: Array) -> Grads:
        xp = get_array_module(grad)
        grad = grad.reshape(self.grad_shape)
        if self.padding is not None:
            (ph, pw) = self.padding
            grad = xp.pad(grad, ((0, 0),) * 4 + ((ph, ph), (pw, pw)))
        # each weight entry appears once per output position: its gradient sums over (h_out, w_out)
        return grad[self.index].sum(axis=(1, 2))


def conv2d_matrix(weight: Tensor | Array, input_size: int | Sequence[int], stride: IntOrTuple = 1,
                  padding: IntOrTuple = 0, dilation: IntOrTuple = 1, padded_input: bool = False) -> Tensor:
    """The explicit dense matrix C of a convolution, for one image (teaching sizes only).

    weight: (C_out, C_in, kH, kW), input_size: (H, W) -> C: (C_out·H_out·W_out, C_in·H·W) with
    ``conv2d(x, weight)[0].ravel() == C @ x[0].ravel()`` and
    ``conv_transpose2d(y, weight)[0].ravel() == C.T @ y[0].ravel()`` (when the sizes agree).
    padded_input=True: C's columns index the zero-padded image (C_in·(H + 2p)·(W + 2p)), as the lecture draws it.
    """
    w = _checks.tensor_arg("conv2d_matrix", "weight", weight, ndim=4, floating=True)
    if 0 in w.shape:
        raise ValueError(f"conv2d_matrix: weight must have no empty dimension, got shape {tuple(w.shape)}")
    size = _checks.int_tuple("conv2d_matrix", "input_size", input_size, 2, minimum=1)
    geo = geometry("conv2d_matrix", w.shape[2:], stride, padding, dilation)
    _checks.kernel_fits("conv2d_matrix", size, geo)
    if not isinstance(padded_input, bool):
        raise TypeError(f"conv2d_matrix: padded_input must be True or False, got {padded_input!r}")
    return ConvMatrix.apply(weight, geo=geo, input_size=size, padded_input=padded_input)
