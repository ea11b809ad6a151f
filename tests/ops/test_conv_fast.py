"""The fast paths of ops/conv_fast.py against the reference kernels of ops/conv.py and ops/im2col.py.

Every trick (rows laid end to end, column blocks, bands of output rows, kept columns) must give the
reference's results: bit for bit where it only copies (im2col), within 1e-12 in float64 where it
sums in another order (col2im, the products of blocks).
"""
import numpy as np
import pytest
from conv_runs import run_all as _run_all
from conv_runs import same_conv
from hypothesis import given
from hypothesis import strategies as st

import minidense as md
import minidense.functional as F
from minidense import testing as mt
from minidense.ops import conv, conv_fast, fastpaths
from minidense.ops import im2col as columns


def _geometry(data, same_width=False, transposed=False):
    g = data.draw(mt.conv_geometries(same_width=same_width, transposed=transposed))
    return g, columns.Geometry(g["kernel_size"], g["stride"], g["padding"], g["dilation"])


def reference_im2col(x, geo, pad_value=0.0):
    """The layout's definition, entry by entry (tests only)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    n, c = x.shape[:2]
    ho, wo = columns.output_size(x.shape[2:], geo)
    cols = np.empty((c, kh, kw, n, ho, wo))
    for i in range(kh):
        for j in range(kw):
            for r in range(ho):
                for q in range(wo):
                    cols[:, i, j, :, r, q] = xp[:, :, r * sh + i * dh, q * sw + j * dw].T
    return cols.reshape(c * kh * kw, n * ho * wo)


# ------------------------------------------------------------------ im2col and col2im

@given(st.data())
def test_reference_im2col_matches_the_definition(data):
    g, geo = _geometry(data)
    x = data.draw(mt.arrays((g["N"], g["C_in"], g["H"], g["W"])))
    pad_value = data.draw(st.sampled_from([0.0, -np.inf]))
    np.testing.assert_array_equal(columns.im2col(x, geo, pad_value), reference_im2col(x, geo, pad_value))


@given(st.data())
def test_fast_im2col_copies_exactly_what_the_reference_does(data):
    g, geo = _geometry(data, same_width=data.draw(st.booleans()))
    x = data.draw(mt.arrays((g["N"], g["C_in"], g["H"], g["W"])))
    pad_value = data.draw(st.sampled_from([0.0, -np.inf]))
    np.testing.assert_array_equal(conv_fast.im2col(x, geo, pad_value), columns.im2col(x, geo, pad_value))


@given(st.data())
def test_fast_col2im_matches_the_reference_and_leaves_its_input_alone(data):
    g, geo = _geometry(data, same_width=data.draw(st.booleans()))
    x_shape = (g["N"], g["C_in"], g["H"], g["W"])
    ho, wo = columns.output_size(x_shape[2:], geo)
    c = np.ascontiguousarray(data.draw(mt.arrays((g["C_in"] * g["kernel_size"][0] * g["kernel_size"][1],
                                                  g["N"] * ho * wo))))
    kept = c.copy()
    expected = columns.col2im(c, geo, x_shape)
    np.testing.assert_allclose(conv_fast.col2im(c, geo, x_shape), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(c, kept)   # the padding's share is zeroed in a copy, never in place
    scratch = conv_fast.col2im(c.copy(), geo, x_shape, overwrite_cols=True)
    np.testing.assert_allclose(scratch, expected, rtol=1e-12, atol=1e-12)   # scratch may change; results may not


@given(st.data())
def test_fast_col2im_of_tiling_windows_copies_what_the_reference_adds(data):
    """Stride = kernel size, no padding or dilation (a 2×2 stride-2 transposed convolution): each pixel gets
    at most one entry, copied; the pixels past the last whole window are zero, as the reference's."""
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    geo = columns.Geometry((kh, kw), (kh, kw), (0, 0), (1, 1))
    assert conv_fast.tiles(geo)
    x_shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)),
               data.draw(st.integers(kh, 3 * kh + 2)), data.draw(st.integers(kw, 3 * kw + 2)))
    ho, wo = columns.output_size(x_shape[2:], geo)
    c = data.draw(mt.arrays((x_shape[1] * kh * kw, x_shape[0] * ho * wo)))
    kept = c.copy()
    got = conv_fast.col2im(c, geo, x_shape)
    np.testing.assert_array_equal(got, columns.col2im(c, geo, x_shape))
    np.testing.assert_array_equal(c, kept)
    assert not conv_fast.tiles(columns.Geometry((2, 2), (2, 2), (1, 0), (1, 1)))
    assert not conv_fast.tiles(columns.Geometry((2, 2), (2, 1), (0, 0), (1, 1)))


