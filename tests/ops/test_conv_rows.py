"""Row columns (ops/conv_rows.py): the columns of one kernel row, read at shifted places, are im2col's.

The copies are exact (bit for bit against im2col's columns); the products sum the same terms in another
order (kH partial sums), so they agree with the reference within 1e-12 in float64 and within the
dot product's own bound in float32; the rows the views run across (between images) never reach a result.
"""
import numpy as np
import pytest
from conv_runs import run_all
from hypothesis import given
from hypothesis import strategies as st
from kit_files import assert_no_kit_ships

import minidense as md
import minidense.functional as F
from minidense import testing as mt
from minidense.assignments import course
from minidense.ops import conv, conv_fast, conv_rows
from minidense.ops import im2col as columns

#: a line of the row columns' product: a kit that holds it ships the fast path
PRODUCT_LINE = "xp.matmul(w.transpose(2, 0, 1, 3).reshape(kh * c_out, -1), cols, out=by_row[:, :pixels])"


def _same_width(data, max_batch=3):
    """A stride-1 geometry with W_out == W and kH > 1 (where conv_rows applies), and an input for it."""
    g = data.draw(mt.conv_geometries(same_width=True, max_batch=max_batch))
    if g["kernel_size"][0] == 1:
        g["kernel_size"] = (2, g["kernel_size"][1])
        g["H"] += g["dilation"][0]
    geo = columns.Geometry(g["kernel_size"], g["stride"], g["padding"], g["dilation"])
    x = data.draw(mt.arrays((g["N"], g["C_in"], g["H"], g["W"])))
    return g, geo, x


@given(st.data())
def test_kernel_row_i_of_im2col_is_the_row_columns_shifted_by_i_dilated_rows(data):
    g, geo, x = _same_width(data)
    (kh, kw), (dh, _), (n, c, h, w) = geo.kernel_size, geo.dilation, x.shape
    assert conv_rows.applies(geo, w, columns.output_size((h, w), geo)[1])
    cols = conv_rows.columns(x, geo)
    r = conv_rows.padded_height(h, geo)
    assert cols.shape == (c * kw, n * r * w)
    ho = columns.output_size((h, w), geo)[0]
    reference = columns.im2col(x, geo).reshape(c, kh, kw, n, ho, w)
    by_image = cols.reshape(c, kw, n, r, w)
    for i in range(kh):   # the rows kernel row i reads: image rows i·dH .. i·dH + H_out − 1, padded
        np.testing.assert_array_equal(by_image[:, :, :, i * dh:i * dh + ho], reference[:, i])


@given(st.data())
def test_the_products_give_the_reference_forward_and_weight_gradient(data):
    g, geo, x = _same_width(data)
    w = data.draw(mt.arrays((g["C_out"], g["C_in"]) + geo.kernel_size))
    expected = conv._conv_forward(x, w, geo)
    cols = conv_rows.columns(x, geo)
    got = conv_rows.product(w, cols, geo, x.shape[0], x.shape[3])
    assert got.shape == expected.shape and got.flags.c_contiguous
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    given = np.full(expected.shape, np.nan)   # an output given is written whole
    assert conv_rows.product(w, cols, geo, x.shape[0], x.shape[3], out=given) is given
    np.testing.assert_allclose(given, expected, rtol=1e-12, atol=1e-12)
    # the weight gradient: g's rows padded with zeros where the shifted columns run into the next image
    up = data.draw(mt.arrays(expected.shape))
    r = conv_rows.padded_height(x.shape[2], geo)
    g_rows = conv_rows.padded_rows(up.transpose(1, 0, 2, 3), r)
    acc = conv_rows.weight_grad(cols, g_rows, geo, x.shape[3])     # (kH, C_in·kW, C_out)
    kh, kw = geo.kernel_size
    got_w = acc.reshape(kh, g["C_in"], kw, g["C_out"]).transpose(3, 1, 0, 2)
    np.testing.assert_allclose(got_w, conv._conv_weight_grad(up, x, geo), rtol=1e-12, atol=1e-12)
    again = conv_rows.weight_grad(cols, g_rows, geo, x.shape[3], acc.copy())   # adds to what it is given
    np.testing.assert_allclose(again, 2 * acc, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [1, 5, 16, 37])   # under, at and over TRANSPOSED_CHANNELS, a remainder
