"""Convolution as im2col plus one matrix multiply; transposed convolution as the same matrix, transposed.

The column matrix (layout fixed in docs/design.md): for x (N, C, H, W),

    im2col(x): (C·kH·kW, N·H_out·W_out), rows ordered (c, kh, kw) as weight.reshape(C_out, -1)
               orders a weight's columns, columns ordered (n, h_out, w_out)

so a convolution is one matrix product, ``W @ im2col(x)`` with ``W = weight.reshape(C_out, -1)``.
im2col loops over the kH·kW kernel taps, one strided slice each (never over pixels);
col2im is the same loop with ``+=``: its exact adjoint, where overlapping patches add up.

Three helpers on raw arrays do all the work, for a convolution that takes the
image side (N, C_in, H, W) to the output side (N, C_out, H_out, W_out):

    _conv_forward(x, w, geo)          image side -> output side:  W · im2col(x)
    _conv_input_grad(g, w, geo, ...)  output side -> image side:  col2im(Wᵀ · g)
    _conv_weight_grad(g, x, geo)      g · im2col(x)ᵀ, the weight's gradient

Conv2d uses the first as its forward and the second as its backward.
ConvTranspose2d swaps them: its forward IS convolution's input gradient and its
input gradient IS convolution's forward. One matrix, used transposed.

Arrays built here keep the (C, N, H, W) memory order the matrix product gives
and are returned as NCHW views, so no transposing copy is made on the way.
"""
from collections import namedtuple

from .. import _checks
from ..backend import get_array_module
from ..tensor import Function
from .shape import Reshape

__all__ = ["im2col", "col2im", "conv2d", "conv1d", "conv_transpose2d", "conv_transpose1d", "conv2d_matrix"]

# The column matrix of a big batch is built a block at a time above this size: a group of whole
# images, or a band of one image's output rows when a single image's columns are larger. The forward
# keeps its columns for the weight gradient only when the whole batch is one block (otherwise backward
# builds them again, a block at a time). Measured on the U-Net of bench/ (2 cores, OpenBLAS): with
# whole-batch columns (up to 38 MB per layer, 130 MB kept per step) the step spent a third of its
# time in im2col/col2im, much of it in page faults, since every array over glibc's largest mmap
# threshold (32 MiB) comes fresh from the kernel on each call, and the columns kept were 2/3 of the
# peak memory. With 8 MiB blocks the buffers are reused from the heap and stay in the cache: building
# the columns twice costs less than it saves, and the peak memory drops by 2/3. One 64-channel image
# of 128×128 has 38 MB of columns on its own: hence the bands (that conv, fwd+bwd, N=4: 133 -> 100-110 ms).
COLUMN_BUFFER_BYTES = 8 * 2**20

Geometry = namedtuple("Geometry", "kernel_size stride padding dilation")
Geometry.__doc__ = "A 2-D convolution's (kH, kW), stride, padding and dilation, each a pair of ints."


