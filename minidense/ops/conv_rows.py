"""Row columns: a stride-1 convolution from the columns of ONE kernel row, read kH times at shifted places.

im2col's column matrix has a row for each (channel, kernel row i, kernel column j) and a column for each
output pixel. At stride 1 with an output as wide as its input (conv_fast's rows laid end to end), the
rows of kernel row i are those of kernel row 0 moved down by i·dH image rows: in the image's rows laid
end to end, the same run shifted by i·dH·W. So this module builds the columns of kernel row 0 only, over
every row of the image padded along H (R = H + 2·pH rows, not H_out), and reads them kH times:

    out = Σ_i  W[:, :, i, :] (C_out × C_in·kW)  ·  cols[:, i·dH·W : i·dH·W + L]  (C_in·kW × L)

a third of im2col's copies for a 3×3 kernel (kW taps instead of kH·kW); the products read the same
values as im2col's would (``product`` makes the kH products one). The shifted views run across image
boundaries: output rows R − dH·(kH − 1) to R − 1 of each image mix its last rows with the next image's
first, so they are computed and dropped (the additions leave them out: 2/66 of the work for a 64-row
image, 2/18 for 16 rows). Where a product meets those rows from the other side (the weight
gradient, ``weight_grad``), the other operand holds zeros there (``padded_rows``).

Measured on this project's AMD EPYC (bench/README.md): on the U-Net's layers the columns cost a third
of im2col's, and the product no more than im2col's.
"""
from __future__ import annotations

from ..backend import Array, get_array_module, invalid_ignored
from .im2col import Geometry

__all__ = ["applies", "columns", "product", "padded_rows", "weight_grad"]


def applies(geo: Geometry, w: int, wo: int) -> bool:
    """Stride 1 with an output as wide as the input (every tap a shift of the rows laid end to end), kH > 1."""
    return tuple(geo.stride) == (1, 1) and wo == w and geo.kernel_size[0] > 1


def padded_height(h: int, geo: Geometry) -> int:
    """R: the rows of the image padded along H, the rows the columns cover."""
    return h + 2 * geo.padding[0]


