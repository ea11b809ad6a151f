"""Winograd F(2×2, 3×3) (ops/winograd.py) and the dispatch table (ops/dispatch.py) against the reference kernels.

float64: within 1e-10 of the reference on hypothesis geometries. float32: within the bound that
ops/winograd.py states, γ(C + 10) · 16 · Σ_c max|w[o, c]| · Σ_window |x[c]|, against the exact (float64)
result. Whichever candidate the table picks, the ops give the reference's values and gradients.
"""
import numpy as np
import pytest
from conv_runs import run_all as _run_all
from conv_runs import same_conv
from hypothesis import given, settings
from hypothesis import strategies as st

import minidense as md
import minidense.functional as F
from minidense import testing as mt
from minidense.ops import conv, conv_fast, dispatch, winograd
from minidense.ops import im2col as columns


@st.composite
def winograd_geometries(draw, max_padding=4):
    """A 3×3, stride-1, dilation-1 geometry (any padding up to max_padding) and an input it fits."""
    ph, pw = draw(st.integers(0, max_padding)), draw(st.integers(0, max_padding))
    h, w = draw(st.integers(max(1, 3 - 2 * ph), 9)), draw(st.integers(max(1, 3 - 2 * pw), 9))
    geo = columns.Geometry((3, 3), (1, 1), (ph, pw), (1, 1))
    return geo, (draw(st.integers(1, 3)), draw(st.integers(1, 4)), h, w), draw(st.integers(1, 4))


def _bound(x, w, geo, channels, dtype):
    """The stated bound for each output of the convolution of x by w (float64, exact enough)."""
    u = np.finfo(dtype).eps / 2
    gamma = (channels + 10) * u / (1 - (channels + 10) * u)
    box = np.broadcast_to(np.abs(w).max(axis=(2, 3), keepdims=True), w.shape)
    return gamma * 16 * conv._conv_forward(np.abs(x).astype(np.float64), box.astype(np.float64), geo)


def test_applies_only_to_3x3_stride_1_dilation_1():
    geo = columns.Geometry((3, 3), (1, 1), (1, 1), (1, 1))
    assert winograd.applies(geo) and winograd.applies(geo._replace(padding=(0, 3)))
    assert not winograd.applies(geo._replace(stride=(1, 2)))
    assert not winograd.applies(geo._replace(dilation=(2, 1)))
    assert not winograd.applies(geo._replace(kernel_size=(3, 2)))


def test_the_weight_transform_is_g_w_gt():
    w = np.arange(9.0).reshape(1, 1, 3, 3)
    g = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    np.testing.assert_array_equal(winograd.transform_weight(w).reshape(4, 4), g @ w[0, 0] @ g.T)


