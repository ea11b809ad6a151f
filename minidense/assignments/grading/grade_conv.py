"""Assignment 1 grader: im2col, col2im, conv2d forward and backward.

Checks by stored reference outputs (grader/reference.npz), properties (adjointness) and gradcheck;
no reference implementation is called.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import minidense as md
import minidense.functional as F

REF = np.load(Path(__file__).resolve().parent / "reference.npz")
IM2COL = json.loads(str(REF["meta_im2col"]))
CONV = json.loads(str(REF["meta_forward"]))


def t(a, grad=False):
    return md.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def geo(c):
    return {k: tuple(c[k]) for k in ("stride", "padding", "dilation")}


def close(actual, expected):
    actual = actual.data if isinstance(actual, md.Tensor) else actual
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------ im2col
@pytest.mark.im2col
@pytest.mark.parametrize("i", range(len(IM2COL)))
def test_im2col_values(i):
    c = IM2COL[i]
    close(F.im2col(t(REF[f"im2col{i}_x"]), tuple(c["k"]), **geo(c)), REF[f"im2col{i}_cols"])


@pytest.mark.im2col
def test_im2col_layout_rows_c_kh_kw_columns_n_h_w():
    n, ch, h, w, kh, kw = 2, 3, 4, 4, 2, 3
    x = np.arange(n * ch * h * w, dtype=np.float64).reshape(n, ch, h, w)
    cols = F.im2col(t(x), (kh, kw)).data
    ho, wo = h - kh + 1, w - kw + 1
    assert cols.shape == (ch * kh * kw, n * ho * wo)
    for c, i, j, b, r, q in [(0, 0, 0, 0, 0, 0), (2, 1, 2, 1, 2, 1), (1, 0, 1, 1, 0, 1), (2, 1, 0, 0, 1, 0)]:
        assert cols[(c * kh + i) * kw + j, (b * ho + r) * wo + q] == x[b, c, r + i, q + j]


# ------------------------------------------------------------------ col2im
@pytest.mark.col2im
@pytest.mark.parametrize("i", range(len(IM2COL)))
def test_col2im_values(i):
    c = IM2COL[i]
    close(F.col2im(t(REF[f"col2im{i}_cols"]), tuple(c["x"]), tuple(c["k"]), **geo(c)), REF[f"col2im{i}_x"])


@pytest.mark.col2im
@pytest.mark.parametrize("i", range(len(IM2COL)))
def test_col2im_is_the_adjoint_of_im2col(i):
    c = IM2COL[i]
    x, y = REF[f"im2col{i}_x"], REF[f"col2im{i}_cols"]
    back = F.col2im(t(y), tuple(c["x"]), tuple(c["k"]), **geo(c)).data
    # <im2col(x), y> from the stored columns, so that this checks col2im alone
    np.testing.assert_allclose((REF[f"im2col{i}_cols"] * y).sum(), (x * back).sum(), rtol=1e-9)


# ------------------------------------------------------------------ conv2d forward
def conv_args(i, grad=False):
    c = CONV[i]
    x, w = t(REF[f"conv{i}_x"], grad), t(REF[f"conv{i}_w"], grad)
    b = t(REF[f"conv{i}_b"], grad) if c["bias"] else None
    return x, w, b, geo(c)


@pytest.mark.conv_forward
@pytest.mark.parametrize("i", range(len(CONV)))
def test_conv2d_values(i):
    x, w, b, g = conv_args(i)
    close(F.conv2d(x, w, b, **g), REF[f"conv{i}_y"])


@pytest.mark.conv_forward
def test_conv2d_float32_keeps_dtype():
    x, w, b, g = conv_args(1)
    y = F.conv2d(md.tensor(x.data.astype(np.float32)), md.tensor(w.data.astype(np.float32)),
                 md.tensor(b.data.astype(np.float32)), **g)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, REF["conv1_y"], rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ conv2d backward
@pytest.mark.conv_backward
@pytest.mark.parametrize("i", range(len(CONV)))
def test_conv2d_stored_gradients(i):
    x, w, b, g = conv_args(i, grad=True)
    F.conv2d(x, w, b, **g).backward(t(REF[f"conv{i}_u"]))
    close(x.grad, REF[f"conv{i}_gx"])
    close(w.grad, REF[f"conv{i}_gw"])
    if b is not None:
        close(b.grad, REF[f"conv{i}_gb"])


@pytest.mark.conv_backward
@pytest.mark.parametrize("i", [0, 1, 2])
def test_conv2d_gradcheck(i):
    x, w, b, g = conv_args(i)
    inputs = (x, w) if b is None else (x, w, b)
    assert md.gradcheck(lambda *a: F.conv2d(*a, **g), inputs)