def columns(x: Array, geo: Geometry) -> Array:
    """x (N, C, H, W) -> (C·kW, N·R·W): row (c, j), column (n, r, q) holds x padded along H at row r and
    column q + j·dW − pW (zero outside 0..W − 1). Kernel row i's columns are these shifted by i·dH·W."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    kw, (ph, pw), dw = geo.kernel_size[1], geo.padding, geo.dilation[1]
    r = padded_height(h, geo)
    cols = xp.empty((c, kw, n, r, w), dtype=x.dtype)
    cols[:, :, :, :ph] = 0
    cols[:, :, :, ph + h:] = 0
    # each (channel, tap, image): x's rows end to end, shifted by j·dW − pW, copied straight from x (no
    # padded copy of x first: 10-30 % faster on the U-Net's blocks); what a shift leaves unwritten, or
    # brings in from the neighbouring row, is in the columns that wrap, zeroed below
    image = cols.reshape(c, kw, n, r * w)[:, :, :, ph * w:(ph + h) * w]
    rows = x.reshape(n, c, h * w).transpose(1, 0, 2)                   # (C, N, H·W)
    for j in range(kw):
        shift = j * dw - pw   # tap j reads input column q + shift: the columns it wraps into are W's padding
        kept = max(0, h * w - abs(shift))
        if shift >= 0:
            image[:, j, :, :kept] = rows[:, :, shift:shift + kept]
            cols[:, j, :, :, max(0, w - shift):] = 0
        else:
            image[:, j, :, h * w - kept:] = rows[:, :, :kept]
            cols[:, j, :, :, :-shift] = 0
    return cols.reshape(c * kw, n * r * w)


def product(w: Array, cols: Array, geo: Geometry, n: int, width: int, out: Array | None = None) -> Array:
    """Σ_i W_i · (cols shifted by kernel row i): w (C_out, C, kH, kW), cols of ``columns`` for n images
    -> out (N, C_out, H_out, W), a new array unless given.

    One product of all kernel rows' weights stacked, (kH·C_out × C·kW) · cols, then its kH blocks of rows
    added at their shifts: a taller product runs faster than kH short ones (C_out = 16: 1.15-1.25x, the
    additions included) and reads the columns once. The additions write ``out`` in (N, C_out) order and
    leave the dropped rows behind, so the result is a plain array, not a view of the product's.
    """
    xp = get_array_module(w, cols)
    (c_out, _, kh, _), pixels = w.shape, cols.shape[1]
    r, shift = pixels // (n * width), geo.dilation[0] * width
    ho = r - (kh - 1) * geo.dilation[0]
    # (kH·C_out, pixels + room): block i read from i·shift on, as (C_out, N, R, W); the room after the
    # pixels lets that view be made for the last image, whose rows that reach into it are all dropped
    by_row = xp.empty((kh * c_out, pixels + (kh - 1) * shift), dtype=cols.dtype)
    xp.matmul(w.transpose(2, 0, 1, 3).reshape(kh * c_out, -1), cols, out=by_row[:, :pixels])

    def kernel_row(i: int) -> Array:
        return by_row[i * c_out:(i + 1) * c_out, i * shift:i * shift + pixels].reshape(c_out, n, r, width)[:, :, :ho]

    if out is None:
        out = xp.empty((n, c_out, ho, width), dtype=cols.dtype)
    by_channel = out.transpose(1, 0, 2, 3)   # kH > 1 (``applies``)
    xp.add(kernel_row(0), kernel_row(1), out=by_channel)
    for i in range(2, kh):
        by_channel += kernel_row(i)
    return out


#: padded_rows transposes this many channels per product with the identity (AMD EPYC, batch-8 U-Net arrays
#: of 16-64 channels: 16 at a time 1.3-2x faster than 8, 32 or all 64 at once: the product's cost grows with them)
TRANSPOSED_CHANNELS = 16


def padded_rows(a: Array, r: int) -> Array:
    """a (C, N, H_out, W) -> (N·R·W, C), pixel-major, each image's rows followed by zeros up to R: the other
    operand of weight_grad's products over the columns' dropped rows, which those zeros cancel.

    Pixel-major because BLAS runs those products (few rows and columns, a long inner axis) 1.2-1.8x faster
    with it than with the channel-major operand transposed (bench/README.md). The transposition is itself a
    product, a's pixels by the identity, TRANSPOSED_CHANNELS at a time: BLAS transposes while it packs its
    operands, 3-4x faster than NumPy's strided copy. Exact for finite values (x·1 + 0·y); a NaN or an
    infinity spreads over its pixel's channels (∞·0, without NumPy's warning: the reference makes no such
    product), so a non-finite input gives a weight gradient that is non-finite in more places than the
    reference's (as the rows between images already may).
    """
    xp = get_array_module(a)
    c, n, ho, w = a.shape
    out = xp.empty((n, r, w, c), dtype=a.dtype)
    out[:, ho:] = 0
    pixels = a.reshape(c, n, ho * w).transpose(1, 2, 0)          # (N, H_out·W, C): each image's channels last
    into = out[:, :ho].reshape(n, ho * w, c)
    identity = xp.eye(min(c, TRANSPOSED_CHANNELS), dtype=a.dtype)
    with invalid_ignored():
        for start in range(0, c, TRANSPOSED_CHANNELS):
            part = slice(start, min(start + TRANSPOSED_CHANNELS, c))
            xp.matmul(pixels[:, :, part], identity[:part.stop - start, :part.stop - start], out=into[:, :, part])
    return out.reshape(n * r * w, c)


def weight_grad(cols: Array, g_rows: Array, geo: Geometry, width: int, acc: Array | None = None) -> Array:
    """Σ over pixels of (cols shifted by kernel row i) · g: cols of ``columns`` (C·kW, N·R·W), g_rows of
    ``padded_rows`` (N·R·W, C_out) -> (kH, C·kW, C_out), added to acc where given (in place)."""
    xp = get_array_module(cols, g_rows)
    kh, dh = geo.kernel_size[0], geo.dilation[0]
    length = cols.shape[1] - (kh - 1) * dh * width
    if acc is None:
        acc = xp.zeros((kh, cols.shape[0], g_rows.shape[1]), dtype=cols.dtype)
    g_pixels = g_rows[:length]
    for i in range(kh):
        acc[i] += cols[:, i * dh * width:i * dh * width + length] @ g_pixels
    return acc
