"""Hypothesis strategies for testing ops (used by the test suite and the notebooks).

    from hypothesis import given
    from minidense import testing as mt

    @given(mt.arrays(mt.shapes()))
    def test_exp(x): ...

Values are drawn in bounded ranges and can be kept away from an op's kinks
(``avoid=0.1`` keeps |x| >= 0.1 for relu and abs; ``distinct=True`` makes ties
impossible for max and pooling), so that finite differences are meaningful.
Geometries for convolution are built one dependent draw at a time, so no
example is thrown away.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def shapes(min_dims=1, max_dims=4, min_side=1, max_side=5):
    """Array shapes (dimensions of 1 included)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


@st.composite
def broadcastable_shapes(draw, min_dims=0, max_dims=4, max_side=4):
    """A pair of shapes that broadcast together (either may have fewer or size-1 dimensions)."""
    shape = draw(shapes(min_dims=max(min_dims, 1), max_dims=max_dims, max_side=max_side))
    other = draw(hnp.broadcastable_shapes(shape, min_dims=min_dims, max_dims=len(shape), max_side=max_side))
    return (shape, other) if draw(st.booleans()) else (other, shape)


@st.composite
def arrays(draw, shape, dtype=np.float64, low=-2.0, high=2.0, avoid=None, distinct=False, positive=False,
           contiguous=None):
    """A float array of ``shape`` with values in [low, high].

    avoid: keep every |x| >= avoid (away from kinks at 0).
    distinct: all values distinct and at least 1e-3 apart (no ties).
    positive: values in [max(low, 0.1), high] (for log and sqrt).
    contiguous: False forces a non-contiguous view, None lets hypothesis choose.
    """
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else tuple(shape)
    size = int(np.prod(shape))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = np.random.default_rng(seed)
    lo = max(low, 0.1) if positive else low
    if distinct:
        # a random permutation of evenly spaced values: ties are impossible by construction
        grid = np.linspace(lo, high, max(size, 2))[:size] if size else np.zeros(0)
        values = gen.permutation(grid)
    else:
        values = gen.uniform(lo, high, size)
    if avoid is not None:
        # push values inside (-avoid, avoid) outwards by avoid, keeping their sign
        values = np.where(np.abs(values) < avoid, np.copysign(avoid + np.abs(values), values), values)
    arr = values.astype(dtype).reshape(shape)
    if contiguous is None:
        contiguous = draw(st.booleans()) or arr.ndim < 2
    if not contiguous:
        arr = non_contiguous(arr, gen)
    return arr


def non_contiguous(arr, gen=None):
    """The same values as ``arr`` in a non-contiguous view (a permuted copy, permuted back)."""
    gen = gen or np.random.default_rng(0)
    if arr.ndim < 2:
        # a strided view: every other element of a buffer twice as long
        buf = np.empty(arr.size * 2, dtype=arr.dtype)
        view = buf[::2]
        view[...] = arr.reshape(-1)
        return view.reshape(arr.shape) if arr.ndim == 1 else view[:arr.size].reshape(arr.shape)
    perm = gen.permutation(arr.ndim)
    if (perm == np.arange(arr.ndim)).all():
        perm = np.roll(perm, 1)
    stored = np.ascontiguousarray(arr.transpose(perm))
    return stored.transpose(np.argsort(perm))


@st.composite
def conv_geometries(draw, max_kernel=5, max_stride=3, max_padding=2, max_dilation=2, max_batch=2,
                    max_channels=3, max_extra=4, transposed=False, same_width=False):
    """A valid 2-D convolution geometry, drawn one dependent choice at a time.

    Kernel, then dilation, then padding (bounded by the dilated kernel), then stride,
    then an input just large enough. Returns a dict with N, C_in, C_out, H, W,
    kernel_size (kH, kW), stride, padding, dilation (each a pair) and, when
    ``transposed``, output_padding (smaller than stride or dilation).
    ``same_width``: stride 1 and W padding dW·(kW − 1)/2, so that W_out == W (a U-Net's 3×3 convs; the
    geometry where im2col lays the rows end to end); H padding stays free.
    """
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    dh, dw = draw(st.integers(1, max_dilation)), draw(st.integers(1, max_dilation))
    if same_width and dw * (kw - 1) % 2:
        kw -= 1                     # an odd dilated span cannot be padded equally on both sides
    ph = draw(st.integers(0, min(max_padding, (dh * (kh - 1)) // 2 if not transposed else dh * (kh - 1))))
    pw = draw(st.integers(0, min(max_padding, (dw * (kw - 1)) // 2 if not transposed else dw * (kw - 1))))
    sh, sw = draw(st.integers(1, max_stride)), draw(st.integers(1, max_stride))
    if same_width:
        pw, sh, sw = dw * (kw - 1) // 2, 1, 1
    if transposed:
        # smallest input whose output (H-1)·s - 2p + d·(k-1) + 1 (+ output_padding) is not empty
        min_h = 1 + -(-max(0, 2 * ph - dh * (kh - 1)) // sh)
        min_w = 1 + -(-max(0, 2 * pw - dw * (kw - 1)) // sw)
    else:
        # smallest input whose padded size covers the dilated kernel
        min_h = max(1, dh * (kh - 1) + 1 - 2 * ph)
        min_w = max(1, dw * (kw - 1) + 1 - 2 * pw)
    h = draw(st.integers(min_h, min_h + max_extra))
    w = draw(st.integers(min_w, min_w + max_extra))
    geo = dict(N=draw(st.integers(1, max_batch)), C_in=draw(st.integers(1, max_channels)),
               C_out=draw(st.integers(1, max_channels)), H=h, W=w, kernel_size=(kh, kw),
               stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    if transposed:
        geo["output_padding"] = (draw(st.integers(0, max(sh, dh) - 1)), draw(st.integers(0, max(sw, dw) - 1)))
    return geo


@st.composite
def pool_geometries(draw, max_kernel=3, max_stride=3, max_batch=2, max_channels=3, max_extra=4):
    """A valid max/avg-pooling geometry: padding at most half the kernel, input at least the kernel."""
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    sh, sw = draw(st.integers(1, max_stride)), draw(st.integers(1, max_stride))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, kh - 2 * ph), max(1, kh - 2 * ph) + max_extra))
    w = draw(st.integers(max(1, kw - 2 * pw), max(1, kw - 2 * pw) + max_extra))
    return dict(N=draw(st.integers(1, max_batch)), C=draw(st.integers(1, max_channels)), H=h, W=w,
                kernel_size=(kh, kw), stride=(sh, sw), padding=(ph, pw))
