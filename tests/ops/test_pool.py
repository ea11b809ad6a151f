"""Pooling with switches, unpooling, average pooling and interpolation."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidense as md
import minidense.functional as F
from minidense import testing as mt


def _draw_pool(data, distinct=True):
    geo = data.draw(mt.pool_geometries())
    x = data.draw(mt.arrays((geo["N"], geo["C"], geo["H"], geo["W"]), distinct=distinct))
    return x, dict(kernel_size=geo["kernel_size"], stride=geo["stride"], padding=geo["padding"])


def reference_pool(x, kernel_size, stride, padding, reduce):
    """Each window as a list of (value or None for padding, flat index), reduced one window at a time."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n, c, h, w = x.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    idx = np.zeros((n, c, ho, wo), dtype=np.int64)
    for i in range(ho):
        for j in range(wo):
            cells = [(r, q) for r in range(i * sh - ph, i * sh - ph + kh) for q in range(j * sw - pw, j * sw - pw + kw)]
            out[:, :, i, j], idx[:, :, i, j] = reduce(x, cells, h, w)
    return out, idx


def _max_reduce(x, cells, h, w):
    inside = [(r, q) for r, q in cells if 0 <= r < h and 0 <= q < w]
    values = np.stack([x[:, :, r, q] for r, q in inside], axis=-1)
    first = values.argmax(axis=-1)   # the first maximum, in window order
    flat = np.array([r * w + q for r, q in inside])
    return values.max(axis=-1), flat[first]


# ------------------------------------------------------------------ max pooling and switches

@given(st.data())
def test_max_pool2d_values_and_switches_match_the_definition(data):
    x, kw = _draw_pool(data)
    out, idx = F.max_pool2d(md.tensor(x), **kw, return_indices=True)
    ref_out, ref_idx = reference_pool(x, kw["kernel_size"], kw["stride"], kw["padding"], _max_reduce)
    np.testing.assert_array_equal(out.numpy(), ref_out)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    assert idx.dtype == np.int64 and not idx.requires_grad


@given(st.data())
def test_max_pool2d_gradcheck(data):
    x, kw = _draw_pool(data)
    assert md.gradcheck(lambda x: F.max_pool2d(x, **kw), (x,))


def test_ties_go_to_the_first_maximum_and_get_the_whole_gradient():
    x = md.tensor(np.ones((1, 1, 2, 4)), requires_grad=True)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), [[[[0, 2]]]])
    out.backward(np.array([[[[3.0, 5.0]]]]))
    np.testing.assert_array_equal(x.grad, [[[[3, 0, 5, 0], [0, 0, 0, 0]]]])


def test_overlapping_windows_add_up_at_a_shared_switch():
    x = md.tensor(np.array([[[[0.0, 5.0, 1.0, 2.0]]]]), requires_grad=True)
    out, idx = F.max_pool2d(x, (1, 2), stride=1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), [[[[1, 1, 3]]]])
    out.backward(np.array([[[[1.0, 10.0, 100.0]]]]))
    np.testing.assert_array_equal(x.grad, [[[[0, 11, 0, 100]]]])


def test_max_pool2d_padding_never_wins():
    x = -md.tensor(np.arange(1.0, 10.0).reshape(1, 1, 3, 3))   # all negative: a zero pad would win
    out, idx = F.max_pool2d(x, 3, stride=1, padding=1, return_indices=True)
    assert (out.numpy() < 0).all() and idx.numpy().min() >= 0 and idx.numpy().max() < 9


@pytest.mark.parametrize("fast", [True, False])
def test_a_window_of_minus_infinity_switches_to_its_first_pixel_not_the_padding(fast):
    """Where every pixel of a window is -inf, its -inf padding ties with them: the switch is the window's first
    pixel inside the plane (as PyTorch), never a padding position outside it."""
    x = np.full((1, 1, 4, 4), -np.inf, np.float32)
    x[0, 0, 3, 3] = 1.0
    with md.fast_paths(fast):
        out, idx = F.max_pool2d(md.tensor(x), 2, 2, padding=1, return_indices=True)
    np.testing.assert_array_equal(idx.data.ravel(), [0, 1, 3, 4, 5, 7, 12, 13, 15])
    np.testing.assert_array_equal(out.data.ravel(), [-np.inf] * 8 + [1.0])
    rng = np.random.default_rng(0)
    y = np.where(rng.random((2, 3, 7, 6)) < 0.6, -np.inf, rng.normal(size=(2, 3, 7, 6))).astype(np.float32)
    for stride, dilation in ((2, 1), (1, 2), (3, 2)):
        with md.fast_paths(fast):
            out, idx = F.max_pool2d(md.tensor(y), 3, stride, padding=1, dilation=dilation, return_indices=True)
        np.testing.assert_array_equal(idx.data, _first_max_inside(y, 3, stride, 1, dilation))
        np.testing.assert_array_equal(np.take_along_axis(y.reshape(2, 3, -1), idx.data.reshape(2, 3, -1), 2),
                                      out.data.reshape(2, 3, -1))