def test_padded_rows_are_the_pixels_channels_last_bit_for_bit_then_zeros(dtype, channels):
    """The transposition by products with the identity is exact for finite values, whatever their size."""
    gen = np.random.default_rng(channels)
    a = (gen.standard_normal((channels, 3, 4, 5)) * 10.0 ** gen.integers(-30, 30, (channels, 3, 4, 5))).astype(dtype)
    a[0, 0, 0, :2] = [0.0, np.finfo(dtype).tiny / 4]       # a zero and a subnormal
    got = conv_rows.padded_rows(a, 6).reshape(3, 6, 5, channels)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got[:, :4], a.transpose(1, 2, 3, 0))
    np.testing.assert_array_equal(got[:, 4:], 0)


def test_a_non_finite_input_gives_a_non_finite_weight_gradient_wherever_the_reference_does():
    """The identity products spread an infinity over its pixel's channels (∞·0 = NaN): more entries of the
    weight gradient are NaN than the reference's, never fewer, and the finite ones agree."""
    gen = np.random.default_rng(5)
    x = gen.standard_normal((2, 3, 5, 6))
    x[1, 2, 3, 4] = np.inf
    geo = columns.Geometry((3, 3), (1, 1), (1, 1), (1, 1))
    up = gen.standard_normal((2, 4, 5, 6))
    expected = conv._conv_weight_grad(up, x, geo)
    r = conv_rows.padded_height(5, geo)
    acc = conv_rows.weight_grad(conv_rows.columns(x, geo), conv_rows.padded_rows(up.transpose(1, 0, 2, 3), r), geo, 6)
    got = acc.reshape(3, 3, 3, 4).transpose(3, 1, 0, 2)
    assert not np.isfinite(expected).all() and np.all(~np.isfinite(got)[~np.isfinite(expected)])
    both = np.isfinite(expected) & np.isfinite(got)
    np.testing.assert_allclose(got[both], expected[both], rtol=1e-12, atol=1e-12)
    # from the other side, x's pixels transposed (the input gradient's columns give the weight gradient)
    cols_g = conv_rows.columns(up, conv_fast.gradient_geometry(geo))
    flipped = conv_rows.weight_grad(cols_g, conv_rows.padded_rows(x.transpose(1, 0, 2, 3), r), geo, 6)
    assert np.isnan(flipped).any()


def test_the_rows_between_images_are_computed_and_never_shown():
    """Two images whose dropped rows would be huge if they leaked: the output is the reference's."""
    geo = columns.Geometry((3, 3), (1, 1), (1, 1), (1, 1))
    x = np.zeros((2, 1, 4, 5))
    x[0, 0, -1], x[1, 0, 0] = 1e6, -1e6            # the rows a view takes across the boundary
    w = np.random.default_rng(0).standard_normal((2, 1, 3, 3))
    got = conv_rows.product(w, conv_rows.columns(x, geo), geo, 2, 5)
    assert got.shape == (2, 2, 4, 5)
    np.testing.assert_allclose(got, conv._conv_forward(x, w, geo), rtol=1e-12, atol=1e-6)


@given(st.data())
def test_the_products_are_within_the_dot_product_bound_in_float32(data):
    """|computed − exact| ≤ γ(K + 2) · (|w| ⊛ |x|) per output, K = C_in·kH·kW: kH partial sums of C_in·kW
    terms and kH − 1 additions are one order of the same K terms; + 2 for rounding the inputs to float32."""
    g, geo, x = _same_width(data)
    w = data.draw(mt.arrays((g["C_out"], g["C_in"]) + geo.kernel_size))
    got = conv_rows.product(w.astype(np.float32), conv_rows.columns(x.astype(np.float32), geo), geo,
                            x.shape[0], x.shape[3])
    assert got.dtype == np.float32
    exact = conv._conv_forward(x, w, geo)
    terms = g["C_in"] * geo.kernel_size[0] * geo.kernel_size[1] + 2
    u = np.finfo(np.float32).eps / 2
    bound = terms * u / (1 - terms * u) * conv._conv_forward(np.abs(x), np.abs(w), geo)
    assert np.all(np.abs(got - exact) <= bound + 1e-30)