def _out_size(size, geo):
    """Spatial output size of a convolution (already checked by the public wrapper)."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, s, p, d in zip(size, geo.kernel_size, geo.stride, geo.padding, geo.dilation))


def _pad(x, padding, value=0):
    """x: (N, C, H, W) -> (N, C, H + 2·pH, W + 2·pW) filled with value around x (x itself when no padding).

    The copy is made in (C, N, H, W) memory order, the order of the column matrix's rows and columns.
    """
    (ph, pw), (n, c, h, w) = padding, x.shape
    if not (ph or pw):
        return x
    xp = get_array_module(x)
    padded = xp.full((c, n, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)
    return padded.transpose(1, 0, 2, 3)


def _im2col(x, geo, out_size, pad_value=0):
    """x: (N, C, H, W) -> columns (C·kH·kW, N·H_out·W_out): one strided slice per kernel tap.

    pad_value fills the padding (0 for convolution, -inf for max pooling).
    """
    if _rows_end_to_end(geo, x.shape[3], out_size[1]):
        return _im2col_end_to_end(x, geo, out_size, pad_value)
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), _, (dh, dw) = geo
    ho, wo = out_size
    x = _pad(x, geo.padding, pad_value).transpose(1, 0, 2, 3)   # (C, N, H, W): the columns' order
    cols = xp.empty((c, kh, kw, n, ho, wo), dtype=x.dtype)
    for i in range(kh):
        top = i * dh
        for j in range(kw):
            left = j * dw
            # tap (i, j) sees input row top + s·h_out, column left + s·w_out, for every c and n at once
            cols[:, i, j] = x[:, :, top:top + sh * (ho - 1) + 1:sh, left:left + sw * (wo - 1) + 1:sw]
    return cols.reshape(c * kh * kw, n * ho * wo)


def _col2im(cols, geo, x_shape, out_size, overwrite_cols=False):
    """columns (C·kH·kW, N·H_out·W_out) -> (N, C, H, W): im2col's loop with +=, its exact adjoint.

    overwrite_cols: the columns are scratch that may be changed (saves a copy; see _col2im_end_to_end).
    """
    if _rows_end_to_end(geo, x_shape[3], out_size[1]):
        return _col2im_end_to_end(cols, geo, x_shape, out_size, overwrite_cols)
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    ho, wo = out_size
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        top = i * dh
        for j in range(kw):
            left = j * dw
            padded[:, :, top:top + sh * (ho - 1) + 1:sh, left:left + sw * (wo - 1) + 1:sw] += cols[:, i, j]
    return padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)


# ------------------------------------------------------------------ the same two loops, rows laid end to end
# At stride 1 with an output as wide as its input ('same' padding along W, as in a U-Net's 3×3 convs),
# lay each image's rows end to end: then tap (i, j) reads ONE contiguous run of that long row,
# shifted by i·dH rows and j·dW − pW columns, and im2col copies one run per image and channel instead of
# one short run per image row (64 values at 64×64: NumPy's per-row overhead made col2im's += half of
# its time). The shift wraps around the ends of rows: the values that a tap takes from the neighbouring
# row are exactly those that fall into the W padding, so they are set to the padding value.
# Same columns, same layout; on the U-Net's blocks im2col ran 1.4-2.4x and col2im 1.3-2.1x faster
# (the U-Net step of bench/: 60 -> 52 ms; conv3x3 N4 64->64 128x128 fwd+bwd: 100-110 -> 90 ms).

def _rows_end_to_end(geo, w, wo):
    """True when every tap of this geometry is a shift of the image's rows laid end to end."""
    return tuple(geo.stride) == (1, 1) and wo == w


def _wrapped_columns(j, geo, wo):
    """The output columns where tap column j reads the W padding (a slice): they wrap into the next row."""
    shift = j * geo.dilation[1] - geo.padding[1]      # tap j reads input column w_out + shift
    return slice(0, -shift) if shift < 0 else slice(max(0, wo - shift), wo) if shift > 0 else None


