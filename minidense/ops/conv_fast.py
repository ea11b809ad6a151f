"""Convolution's fast paths: the same three kernels as the reference ones in conv.py, the same results.

conv.py picks these kernels at its one dispatch point when the fast paths are on (ops/fastpaths.py:
``md.fast_paths``, ``MINIDENSE_FAST``). The tricks:

1. **Rows laid end to end.** At stride 1 with an output as wide as its input ('same' padding along W,
   as in a U-Net's 3×3 convs), each kernel tap reads ONE contiguous run of the image's rows laid end to
   end, so im2col copies one run per image and channel instead of one short run per row. The run wraps
   around the ends of rows; the values it takes from the neighbouring row are exactly those that fall
   into the W padding, so they are overwritten with the padding value.
2. **Column blocks.** A big batch's column matrix is built a piece at a time, each under the column
   block budget: groups of whole images, or bands of one image's output rows when a single image's
   columns are larger. Small buffers are reused from the heap and stay in the cache; a huge one comes
   fresh from the kernel on every call (see bench/README.md for the measurements).
3. **Columns kept.** When the whole batch is one block, the forward's columns are kept for the weight
   gradient instead of being built again (not where Winograd applies: see ``Kernels.forward``).
4. **Winograd F(2×2, 3×3)** (ops/winograd.py) for 3×3 stride-1 convolutions, all three kernels: 2.25x
   fewer multiplies, and the input gradient needs no col2im. In benchmark mode (ops/dispatch.py) whether
   it or the columns compute an (op, shapes, geometry, dtype) is measured once per process and kept in the
   dispatch table; by default the columns compute (the same bits in every process).
5. **The input gradient as a convolution.** At stride 1 (padding at most dilation·(k − 1), a 'same'
   convolution's included) the input gradient is the convolution of g by the flipped kernel, so the
   forward's columns compute it: a column matrix of C_out·kH·kW rows instead of col2im's C_in·kH·kW,
   and no col2im passes; its columns give the weight gradient too, so x's are not built. Which comes
   first is ``convolution_first``'s rule (measured); its float32 error is the reference's own bound, the
   same terms summed in another order (tested).
6. **Row columns** (ops/conv_rows.py). Where trick 1 applies, kH > 1 and whole images fit the budget, the
   columns of kernel row 0 only, over the rows of the image padded along H: kernel row i's columns are the
   same ones shifted by i·dH image rows, so one product of the kernel rows' stacked weights and kH − 1
   shifted additions give the output from a third of the copies (3×3). The forward, the input gradient as a
   convolution (trick 5, where its row columns are no larger than col2im's) and the weight gradient use them;
   the weight gradient's other operand is pixel-major (``conv_rows.padded_rows``), which BLAS multiplies faster.
7. **1×1 convolutions** (stride 1, no padding: ``pointwise``) as batched products on the images as they lie,
   no columns; **tiling windows** (stride = kernel size: ``tiles``, a 2×2 stride-2 transposed convolution's)
   put back by col2im with copies, not additions.
Tests (tests/ops/test_conv_fast.py, test_conv_rows.py) check every path against the reference on hypothesis
geometries.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from ..backend import Array, get_array_module
from . import conv_rows, dispatch, fastpaths, winograd
from . import im2col as columns
from .im2col import Geometry

__all__ = ["Kernels", "rows_end_to_end", "tiles", "pointwise", "im2col", "col2im", "blocks"]

# A piece of the column matrix: (images, out_rows), two slices.
Piece = tuple[slice, slice]


# ------------------------------------------------------------------ rows laid end to end

def rows_end_to_end(geo: Geometry, w: int, wo: int) -> bool:
    """True when every tap of this geometry is a shift of the image's rows laid end to end."""
    return tuple(geo.stride) == (1, 1) and wo == w


def _wrapped_columns(j: int, geo: Geometry, wo: int) -> slice | None:
    """The output columns where tap column j reads the W padding (a slice): they wrap into the next row."""
    shift = j * geo.dilation[1] - geo.padding[1]      # tap j reads input column w_out + shift
    return slice(0, -shift) if shift < 0 else slice(max(0, wo - shift), wo) if shift > 0 else None


