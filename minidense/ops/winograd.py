"""Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray 2016): a fast path for 3×3 stride-1 convolutions.

Each 4×4 tile of the (padded) input gives a 2×2 tile of the output. With the transforms

    Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]    (input tile d:  V = Bᵀ d B)
    G  = [[1, 0, 0], [½, ½, ½], [½, -½, ½], [0, 0, 1]]                    (kernel g:      U = G g Gᵀ)
    Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]                                     (output tile:   Aᵀ M A)

the convolution is, for each of the 16 positions (a, b) of a 4×4 tile, one matrix product over the channels,
M[a, b] = U[a, b] (C_out × C_in) · V[a, b] (C_in × tiles), then Aᵀ M A per tile: 16·C_out·C_in multiplies
per 2×2 outputs instead of 36·C_out·C_in, 2.25x fewer. The transforms only add and subtract (and halve,
in G), so the result differs from the exact one by rounding alone. **Error bound** (first order, any
float type of unit roundoff u; tests/ops/test_winograd.py checks it in float32 and float64): every output

    |computed − exact| ≤ γ(C + 10) · 16 · Σ_c max|w[o, c]| · Σ_{3×3 window} |x[c]|,   γ(n) = n·u / (1 − n·u)

C the channels summed (C_in forward, C_out for the input gradient): a path from an input to an output
is rounded at most twice in Bᵀ d B, 4 times in G g Gᵀ, C times in the product and its sum, 4 times in
Aᵀ M A; the transforms' entries (0, ±1, ±½) scale exactly, and in absolute value their chain gives
each (kernel tap, input in the window) pair a weight at most 4 per axis, 16 in all (Σ_i |Aᵀ||G||Bᵀ|).
Unlike the direct sum's, this bound is not relative to |x| ⊛ |w| at that output: the transforms cancel
terms that are each rounded. Measured on standard normal data (2×C×17×16 inputs, 5 outputs): the max of
|error| / (ε·(|x| ⊛ |w|)), ε = 2u the machine epsilon, was 2.5-8.9 against the float32 reference's 1.3-5.6
for C = 1-256, and 0.8-4.7 in float64.

The input gradient of such a convolution is again one (of g, with the kernel flipped and its channel axes
swapped, padded by 2 − p), so it runs here too and needs no col2im; the weight gradient runs the forward's
steps backwards (``weight_grad``, its bound in its docstring).

Works on raw arrays (NumPy or CuPy; ops/dispatch.py times NumPy only, so CuPy arrays keep the columns);
the transformed tiles are built a piece at a time, groups of images or bands of rows of tiles, each under
a quarter of the column block budget (ops/fastpaths.py), so that the buffers stay in the cache.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..backend import Array, get_array_module
from . import fastpaths
from .im2col import Geometry

__all__ = ["applies", "transform_weight", "conv3x3", "forward", "input_grad", "weight_grad"]


def applies(geo: Geometry) -> bool:
    """True for the geometries this module computes: 3×3 kernels, stride 1, dilation 1 (any padding)."""
    return tuple(geo.kernel_size) == (3, 3) and tuple(geo.stride) == (1, 1) and tuple(geo.dilation) == (1, 1)


def transform_weight(w: Array) -> Array:
    """U = G g Gᵀ for every (output, input) channel pair: w (C_out, C_in, 3, 3) -> (16, C_out, C_in)."""
    xp = get_array_module(w)
    g = xp.asarray([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]], dtype=w.dtype)
    u = g @ w @ g.T                                                   # (C_out, C_in, 4, 4)
    return xp.ascontiguousarray(u.transpose(2, 3, 0, 1)).reshape(16, w.shape[0], w.shape[1])


def _input_tiles(x: Array, padding: tuple[int, int], tiles: tuple[int, int]) -> Array:
    """V = Bᵀ d B of every 4×4 tile d (tiles overlap by 2): x (N, C, H, W) -> (16, C, N·tH·(tW + 1)).

    Each row of tiles has one extra tile at its end (tile column tW): the transforms then run over whole
    rows laid end to end, as conv_fast's im2col does, and that tile's values (the next row's, or zeros) are
    a finite by-product that the output transform drops and the output gradient's zeros cancel.
    """
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (ph, pw), (th, tw) = padding, tiles
    # the image padded to whole tiles, in (C, N) memory order (V's columns' order), its rows and columns
    # split by parity: d[c, n, p, q, i, j] is the padded image's row 2i + p, column 2j + q. A tile's row k
    # is then row i + k // 2 of parity k % 2, and all tiles' row k one contiguous run per (c, n, q).
    d = xp.zeros((c, n, 2, 2, th + 1, tw + 1), dtype=x.dtype)
    x_by_channel = x.transpose(1, 0, 2, 3)
    for p in range(2):
        r0 = (p - ph) % 2                                              # x's first row of parity p when padded
        i0 = (r0 + ph - p) // 2
        for q in range(2):
            c0 = (q - pw) % 2
            j0 = (c0 + pw - q) // 2
            taken = x_by_channel[:, :, r0::2, c0::2][:, :, :th + 1 - i0, :tw + 1 - j0]
            d[:, :, p, q, i0:i0 + taken.shape[2], j0:j0 + taken.shape[3]] = taken
    length = th * (tw + 1)
    # Bᵀ d, row by row: t[a, c, n, q] holds (tile row i, column j) end to end, and one zero after them
    t = xp.empty((4, c, n, 2, length + 1), dtype=x.dtype)
    t[..., length] = 0
    rows = [d[:, :, k % 2, :, k // 2:k // 2 + th] for k in range(4)]    # (C, N, 2, tH, tW + 1)
    t_rows = t[..., :length].reshape(4, c, n, 2, th, tw + 1)
    xp.subtract(rows[0], rows[2], out=t_rows[0])
    xp.add(rows[1], rows[2], out=t_rows[1])
    xp.subtract(rows[2], rows[1], out=t_rows[2])
    xp.subtract(rows[1], rows[3], out=t_rows[3])
    # (Bᵀ d) B, column by column: a tile's column k is column j + k // 2 of parity k % 2, the same run shifted
    cols = [t[:, :, :, k % 2, k // 2:k // 2 + length] for k in range(4)]   # (4, C, N, tH·(tW + 1))
    v = xp.empty((4, 4, c, n, length), dtype=x.dtype)
    xp.subtract(cols[0], cols[2], out=v[:, 0])
    xp.add(cols[1], cols[2], out=v[:, 1])
    xp.subtract(cols[2], cols[1], out=v[:, 2])
    xp.subtract(cols[1], cols[3], out=v[:, 3])
    return v.reshape(16, c, n * length)


def _output_tiles(m: Array, out: Array) -> None:
    """out (C_out, N, 2·tH, 2·tW) = Aᵀ M A of every tile: m (16, C_out, N·tH·(tW + 1)), the extra tile of
    each row (see _input_tiles) dropped."""
    xp = get_array_module(m)
    c, n, h2, w2 = out.shape
    th, tw = h2 // 2, w2 // 2
    m = m.reshape(4, 4, c, n, th, tw + 1)
    s = xp.empty((2, 4, c, n, th, tw + 1), dtype=m.dtype)              # Aᵀ M, row by row
    xp.add(m[0], m[1], out=s[0])
    s[0] += m[2]
    xp.subtract(m[1], m[2], out=s[1])
    s[1] -= m[3]
    tiles = out.reshape(c, n, th, 2, tw, 2)                            # (.., tile row, r, tile column, q)
    e = xp.empty((c, n, th, tw + 1), dtype=m.dtype)                    # summed contiguously, written once
    for r in range(2):
        xp.add(s[r, 0], s[r, 1], out=e)
        e += s[r, 2]
        tiles[:, :, :, r, :, 0] = e[..., :tw]
        xp.subtract(s[r, 1], s[r, 2], out=e)
        e -= s[r, 3]
        tiles[:, :, :, r, :, 1] = e[..., :tw]


def _output_grad_tiles(g: Array, tiles: tuple[int, int]) -> Array:
    """A dY Aᵀ of every 2×2 tile of the output's gradient, A = Aᵀᵀ: g (N, C_out, H_out, W_out) -> (16, C_out,
    N·tH·(tW + 1)), laid out as _input_tiles' V; zero on each row's extra tile, and past the last row and
    column where H_out or W_out is odd (the outputs no one asked for)."""
    xp = get_array_module(g)
    n, c, ho, wo = g.shape
    th, tw = tiles
    dy = xp.zeros((c, n, 2 * th, 2 * tw + 2), dtype=g.dtype)
    dy[:, :, :ho, :wo] = g.transpose(1, 0, 2, 3)
    y = dy.reshape(c, n, th, 2, tw + 1, 2)
    t = xp.empty((4, c, n, th, tw + 1, 2), dtype=g.dtype)              # A dY, row by row
    t[0] = y[:, :, :, 0]
    xp.add(y[:, :, :, 0], y[:, :, :, 1], out=t[1])
    xp.subtract(y[:, :, :, 0], y[:, :, :, 1], out=t[2])
    xp.negative(y[:, :, :, 1], out=t[3])
    m = xp.empty((4, 4, c, n, th, tw + 1), dtype=g.dtype)              # (A dY) Aᵀ, column by column
    m[:, 0] = t[..., 0]
    xp.add(t[..., 0], t[..., 1], out=m[:, 1])
    xp.subtract(t[..., 0], t[..., 1], out=m[:, 2])
    xp.negative(t[..., 1], out=m[:, 3])
    return m.reshape(16, c, n * th * (tw + 1))


#: a piece of the transformed tiles is at most this share of the column block budget (ops/fastpaths.py)
PIECE_SHARE = 4


def _pieces(n: int, c: int, tiles: tuple[int, int], itemsize: int) -> list[tuple[slice, slice]]:
    """(images, tile rows) pieces whose transformed tiles (16·C values per tile) fit a quarter of the column
    block budget (1 MiB by default: the passes over them then stay in the cache): groups of whole images,
    or bands of one image's rows of tiles where one image is larger."""
    th, tw = tiles
    budget = fastpaths.column_block_bytes() // PIECE_SHARE
    row_bytes = 16 * c * (tw + 1) * itemsize                            # one row of tiles, its extra tile too
    rows = max(1, budget // max(1, row_bytes))
    if rows >= th:
        step = min(n, rows // th)
        return [(slice(i, min(i + step, n)), slice(0, th)) for i in range(0, n, step)]
    return [(slice(i, i + 1), slice(r, min(r + rows, th))) for i in range(n) for r in range(0, th, rows)]


def _band(x: Array, images: slice, tile_rows: slice, padding: tuple[int, int]) -> tuple[Array, tuple[int, int]]:
    """The input rows that these rows of tiles read (padded rows 2·i0 to 2·i1 + 1) and their top padding."""
    ph, h = padding[0], x.shape[2]
    top = 2 * tile_rows.start - ph                                      # the band's first padded row, in x's rows
    return x[images, :, max(0, top):min(h, 2 * tile_rows.stop + 2 - ph)], (max(0, -top), padding[1])


def conv3x3(x: Array, u: Array, padding: tuple[int, int]) -> Array:
    """The stride-1 3×3 convolution of x (N, C_in, H, W) by the transformed kernel u (16, C_out, C_in)
    with this padding -> (N, C_out, H + 2pH − 2, W + 2pW − 2), in (C_out, N) memory order."""
    xp = get_array_module(x, u)
    n, c_in, h, w = x.shape
    c_out = u.shape[1]
    ho, wo = h + 2 * padding[0] - 2, w + 2 * padding[1] - 2
    th, tw = (ho + 1) // 2, (wo + 1) // 2
    out = xp.empty((c_out, n, 2 * th, 2 * tw), dtype=x.dtype)
    for images, rows in _pieces(n, max(c_in, c_out), (th, tw), x.itemsize):
        x_band, band_padding = _band(x, images, rows, padding)
        v = _input_tiles(x_band, band_padding, (rows.stop - rows.start, tw))
        m = u @ v                                                      # 16 products (C_out × C_in)·(C_in × tiles)
        del v
        _output_tiles(m, out[:, images, 2 * rows.start:2 * rows.stop])
    if (2 * th, 2 * tw) != (ho, wo):
        out = out[:, :, :ho, :wo]
    return out.transpose(1, 0, 2, 3)


def forward(x: Array, w: Array, geo: Geometry) -> Array:
    """conv.py's forward contract: x (N, C_in, H, W), w (C_out, C_in, 3, 3) -> (N, C_out, H_out, W_out)."""
    (ph, pw) = geo.padding
    return conv3x3(x, transform_weight(w), (ph, pw))


def input_grad(g: Array, w: Array, geo: Geometry, x_shape: Sequence[int]) -> Array:
    """conv.py's input_grad contract: the 3×3 convolution of g by the flipped kernel, its channel axes
    swapped, padded by 2 − p (cropped where p > 2 would make that negative) -> x_shape."""
    (ph, pw), (h, w_in) = geo.padding, x_shape[2:]
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)               # (C_in, C_out, 3, 3)
    # with padding q = 2 − p the full convolution of g has the input's size; where p > 2, g is padded by 0
    # and the result is cropped by p − 2 on each side
    qh, qw = max(0, 2 - ph), max(0, 2 - pw)
    gx = conv3x3(g, transform_weight(flipped), (qh, qw))
    ch, cw = max(0, ph - 2), max(0, pw - 2)
    return gx[:, :, ch:ch + h, cw:cw + w_in]


def weight_grad(g: Array, x: Array, geo: Geometry) -> Array:
    """conv.py's weight_grad contract: g (N, C_out, H_out, W_out), x (N, C_in, H, W) -> (C_out, C_in, 3, 3).

    The adjoint of the forward's steps in reverse: dU[a, b] = Σ_tiles dM[a, b] V[a, b]ᵀ with dM = A dY Aᵀ
    and V = Bᵀ d B (the forward's input tiles, built again a piece at a time), then dW = Gᵀ dU G.
    Its bound is the forward's with C + 10 replaced by T + 12 (T = N·tH·tW tiles summed; 6 roundings in
    Gᵀ dU G, 2 in A dY Aᵀ) and 16 by 4 (each pair of an output and an input in its window meets each kernel
    tap with weight at most 2 per axis): Σ_n Σ_outputs |g[n, o]| · Σ_{3×3 window} |x[n, c]|.
    """
    xp = get_array_module(g, x)
    n, c_in = x.shape[:2]
    c_out, (ho, wo) = g.shape[1], g.shape[2:]
    th, tw = (ho + 1) // 2, (wo + 1) // 2
    du = xp.zeros((16, c_out, c_in), dtype=x.dtype)
    for images, rows in _pieces(n, max(c_in, c_out), (th, tw), x.itemsize):
        x_band, band_padding = _band(x, images, rows, (geo.padding[0], geo.padding[1]))
        v = _input_tiles(x_band, band_padding, (rows.stop - rows.start, tw))
        dm = _output_grad_tiles(g[images, :, 2 * rows.start:2 * rows.stop], (rows.stop - rows.start, tw))
        du += dm @ v.transpose(0, 2, 1)
        del v, dm
    gm = xp.asarray([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]], dtype=x.dtype)
    return gm.T @ du.reshape(4, 4, c_out, c_in).transpose(2, 3, 0, 1) @ gm
