"""Convolution as im2col plus one matrix multiply; transposed convolution as the same matrix, transposed.

With the column matrix of ops/im2col.py (``im2col(x)``: (C_in·kH·kW, N·H_out·W_out)) and the weight as a
matrix ``W = weight.reshape(C_out, C_in·kH·kW)``, three kernels on raw arrays do all the work, for a
convolution that takes the image side (N, C_in, H, W) to the output side (N, C_out, H_out, W_out):

    _conv_forward(x, w, geo) -> out                 image side -> output side:  W · im2col(x)
    _conv_input_grad(g, w, geo, x_shape) -> gx      output side -> image side:  col2im(Wᵀ · G)
    _conv_weight_grad(g, x, geo) -> gw              G · im2col(x)ᵀ, the weight's gradient

each returning one array, where G is g (N, C_out, H_out, W_out) laid out like the columns:
(C_out, N·H_out·W_out), its channel axis moved first.

Conv2d uses the first as its forward and the second as its backward. ConvTranspose2d swaps them: its
forward IS convolution's input gradient and its input gradient IS convolution's forward. One matrix,
used transposed.

Those are the reference kernels: the ones to read (in the conv course kit, the ones to write). When the
fast paths are on (``md.fast_paths``), ``_kernels`` hands the ops the kernels of ops/conv_fast.py instead,
which give the same results faster on big inputs. Whether they start on is ``ON_BY_DEFAULT`` in
ops/fastpaths.py: on in the library; a course kit sets it to False and ships without the fast paths' code, so
a kit runs these kernels only.
"""
from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from .. import _checks
from ..backend import Array, get_array_module
from ..tensor import Function, Grads, IntOrTuple, Tensor
from . import conv_fast, fastpaths
from . import im2col as columns
from .im2col import Geometry
from .shape import Reshape

__all__ = ["im2col", "col2im", "conv2d", "conv1d", "conv_transpose2d", "conv_transpose1d"]


# ------------------------------------------------------------------ the three kernels (reference form)

def _conv_forward(x: Array, w: Array, geo: Geometry) -> Array:
    """W · im2col(x): x (N, C_in, H, W), w (C_out, C_in, kH, kW) -> (N, C_out, H_out, W_out)."""
    c_out, n = w.shape[0], x.shape[0]
    out = w.reshape(c_out, -1) @ columns.im2col(x, geo)                 # (C_out, N·H_out·W_out)
    return out.reshape(c_out, n, *columns.output_size(x.shape[2:], geo)).transpose(1, 0, 2, 3)


def _conv_input_grad(g: Array, w: Array, geo: Geometry, x_shape: Sequence[int]) -> Array:
    """col2im(Wᵀ · G): g (N, C_out, H_out, W_out), w (C_out, C_in, kH, kW) -> (N, C_in, H, W) of x_shape.

    G is g laid out like the columns, (C_out, N·H_out·W_out): its channel axis moved first, then flattened.
    """
    c_out = w.shape[0]
    g_mat = g.swapaxes(0, 1).reshape(c_out, -1)                         # (C_out, N·H_out·W_out)
    return columns.col2im(w.reshape(c_out, -1).T @ g_mat, geo, x_shape)


def _conv_weight_grad(g: Array, x: Array, geo: Geometry) -> Array:
    """G · im2col(x)ᵀ: g (N, C_out, H_out, W_out), x (N, C_in, H, W) -> (C_out, C_in, kH, kW).

    G is g laid out like the columns, (C_out, N·H_out·W_out): its channel axis moved first, then flattened.
    """
    c_out = g.shape[1]
    g_mat = g.transpose(1, 0, 2, 3).reshape(c_out, -1)                  # (C_out, N·H_out·W_out)
    return (g_mat @ columns.im2col(x, geo).T).reshape((c_out, x.shape[1]) + tuple(geo.kernel_size))


REFERENCE = SimpleNamespace(forward=_conv_forward, input_grad=_conv_input_grad, weight_grad=_conv_weight_grad)