def im2col(x: Array, geo: Geometry, pad_value: float = 0) -> Array:
    """columns.im2col(x, geo, pad_value), by rows laid end to end where the geometry allows."""
    n, c, h, w = x.shape
    ho, wo = columns.output_size((h, w), geo)
    if not rows_end_to_end(geo, w, wo):
        return columns.im2col(x, geo, pad_value)
    xp = get_array_module(x)
    (kh, kw), _, (ph, pw), (dh, dw) = geo
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


def col2im(cols: Array, geo: Geometry, x_shape: Sequence[int], overwrite_cols: bool = False) -> Array:
    """columns.col2im(cols, geo, x_shape), by rows laid end to end where the geometry allows.

    overwrite_cols: the columns are scratch that may be changed (the padding's share is zeroed in place
    instead of in a copy).
    """
    n, c, h, w = x_shape
    ho, wo = columns.output_size((h, w), geo)
    if tiles(geo):
        return _col2im_tiles(cols, geo, x_shape, (ho, wo))
    if not rows_end_to_end(geo, w, wo):
        return columns.col2im(cols, geo, x_shape)
    xp = get_array_module(cols)
    (kh, kw), _, (ph, pw), (dh, dw) = geo
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    flat = xp.zeros((c, n, pw + (h + 2 * ph) * w + pw), dtype=cols.dtype)
    for j in range(kw):
        taps = cols[:, :, j]
        wrapped = _wrapped_columns(j, geo, wo)
        if wrapped is not None:
            taps = taps if overwrite_cols else taps.copy()
            taps[..., wrapped] = 0
        for i in range(kh):
            flat[:, :, i * dh * w + j * dw:i * dh * w + j * dw + ho * wo] += taps[:, i].reshape(c, n, ho * wo)
    return flat[:, :, pw + ph * w:pw + (ph + h) * w].reshape(c, n, h, w).transpose(1, 0, 2, 3)


def tiles(geo: Geometry) -> bool:
    """True when the windows tile the image (stride = kernel size, no padding, no dilation), as a 2×2
    stride-2 transposed convolution's: every pixel is in one window at most, so col2im adds nothing up."""
    return tuple(geo.stride) == tuple(geo.kernel_size) and tuple(geo.padding) == (0, 0) \
        and tuple(geo.dilation) == (1, 1)


def _col2im_tiles(cols: Array, geo: Geometry, x_shape: Sequence[int], out_size: Sequence[int]) -> Array:
    """col2im where the windows tile the image: each tap's entries copied to their pixels, kH·kW strided
    copies into an NCHW array instead of kH·kW additions into zeros (AMD EPYC, 8×32×64×64: 0.56 against
    1.31 ms); the pixels no window reaches (past the last whole window) are zero."""
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (ho, wo) = geo.kernel_size, out_size
    covered = h == ho * kh and w == wo * kw
    out = (xp.empty if covered else xp.zeros)((n, c, h, w), dtype=cols.dtype)
    windows = out[:, :, :ho * kh, :wo * kw].reshape(n, c, ho, kh, wo, kw)
    taps = cols.reshape(c, kh, kw, n, ho, wo)
    for i in range(kh):
        for j in range(kw):
            windows[:, :, :, i, :, j] = taps[:, i, j].transpose(1, 0, 2, 3)
    return out


# ------------------------------------------------------------------ column blocks and bands

