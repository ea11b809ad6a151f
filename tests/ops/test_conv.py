"""Convolution family: im2col/col2im, conv1d/2d, transposed convolution, the explicit matrix."""
import pathlib
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidense as md
import minidense.functional as F
from minidense import testing as mt
from minidense.ops.im2col import Geometry, output_size, transposed_output_size

OPS_DIR = pathlib.Path(md.__file__).parent / "ops"


def _draw_conv(data, bias=True, same_width=False):
    geo = data.draw(mt.conv_geometries(same_width=same_width))
    x = data.draw(mt.arrays((geo["N"], geo["C_in"], geo["H"], geo["W"])))
    w = data.draw(mt.arrays((geo["C_out"], geo["C_in"]) + geo["kernel_size"]))
    b = data.draw(mt.arrays((geo["C_out"],))) if bias else None
    kw = dict(stride=geo["stride"], padding=geo["padding"], dilation=geo["dilation"])
    return x, w, b, kw


def reference_conv2d(x, w, b, stride, padding, dilation):
    """The definition, one output position at a time (tests only)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = output_size(x.shape[2:], Geometry((kh, kw), stride, padding, dilation))
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out if b is None else out + b[:, None, None]


def _transposed_inputs(data):
    """A transposed-conv geometry (input grown where the strategy's would give an empty output)."""
    geo = data.draw(mt.conv_geometries(transposed=True))
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo["kernel_size"], geo["stride"], geo["padding"], geo["dilation"]
    oph, opw = geo["output_padding"]
    h = max(geo["H"], -((dh * (kh - 1) + oph - 2 * ph) // sh) + 1)
    w = max(geo["W"], -((dw * (kw - 1) + opw - 2 * pw) // sw) + 1)
    x = data.draw(mt.arrays((geo["N"], geo["C_in"], h, w)))
    weight = data.draw(mt.arrays((geo["C_in"], geo["C_out"], kh, kw)))
    b = data.draw(mt.arrays((geo["C_out"],)))
    kwargs = dict(stride=geo["stride"], padding=geo["padding"], output_padding=geo["output_padding"],
                  dilation=geo["dilation"])
    return x, weight, b, kwargs


# ------------------------------------------------------------------ the layout and the definitions

def test_ops_never_import_numpy():
    offenders = [p.name for p in OPS_DIR.glob("*.py")
                 if re.search(r"^\s*(import numpy|from numpy)", p.read_text(), re.MULTILINE)]
    assert offenders == []


def test_im2col_layout_rows_c_kh_kw_columns_n_h_w():
    x = np.arange(2 * 2 * 3 * 3, dtype=np.float32).reshape(2, 2, 3, 3)
    cols = F.im2col(md.tensor(x), 2).numpy()
    assert cols.shape == (2 * 2 * 2, 2 * 2 * 2) and cols.dtype == np.float32
    for c in range(2):
        for i in range(2):
            for j in range(2):
                for n in range(2):
                    for ho in range(2):
                        for wo in range(2):
                            assert cols[(c * 2 + i) * 2 + j, (n * 2 + ho) * 2 + wo] == x[n, c, ho + i, wo + j]


@given(st.data())
def test_conv2d_is_weight_matrix_times_columns(data):
    x, w, _, kw = _draw_conv(data, bias=False)
    cols = F.im2col(md.tensor(x), w.shape[2:], **kw).numpy()
    out = F.conv2d(md.tensor(x), md.tensor(w), **kw).numpy()
    n, c_out = x.shape[0], w.shape[0]
    expected = (w.reshape(c_out, -1) @ cols).reshape(c_out, n, *out.shape[2:]).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@given(st.data())
def test_conv2d_matches_direct_loop(data):
    x, w, b, kw = _draw_conv(data)
    out = F.conv2d(md.tensor(x), md.tensor(w), md.tensor(b), **kw).numpy()
    np.testing.assert_allclose(out, reference_conv2d(x, w, b, **kw), rtol=1e-12, atol=1e-12)


@given(st.data())
def test_conv2d_equals_explicit_matrix_and_transpose_is_conv_transpose(data):
    x, w, _, kw = _draw_conv(data, bias=False)
    matrix = F.conv2d_matrix(md.tensor(w), x.shape[2:], **kw).numpy()
    out = F.conv2d(md.tensor(x[:1]), md.tensor(w), **kw).numpy()
    np.testing.assert_allclose(matrix @ x[0].ravel(), out.ravel(), rtol=1e-12, atol=1e-12)
    # output_padding picks the transposed output size equal to x's
    span = [d * (k - 1) + 1 for k, d in zip(w.shape[2:], kw["dilation"])]
    op = tuple((n + 2 * p - e) % s for n, p, e, s in zip(x.shape[2:], kw["padding"], span, kw["stride"]))
    y = data.draw(mt.arrays(out.shape))
    back = F.conv_transpose2d(md.tensor(y), md.tensor(w), output_padding=op, **kw).numpy()
    np.testing.assert_allclose(matrix.T @ y.ravel(), back.ravel(), rtol=1e-12, atol=1e-12)
    padded = F.conv2d_matrix(md.tensor(w), x.shape[2:], padded_input=True, **kw).numpy()
    (ph, pw) = kw["padding"]
    x_padded = np.pad(x[0], ((0, 0), (ph, ph), (pw, pw)))
    np.testing.assert_allclose(padded @ x_padded.ravel(), out.ravel(), rtol=1e-12, atol=1e-12)


def test_lecture_1d_example_matrix_and_its_transpose():
    a, b, c, d = 2.0, 3.0, 5.0, 7.0
    x, y, z = 11.0, 13.0, 17.0
    weight = md.tensor(np.array([x, y, z]).reshape(1, 1, 1, 3))
    matrix = F.conv2d_matrix(weight, (1, 4), padding=(0, 1), padded_input=True).numpy()
    slide = np.array([[x, y, z, 0, 0, 0],
                      [0, x, y, z, 0, 0],
                      [0, 0, x, y, z, 0],
                      [0, 0, 0, x, y, z]])
    np.testing.assert_array_equal(matrix, slide)
    signal = np.array([a, b, c, d])
    expected = [a * y + b * z, a * x + b * y + c * z, b * x + c * y + d * z, c * x + d * y]
    np.testing.assert_array_equal(matrix @ np.pad(signal, 1), expected)
    out = F.conv1d(md.tensor(signal.reshape(1, 1, 4)), md.tensor(np.array([[[x, y, z]]])), padding=1)
    np.testing.assert_array_equal(out.numpy().ravel(), expected)
    transposed = [a * x, a * y + b * x, a * z + b * y + c * x, b * z + c * y + d * x, c * z + d * y, d * z]
    np.testing.assert_array_equal(matrix.T @ signal, transposed)
    up = F.conv_transpose1d(md.tensor(signal.reshape(1, 1, 4)), md.tensor(np.array([[[x, y, z]]])), padding=0)
    np.testing.assert_array_equal(up.numpy().ravel(), transposed)


# ------------------------------------------------------------------ adjoints

@given(st.data())
def test_conv_transpose2d_is_the_adjoint_of_conv2d(data):
    x, w, _, kw = _draw_conv(data, bias=False)
    out_shape = (x.shape[0], w.shape[0]) + output_size(x.shape[2:], Geometry(w.shape[2:], **kw))
    y = data.draw(mt.arrays(out_shape))
    span = [d * (k - 1) + 1 for k, d in zip(w.shape[2:], kw["dilation"])]
    op = tuple((n + 2 * p - e) % s for n, p, e, s in zip(x.shape[2:], kw["padding"], span, kw["stride"]))
    lhs = (F.conv2d(md.tensor(x), md.tensor(w), **kw).numpy() * y).sum()
    back = F.conv_transpose2d(md.tensor(y), md.tensor(w), output_padding=op, **kw).numpy()
    assert back.shape == x.shape
    np.testing.assert_allclose(lhs, (x * back).sum(), rtol=1e-10, atol=1e-10)


@given(st.data())
def test_col2im_is_the_adjoint_of_im2col(data):
    x, w, _, kw = _draw_conv(data, bias=False)
    cols = F.im2col(md.tensor(x), w.shape[2:], **kw).numpy()
    c = data.draw(mt.arrays(cols.shape))
    back = F.col2im(md.tensor(c), x.shape, w.shape[2:], **kw).numpy()
    np.testing.assert_allclose((cols * c).sum(), (x * back).sum(), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------ gradients

@given(st.data())
def test_conv2d_gradcheck(data):
    x, w, b, kw = _draw_conv(data)
    x_before = x.copy()
    assert md.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), (x, w, b))
    np.testing.assert_array_equal(x, x_before)


@given(st.data())
def test_conv_transpose2d_gradcheck_and_output_size(data):
    x, w, b, kw = _transposed_inputs(data)
    out = F.conv_transpose2d(md.tensor(x), md.tensor(w), md.tensor(b), **kw)
    geo = Geometry(w.shape[2:], kw["stride"], kw["padding"], kw["dilation"])
    expected = transposed_output_size(x.shape[2:], geo, kw["output_padding"])   # golden files check the formula
    assert out.shape == (x.shape[0], w.shape[1]) + expected
    assert md.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), (x, w, b))


@given(st.data())
def test_im2col_col2im_conv_matrix_gradcheck(data):
    x, w, _, kw = _draw_conv(data, bias=False)
    k = w.shape[2:]
    assert md.gradcheck(lambda x: F.im2col(x, k, **kw), (x,))
    cols = data.draw(mt.arrays(F.im2col(md.tensor(x), k, **kw).shape))
    assert md.gradcheck(lambda c: F.col2im(c, x.shape, k, **kw), (cols,))
    padded = data.draw(st.booleans())
    assert md.gradcheck(lambda w: F.conv2d_matrix(w, x.shape[2:], padded_input=padded, **kw), (w,))


@given(st.data())
def test_conv1d_and_conv_transpose1d_gradcheck(data):
    x, w, b, kw = _draw_conv(data)
    kw1 = {name: v[1] for name, v in kw.items()}
    x1, w1 = np.ascontiguousarray(x[:, :, 0]), np.ascontiguousarray(w[:, :, 0])
    out = F.conv1d(md.tensor(x1), md.tensor(w1), md.tensor(b), **kw1).numpy()
    ref = reference_conv2d(x1[:, :, None], w1[:, :, None], b, (1, kw1["stride"]), (0, kw1["padding"]),
                           (1, kw1["dilation"]))
    np.testing.assert_allclose(out, ref[:, :, 0], rtol=1e-12, atol=1e-12)
    assert md.gradcheck(lambda x, w, b: F.conv1d(x, w, b, **kw1), (x1, w1, b))
    # the same weight, read as (C_in, C_out, k) by the transposed op, takes out back to x's channels
    assert md.gradcheck(lambda y, w: F.conv_transpose1d(y, w, **kw1), (out, w1))


@pytest.mark.parametrize("op", [F.conv2d, F.conv_transpose2d])
def test_gradients_asked_one_at_a_time_equal_those_asked_together(op):
    gen = np.random.default_rng(3)
    x, w, b = gen.standard_normal((2, 3, 5, 6)), gen.standard_normal((3, 3, 3, 2)), gen.standard_normal(3)
    kw = dict(stride=2, padding=1)
    upstream = gen.standard_normal(op(md.tensor(x), md.tensor(w), **kw).shape)

    def grads(wanted):
        ts = [md.tensor(a, requires_grad=i in wanted) for i, a in enumerate((x, w, b))]
        op(*ts, **kw).backward(upstream.copy())
        return [t.grad for t in ts]

    together = grads({0, 1, 2})
    for i in range(3):
        alone = grads({i})
        np.testing.assert_allclose(alone[i], together[i], rtol=1e-12, atol=1e-12)
        assert all(g is None for j, g in enumerate(alone) if j != i)


# ------------------------------------------------------------------ dtypes and errors

def test_float32_in_float32_out_everywhere():
    gen = np.random.default_rng(0)
    x = md.tensor(gen.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = md.tensor(gen.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = md.tensor(np.zeros(4, np.float32), requires_grad=True)
    y = F.conv2d(x, w, b, stride=2, padding=1)
    z = F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=1)
    assert y.dtype == z.dtype == np.float32 and z.shape == x.shape
    z.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    assert F.im2col(x, 3).dtype == F.conv2d_matrix(w, (6, 6)).dtype == np.float32
    x1 = md.tensor(gen.standard_normal((1, 3, 9)).astype(np.float32))
    assert F.conv1d(x1, md.tensor(np.ones((2, 3, 3), np.float32))).dtype == np.float32


def _t(*shape, dtype=np.float32):
    return md.tensor(np.ones(shape, dtype=dtype))


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(_t(1, 3, 5, 5), _t(2, 4, 3, 3)), "conv2d: input has 3 channels but weight expects 4"),
    (lambda: F.conv2d(_t(1, 3, 2, 5), _t(2, 3, 3, 3)), "conv2d: the kernel .* larger than the padded input"),
    (lambda: F.conv2d(_t(1, 3, 2, 5), _t(2, 3, 2, 2), dilation=2), "conv2d: the kernel .*dilation 2"),
    (lambda: F.conv2d(_t(1, 3, 5, 5), _t(2, 3, 3, 3), _t(3)), r"conv2d: bias must have shape \(2,\)"),
    (lambda: F.conv2d(_t(3, 5, 5), _t(2, 3, 3, 3)), "conv2d: input must be 4-D"),
    (lambda: F.conv2d(_t(1, 3, 5, 5), _t(2, 3, 3, 3, dtype=np.float64)), "conv2d: weight has dtype float64"),
    (lambda: F.conv2d(_t(1, 3, 5, 5), _t(2, 3, 3, 3), stride=0), "conv2d: stride must be >= 1"),
    (lambda: F.conv2d(_t(1, 3, 5, 5), _t(2, 3, 3, 3), padding=(1, 2, 3)), "conv2d: padding must be an int or"),
    (lambda: F.conv1d(_t(1, 3, 5), _t(2, 2, 3)), "conv1d: input has 3 channels but weight expects 2"),
    (lambda: F.conv_transpose2d(_t(1, 3, 5, 5), _t(2, 3, 3, 3)),
     "conv_transpose2d: input has 3 channels but weight expects 2"),
    (lambda: F.conv_transpose2d(_t(1, 3, 5, 5), _t(3, 2, 3, 3), stride=2, output_padding=2),
     "conv_transpose2d: output_padding must be smaller than either stride or dilation"),
    (lambda: F.conv_transpose2d(_t(1, 3, 1, 1), _t(3, 2, 2, 2), padding=1),
     "conv_transpose2d: padding 1 is too large"),
    (lambda: F.conv_transpose1d(_t(1, 3, 5), _t(3, 2, 3), _t(3)), r"conv_transpose1d: bias must have shape \(2,\)"),
    (lambda: F.im2col(_t(1, 1, 2, 2), 3), "im2col: the kernel"),
    (lambda: F.conv2d_matrix(_t(1, 1, 3, 3), (2, 2)), "conv2d_matrix: the kernel"),
])
def test_bad_arguments_get_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_col2im_checks_the_column_shape():
    with pytest.raises(ValueError, match=r"col2im: cols must have shape \(8, 9\) .* got \(8, 10\)"):
        F.col2im(_t(8, 10), (1, 2, 4, 4), 2)
    assert F.col2im(_t(8, 9), (1, 2, 4, 4), 2).shape == (1, 2, 4, 4)


@pytest.mark.gpu
def test_convolution_family_on_gpu_matches_cpu():
    gen = np.random.default_rng(0)
    x = gen.standard_normal((2, 3, 9, 8)).astype(np.float32)
    w = gen.standard_normal((4, 3, 3, 2)).astype(np.float32)
    b = gen.standard_normal(4).astype(np.float32)
    results = {}
    for device in ("cpu", "cuda"):
        xt, wt, bt = (md.tensor(a, requires_grad=True, device=device) for a in (x, w, b))
        y = F.conv2d(xt, wt, bt, stride=2, padding=1, dilation=(2, 1))
        z = F.conv_transpose2d(y, wt, stride=2, padding=1, output_padding=1, dilation=(2, 1))
        m = F.conv2d_matrix(wt, (5, 4), stride=2, padding=1)
        cols = F.im2col(xt, 3, padding=1)
        ((z * z).sum() + (m * m).sum() + cols.sum()).backward()
        results[device] = [md.backend.to_numpy(a) for a in (y.data, z.data, m.data, xt.grad, wt.grad, bt.grad)]
    for cpu, gpu in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-4)