def _kernels(keep_columns: bool = False) -> Any:   # Kernels or REFERENCE: the same three functions
    """The one dispatch point: conv_fast's kernels when the fast paths are on, else the reference ones."""
    return conv_fast.Kernels(keep_columns) if fastpaths.enabled() else REFERENCE


# ------------------------------------------------------------------ the ops

def _add_bias(out: Array, bias: Array | None) -> Array:
    if bias is not None:
        out += bias[:, None, None]   # out is this op's own new array
    return out


def _bias_grad(grad: Array, fn: Function) -> Array | None:
    return grad.sum(axis=(0, 2, 3)) if fn.needs_input_grad[2] else None


class Conv2d(Function):
    """x: (N, C_in, H, W), weight: (C_out, C_in, kH, kW), bias: (C_out,) -> (N, C_out, H_out, W_out)."""

    def forward(self, x: Array, weight: Array, bias: Array | None = None, *, geo: Geometry) -> Array:
        self.x, self.weight, self.geo, self.has_bias = x, weight, geo, bias is not None
        self.kernels = _kernels(keep_columns=self.needs_input_grad[1])
        return _add_bias(self.kernels.forward(x, weight, geo), bias)

    def backward(self, grad: Array) -> Grads:
        gx = self.kernels.input_grad(grad, self.weight, self.geo, self.x.shape) if self.needs_input_grad[0] else None
        gw = self.kernels.weight_grad(grad, self.x, self.geo) if self.needs_input_grad[1] else None
        return (gx, gw, _bias_grad(grad, self)) if self.has_bias else (gx, gw)


class ConvTranspose2d(Function):
    """x: (N, C_in, H, W), weight: (C_in, C_out, kH, kW), bias: (C_out,) -> (N, C_out, H_out, W_out).

    The weight is a convolution from this op's output side (C_out) to its input side (C_in); this op runs
    that convolution backwards: forward and input gradient swap places, and in the weight gradient the
    roles of input and output gradient swap too.
    """

    def forward(self, x: Array, weight: Array, bias: Array | None = None, *, geo: Geometry,
                out_size: Sequence[int]) -> Array:
        self.x, self.geo = x, geo
        self.weight, self.has_bias = weight, bias is not None
        # output_padding ≥ stride (allowed when dilation > stride) leaves output rows that the convolution
        # reads into windows past x's last one: those windows hold zeros, and get no gradient back
        self.x_full = _zero_extended(x, columns.output_size(out_size, geo))
        out_shape = (x.shape[0], weight.shape[1]) + tuple(out_size)
        return _add_bias(_kernels().input_grad(self.x_full, weight, geo, out_shape), bias)

    def backward(self, grad: Array) -> Grads:
        need_x, need_w = self.needs_input_grad[:2]
        kernels, (h, w) = _kernels(keep_columns=need_w), self.x.shape[2:]
        gx = kernels.forward(grad, self.weight, self.geo)[:, :, :h, :w] if need_x else None
        gw = kernels.weight_grad(self.x_full, grad, self.geo) if need_w else None
        return (gx, gw) + ((_bias_grad(grad, self),) if self.has_bias else ())