def blocks(n: int, rows: int, out_size: Sequence[int], itemsize: int) -> list[Piece]:
    """Pieces of the column matrix to build one at a time, each under the column block budget (one when all fit).

    rows: the column matrix's row count (C·kH·kW). Each piece is (images, out_rows), two slices: groups
    of whole images, or bands of one image's output rows when one image's columns are larger.
    """
    ho, wo = out_size
    rows_per_block = max(1, fastpaths.column_block_bytes() // max(1, rows * wo * itemsize))
    if rows_per_block >= ho:
        step = rows_per_block // ho
        return [(slice(i, min(i + step, n)), slice(0, ho)) for i in range(0, n, step)]
    return [(slice(i, i + 1), slice(r, min(r + rows_per_block, ho)))
            for i in range(n) for r in range(0, ho, rows_per_block)]


def _band(geo: Geometry, out_rows: slice, wo: int) -> tuple[slice, Geometry, tuple[int, int]]:
    """A band of output rows: its input rows (a slice of the input padded along H only), its geometry
    (W padding only) and its output size."""
    (kh, _), (sh, _), (_, pw), (dh, _) = geo
    in_rows = slice(out_rows.start * sh, (out_rows.stop - 1) * sh + dh * (kh - 1) + 1)
    return in_rows, geo._replace(padding=(0, pw)), (out_rows.stop - out_rows.start, wo)


def _column_blocks(x: Array, geo: Geometry, out_size: Sequence[int],
                   pieces: list[Piece]) -> Iterator[tuple[slice, slice, Array]]:
    """im2col(x) a piece at a time: yields (images, out_rows, cols) for each of the pieces of blocks().

    A banded image is padded along H once, just before its first band is built (while it is in the cache).
    """
    padded_images, ho = None, out_size[0]
    for images, out_rows in pieces:
        if out_rows == slice(0, ho):
            yield images, out_rows, im2col(x[images], geo)
            continue
        if images != padded_images:
            padded_images, x_padded = images, columns.pad(x[images], (geo.padding[0], 0))
        in_rows, band_geo, _ = _band(geo, out_rows, out_size[1])
        yield images, out_rows, im2col(x_padded[:, :, in_rows], band_geo)


# ------------------------------------------------------------------ 1×1 convolutions

def pointwise(geo: Geometry) -> bool:
    """True for a 1×1 kernel at stride 1 without padding (a U-Net's or an FCN's score layer): each image's
    (C, H·W) is already its column matrix."""
    return tuple(geo.kernel_size) == (1, 1) and tuple(geo.stride) == (1, 1) and tuple(geo.padding) == (0, 0)


def _pointwise_product(w_mat: Array, a: Array) -> Array:
    """w_mat (P, Q) · a[n] for every image: a (N, Q, H, W) -> (N, P, H, W). One batched product on the arrays
    as they lie, with no columns built and no output transposed (8×16×64×64 to 5 channels, the three kernels:
    0.26 against 4.1 ms by im2col's road, AMD EPYC)."""
    n, q, h, w = a.shape
    return get_array_module(w_mat, a).matmul(w_mat, a.reshape(n, q, h * w)).reshape(n, -1, h, w)


def _pointwise_weight_grad(g: Array, x: Array) -> Array:
    """Σ_n g[n] · x[n]ᵀ: g (N, C_out, H, W), x (N, C_in, H, W) -> (C_out, C_in, 1, 1)."""
    (n, c_out), c_in = g.shape[:2], x.shape[1]
    xp = get_array_module(g, x)
    per_image = xp.matmul(g.reshape(n, c_out, -1), x.reshape(n, c_in, -1).transpose(0, 2, 1))
    return per_image.sum(axis=0).reshape(c_out, c_in, 1, 1)


# ------------------------------------------------------------------ the input gradient as a convolution

def gradient_is_a_convolution(geo: Geometry) -> bool:
    """True when the input gradient of this geometry is itself a convolution with no cropping: stride 1 and
    padding at most dilation·(k − 1) on each axis (a 'same' convolution's p = dilation·(k − 1)/2 included)."""
    return tuple(geo.stride) == (1, 1) and all(
        p <= d * (k - 1) for p, d, k in zip(geo.padding, geo.dilation, geo.kernel_size))


def flipped(w: Array) -> Array:
    """The kernel of the input gradient's convolution: w (C_out, C_in, kH, kW) flipped in space, its channel
    axes swapped -> (C_in, C_out, kH, kW)."""
    return get_array_module(w).ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))