@pytest.mark.parametrize("backward", [False, True])
def test_the_fast_convolution_builds_row_columns_for_whole_images_and_im2col_for_bands(monkeypatch, backward):
    """A U-Net conv takes conv_rows' road on both passes (no im2col built, no col2im) where the weight
    gradient's row columns have WEIGHT_GRAD_ROWS rows; a budget below one image's row columns takes bands of
    im2col's columns. Both give the reference's values."""
    gen = np.random.default_rng(2)
    x, w, b = gen.standard_normal((3, 4, 6, 5)), gen.standard_normal((6, 4, 3, 3)), gen.standard_normal(6)
    upstream = gen.standard_normal((3, 6, 6, 5))
    with md.fast_paths(False):
        expected = _run(x, w, b, upstream, backward)
    built = []
    original = conv_fast.im2col
    monkeypatch.setattr(conv_fast, "im2col", lambda *a, **k: built.append(1) or original(*a, **k))
    with md.fast_paths(True):
        assert _run(x, w, b, upstream, False) and built == []        # the forward: C_in·kW = 12 rows
        if backward:   # 4 or 6 channels give 12 or 18 rows, under WEIGHT_GRAD_ROWS: im2col's (or col2im's) road
            for e, a in zip(expected, _run(x, w, b, upstream, backward)):
                np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
            assert built
            built.clear()
        monkeypatch.setattr(conv_fast, "WEIGHT_GRAD_ROWS", 1)
        monkeypatch.setattr(conv_fast, "col2im", lambda *a, **k: pytest.fail("col2im ran"))
        got = _run(x, w, b, upstream, backward)
    assert built == []
    one_image = 4 * 3 * (6 + 2) * 5 * 8   # C_in·kW row columns over R = H + 2 rows, float64
    with md.fast_paths(True, column_block_bytes=one_image // 2):
        banded = _run(x, w, b, upstream, backward)
    assert built
    for e, a, c in zip(expected, got, banded):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(c, e, rtol=1e-12, atol=1e-12)


def test_the_forward_of_few_channels_takes_im2cols_columns(monkeypatch):
    """Row columns of C_in·kW < FORWARD_ROWS rows (an RGB image's 3 channels, 3×3: 9) would make the stacked
    product's inner dimension too short: im2col's columns compute that forward, with the reference's values."""
    gen = np.random.default_rng(4)
    x, w = gen.standard_normal((2, 3, 6, 5)), gen.standard_normal((4, 3, 3, 3))
    geo = columns.Geometry((3, 3), (1, 1), (1, 1), (1, 1))
    built, original = [], conv_fast.im2col
    monkeypatch.setattr(conv_fast, "im2col", lambda *a, **k: built.append(1) or original(*a, **k))
    with md.fast_paths(True):
        np.testing.assert_allclose(conv_fast.Kernels().forward(x, w, geo), conv._conv_forward(x, w, geo),
                                   rtol=1e-12, atol=1e-12)
        assert built == [1]
        monkeypatch.setattr(conv_fast, "FORWARD_ROWS", 3 * 3)
        conv_fast.Kernels().forward(x, w, geo)
        assert built == [1]


def _run(x, w, b, upstream, backward):
    xt, wt, bt = (md.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, padding=1)
    if not backward:
        return [out.numpy()]
    out.backward(md.tensor(upstream))
    return [out.numpy(), xt.grad, wt.grad, bt.grad]


def test_the_input_gradient_is_a_convolution_where_its_row_columns_are_no_larger_than_col2ims():
    """C_out·kW rows against col2im's C_in·kH·kW: a widening 16->32 3×3 layer is a convolution by rows."""
    w = np.empty((32, 16, 3, 3))
    assert conv_fast.convolution_first(w, by_rows=True) and not conv_fast.convolution_first(w)
    assert not conv_fast.convolution_first(np.empty((64, 16, 3, 3)), by_rows=True)


@pytest.mark.parametrize("spec", course.COURSE, ids=lambda spec: spec.name)
def test_no_kit_ships_the_row_columns(spec, tmp_path):
    assert_no_kit_ships(spec, tmp_path, conv_rows, PRODUCT_LINE)


@pytest.mark.parametrize("images_per_block", [None, 2, 1])   # one block (the forward's columns kept), groups
def test_the_weight_gradient_by_row_columns_where_they_have_rows_enough(monkeypatch, images_per_block):
    """Kernels.weight_grad takes the row columns where C_in·kW ≥ WEIGHT_GRAD_ROWS (here lowered to 1), with
    or without the forward's kept columns; below the threshold it builds im2col's columns."""
    gen = np.random.default_rng(3)
    x, w = gen.standard_normal((3, 2, 5, 6)), gen.standard_normal((4, 2, 3, 3))
    geo = columns.Geometry((3, 3), (1, 1), (2, 2), (2, 2))   # dilated: no Winograd, so the forward keeps its columns
    up = gen.standard_normal((3, 4, 5, 6))
    expected = conv._conv_weight_grad(up, x, geo)
    built = []
    original = conv_fast.im2col
    monkeypatch.setattr(conv_fast, "im2col", lambda *a, **k: built.append(1) or original(*a, **k))
    budget = None if images_per_block is None else images_per_block * 4 * 3 * 9 * 6 * 8   # (C_out·kH) rows, R = 9
    with md.fast_paths(True, **({} if budget is None else {"column_block_bytes": budget})):
        monkeypatch.setattr(conv_fast, "WEIGHT_GRAD_ROWS", 1)
        monkeypatch.setattr(conv_fast, "FORWARD_ROWS", 1)   # 2 channels: 6 rows, as the forward keeps them
        for keep in (False, True):
            kernels = conv_fast.Kernels(keep_columns=keep)
            if keep:
                kernels.forward(x, w, geo)
                assert (kernels.kept is not None and kernels.kept[2]) == (images_per_block is None)
            np.testing.assert_allclose(kernels.weight_grad(up, x, geo), expected, rtol=1e-12, atol=1e-12)
        assert built == []
        monkeypatch.setattr(conv_fast, "WEIGHT_GRAD_ROWS", 2 * 3 + 1)
        np.testing.assert_allclose(conv_fast.Kernels().weight_grad(up, x, geo), expected, rtol=1e-12, atol=1e-12)
        assert built


@given(st.data())
def test_fast_and_reference_convolution_agree_with_row_columns_of_any_height(data):
    """conv_fast's tests with WEIGHT_GRAD_ROWS and FORWARD_ROWS lowered to 1: the row columns compute every
    product they can (their geometries have few channels), and give the reference's outputs and gradients."""
    g = data.draw(mt.conv_geometries(same_width=True))
    kw = dict(stride=g["stride"], padding=g["padding"], dilation=g["dilation"])
    x = data.draw(mt.arrays((g["N"], g["C_in"], g["H"], g["W"])))
    w = data.draw(mt.arrays((g["C_out"], g["C_in"]) + g["kernel_size"]))
    b = data.draw(mt.arrays((g["C_out"],)))
    geo = columns.Geometry(g["kernel_size"], g["stride"], g["padding"], g["dilation"])
    upstream = data.draw(mt.arrays((g["N"], g["C_out"]) + columns.output_size(x.shape[2:], geo)))
    conv2d = lambda x, w, b: F.conv2d(x, w, b, **kw)   # noqa: E731
    with md.fast_paths(False):
        expected = run_all(conv2d, (x, w, b), upstream)
    with pytest.MonkeyPatch.context() as patch, md.fast_paths(True):
        patch.setattr(conv_fast, "WEIGHT_GRAD_ROWS", 1)
        patch.setattr(conv_fast, "FORWARD_ROWS", 1)
        got = run_all(conv2d, (x, w, b), upstream)
    for e, a in zip(expected, got):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)