def _zero_extended(x: Array, size: Sequence[int]) -> Array:
    """x: (N, C, H, W) with zeros after its last rows and columns up to (N, C, *size); x when it is that size."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    out = get_array_module(x).zeros(x.shape[:2] + tuple(size), dtype=x.dtype)
    out[:, :, :x.shape[2], :x.shape[3]] = x
    return out


class Im2col(Function):
    """x: (N, C, H, W) -> (C·kH·kW, N·H_out·W_out); its gradient is col2im."""

    def forward(self, x: Array, *, geo: Geometry) -> Array:
        self.shape, self.geo = x.shape, geo
        return columns.im2col(x, geo)

    def backward(self, grad: Array) -> Grads:
        return columns.col2im(grad, self.geo, self.shape)


class Col2im(Function):
    """(C·kH·kW, N·H_out·W_out) -> (N, C, H, W), overlapping patches summed; its gradient is im2col."""

    def forward(self, cols: Array, *, geo: Geometry, x_shape: tuple[int, ...]) -> Array:
        self.geo = geo
        return columns.col2im(cols, geo, x_shape)

    def backward(self, grad: Array) -> Grads:
        return columns.im2col(grad, self.geo)


# ------------------------------------------------------------------ public functions

def geometry(fname: str, kernel_size: IntOrTuple, stride: IntOrTuple, padding: IntOrTuple, dilation: IntOrTuple,
             nd: int = 2) -> Geometry:
    """The checked geometry as a 2-D Geometry; a 1-D one becomes a 2-D one of height 1."""
    geo = columns.Geometry(_checks.int_tuple(fname, "kernel_size", kernel_size, nd, minimum=1),
                           _checks.int_tuple(fname, "stride", stride, nd, minimum=1),
                           _checks.int_tuple(fname, "padding", padding, nd, minimum=0),
                           _checks.int_tuple(fname, "dilation", dilation, nd, minimum=1))
    if nd == 1:
        geo = columns.Geometry(*((one, v) for one, (v,) in zip((1, 1, 0, 1), geo)))
    return geo


def im2col(x: Tensor | Array, kernel_size: IntOrTuple, stride: IntOrTuple = 1, padding: IntOrTuple = 0,
           dilation: IntOrTuple = 1) -> Tensor:
    """The column matrix of x: (N, C, H, W) -> (C·kH·kW, N·H_out·W_out).

    Rows ordered (c, kh, kw) like ``weight.reshape(C_out, -1)``, columns (n, h_out, w_out), so
    ``conv2d(x, w)`` is ``w.reshape(C_out, -1) @ im2col(x)`` reshaped to (C_out, N, H_out, W_out).
    """
    a = _checks.tensor_arg("im2col", "input", x, ndim=4)
    if 0 in a.shape:
        raise ValueError(f"im2col: input must have no empty dimension, got shape {tuple(a.shape)}")
    geo = geometry("im2col", kernel_size, stride, padding, dilation)
    _checks.kernel_fits("im2col", a.shape[2:], geo)
    return Im2col.apply(x, geo=geo)


def col2im(cols: Tensor | Array, input_shape: Sequence[int], kernel_size: IntOrTuple, stride: IntOrTuple = 1,
           padding: IntOrTuple = 0, dilation: IntOrTuple = 1) -> Tensor:
    """The adjoint of im2col: columns (C·kH·kW, N·H_out·W_out) -> (N, C, H, W), overlaps summed."""
    a = _checks.tensor_arg("col2im", "cols", cols, ndim=2)
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"col2im: input_shape must be a tuple (N, C, H, W), got {input_shape!r}")
    shape = _checks.int_tuple("col2im", "input_shape", input_shape, 4, minimum=1)
    geo = geometry("col2im", kernel_size, stride, padding, dilation)
    _checks.kernel_fits("col2im", shape[2:], geo)
    ho, wo = columns.output_size(shape[2:], geo)
    expected = (shape[1] * geo.kernel_size[0] * geo.kernel_size[1], shape[0] * ho * wo)
    if tuple(a.shape) != expected:
        raise ValueError(f"col2im: cols must have shape {expected} = (C·kH·kW, N·H_out·W_out) for input_shape "
                         f"{shape} and this geometry, got {tuple(a.shape)}")
    return Col2im.apply(cols, geo=geo, x_shape=shape)


def _bias(bias: Tensor | Array | None) -> tuple[Tensor | Array, ...]:
    return () if bias is None else (bias,)


def _as_2d(t: Tensor | Array, shape: Sequence[int]) -> Tensor:
    """A 1-D op's (N, C, L) tensor as the (N, C, 1, L) image conv2d expects."""
    return Reshape.apply(t, shape=tuple(shape[:2]) + (1, shape[2]))


