"""Assignment 2 grader: transposed convolution, max pooling with switches, max-unpooling.

Checks by stored reference outputs (grader/reference.npz), properties (adjointness, where the
gradient goes) and gradcheck; no reference implementation is called. Pooling inputs hold ties.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import minidense as md
import minidense.functional as F

REF = np.load(Path(__file__).resolve().parent / "reference.npz")
TCONV = json.loads(str(REF["meta_transposed"]))
POOL = json.loads(str(REF["meta_pool"]))


def t(a, grad=False):
    a = np.asarray(a)
    return md.tensor(a.astype(np.float64) if a.dtype.kind == "f" else a, requires_grad=grad)


def close(actual, expected):
    actual = actual.data if isinstance(actual, md.Tensor) else actual
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=1e-7, atol=1e-9)


def tconv_args(i):
    c = TCONV[i]
    kw = {k: c[k] for k in ("stride", "padding", "output_padding", "dilation")}
    return t(REF[f"tconv{i}_x"]), t(REF[f"tconv{i}_w"]), t(REF[f"tconv{i}_b"]), kw


# ------------------------------------------------------------------ transposed convolution
@pytest.mark.transposed_forward
@pytest.mark.parametrize("i", range(len(TCONV)))
def test_conv_transpose2d_values(i):
    x, w, b, kw = tconv_args(i)
    close(F.conv_transpose2d(x, w, b, **kw), REF[f"tconv{i}_y"])


@pytest.mark.transposed_forward
@pytest.mark.parametrize("i", range(len(TCONV)))
def test_conv_transpose2d_is_the_adjoint_of_conv2d(i):
    # <conv2d(y, w), x> == <y, conv_transpose2d(x, w)>: conv2d (given) takes the output side to the input side
    x, w, _, kw = tconv_args(i)
    y = np.random.default_rng(i).standard_normal(REF[f"tconv{i}_y"].shape)
    geo = {k: kw[k] for k in ("stride", "padding", "dilation")}
    lhs = (F.conv2d(t(y), w, **geo).data * x.data).sum()
    rhs = (y * F.conv_transpose2d(x, w, **kw).data).sum()
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9)


@pytest.mark.transposed_backward
@pytest.mark.parametrize("i", range(len(TCONV)))
def test_conv_transpose2d_gradcheck(i):
    x, w, b, kw = tconv_args(i)
    assert md.gradcheck(lambda *a: F.conv_transpose2d(*a, **kw), (x, w, b))


@pytest.mark.transposed_backward
def test_conv2d_input_gradient_is_the_transposed_convolution():
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 4))
    w = np.random.default_rng(2).standard_normal((3, 2, 3, 2))
    assert md.gradcheck(lambda x: F.conv2d(x, t(w), stride=2, padding=1), (t(x),))


# ------------------------------------------------------------------ max pooling: switches
def pool_call(i, grad=False):
    c = POOL[i]
    x = t(REF[f"pool{i}_x"], grad)
    return x, F.max_pool2d(x, c["kernel"], c["stride"], c["padding"], return_indices=True)


@pytest.mark.switches
@pytest.mark.parametrize("i", range(len(POOL)))
def test_max_pool2d_values(i):
    _, (y, _) = pool_call(i)
    close(y, REF[f"pool{i}_y"])


@pytest.mark.switches
@pytest.mark.parametrize("i", range(len(POOL)))
def test_switches_first_maximum_on_ties(i):
    x, (y, idx) = pool_call(i)
    assert idx.dtype.kind == "i", f"switches must be integers, got {idx.dtype}"
    np.testing.assert_array_equal(idx.data, REF[f"pool{i}_idx"])


@pytest.mark.switches
def test_switches_point_at_the_maximum():
    x, (y, idx) = pool_call(1)
    flat = x.data.reshape(x.shape[0], x.shape[1], -1)
    picked = np.take_along_axis(flat, idx.data.reshape(idx.shape[0], idx.shape[1], -1), axis=2)
    np.testing.assert_array_equal(picked.reshape(y.shape), y.data)


# ------------------------------------------------------------------ max pooling: gradient
@pytest.mark.maxpool_backward
@pytest.mark.parametrize("i", range(len(POOL)))
def test_max_pool2d_gradient_goes_to_the_switches(i):
    x, (y, _) = pool_call(i, grad=True)
    y.backward(t(REF[f"pool{i}_u"]))
    close(x.grad, REF[f"pool{i}_gx"])


@pytest.mark.maxpool_backward
def test_max_pool2d_gradient_is_not_copied_to_tied_maxima():
    x = t(np.ones((1, 1, 4, 4)), grad=True)      # every window is one big tie
    F.max_pool2d(x, 2).backward(t(np.ones((1, 1, 2, 2))))
    assert x.grad.sum() == 4 and (x.grad != 0).sum() == 4, "each window's gradient must go to ONE position"


@pytest.mark.maxpool_backward
def test_max_pool2d_gradcheck_overlapping_windows():
    x = np.random.default_rng(3).permutation(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) / 10.0   # no ties
    assert md.gradcheck(lambda x: F.max_pool2d(x, 3, stride=1, padding=1), (t(x),))


# ------------------------------------------------------------------ max-unpooling
@pytest.mark.unpool
@pytest.mark.parametrize("i", range(len(POOL)))
def test_max_unpool2d_values(i):
    c = POOL[i]
    out = F.max_unpool2d(t(REF[f"pool{i}_v"]), md.tensor(REF[f"pool{i}_idx"]), c["kernel"], c["stride"],
                         c["padding"], output_size=tuple(c["x"][2:]))
    close(out, REF[f"pool{i}_unpooled"])


@pytest.mark.unpool
def test_max_unpool2d_gradcheck():
    c = POOL[0]
    idx = md.tensor(REF["pool0_idx"])
    assert md.gradcheck(lambda v: F.max_unpool2d(v, idx, c["kernel"], c["stride"]), (t(REF["pool0_v"]),))