def gradient_geometry(geo: Geometry) -> Geometry:
    """The geometry of that convolution: the same kernel size and dilation, padding dilation·(k − 1) − p."""
    return geo._replace(padding=tuple(d * (k - 1) - p for p, d, k in zip(geo.padding, geo.dilation,
                                                                             geo.kernel_size)))


# ------------------------------------------------------------------ the three kernels

def _key(op: str, a: Array, w: Array, geo: Geometry, *more: object) -> tuple:
    """The dispatch table's key (ops/dispatch.py adds the CPU): op, shapes, geometry, dtype, array module."""
    return (op, a.shape, w.shape, tuple(geo), *more, a.dtype.str, type(a).__module__)   # dtype.str: str() is slow


def _timed(a: Array) -> bool:
    """Whether the candidates can be timed on the host: NumPy arrays (a GPU's calls return before the work)."""
    return type(a).__module__ == "numpy"


def _pick(op: str, a: Array, w: Array, geo: Geometry, candidates: dict[str, Callable[[], Array]],
          *more: object) -> Array:
    """The first candidate, or the one the dispatch table picks in benchmark mode where there are several."""
    if len(candidates) == 1:
        return next(iter(candidates.values()))()
    return dispatch.pick(_key(op, a, w, geo, *more), candidates, timed=_timed(a))[1]


def convolution_first(w: Array, by_rows: bool = False) -> bool:
    """Whether the input gradient is computed as a convolution of g (where it is one) before trying col2im.

    Both build and multiply a column matrix: as a convolution, of C_out·kH·kW rows, or C_out·kW where
    conv_rows computes it (``by_rows``), whose columns give the weight gradient too (see _SharedColumns); for
    col2im, of C_in·kH·kW rows, which it then adds up in kH·kW passes over the gradient (and the weight
    gradient builds x's columns). So the convolution where its matrix is no larger. Measured on this
    project's AMD EPYC (3×3, batch 8, input and weight gradient together; bench/README.md): before conv_rows,
    as a convolution 32->16 and 64->32 channels 2.2-2.4x faster, 16->16, 32->32 and 64->64 1.15-1.25x, col2im
    1.25-1.45x faster for 16->32, 32->64; by rows, the convolution 1.2-1.35x faster for 16->32 at 32×32 and
    32->64 at 16×16, col2im 1.45-1.55x faster for 3->16 at 64×64 (two runs each, alternating).
    """
    c_out, c_in, kh, kw = w.shape
    return c_out * (kw if by_rows else kh * kw) <= c_in * kh * kw


#: the weight gradient by row columns (of x, or of g in the input gradient's convolution) multiplies matrices
#: of C·kW rows, C their channels: below this many rows BLAS runs them slower than im2col's C·kH·kW (AMD EPYC,
#: 3×3, batch 8, 64×64: x of 3 channels 1.42 against 0.91 ms, of 8 2.10 against 1.59, of 16 2.50 against 2.84;
#: input and weight gradient with g of 3 channels 2.02 against 1.21, of 8 2.69 against 2.60, of 16 3.74 against 4.21)
WEIGHT_GRAD_ROWS = 32


#: and the forward's stacked product (kH·C_out × C_in·kW) only with this many rows of row columns (C_in·kW): with
#: fewer its inner dimension is too short for BLAS (AMD EPYC, 3×3, batch 8, 64×64, both alternating in one
#: process: x of 3 channels to 16 0.80 against im2col's 0.58 ms, to 32 1.33 against 0.80; of 5 channels 0.83
#: against 1.00, of 8 1.18 against 1.71)
FORWARD_ROWS = 12


def _rows_for_weight_grad(channels: int, geo: Geometry) -> bool:
    """Whether the row columns of this many channels have WEIGHT_GRAD_ROWS rows (C·kW) for a weight gradient."""
    return channels * geo.kernel_size[1] >= WEIGHT_GRAD_ROWS


def _rows_for_product(channels: int, geo: Geometry, weight_grad: bool) -> bool:
    """Whether _forward_columns multiplies row columns of this many channels: FORWARD_ROWS rows (C·kW), and
    WEIGHT_GRAD_ROWS where the same columns give a weight gradient."""
    return channels * geo.kernel_size[1] >= FORWARD_ROWS and (not weight_grad or _rows_for_weight_grad(channels, geo))