def test_a_unet_conv_lays_rows_end_to_end():
    geo = columns.Geometry((3, 3), (1, 1), (1, 1), (1, 1))
    assert conv_fast.rows_end_to_end(geo, 64, columns.output_size((64, 64), geo)[1])
    assert not conv_fast.rows_end_to_end(geo._replace(stride=(2, 2)), 64, 32)


# ------------------------------------------------------------------ blocks and bands

def test_blocks_are_groups_of_images_or_bands_of_one_image():
    # 18 rows × 4 columns per output row × 8 bytes: 576 bytes per output row, 2304 per image of 4 rows
    with md.fast_paths(True, column_block_bytes=2 * 2304):
        assert conv_fast.blocks(5, 18, (4, 4), 8) == [(slice(0, 2), slice(0, 4)), (slice(2, 4), slice(0, 4)),
                                                      (slice(4, 5), slice(0, 4))]
    with md.fast_paths(True, column_block_bytes=3 * 576):
        assert conv_fast.blocks(2, 18, (4, 4), 8) == [(slice(0, 1), slice(0, 3)), (slice(0, 1), slice(3, 4)),
                                                      (slice(1, 2), slice(0, 3)), (slice(1, 2), slice(3, 4))]
    with md.fast_paths(True, column_block_bytes=1):   # never below one output row
        assert len(conv_fast.blocks(2, 18, (4, 4), 8)) == 8
    assert fastpaths.column_block_bytes() == fastpaths.DEFAULT_COLUMN_BLOCK_BYTES


def _budgets(data, rows, out_size):
    """A column block budget that gives one block, groups of images, or bands of output rows (drawn)."""
    per_row = rows * out_size[1] * 8
    return data.draw(st.sampled_from([fastpaths.DEFAULT_COLUMN_BLOCK_BYTES, per_row * out_size[0],
                                      per_row * max(1, out_size[0] - 1), per_row]))


@given(st.data())
def test_fast_and_reference_convolution_agree_on_outputs_and_gradients(data):
    g, geo = _geometry(data, same_width=data.draw(st.booleans()))
    kw = dict(stride=geo.stride, padding=geo.padding, dilation=geo.dilation)
    x = data.draw(mt.arrays((g["N"], g["C_in"], g["H"], g["W"])))
    w = data.draw(mt.arrays((g["C_out"], g["C_in"]) + g["kernel_size"]))
    b = data.draw(mt.arrays((g["C_out"],)))
    out_size = columns.output_size(x.shape[2:], geo)
    upstream = data.draw(mt.arrays((g["N"], g["C_out"]) + out_size))
    conv = lambda x, w, b: F.conv2d(x, w, b, **kw)   # noqa: E731
    with md.fast_paths(False):
        expected = _run_all(conv, (x, w, b), upstream)
    with md.fast_paths(True, column_block_bytes=_budgets(data, w[0].size, out_size)):
        got = _run_all(conv, (x, w, b), upstream)
    for e, a in zip(expected, got):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@given(st.data())
def test_fast_and_reference_transposed_convolution_agree_on_outputs_and_gradients(data):
    g, geo = _geometry(data, transposed=True)
    kw = dict(stride=geo.stride, padding=geo.padding, dilation=geo.dilation, output_padding=g["output_padding"])
    x = data.draw(mt.arrays((g["N"], g["C_in"], g["H"], g["W"])))
    w = data.draw(mt.arrays((g["C_in"], g["C_out"]) + g["kernel_size"]))
    b = data.draw(mt.arrays((g["C_out"],)))
    out_size = columns.transposed_output_size(x.shape[2:], geo, g["output_padding"])
    upstream = data.draw(mt.arrays((g["N"], g["C_out"]) + out_size))
    up = lambda x, w, b: F.conv_transpose2d(x, w, b, **kw)   # noqa: E731
    with md.fast_paths(False):
        expected = _run_all(up, (x, w, b), upstream)
    # forward and backward both build (C_out·kH·kW)-row columns, over the (H, W) grid of this op's input
    with md.fast_paths(True, column_block_bytes=_budgets(data, w[0].size, (g["H"], g["W"]))):
        got = _run_all(up, (x, w, b), upstream)
    for e, a in zip(expected, got):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


GEOMETRIES_FOR_BLOCKS = [dict(stride=(1, 2), padding=1, dilation=(2, 1)),
                         dict(stride=(2, 1), padding=(2, 0), dilation=(1, 2)),
                         dict(stride=1, padding=(0, 1), dilation=1)]   # rows end to end inside each band