def _first_max_inside(x, k, s, p, d):
    """Switches by the definition, window by window: the first pixel inside the plane holding the maximum."""
    n, c, h, w = x.shape
    ho, wo = (h + 2 * p - d * (k - 1) - 1) // s + 1, (w + 2 * p - d * (k - 1) - 1) // s + 1
    out = np.zeros((n, c, ho, wo), np.int64)
    for r in range(ho):
        for q in range(wo):
            inside = [(y, z) for y in range(r * s - p, r * s - p + d * k, d)
                      for z in range(q * s - p, q * s - p + d * k, d) if 0 <= y < h and 0 <= z < w]
            values = np.stack([x[:, :, y, z] for y, z in inside])
            best = values.argmax(axis=0)
            out[:, :, r, q] = np.array([y * w + z for y, z in inside])[best]
    return out


def test_max_pool2d_with_dilation():
    x = np.arange(25.0).reshape(1, 1, 5, 5)[:, :, ::-1].copy()
    out, idx = F.max_pool2d(md.tensor(x), 2, stride=1, dilation=2, return_indices=True)
    expected = np.maximum.reduce([x[:, :, a:a + 3, b:b + 3] for a in (0, 2) for b in (0, 2)])
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(x.reshape(1, 1, -1)[0, 0][idx.numpy()], expected)
    assert md.gradcheck(lambda x: F.max_pool2d(x, 2, stride=1, dilation=2), (x,))


# ------------------------------------------------------------------ unpooling

@given(st.data())
def test_each_pooled_value_lands_at_its_switch(data):
    x, kw = _draw_pool(data)
    out, idx = F.max_pool2d(md.tensor(x), **kw, return_indices=True)
    up = F.max_unpool2d(out, idx, **kw, output_size=x.shape[2:]).numpy()
    assert up.shape == x.shape
    flat = up.reshape(x.shape[0], x.shape[1], -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(*x.shape[:2], -1), axis=2),
                                  out.numpy().reshape(*x.shape[:2], -1))
    switched = np.zeros(flat.shape, dtype=bool)
    np.put_along_axis(switched, idx.numpy().reshape(*x.shape[:2], -1), True, axis=2)
    assert (flat[~switched] == 0).all()
    np.testing.assert_array_equal(flat[switched], x.reshape(flat.shape)[switched])


@given(st.data())
def test_max_pool_of_max_unpool_gives_back_the_pooled_values(data):
    geo = data.draw(mt.pool_geometries())
    k = geo["kernel_size"]   # non-overlapping windows: stride = kernel_size, no padding
    shape = (geo["N"], geo["C"], max(geo["H"], k[0]), max(geo["W"], k[1]))
    # positive values (after a ReLU, say): a negative maximum would lose to the zeros unpooling writes around it
    x = data.draw(mt.arrays(shape, distinct=True, positive=True))
    pooled, idx = F.max_pool2d(md.tensor(x), k, return_indices=True)
    up = F.max_unpool2d(pooled, idx, k, output_size=x.shape[2:])
    np.testing.assert_array_equal(F.max_pool2d(up, k).numpy(), pooled.numpy())
    assert md.gradcheck(lambda p: F.max_unpool2d(p, idx, k, output_size=x.shape), (pooled.numpy(),))


def test_max_unpool2d_default_size_and_output_size():
    x = md.tensor(np.arange(1.0, 26.0).reshape(1, 1, 5, 5))
    pooled, idx = F.max_pool2d(x, 2, return_indices=True)
    # the default size (4, 4) has no place for the switch 18 = (3, 3) of the 5×5 input: output_size says 5×5
    with pytest.raises(ValueError, match=r"max_unpool2d: indices must lie in \[0, 16\)"):
        F.max_unpool2d(pooled, idx, 2)
    pooled4, idx4 = F.max_pool2d(x[:, :, :4, :4], 2, return_indices=True)
    assert F.max_unpool2d(pooled4, idx4, 2).shape == (1, 1, 4, 4)
    up = F.max_unpool2d(pooled, idx, 2, output_size=(1, 1, 5, 5))
    np.testing.assert_array_equal(up.numpy()[0, 0], [[0, 0, 0, 0, 0], [0, 7, 0, 9, 0], [0, 0, 0, 0, 0],
                                                     [0, 17, 0, 19, 0], [0, 0, 0, 0, 0]])