def _row_pieces(x: Array, geo: Geometry, wo: int, rows: int) -> list[Piece] | None:
    """Groups of whole images of x for conv_rows' columns, each under the column block budget at ``rows`` rows
    per pixel; None where row columns do not apply, or one image is over the budget (bands of im2col's)."""
    if not conv_rows.applies(geo, x.shape[3], wo):
        return None
    r = conv_rows.padded_height(x.shape[2], geo)
    pieces = blocks(x.shape[0], rows, (r, wo), x.itemsize)
    return pieces if pieces[0][1] == slice(0, r) else None


class _SharedColumns:
    """The weight gradient from the columns of the input gradient's convolution (trick 5), block by block.

    Those columns hold, for each pixel q of x and each tap (i', j') of the flipped kernel, the g that meets
    x[q] through tap (kH − 1 − i', kW − 1 − j') of the weight. So Σ_blocks cols · X_blockᵀ, X_block the
    block's pixels of x as (C_in, pixels), is the weight gradient with its taps flipped and its input
    channels last: the same sum as ``weight_grad``'s, with no columns of x built.
    """

    def __init__(self, x: Array, kernel_size: tuple[int, int]) -> None:
        self.x, self.kernel_size = x, kernel_size
        self.sum: Array | None = None   # (C_out·kH·kW, C_in)
        self.rows_sum: Array | None = None   # (kH, C_out·kW, C_in), from add_rows

    def add_rows(self, cols: Array, images: slice, geo: Geometry) -> None:
        """cols: conv_rows.columns of these whole images (the gradient's convolution's geometry)."""
        x = self.x[images].transpose(1, 0, 2, 3)
        x_rows = conv_rows.padded_rows(x, cols.shape[1] // (x.shape[1] * x.shape[3]))
        self.rows_sum = conv_rows.weight_grad(cols, x_rows, geo, x.shape[3], self.rows_sum)

    def add(self, cols: Array, images: slice, rows: slice) -> None:
        """cols: (C_out·kH·kW, pixels) of these images and rows of x, in (image, row, column) order."""
        x = self.x[images, :, rows]
        x_mat = x.transpose(1, 0, 2, 3).reshape(x.shape[1], -1)
        if self.sum is None:
            self.sum = cols @ x_mat.T
        else:
            self.sum += cols @ x_mat.T   # in place: no new (C_out·kH·kW, C_in) array per block

    def weight_grad(self, c_out: int) -> Array:
        """(C_out, C_in, kH, kW): the sum's taps flipped back and its axes put in the weight's order."""
        kh, kw = self.kernel_size
        if self.rows_sum is not None:
            self.sum = self.rows_sum.reshape(kh, c_out, kw, -1).transpose(1, 0, 2, 3).reshape(c_out * kh * kw, -1)
        assert self.sum is not None, "no columns were added"
        flipped_grad = self.sum.reshape(c_out, kh, kw, -1)
        return get_array_module(flipped_grad).ascontiguousarray(flipped_grad[:, ::-1, ::-1].transpose(0, 3, 1, 2))


class Kernels:
    """forward, input_grad and weight_grad with the contracts of conv.py's reference kernels.

    One object serves one op: keep_columns=True keeps the forward's columns (when it built them in one
    block) for weight_grad of the same array, and the forward's input, so that input_grad can compute the
    weight gradient along with its own and keep it for weight_grad (see input_grad).
    """

    def __init__(self, keep_columns: bool = False) -> None:
        self.keep_columns = keep_columns
        self.kept: tuple[Array, Array, bool] | None = None   # (x, its columns, whether conv_rows')
        self.x: Array | None = None   # the forward's input, where keep_columns (for _input_grad_convolution)
        self.kept_weight_grad: tuple[Array, Array, Array] | None = None   # (g, x, its weight gradient)

    def forward(self, x: Array, w: Array, geo: Geometry) -> Array:
        """W · im2col(x): x (N, C_in, H, W), w (C_out, C_in, kH, kW) -> (N, C_out, H_out, W_out).

        By Winograd's F(2×2, 3×3) instead where it applies and the dispatch table picks it (benchmark mode).
        """
        if pointwise(geo):
            return _pointwise_product(w.reshape(w.shape[0], -1), x)
        if self.keep_columns:
            self.x = x
        if not winograd.applies(geo):
            return self._forward_columns(x, w, geo, self.keep_columns)
        # no columns kept here: on the U-Net they raised the peak memory by 6-10 MB (the kept columns of
        # the layers where im2col won, all alive until the backward) and saved no measurable time
        return _pick("forward", x, w, geo, {"im2col": lambda: self._forward_columns(x, w, geo, keep=False),
                                            "winograd": lambda: winograd.forward(x, w, geo)})

    def _forward_columns(self, x: Array, w: Array, geo: Geometry, keep: bool,
                         shared: _SharedColumns | None = None) -> Array:
        """W · im2col(x): by conv_rows' row columns where they apply and whole images fit the budget (and, where
        ``shared`` wants a weight gradient, they have WEIGHT_GRAD_ROWS rows), else a block of im2col's columns at
        a time; ``shared`` also gets every block (see _SharedColumns)."""
        xp = get_array_module(x, w)
        (c_out, n), out_size = (w.shape[0], x.shape[0]), columns.output_size(x.shape[2:], geo)
        if _rows_for_product(x.shape[1], geo, weight_grad=shared is not None):
            # blocks under the budget for the columns and for the product's kH·C_out rows (conv_rows.product)
            rows = max(x.shape[1] * geo.kernel_size[1], c_out * geo.kernel_size[0])
            row_pieces = _row_pieces(x, geo, out_size[1], rows)
            if row_pieces is not None:
                return self._forward_rows(x, w, geo, keep, shared, row_pieces, out_size)
        w_mat = w.reshape(c_out, -1)
        pieces = blocks(n, w_mat.shape[1], out_size, x.itemsize)
        if len(pieces) == 1:
            cols = im2col(x, geo)
            self.kept = (x, cols, False) if keep else None
            if shared is not None:
                shared.add(cols, slice(0, n), slice(0, out_size[0]))
            return (w_mat @ cols).reshape(c_out, n, *out_size).transpose(1, 0, 2, 3)
        out = xp.empty((c_out, n) + tuple(out_size), dtype=x.dtype)
        for images, out_rows, cols in _column_blocks(x, geo, out_size, pieces):
            out[:, images, out_rows] = (w_mat @ cols).reshape(c_out, images.stop - images.start, -1, out_size[1])
            if shared is not None:
                shared.add(cols, images, out_rows)
            del cols   # before the next block's columns are built, so that they reuse this (cached) buffer
        return out.transpose(1, 0, 2, 3)

    def _forward_rows(self, x: Array, w: Array, geo: Geometry, keep: bool, shared: _SharedColumns | None,
                      pieces: list[Piece], out_size: Sequence[int]) -> Array:
        """_forward_columns by conv_rows (row columns), a group of whole images at a time."""
        xp = get_array_module(x, w)
        out = None if len(pieces) == 1 else xp.empty((x.shape[0], w.shape[0]) + tuple(out_size), dtype=x.dtype)
        for images, _ in pieces:
            cols = conv_rows.columns(x[images], geo)
            block = conv_rows.product(w, cols, geo, images.stop - images.start, out_size[1],
                                      out=None if out is None else out[images])
            if shared is not None:
                shared.add_rows(cols, images, geo)
            if out is None:
                self.kept = (x, cols, True) if keep else None
                return block
            del cols, block   # before the next block's columns are built, so that they reuse this (cached) buffer
        return out  # type: ignore[return-value]  # blocks() gives at least one piece

    def input_grad(self, g: Array, w: Array, geo: Geometry, x_shape: Sequence[int]) -> Array:
        """col2im(Wᵀ · g): g (N, C_out, H_out, W_out), w (C_out, C_in, kH, kW) -> x_shape (N, C_in, H, W).

        At stride 1 (padding at most dilation·(k − 1)) it is also the convolution of g by the flipped kernel,
        its channel axes swapped, computed by the forward's columns: first where ``convolution_first``,
        second otherwise. By Winograd's F(2×2, 3×3) (the same convolution) where it applies. The first of
        these runs unless the dispatch table picks another (benchmark mode).

        Where the forward kept x (its weight gradient is wanted too), every candidate also computes that
        gradient, kept for weight_grad: the convolution gets it from its own columns, so the candidates are
        measured on the same work.
        """
        if pointwise(geo):
            return _pointwise_product(w.reshape(w.shape[0], -1).T, g)
        x = self.x if self.x is not None and tuple(self.x.shape) == tuple(x_shape) else None
        candidates = {"col2im": lambda: self._with_weight_grad(
            g, x, lambda: self._input_grad_columns(g, w, geo, x_shape), lambda x: self._weight_grad_columns(g, x, geo))}
        if gradient_is_a_convolution(geo):
            by_rows = conv_rows.applies(gradient_geometry(geo), g.shape[3], x_shape[3]) and _rows_for_product(
                g.shape[1], geo, weight_grad=x is not None)   # as _forward_columns
            by_convolution = {"convolution": lambda: self._input_grad_convolution(g, w, geo, x)}
            candidates = {**by_convolution, **candidates} if convolution_first(w, by_rows) else {**candidates,
                                                                                           **by_convolution}
        if winograd.applies(geo):
            candidates["winograd"] = lambda: self._with_weight_grad(
                g, x, lambda: winograd.input_grad(g, w, geo, x_shape), lambda x: winograd.weight_grad(g, x, geo))
        return _pick("input_grad", g, w, geo, candidates, tuple(x_shape), x is not None)

    def _with_weight_grad(self, g: Array, x: Array | None, input_grad: Callable[[], Array],
                          weight_grad: Callable[[Array], Array]) -> Array:
        """input_grad(), and where x is given weight_grad(x) kept for weight_grad (after: the column buffers
        of the first are free before the second's are built)."""
        gx = input_grad()
        if x is not None:
            self.kept_weight_grad = (g, x, weight_grad(x))
        return gx

    def _input_grad_convolution(self, g: Array, w: Array, geo: Geometry, x: Array | None) -> Array:
        """The input gradient as the convolution of g by the flipped kernel; where x is given (its weight
        gradient is wanted), that gradient too, from the same columns, kept for weight_grad."""
        if x is None:
            return self._forward_columns(g, flipped(w), gradient_geometry(geo), keep=False)
        shared = _SharedColumns(x, (geo.kernel_size[0], geo.kernel_size[1]))
        gx = self._forward_columns(g, flipped(w), gradient_geometry(geo), keep=False, shared=shared)
        self.kept_weight_grad = (g, x, shared.weight_grad(w.shape[0]))
        return gx

    def _input_grad_columns(self, g: Array, w: Array, geo: Geometry, x_shape: Sequence[int]) -> Array:
        xp = get_array_module(g, w)
        c_out, n, out_size = w.shape[0], g.shape[0], g.shape[2:]
        w_mat = w.reshape(c_out, -1)
        g_by_channel = g.transpose(1, 0, 2, 3)   # (C_out, N, H_out, W_out): columns in (n, h_out, w_out) order
        pieces = blocks(n, w_mat.shape[1], out_size, g.itemsize)
        if len(pieces) == 1:
            return col2im(w_mat.T @ g_by_channel.reshape(c_out, -1), geo, x_shape, overwrite_cols=True)
        (ph, _), (c_in, h, w_in), ho = geo.padding, x_shape[1:], out_size[0]
        if pieces[0][1] == slice(0, ho):   # groups of whole images
            out = xp.empty((c_in, n, h, w_in), dtype=g.dtype).transpose(1, 0, 2, 3)   # (C_in, N) memory order
            for images, _ in pieces:
                cols = w_mat.T @ g_by_channel[:, images].reshape(c_out, -1)
                out[images] = col2im(cols, geo, (images.stop - images.start, c_in, h, w_in), overwrite_cols=True)
            return out
        # bands of one image's output rows: neighbouring bands share input rows, so they add up in the
        # input's gradient padded along H
        out = xp.zeros((c_in, n, h + 2 * ph, w_in), dtype=g.dtype).transpose(1, 0, 2, 3)
        for images, out_rows in pieces:
            cols = w_mat.T @ g_by_channel[:, images, out_rows].reshape(c_out, -1)
            in_rows, band_geo, _ = _band(geo, out_rows, out_size[1])
            out[images, :, in_rows] += col2im(cols, band_geo, (1, c_in, in_rows.stop - in_rows.start, w_in),
                                              overwrite_cols=True)
        return out[:, :, ph:ph + h]

    def weight_grad(self, g: Array, x: Array, geo: Geometry) -> Array:
        """g · im2col(x)ᵀ: g (N, C_out, H_out, W_out), x (N, C_in, H, W) -> (C_out, C_in, kH, kW).

        By Winograd's F(2×2, 3×3) instead where it applies and the dispatch table picks it (benchmark mode).
        The one that input_grad made alongside, where it did (for this g and x).
        """
        kept = self.kept_weight_grad
        if kept is not None and kept[0] is g and kept[1] is x:
            self.kept_weight_grad = None
            return kept[2]
        if pointwise(geo):
            return _pointwise_weight_grad(g, x)
        if not winograd.applies(geo):
            return self._weight_grad_columns(g, x, geo)
        return _pick("weight_grad", g, x, geo, {"im2col": lambda: self._weight_grad_columns(g, x, geo),
                                                "winograd": lambda: winograd.weight_grad(g, x, geo)})

    def _weight_grad_columns(self, g: Array, x: Array, geo: Geometry) -> Array:
        c_out, out_size = g.shape[1], g.shape[2:]
        w_shape = (c_out, x.shape[1]) + tuple(geo.kernel_size)
        g_by_channel = g.transpose(1, 0, 2, 3)
        # computed as (cols · gᵀ)ᵀ: the same product, but BLAS runs it several times faster with the
        # long N·H_out·W_out axis as the inner dimension of two row-major operands
        kept = self.kept if self.kept is not None and self.kept[0] is x else None
        row_pieces = _row_pieces(x, geo, out_size[1], max(x.shape[1] * geo.kernel_size[1], c_out)) \
            if _rows_for_weight_grad(x.shape[1], geo) else None
        if row_pieces is not None:
            # the forward's row columns where it kept them (one block: so is this, with no more rows per pixel)
            kept_rows = kept[1] if kept is not None and kept[2] and len(row_pieces) == 1 else None
            r = conv_rows.padded_height(x.shape[2], geo)
            acc = None
            for images, _ in row_pieces:
                cols = kept_rows if kept_rows is not None else conv_rows.columns(x[images], geo)
                acc = conv_rows.weight_grad(cols, conv_rows.padded_rows(g_by_channel[:, images], r), geo,
                                            out_size[1], acc)
                del cols   # as in forward
            kh, kw = geo.kernel_size   # acc: (kH, C_in·kW, C_out)
            return get_array_module(acc).ascontiguousarray(
                acc.reshape(kh, x.shape[1], kw, c_out).transpose(3, 1, 0, 2))  # type: ignore[union-attr]
        if kept is not None and not kept[2]:
            return (kept[1] @ g_by_channel.reshape(c_out, -1).T).T.reshape(w_shape)
        grad: Array | int = 0   # the sum of the pieces; an array after the first
        pieces = blocks(x.shape[0], x.shape[1] * geo.kernel_size[0] * geo.kernel_size[1], out_size, x.itemsize)
        for images, out_rows, cols in _column_blocks(x, geo, out_size, pieces):
            grad = grad + cols @ g_by_channel[:, images, out_rows].reshape(c_out, -1).T
            del cols   # as in forward
        return grad.T.reshape(w_shape)  # type: ignore[union-attr]  # blocks() gives at least one piece