@pytest.mark.parametrize("budget_rows", [8, 4, 3, 2, 1])   # output rows of columns per block
@pytest.mark.parametrize("kw", GEOMETRIES_FOR_BLOCKS)
def test_columns_built_in_blocks_give_the_reference_values_and_gradients(kw, budget_rows):
    """Whole batch vs groups of two images (8 rows) vs bands of one image's output rows (< 4 rows)."""
    gen = np.random.default_rng(1)
    x, w, b = gen.standard_normal((5, 3, 6, 7)), gen.standard_normal((4, 3, 3, 2)), gen.standard_normal(4)
    y = gen.standard_normal((5, 3, 4, 5))
    wt = w.transpose(1, 0, 2, 3).copy()
    conv = lambda x, w, b: F.conv2d(x, w, b, **kw)   # noqa: E731
    up = lambda y, w: F.conv_transpose2d(y, w, **kw)   # noqa: E731
    conv_upstream = gen.standard_normal(F.conv2d(md.tensor(x), md.tensor(w), **kw).shape)
    up_upstream = gen.standard_normal(F.conv_transpose2d(md.tensor(y), md.tensor(wt), **kw).shape)
    with md.fast_paths(False):
        expected = _run_all(conv, (x, w, b), conv_upstream) + _run_all(up, (y, wt), up_upstream)
    with md.fast_paths(True, column_block_bytes=budget_rows * 18 * 5 * 8):
        got = _run_all(conv, (x, w, b), conv_upstream) + _run_all(up, (y, wt), up_upstream)
    for e, a in zip(expected, got):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_the_switch_turns_the_fast_paths_off_and_back_on(monkeypatch):
    calls = []
    original = conv_fast.Kernels.forward
    monkeypatch.setattr(conv_fast.Kernels, "forward", lambda self, *a: calls.append(1) or original(self, *a))
    x, w = md.randn(1, 2, 5, 5), md.randn(3, 2, 3, 3)
    with md.fast_paths(True):                # whatever MINIDENSE_FAST says for this process
        with md.fast_paths(False):
            assert not fastpaths.enabled()
            F.conv2d(x, w, padding=1)
        assert calls == [] and fastpaths.enabled()
        F.conv2d(x, w, padding=1)
        assert calls == [1]
        previous = md.fast_paths(False)      # a plain call switches for good, as torch.set_grad_enabled does
        try:
            assert not fastpaths.enabled()
        finally:
            previous.__exit__(None, None, None)
        assert fastpaths.enabled()


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_the_column_block_budget_is_checked(bad):
    with pytest.raises((TypeError, ValueError), match="column_block_bytes"):
        md.fast_paths(True, column_block_bytes=bad)
    with pytest.raises(TypeError, match="enabled"):
        md.fast_paths("no")


def test_minidense_fast_0_switches_them_off_for_a_process():
    import subprocess
    import sys
    code = "from minidense.ops import fastpaths; print(fastpaths.enabled())"
    for value, expected in (("0", "False"), ("1", "True")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, "MINIDENSE_FAST": value})
        assert out.stdout.strip() == expected


# ------------------------------------------------------------------ the input gradient as a convolution

@given(st.data())
def test_the_input_gradient_as_a_convolution_is_within_the_dot_product_bound_in_float32(data):
    """float32: |computed − exact| ≤ γ(K) · (|Wᵀ| col2im |g|) per input, K = C_out·kH·kW the terms summed,
    γ(K) = K·u / (1 − K·u): the bound of the reference's own sum (another order, the same terms)."""
    g, geo = _geometry(data, same_width=data.draw(st.booleans()))
    geo = geo._replace(stride=(1, 1))
    if not conv_fast.gradient_is_a_convolution(geo):
        geo = geo._replace(padding=(0, 0))
    x_shape = (g["N"], g["C_in"], g["H"], g["W"])
    out_size = columns.output_size(x_shape[2:], geo)
    if min(out_size) < 1:
        return
    w = data.draw(mt.arrays((g["C_out"], g["C_in"]) + g["kernel_size"]))
    up = data.draw(mt.arrays((g["N"], g["C_out"]) + out_size))
    with md.fast_paths(True), conv_fast.dispatch.prefer("convolution"):
        got = conv_fast.Kernels().input_grad(up.astype(np.float32), w.astype(np.float32), geo, x_shape)
    exact = conv._conv_input_grad(up, w, geo, x_shape)   # float64
    terms = g["C_out"] * g["kernel_size"][0] * g["kernel_size"][1]
    u = np.finfo(np.float32).eps / 2
    # the inputs rounded to float32 too: their error enters every term, once each
    bound = (terms + 2) * u / (1 - (terms + 2) * u) * conv._conv_input_grad(np.abs(up), np.abs(w), geo, x_shape)
    assert got.dtype == np.float32 and got.shape == x_shape
    assert np.all(np.abs(got - exact) <= bound + 1e-30)