def test_the_lectures_three_unpoolings_are_one_call_each():
    x = md.tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(F.bed_of_nails(x, 2).numpy()[0, 0],
                                  [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2, mode="nearest").numpy()[0, 0],
                                  [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    switches = md.tensor(np.array([[[[1, 2], [12, 15]]]]))
    np.testing.assert_array_equal(F.max_unpool2d(x, switches, 2).numpy()[0, 0],
                                  [[0, 1, 2, 0], [0, 0, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]])


@given(st.data())
def test_bed_of_nails_gradcheck(data):
    x, _ = _draw_pool(data, distinct=False)
    s = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    assert md.gradcheck(lambda x: F.bed_of_nails(x, s), (x,))


# ------------------------------------------------------------------ average pooling

@given(st.data(), st.booleans())
def test_avg_pool2d_matches_the_definition_and_gradcheck(data, include_pad):
    x, kw = _draw_pool(data, distinct=False)
    k = kw["kernel_size"]

    def mean(x, cells, h, w):
        inside = [(r, q) for r, q in cells if 0 <= r < h and 0 <= q < w]
        total = sum(x[:, :, r, q] for r, q in inside)
        return total / (k[0] * k[1] if include_pad else len(inside)), 0

    ref, _ = reference_pool(x, k, kw["stride"], kw["padding"], mean)
    out = F.avg_pool2d(md.tensor(x), **kw, count_include_pad=include_pad).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert md.gradcheck(lambda x: F.avg_pool2d(x, **kw, count_include_pad=include_pad), (x,))


# ------------------------------------------------------------------ interpolation

def reference_interpolate(x, size, mode, align_corners=False, scale_factor=None):
    """PyTorch's definitions, one output pixel at a time (tests only)."""
    out = np.zeros(x.shape[:2] + tuple(size))
    taps = []
    for axis, (n_in, n_out) in enumerate(zip(x.shape[2:], size)):
        f = None if scale_factor is None else scale_factor[axis]
        scale = 1 / f if f else n_in / n_out
        axis_taps = []
        for o in range(n_out):
            if mode == "nearest":
                axis_taps.append([(min(int(np.floor(np.float32(o) * np.float32(scale))), n_in - 1), 1.0)])
                continue
            src = o * (n_in - 1) / (n_out - 1) if align_corners and n_out > 1 else 0.0 if align_corners else \
                max((o + 0.5) * scale - 0.5, 0.0)
            left = min(int(np.floor(src)), n_in - 1)
            lam = src - left
            axis_taps.append([(left, 1 - lam), (min(left + 1, n_in - 1), lam)])
        taps.append(axis_taps)
    for i, row in enumerate(taps[0]):
        for j, col in enumerate(taps[1]):
            out[:, :, i, j] = sum(a * b * x[:, :, r, q] for r, a in row for q, b in col)
    return out


@given(st.data())
def test_interpolate_matches_the_definition_and_gradcheck(data):
    geo = data.draw(mt.pool_geometries())
    x = data.draw(mt.arrays((geo["N"], geo["C"], geo["H"], geo["W"])))
    mode = data.draw(st.sampled_from(["nearest", "bilinear"]))
    kwargs = dict(mode=mode)
    if mode == "bilinear":
        kwargs["align_corners"] = data.draw(st.booleans())
    if data.draw(st.booleans()):
        size = (data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9)))
        kwargs["size"], factors = size, None
    else:
        factors = (data.draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])),) * 2
        size = tuple(int(np.floor(n * f)) for n, f in zip(x.shape[2:], factors))
        if min(size) < 1:
            factors = (2.0, 2.0)
            size = tuple(2 * n for n in x.shape[2:])
        kwargs["scale_factor"] = factors[0]
    out = F.interpolate(md.tensor(x), **kwargs).numpy()
    ref = reference_interpolate(x, size, mode, kwargs.get("align_corners", False), factors)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert md.gradcheck(lambda x: F.interpolate(x, **kwargs), (x,))


def test_upsample_helpers_and_scale_factor_mapping():
    x = md.tensor(np.arange(12.0).reshape(1, 1, 3, 4))
    np.testing.assert_array_equal(F.upsample_nearest(x, scale_factor=2).numpy(),
                                  F.interpolate(x, scale_factor=2).numpy())
    np.testing.assert_array_equal(F.upsample_bilinear(x, size=(5, 7)).numpy(),
                                  F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True).numpy())
    # a given scale_factor maps with 1/scale_factor (PyTorch), not in/out, unless recomputed
    a = F.interpolate(x, scale_factor=1.7, mode="bilinear").numpy()
    b = F.interpolate(x, scale_factor=1.7, mode="bilinear", recompute_scale_factor=True).numpy()
    c = F.interpolate(x, size=(5, 6), mode="bilinear").numpy()
    assert a.shape == b.shape == c.shape == (1, 1, 5, 6)
    np.testing.assert_array_equal(b, c)
    assert not np.allclose(a, c)