@settings(max_examples=60)
@given(st.data())
def test_float64_forward_and_input_grad_match_the_reference(data):
    geo, (n, c_in, h, w_in), c_out = data.draw(winograd_geometries())
    x = data.draw(mt.arrays((n, c_in, h, w_in)))
    w = data.draw(mt.arrays((c_out, c_in, 3, 3)))
    out = conv._conv_forward(x, w, geo)
    np.testing.assert_allclose(winograd.forward(x, w, geo), out, rtol=1e-10, atol=1e-10)
    g = data.draw(mt.arrays(out.shape))
    np.testing.assert_allclose(winograd.input_grad(g, w, geo, x.shape), conv._conv_input_grad(g, w, geo, x.shape),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(winograd.weight_grad(g, x, geo), conv._conv_weight_grad(g, x, geo),
                               rtol=1e-10, atol=1e-10)


@settings(max_examples=60)
@given(st.data())
def test_float32_error_within_the_stated_bound(data):
    geo, (n, c_in, h, w_in), c_out = data.draw(winograd_geometries())
    scale = data.draw(st.sampled_from([1e-3, 1.0, 1e3]))
    x = data.draw(mt.arrays((n, c_in, h, w_in))).astype(np.float32) * np.float32(scale)
    w = data.draw(mt.arrays((c_out, c_in, 3, 3))).astype(np.float32)
    exact = conv._conv_forward(x.astype(np.float64), w.astype(np.float64), geo)
    got = winograd.forward(x, w, geo)
    assert got.dtype == np.float32
    assert np.all(np.abs(got - exact) <= _bound(x, w, geo, c_in, np.float32))
    g = data.draw(mt.arrays(exact.shape)).astype(np.float32)
    exact_gx = conv._conv_input_grad(g.astype(np.float64), w.astype(np.float64), geo, x.shape)
    # the input gradient is the convolution of g by the flipped kernel, its channel axes swapped, padded by
    # 2 − p (by 0 and cropped by p − 2 where p > 2): the bound of that convolution
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    full = geo._replace(padding=tuple(max(0, 2 - p) for p in geo.padding))
    (ch, cw) = (max(0, p - 2) for p in geo.padding)
    bound = _bound(g, flipped, full, c_out, np.float32)[:, :, ch:ch + h, cw:cw + w_in]
    assert np.all(np.abs(winograd.input_grad(g, w, geo, x.shape) - exact_gx) <= bound)
    # the weight gradient: γ(T + 12) · 4 · Σ_n Σ_outputs |g| · Σ_window |x|, T the tiles summed
    exact_gw = conv._conv_weight_grad(g.astype(np.float64), x.astype(np.float64), geo)
    tiles = n * ((exact.shape[2] + 1) // 2) * ((exact.shape[3] + 1) // 2)
    u = np.finfo(np.float32).eps / 2
    window = conv._conv_weight_grad(np.abs(g).astype(np.float64), np.abs(x).astype(np.float64), geo).sum(axis=(2, 3))
    bound_gw = (tiles + 12) * u / (1 - (tiles + 12) * u) * 4 * window[:, :, None, None]
    got_gw = winograd.weight_grad(g, x, geo)
    assert got_gw.dtype == np.float32 and np.all(np.abs(got_gw - exact_gw) <= bound_gw)


def test_the_float32_bound_is_not_vacuous():
    """A wrong tap (the kernel not flipped in the transform) breaks the bound by orders of magnitude."""
    gen = np.random.default_rng(0)
    geo = columns.Geometry((3, 3), (1, 1), (1, 1), (1, 1))
    x, w = gen.standard_normal((2, 3, 8, 8)).astype(np.float32), gen.standard_normal((4, 3, 3, 3)).astype(np.float32)
    exact = conv._conv_forward(x.astype(np.float64), w.astype(np.float64), geo)
    wrong = winograd.forward(x, w[:, :, ::-1].copy(), geo)
    assert np.max(np.abs(wrong - exact) / _bound(x, w, geo, 3, np.float32)) > 100


def test_pieces_are_groups_of_images_or_bands_of_tile_rows():
    row = 16 * 4 * (4 + 1) * 8                                          # one row of 4 (+ 1) tiles, 4 channels
    with md.fast_paths(True, column_block_bytes=winograd.PIECE_SHARE * 6 * row):   # two images of 3 rows per piece
        assert winograd._pieces(5, 4, (3, 4), 8) == [(slice(0, 2), slice(0, 3)), (slice(2, 4), slice(0, 3)),
                                                     (slice(4, 5), slice(0, 3))]
    with md.fast_paths(True, column_block_bytes=winograd.PIECE_SHARE * 2 * row):   # bands of 2 rows of tiles
        assert winograd._pieces(2, 4, (3, 4), 8) == [(slice(0, 1), slice(0, 2)), (slice(0, 1), slice(2, 3)),
                                                     (slice(1, 2), slice(0, 2)), (slice(1, 2), slice(2, 3))]
    with md.fast_paths(True, column_block_bytes=1):
        assert len(winograd._pieces(2, 4, (3, 4), 8)) == 6


@pytest.mark.parametrize("padding", [(0, 0), (1, 1), (2, 1), (3, 0)])
@pytest.mark.parametrize("budget_rows", [1, 2, 3, 7, 100])   # rows of tiles per piece
def test_pieces_give_the_whole_batch_result(padding, budget_rows):
    gen = np.random.default_rng(2)
    geo = columns.Geometry((3, 3), (1, 1), padding, (1, 1))
    x, w = gen.standard_normal((3, 4, 9, 8)), gen.standard_normal((5, 4, 3, 3))
    out = conv._conv_forward(x, w, geo)
    g = gen.standard_normal(out.shape)
    tw = (out.shape[3] + 1) // 2
    with md.fast_paths(True, column_block_bytes=winograd.PIECE_SHARE * budget_rows * 16 * 5 * (tw + 1) * 8):
        np.testing.assert_allclose(winograd.forward(x, w, geo), out, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(winograd.input_grad(g, w, geo, x.shape), conv._conv_input_grad(g, w, geo, x.shape),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(winograd.weight_grad(g, x, geo), conv._conv_weight_grad(g, x, geo),
                                   rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ the dispatch table

@pytest.mark.parametrize("candidate", ["im2col", "winograd", "col2im", "convolution"])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_candidate_gives_the_reference_values_and_gradients(candidate, data):
    """Each candidate of the dispatch table (preferred wherever it is offered; the first offered elsewhere):
    the columns, Winograd, and the input gradient by col2im or as a convolution of g."""
    g = data.draw(mt.conv_geometries(max_kernel=3))
    shape = data.draw(st.sampled_from(["as drawn", "winograd", "stride 1"]))
    if shape == "winograd":   # a geometry Winograd computes
        g.update(kernel_size=(3, 3), stride=(1, 1), dilation=(1, 1), padding=(min(g["padding"][0], 1), 1),
                 H=max(g["H"], 3), W=max(g["W"], 3))
    elif shape == "stride 1":   # the input gradient is a convolution where padding <= dilation·(k − 1)
        g.update(stride=(1, 1))
    kw = dict(stride=g["stride"], padding=g["padding"], dilation=g["dilation"])
    x = data.draw(mt.arrays((g["N"], g["C_in"], g["H"], g["W"])))
    w = data.draw(mt.arrays((g["C_out"], g["C_in"]) + tuple(g["kernel_size"])))
    b = data.draw(mt.arrays((g["C_out"],)))
    conv_shape = F.conv2d(md.tensor(x), md.tensor(w), **kw).shape
    y = data.draw(mt.arrays(conv_shape))   # the transposed convolution of w maps it back to x's side
    conv2d = lambda x, w, b: F.conv2d(x, w, b, **kw)   # noqa: E731
    up = lambda y, w: F.conv_transpose2d(y, w, **kw)   # noqa: E731
    gen = np.random.default_rng(0)
    conv_upstream = gen.standard_normal(conv_shape)
    up_upstream = gen.standard_normal(F.conv_transpose2d(md.tensor(y), md.tensor(w), **kw).shape)
    with md.fast_paths(False):
        expected = _run_all(conv2d, (x, w, b), conv_upstream) + _run_all(up, (y, w), up_upstream)
    with md.fast_paths(True), dispatch.prefer(candidate):
        got = _run_all(conv2d, (x, w, b), conv_upstream) + _run_all(up, (y, w), up_upstream)
    for e, a in zip(expected, got):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10)


def test_by_default_pick_takes_the_fallback_without_measuring(monkeypatch):
    """Outside benchmark mode every process computes the same bits: the first candidate, nothing timed."""
    monkeypatch.setattr(dispatch, "_table", {})
    monkeypatch.setattr(dispatch, "_benchmark", [False])
    calls = []
    candidates = {"a": lambda: calls.append("a") or "A", "b": lambda: calls.append("b") or "B"}
    assert dispatch.pick(("op", 1), candidates) == ("a", "A") and calls == ["a"] and dispatch.table() == {}
    assert dispatch.benchmark(True) is False and dispatch.benchmark() is True
    with pytest.raises(TypeError, match="flag must be a bool"):
        dispatch.benchmark("yes")


def test_pick_measures_once_per_key_and_then_runs_the_winner_only(monkeypatch):
    monkeypatch.setattr(dispatch, "_table", {})
    monkeypatch.setattr(dispatch, "_benchmark", [True])
    calls = []
    candidates = {"a": lambda: calls.append("a") or "A", "b": lambda: calls.append("b") or "B"}
    name, result = dispatch.pick(("op", 1), candidates)
    # every candidate once untimed and ROUNDS times timed, then the winner once more for the result
    assert sorted(calls) == sorted(["a"] * (dispatch.ROUNDS + 1) + ["b"] * (dispatch.ROUNDS + 1) + [name])
    assert calls[-1] == name
    assert result == name.upper() and dispatch.table() == {(("op", 1), dispatch.cpu()): name}
    calls.clear()
    assert dispatch.pick(("op", 1), candidates) == (name, name.upper()) and calls == [name]


def test_the_table_is_keyed_by_the_cpu(monkeypatch):
    monkeypatch.setattr(dispatch, "_table", {})
    monkeypatch.setattr(dispatch, "_benchmark", [True])
    dispatch.pick("k", {"a": lambda: 1, "b": lambda: 2})
    here = dispatch.cpu()
    monkeypatch.setattr(dispatch, "_cpu", ["another machine"])
    calls = []
    dispatch.pick("k", {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")})
    assert len(calls) == 2 * (dispatch.ROUNDS + 1) + 1       # measured again: the first machine's choice is not applied
    assert sorted(cpu for _, cpu in dispatch.table()) == sorted([here, "another machine"])
    dispatch.clear()
    assert dispatch.table() == {}


def test_untimed_arrays_and_prefer_take_the_fallback_or_the_preferred(monkeypatch):
    monkeypatch.setattr(dispatch, "_table", {})
    assert dispatch.pick("k", {"a": lambda: 1, "b": lambda: 2}, timed=False) == ("a", 1)
    assert dispatch.table() == {}
    with dispatch.prefer("b"):
        assert dispatch.pick("k", {"a": lambda: 1, "b": lambda: 2}) == ("b", 2)
        assert dispatch.pick("k", {"a": lambda: 1, "c": lambda: 3}) == ("a", 1)
    assert dispatch.table() == {}
    with pytest.raises(TypeError, match="name"):
        dispatch.prefer(3)


def test_the_reference_path_never_consults_the_table(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("dispatch.pick called with the fast paths off")
    monkeypatch.setattr(dispatch, "pick", fail)
    x, w = md.randn(2, 3, 6, 6, requires_grad=True), md.randn(4, 3, 3, 3, requires_grad=True)
    with md.fast_paths(False):
        F.conv2d(x, w, padding=1).sum().backward()
    with md.fast_paths(True), pytest.raises(AssertionError, match="fast paths off"):
        F.conv2d(x, w, padding=1)


def test_a_measured_choice_gives_the_reference_result_and_keeps_no_columns_where_winograd_applies(monkeypatch):
    monkeypatch.setattr(dispatch, "_table", {})
    monkeypatch.setattr(dispatch, "_benchmark", [True])
    gen = np.random.default_rng(3)
    geo = columns.Geometry((3, 3), (1, 1), (1, 1), (1, 1))
    x, w = gen.standard_normal((2, 3, 8, 8)), gen.standard_normal((4, 3, 3, 3))
    kernels = conv_fast.Kernels(keep_columns=True)
    out = kernels.forward(x, w, geo)
    np.testing.assert_allclose(out, conv._conv_forward(x, w, geo), rtol=1e-10, atol=1e-10)
    assert len(dispatch.table()) == 1 and kernels.kept is None
    kernels.forward(x, w[:, :, :2], geo._replace(kernel_size=(3, 2)))   # no Winograd: the columns are kept
    assert kernels.kept is not None and kernels.kept[0] is x and len(dispatch.table()) == 1


def test_measured_input_gradients_carry_the_weight_gradient_in_every_candidate(monkeypatch):
    """In benchmark mode the input gradient's candidates (col2im, the convolution, Winograd) each compute the
    weight gradient too where it is wanted (the convolution gets it from its own columns): they are timed on
    the same work, and the one kept gives the reference's gradients."""
    monkeypatch.setattr(dispatch, "_table", {})
    monkeypatch.setattr(dispatch, "_benchmark", [True])
    conv2d, (x, w, b), upstream, expected = same_conv(7, (2, 3, 8, 8), 3)
    with md.fast_paths(True):
        got = _run_all(conv2d, (x, w, b), upstream)
    for e, a in zip(expected, got):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10)
    keys = [key for key, _ in dispatch.table() if key[0] == "input_grad"]
    assert len(keys) == 1 and keys[0][-3] is True   # ... x_shape, the weight gradient wanted, dtype, module
    calls = []
    for name in ("_weight_grad_columns", "_input_grad_columns"):
        def counted(self, *args, _original=getattr(conv_fast.Kernels, name), _name=name):
            calls.append(_name)
            return _original(self, *args)
        monkeypatch.setattr(conv_fast.Kernels, name, counted)
    dispatch.clear()
    with md.fast_paths(True):
        _run_all(conv2d, (x, w, b), upstream)
    # col2im was measured (once untimed, ROUNDS timed, maybe once more as the winner), each time with its weight grad
    assert calls.count("_weight_grad_columns") == calls.count("_input_grad_columns") >= dispatch.ROUNDS + 1