def _im2col_end_to_end(x, geo, out_size, pad_value):
    """_im2col for a geometry of _rows_end_to_end: the same columns, one contiguous copy per tap."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), _, (ph, pw), (dh, dw) = geo
    ho, wo = out_size
    # (C, N, pW + padded rows end to end + pW): the image starts after pW values and pH rows of padding
    start, stop = pw + ph * w, pw + (ph + h) * w
    flat = xp.empty((c, n, stop + ph * w + pw), dtype=x.dtype)
    flat[:, :, :start] = pad_value
    flat[:, :, stop:] = pad_value
    flat[:, :, start:stop].reshape(c, n, h, w)[...] = x.transpose(1, 0, 2, 3)
    cols = xp.empty((c, kh, kw, n, ho * wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = flat[:, :, i * dh * w + j * dw:i * dh * w + j * dw + ho * wo]
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    for j in range(kw):
        wrapped = _wrapped_columns(j, geo, wo)
        if wrapped is not None:
            cols[:, :, j, :, :, wrapped] = pad_value
    return cols.reshape(c * kh * kw, n * ho * wo)


def _col2im_end_to_end(cols, geo, x_shape, out_size, overwrite_cols):
    """_col2im for a geometry of _rows_end_to_end: the same sum, one contiguous += per tap."""
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), _, (ph, pw), (dh, dw) = geo
    ho, wo = out_size
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    flat = xp.zeros((c, n, pw + (h + 2 * ph) * w + pw), dtype=cols.dtype)
    for j in range(kw):
        taps = cols[:, :, j]
        wrapped = _wrapped_columns(j, geo, wo)
        if wrapped is not None:   # the padding's share set to zero, in a copy unless the columns are scratch
            taps = taps if overwrite_cols else taps.copy()
            taps[..., wrapped] = 0
        for i in range(kh):
            flat[:, :, i * dh * w + j * dw:i * dh * w + j * dw + ho * wo] += taps[:, i].reshape(c, n, ho * wo)
    return flat[:, :, pw + ph * w:pw + (ph + h) * w].reshape(c, n, h, w).transpose(1, 0, 2, 3)


def _blocks(n, rows, out_size, itemsize):
    """Pieces of the column matrix to build one at a time, each under COLUMN_BUFFER_BYTES (one when all fit).

    rows: the column matrix's row count (C·kH·kW). Each piece is (images, out_rows), two slices: groups
    of whole images, or bands of one image's output rows when one image's columns are larger.
    """
    ho, wo = out_size
    rows_per_block = max(1, COLUMN_BUFFER_BYTES // max(1, rows * wo * itemsize))
    if rows_per_block >= ho:
        step = rows_per_block // ho
        return [(slice(i, min(i + step, n)), slice(0, ho)) for i in range(0, n, step)]
    return [(slice(i, i + 1), slice(r, min(r + rows_per_block, ho)))
            for i in range(n) for r in range(0, ho, rows_per_block)]


def _band(geo, out_rows, wo):
    """A band of output rows: its input rows (a slice of the input padded along H only), its geometry
    (W padding only) and its output size."""
    (kh, _), (sh, _), (_, pw), (dh, _) = geo
    in_rows = slice(out_rows.start * sh, (out_rows.stop - 1) * sh + dh * (kh - 1) + 1)
    return in_rows, geo._replace(padding=(0, pw)), (out_rows.stop - out_rows.start, wo)


def _column_blocks(x, geo, out_size, blocks):
    """im2col(x) a block at a time: yields (images, out_rows, cols) for each of the blocks of _blocks.

    A banded image is padded along H once, just before its first band is built (while it is in the cache).
    """
    padded_images, ho = None, out_size[0]
    for images, out_rows in blocks:
        if out_rows == slice(0, ho):
            yield images, out_rows, _im2col(x[images], geo, out_size)
            continue
        if images != padded_images:
            padded_images, x_padded = images, _pad(x[images], (geo.padding[0], 0))
        in_rows, band_geo, band_size = _band(geo, out_rows, out_size[1])
        yield images, out_rows, _im2col(x_padded[:, :, in_rows], band_geo, band_size)


def _conv_forward(x, w, geo, out_size):
    """W · im2col(x): x (N, C_in, H, W), w (C_out, C_in, kH, kW) -> (N, C_out, H_out, W_out).

    Also returns the column matrix, for the weight gradient (None when it was built in blocks).
    """
    xp = get_array_module(x, w)
    c_out, n = w.shape[0], x.shape[0]
    w_mat = w.reshape(c_out, -1)
    blocks = _blocks(n, w_mat.shape[1], out_size, x.itemsize)
    if len(blocks) == 1:
        cols = _im2col(x, geo, out_size)
        return (w_mat @ cols).reshape(c_out, n, *out_size).transpose(1, 0, 2, 3), cols
    out = xp.empty((c_out, n) + tuple(out_size), dtype=x.dtype)
    for images, out_rows, cols in _column_blocks(x, geo, out_size, blocks):
        out[:, images, out_rows] = (w_mat @ cols).reshape(c_out, images.stop - images.start, -1, out_size[1])
        del cols   # before the next block's columns are built, so that they reuse this (cached) buffer
    return out.transpose(1, 0, 2, 3), None


def _conv_input_grad(g, w, geo, x_shape):
    """col2im(Wᵀ · g): g (N, C_out, H_out, W_out), w (C_out, C_in, kH, kW) -> x_shape (N, C_in, H, W)."""
    xp = get_array_module(g, w)
    c_out, n, out_size = w.shape[0], g.shape[0], g.shape[2:]
    w_mat = w.reshape(c_out, -1)
    g_by_channel = g.transpose(1, 0, 2, 3)   # (C_out, N, H_out, W_out): columns in (n, h_out, w_out) order
    blocks = _blocks(n, w_mat.shape[1], out_size, g.itemsize)
    if len(blocks) == 1:
        return _col2im(w_mat.T @ g_by_channel.reshape(c_out, -1), geo, x_shape, out_size, overwrite_cols=True)
    (ph, _), (c_in, h, w_in), ho = geo.padding, x_shape[1:], out_size[0]
    if blocks[0][1] == slice(0, ho):   # groups of whole images
        out = xp.empty((c_in, n, h, w_in), dtype=g.dtype).transpose(1, 0, 2, 3)   # (C_in, N) memory order
        for images, _ in blocks:
            cols = w_mat.T @ g_by_channel[:, images].reshape(c_out, -1)
            out[images] = _col2im(cols, geo, (images.stop - images.start, c_in, h, w_in), out_size,
                                  overwrite_cols=True)
        return out
    # bands of one image's output rows: neighbouring bands share input rows, so they add up in the
    # input's gradient padded along H
    out = xp.zeros((c_in, n, h + 2 * ph, w_in), dtype=g.dtype).transpose(1, 0, 2, 3)
    for images, out_rows in blocks:
        cols = w_mat.T @ g_by_channel[:, images, out_rows].reshape(c_out, -1)
        in_rows, band_geo, band_size = _band(geo, out_rows, out_size[1])
        out[images, :, in_rows] += _col2im(cols, band_geo, (1, c_in, in_rows.stop - in_rows.start, w_in),
                                           band_size, overwrite_cols=True)
    return out[:, :, ph:ph + h]


def _conv_weight_grad(g, x, geo, cols=None):
    """g · im2col(x)ᵀ: g (N, C_out, H_out, W_out), x (N, C_in, H, W) -> (C_out, C_in, kH, kW).

    cols: im2col(x) when the forward kept it; otherwise rebuilt a block at a time.
    """
    c_out, out_size = g.shape[1], g.shape[2:]
    w_shape = (c_out, x.shape[1]) + tuple(geo.kernel_size)
    g_by_channel = g.transpose(1, 0, 2, 3)
    # computed as (cols · gᵀ)ᵀ: the same product, but BLAS runs it several times faster with the
    # long N·H_out·W_out axis as the inner dimension of two row-major operands
    if cols is not None:
        return (cols @ g_by_channel.reshape(c_out, -1).T).T.reshape(w_shape)
    grad = 0
    blocks = _blocks(x.shape[0], x.shape[1] * geo.kernel_size[0] * geo.kernel_size[1], out_size, x.itemsize)
    for images, out_rows, cols in _column_blocks(x, geo, out_size, blocks):
        grad = grad + cols @ g_by_channel[:, images, out_rows].reshape(c_out, -1).T
        del cols   # as in _conv_forward
    return grad.T.reshape(w_shape)


class Conv2d(Function):
    """x: (N, C_in, H, W), weight: (C_out, C_in, kH, kW), bias: (C_out,) -> (N, C_out, H_out, W_out)."""

    def forward(self, x, weight, bias=None, geo=None):
        self.x, self.weight, self.geo, self.has_bias = x, weight, geo, bias is not None
        out, cols = _conv_forward(x, weight, geo, _out_size(x.shape[2:], geo))
        self.cols = cols if self.needs_input_grad[1] else None   # reused by the weight gradient
        if bias is not None:
            out += bias[:, None, None]
        return out

    def backward(self, grad):
        gx = _conv_input_grad(grad, self.weight, self.geo, self.x.shape) if self.needs_input_grad[0] else None
        gw = _conv_weight_grad(grad, self.x, self.geo, self.cols) if self.needs_input_grad[1] else None
        if not self.has_bias:
            return gx, gw
        return gx, gw, grad.sum(axis=(0, 2, 3)) if self.needs_input_grad[2] else None


class ConvTranspose2d(Function):
    """x: (N, C_in, H, W), weight: (C_in, C_out, kH, kW), bias: (C_out,) -> (N, C_out, H_out, W_out).

    The weight is a convolution from this op's output side (C_out) to its input side (C_in);
    this op runs that convolution backwards.
    """

    def forward(self, x, weight, bias=None, geo=None, out_size=None):
        self.x, self.weight, self.geo, self.has_bias = x, weight, geo, bias is not None
        out = _conv_input_grad(x, weight, geo, (x.shape[0], weight.shape[1]) + tuple(out_size))
        if bias is not None:
            out += bias[:, None, None]
        return out

    def backward(self, grad):
        # convolution's forward; its columns im2col(grad) serve the weight gradient as well
        gx, cols = None, None
        if self.needs_input_grad[0]:
            gx, cols = _conv_forward(grad, self.weight, self.geo, self.x.shape[2:])
        gw = _conv_weight_grad(self.x, grad, self.geo, cols) if self.needs_input_grad[1] else None
        if not self.has_bias:
            return gx, gw
        return gx, gw, grad.sum(axis=(0, 2, 3)) if self.needs_input_grad[2] else None


class Im2col(Function):
    """x: (N, C, H, W) -> (C·kH·kW, N·H_out·W_out); its gradient is col2im."""

    def forward(self, x, geo=None):
        self.shape, self.geo = x.shape, geo
        self.out_size = _out_size(x.shape[2:], geo)
        return _im2col(x, geo, self.out_size)

    def backward(self, grad):
        return _col2im(grad, self.geo, self.shape, self.out_size)


class Col2im(Function):
    """(C·kH·kW, N·H_out·W_out) -> (N, C, H, W), overlapping patches summed; its gradient is im2col."""

    def forward(self, cols, geo=None, x_shape=None):
        self.geo, self.out_size = geo, _out_size(x_shape[2:], geo)
        return _col2im(cols, geo, x_shape, self.out_size)

    def backward(self, grad):
        return _im2col(grad, self.geo, self.out_size)


class ConvMatrix(Function):
    """weight (C_out, C_in, kH, kW) -> the dense matrix (C_out·H_out·W_out, C_in·H·W) of the convolution.

    Entry [(o, h_out, w_out), (c, h, w)] is weight[o, c, i, j] where h = s·h_out − p + d·i and
    w = s·w_out − p + d·j, zero elsewhere; with padded_input the columns index the padded image.
    """

    def forward(self, weight, geo=None, input_size=None, padded_input=False):
        xp = get_array_module(weight)
        c_out, c_in, kh, kw = weight.shape
        (sh, sw), (ph, pw), (dh, dw) = geo.stride, geo.padding, geo.dilation
        (h, w), (ho, wo) = input_size, _out_size(input_size, geo)
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

    def backward(self, grad):
        xp = get_array_module(grad)
        grad = grad.reshape(self.grad_shape)
        if self.padding is not None:
            (ph, pw) = self.padding
            grad = xp.pad(grad, ((0, 0),) * 4 + ((ph, ph), (pw, pw)))
        # each weight entry appears once per output position: its gradient sums over (h_out, w_out)
        return grad[self.index].sum(axis=(1, 2))


# ------------------------------------------------------------------ public functions

def _geometry(fname, kernel_size, stride, padding, dilation, nd=2):
    """The checked geometry as a 2-D Geometry; a 1-D one becomes a 2-D one of height 1."""
    geo = Geometry(_checks.int_tuple(fname, "kernel_size", kernel_size, nd, minimum=1),
                   _checks.int_tuple(fname, "stride", stride, nd, minimum=1),
                   _checks.int_tuple(fname, "padding", padding, nd, minimum=0),
                   _checks.int_tuple(fname, "dilation", dilation, nd, minimum=1))
    if nd == 1:
        geo = Geometry(*((one, v) for one, (v,) in zip((1, 1, 0, 1), geo)))
    return geo


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """The column matrix of x: (N, C, H, W) -> (C·kH·kW, N·H_out·W_out).

    Rows ordered (c, kh, kw) like ``weight.reshape(C_out, -1)``, columns (n, h_out, w_out), so
    ``conv2d(x, w)`` is ``w.reshape(C_out, -1) @ im2col(x)`` reshaped to (C_out, N, H_out, W_out).
    """
    a = _checks.tensor_arg("im2col", "input", x, ndim=4)
    if 0 in a.shape:
        raise ValueError(f"im2col: input must have no empty dimension, got shape {tuple(a.shape)}")
    geo = _geometry("im2col", kernel_size, stride, padding, dilation)
    _checks.conv_output_size("im2col", a.shape[2:], *geo)
    return Im2col.apply(x, geo=geo)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """The adjoint of im2col: columns (C·kH·kW, N·H_out·W_out) -> (N, C, H, W), overlaps summed."""
    a = _checks.tensor_arg("col2im", "cols", cols, ndim=2)
    if not isinstance(input_shape, (tuple, list)):
        raise TypeError(f"col2im: input_shape must be a tuple (N, C, H, W), got {input_shape!r}")
    shape = _checks.int_tuple("col2im", "input_shape", input_shape, 4, minimum=1)
    geo = _geometry("col2im", kernel_size, stride, padding, dilation)
    ho, wo = _checks.conv_output_size("col2im", shape[2:], *geo)
    expected = (shape[1] * geo.kernel_size[0] * geo.kernel_size[1], shape[0] * ho * wo)
    if tuple(a.shape) != expected:
        raise ValueError(f"col2im: cols must have shape {expected} = (C·kH·kW, N·H_out·W_out) for input_shape "
                         f"{shape} and this geometry, got {tuple(a.shape)}")
    return Col2im.apply(cols, geo=geo, x_shape=shape)


def _bias(bias):
    return () if bias is None else (bias,)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation, as in PyTorch): im2col plus one matrix multiply.

    input: (N, C_in, H, W), weight: (C_out, C_in, kH, kW), bias: (C_out,) or None
    -> (N, C_out, H_out, W_out) with H_out = (H + 2p − d·(kH − 1) − 1) // s + 1.
    """
    a, w, _ = _checks.conv_operands("conv2d", input, weight, bias, nd=2)
    geo = _geometry("conv2d", w.shape[2:], stride, padding, dilation)
    _checks.conv_output_size("conv2d", a.shape[2:], *geo)
    return Conv2d.apply(input, weight, *_bias(bias), geo=geo)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """1-D convolution: input (N, C_in, L), weight (C_out, C_in, k) -> (N, C_out, L_out); conv2d at height 1."""
    a, w, _ = _checks.conv_operands("conv1d", input, weight, bias, nd=1)
    geo = _geometry("conv1d", w.shape[2:], stride, padding, dilation, nd=1)
    l_out = _checks.conv_output_size("conv1d", (1, a.shape[2]), *geo)[1]
    x2 = Reshape.apply(input, shape=a.shape[:2] + (1, a.shape[2]))
    w2 = Reshape.apply(weight, shape=w.shape[:2] + (1, w.shape[2]))
    out = Conv2d.apply(x2, w2, *_bias(bias), geo=geo)
    return Reshape.apply(out, shape=(a.shape[0], w.shape[0], l_out))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1):
    """Transposed convolution: conv2d's input gradient, run as a forward (col2im(Wᵀ · x)).

    input: (N, C_in, H, W), weight: (C_in, C_out, kH, kW) as PyTorch stores it, bias: (C_out,) or None
    -> (N, C_out, H_out, W_out) with H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1.
    output_padding (smaller than stride or dilation) picks among the sizes a stride-s conv maps to H.
    """
    a, w, _ = _checks.conv_operands("conv_transpose2d", input, weight, bias, nd=2, transposed=True)
    geo = _geometry("conv_transpose2d", w.shape[2:], stride, padding, dilation)
    op = _checks.int_tuple("conv_transpose2d", "output_padding", output_padding, 2, minimum=0)
    out_size = _checks.conv_transpose_output_size("conv_transpose2d", a.shape[2:], geo.kernel_size, geo.stride,
                                                  geo.padding, op, geo.dilation)
    return ConvTranspose2d.apply(input, weight, *_bias(bias), geo=geo, out_size=out_size)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1):
    """1-D transposed convolution: input (N, C_in, L), weight (C_in, C_out, k) -> (N, C_out, L_out)."""
    a, w, _ = _checks.conv_operands("conv_transpose1d", input, weight, bias, nd=1, transposed=True)
    geo = _geometry("conv_transpose1d", w.shape[2:], stride, padding, dilation, nd=1)
    op = (0,) + _checks.int_tuple("conv_transpose1d", "output_padding", output_padding, 1, minimum=0)
    out_size = _checks.conv_transpose_output_size("conv_transpose1d", (1, a.shape[2]), geo.kernel_size,
                                                  geo.stride, geo.padding, op, geo.dilation)
    x2 = Reshape.apply(input, shape=a.shape[:2] + (1, a.shape[2]))
    w2 = Reshape.apply(weight, shape=w.shape[:2] + (1, w.shape[2]))
    out = ConvTranspose2d.apply(x2, w2, *_bias(bias), geo=geo, out_size=out_size)
    return Reshape.apply(out, shape=(a.shape[0], w.shape[1], out_size[1]))


def conv2d_matrix(weight, input_size, stride=1, padding=0, dilation=1, padded_input=False):
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
    geo = _geometry("conv2d_matrix", w.shape[2:], stride, padding, dilation)
    _checks.conv_output_size("conv2d_matrix", size, *geo)
    if not isinstance(padded_input, bool):
        raise TypeError(f"conv2d_matrix: padded_input must be True or False, got {padded_input!r}")
    return ConvMatrix.apply(weight, geo=geo, input_size=size, padded_input=padded_input)