# ------------------------------------------------------------------ dtypes and errors

def test_float32_stays_float32():
    x = md.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    pooled, idx = F.max_pool2d(x, 2, return_indices=True)
    outs = [pooled, F.max_unpool2d(pooled, idx, 2), F.avg_pool2d(x, 3, 1, 1), F.bed_of_nails(x),
            F.interpolate(x, scale_factor=2), F.interpolate(x, size=(4, 9), mode="bilinear")]
    assert all(o.dtype == np.float32 for o in outs)
    sum(o.sum() for o in outs).backward()
    assert x.grad.dtype == np.float32


def _t(*shape):
    return md.tensor(np.ones(shape, np.float32))


def _i(*shape):
    return md.tensor(np.zeros(shape, np.int64))


@pytest.mark.parametrize("call, message", [
    (lambda: F.max_pool2d(_t(1, 1, 6, 6), 2, padding=2), "max_pool2d: padding must be at most half of kernel_size"),
    (lambda: F.avg_pool2d(_t(1, 1, 6, 6), 3, padding=2), "avg_pool2d: padding must be at most half"),
    (lambda: F.max_pool2d(_t(1, 1, 2, 6), 3), "max_pool2d: the kernel .* larger than the padded input"),
    (lambda: F.max_pool2d(_t(6, 6), 2), "max_pool2d: input must be 4-D"),
    (lambda: F.max_pool2d(_t(1, 1, 6, 6), 2, stride=0), "max_pool2d: stride must be >= 1"),
    (lambda: F.max_unpool2d(_t(1, 1, 3, 3), _i(1, 1, 3, 2), 2),
     r"max_unpool2d: indices has shape \(1, 1, 3, 2\) but input has shape \(1, 1, 3, 3\)"),
    (lambda: F.max_unpool2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), 2), "max_unpool2d: indices must be an integer tensor"),
    (lambda: F.max_unpool2d(_t(1, 1, 3, 3), _i(1, 1, 3, 3), 2, output_size=(8, 6)),
     "max_unpool2d: output_size .* not reachable"),
    (lambda: F.max_unpool2d(_t(1, 1, 2, 2), md.tensor(np.full((1, 1, 2, 2), 16)), 2),
     r"max_unpool2d: indices must lie in \[0, 16\)"),
    (lambda: F.max_unpool2d(_t(1, 1, 2, 2), md.tensor(np.full((1, 1, 2, 2), -1)), 2), "max_unpool2d: indices must"),
    (lambda: F.interpolate(_t(1, 1, 3, 3)), "interpolate: give exactly one of size and scale_factor"),
    (lambda: F.interpolate(_t(1, 1, 3, 3), size=4, scale_factor=2), "interpolate: give exactly one"),
    (lambda: F.interpolate(_t(1, 1, 3, 3), size=4, mode="bicubic"), "interpolate: mode must be"),
    (lambda: F.interpolate(_t(1, 1, 3, 3), size=4, align_corners=True), "interpolate: align_corners can only"),
    (lambda: F.interpolate(_t(1, 1, 3, 3), scale_factor=0.2), "interpolate: scale_factor 0.2 makes an empty"),
    (lambda: F.interpolate(_t(1, 1, 3, 3), scale_factor=-1), "interpolate: scale_factor must be positive"),
    (lambda: F.bed_of_nails(_t(1, 1, 3, 3), 0), "bed_of_nails: scale_factor must be >= 1"),
])
def test_bad_arguments_get_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


@pytest.mark.gpu
def test_pooling_family_on_gpu_matches_cpu():
    x = np.random.default_rng(0).permutation(np.linspace(-2, 2, 2 * 3 * 7 * 6)).reshape(2, 3, 7, 6)
    results = {}
    for device in ("cpu", "cuda"):
        xt = md.tensor(x.astype(np.float32), requires_grad=True, device=device)
        pooled, idx = F.max_pool2d(xt, 3, stride=2, padding=1, return_indices=True)
        up = F.max_unpool2d(pooled, idx, 3, stride=2, padding=1, output_size=(7, 6))
        outs = [pooled, up, F.avg_pool2d(xt, 3, 2, 1, count_include_pad=False), F.bed_of_nails(xt),
                F.interpolate(xt, scale_factor=1.5), F.interpolate(xt, size=(5, 9), mode="bilinear")]
        sum((o * o).sum() for o in outs).backward()
        results[device] = [md.backend.to_numpy(a) for a in [o.data for o in outs] + [idx.data, xt.grad]]
    for cpu, gpu in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-4)