def conv2d(input: Tensor | Array, weight: Tensor | Array, bias: Tensor | Array | None = None, stride: IntOrTuple = 1,
           padding: IntOrTuple = 0, dilation: IntOrTuple = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch): im2col plus one matrix multiply.

    input: (N, C_in, H, W), weight: (C_out, C_in, kH, kW), bias: (C_out,) or None
    -> (N, C_out, H_out, W_out) with H_out = (H + 2p − d·(kH − 1) − 1) // s + 1.
    """
    a, w, _ = _checks.conv_operands("conv2d", input, weight, bias, nd=2)
    geo = geometry("conv2d", w.shape[2:], stride, padding, dilation)
    _checks.kernel_fits("conv2d", a.shape[2:], geo)
    return Conv2d.apply(input, weight, *_bias(bias), geo=geo)


def conv1d(input: Tensor | Array, weight: Tensor | Array, bias: Tensor | Array | None = None, stride: IntOrTuple = 1,
           padding: IntOrTuple = 0, dilation: IntOrTuple = 1) -> Tensor:
    """1-D convolution: input (N, C_in, L), weight (C_out, C_in, k) -> (N, C_out, L_out); conv2d at height 1."""
    a, w, _ = _checks.conv_operands("conv1d", input, weight, bias, nd=1)
    geo = geometry("conv1d", w.shape[2:], stride, padding, dilation, nd=1)
    _checks.kernel_fits("conv1d", (1, a.shape[2]), geo)
    out = Conv2d.apply(_as_2d(input, a.shape), _as_2d(weight, w.shape), *_bias(bias), geo=geo)
    return Reshape.apply(out, shape=(a.shape[0], w.shape[0], columns.output_size((1, a.shape[2]), geo)[1]))


def _transposed_out_size(fname: str, in_size: Sequence[int], geo: Geometry,
                         output_padding: Sequence[int]) -> tuple[int, ...]:
    out_size = columns.transposed_output_size(in_size, geo, output_padding)
    _checks.transposed_size(fname, in_size, out_size, geo, output_padding)
    return out_size


def conv_transpose2d(input: Tensor | Array, weight: Tensor | Array, bias: Tensor | Array | None = None,
                     stride: IntOrTuple = 1, padding: IntOrTuple = 0, output_padding: IntOrTuple = 0,
                     dilation: IntOrTuple = 1) -> Tensor:
    """Transposed convolution: conv2d's input gradient, run as a forward (col2im(Wᵀ · x)).

    input: (N, C_in, H, W), weight: (C_in, C_out, kH, kW) as PyTorch stores it, bias: (C_out,) or None
    -> (N, C_out, H_out, W_out) with H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1.
    output_padding (smaller than stride or dilation) picks among the sizes a stride-s conv maps to H.
    """
    a, w, _ = _checks.conv_operands("conv_transpose2d", input, weight, bias, nd=2, transposed=True)
    geo = geometry("conv_transpose2d", w.shape[2:], stride, padding, dilation)
    op = _checks.int_tuple("conv_transpose2d", "output_padding", output_padding, 2, minimum=0)
    out_size = _transposed_out_size("conv_transpose2d", a.shape[2:], geo, op)
    return ConvTranspose2d.apply(input, weight, *_bias(bias), geo=geo, out_size=out_size)


def conv_transpose1d(input: Tensor | Array, weight: Tensor | Array, bias: Tensor | Array | None = None,
                     stride: IntOrTuple = 1, padding: IntOrTuple = 0, output_padding: IntOrTuple = 0,
                     dilation: IntOrTuple = 1) -> Tensor:
    """1-D transposed convolution: input (N, C_in, L), weight (C_in, C_out, k) -> (N, C_out, L_out)."""
    a, w, _ = _checks.conv_operands("conv_transpose1d", input, weight, bias, nd=1, transposed=True)
    geo = geometry("conv_transpose1d", w.shape[2:], stride, padding, dilation, nd=1)
    op = (0,) + _checks.int_tuple("conv_transpose1d", "output_padding", output_padding, 1, minimum=0)
    out_size = _transposed_out_size("conv_transpose1d", (1, a.shape[2]), geo, op)
    out = ConvTranspose2d.apply(_as_2d(input, a.shape), _as_2d(weight, w.shape), *_bias(bias), geo=geo,
                                out_size=out_size)
    return Reshape.apply(out, shape=(a.shape[0], w.shape[1], out_size[1]))