def test_the_input_gradient_is_a_convolution_only_at_stride_1_without_cropping():
    geo = columns.Geometry((3, 3), (1, 1), (1, 1), (1, 1))
    assert conv_fast.gradient_is_a_convolution(geo)
    assert conv_fast.gradient_geometry(geo) == geo                        # a 'same' convolution: padding 1 again
    dilated = columns.Geometry((3, 2), (1, 1), (4, 0), (2, 3))
    assert conv_fast.gradient_is_a_convolution(dilated)
    assert conv_fast.gradient_geometry(dilated).padding == (0, 3)         # d·(k − 1) − p per axis
    assert not conv_fast.gradient_is_a_convolution(geo._replace(stride=(2, 1)))
    assert not conv_fast.gradient_is_a_convolution(geo._replace(padding=(3, 1)))   # would need a crop
    w = np.arange(2 * 3 * 2 * 2.0).reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(conv_fast.flipped(w)[1, 0], w[0, 1, ::-1, ::-1])
    # which form comes first: the convolution where its column matrix is no larger (C_in >= C_out)
    assert [conv_fast.convolution_first(np.empty((o, i, 3, 3))) for o, i in [(32, 64), (16, 16), (32, 16)]] \
        == [True, True, False]


def test_the_weight_gradient_comes_from_the_input_gradients_columns(monkeypatch):
    """Where the input gradient is a convolution (C_in >= C_out, stride 1), x's columns are never built for the
    weight gradient: it is summed from g's columns, and equals the reference's."""
    conv2d, (x, w, b), upstream, expected = same_conv(5, (3, 4, 9, 8), 2)

    def fail(*args, **kwargs):
        raise AssertionError("the weight gradient built x's columns")
    monkeypatch.setattr(conv_fast.Kernels, "_weight_grad_columns", fail)
    for budget in (fastpaths.DEFAULT_COLUMN_BLOCK_BYTES, 18 * 8 * 8 * 9, 18 * 8 * 8 * 2):   # one block, images, bands
        with md.fast_paths(True, column_block_bytes=budget):
            got = _run_all(conv2d, (x, w, b), upstream)
        for e, a in zip(expected, got):
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
    kernels = conv_fast.Kernels(keep_columns=True)
    geo = columns.Geometry((3, 3), (1, 1), (1, 1), (1, 1))
    kernels.forward(x, w, geo)
    kernels.input_grad(upstream, w, geo, x.shape)
    assert kernels.kept_weight_grad is not None
    with pytest.raises(AssertionError, match="x's columns"):   # another g: computed, not the kept one
        kernels.weight_grad(upstream.copy(), x, geo)
    kernels.weight_grad(upstream, x, geo)
    assert kernels.kept_weight_grad is None   # handed over once


@given(st.data())
def test_1x1_convolutions_are_batched_products_with_the_references_results(data):
    """Stride 1, no padding: no columns built, no col2im; forward and both gradients within 1e-12 (float64)."""
    n, c_in, c_out = (data.draw(st.integers(1, 3)) for _ in range(3))
    h, w = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    geo = columns.Geometry((1, 1), (1, 1), (0, 0), (data.draw(st.integers(1, 2)),) * 2)
    assert conv_fast.pointwise(geo) and not conv_fast.pointwise(geo._replace(padding=(1, 0)))
    x, wt = data.draw(mt.arrays((n, c_in, h, w))), data.draw(mt.arrays((c_out, c_in, 1, 1)))
    g = data.draw(mt.arrays((n, c_out, h, w)))
    expected = (conv._conv_forward(x, wt, geo), conv._conv_input_grad(g, wt, geo, x.shape),
                conv._conv_weight_grad(g, x, geo))
    with pytest.MonkeyPatch.context() as patch:
        for name in ("im2col", "col2im"):
            patch.setattr(conv_fast, name, lambda *a, name=name, **k: pytest.fail(f"{name} ran"))
        kernels = conv_fast.Kernels(keep_columns=True)
        got = (kernels.forward(x, wt, geo), kernels.input_grad(g, wt, geo, x.shape), kernels.weight_grad(g, x, geo))
    for e, a in zip(expected, got):
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
