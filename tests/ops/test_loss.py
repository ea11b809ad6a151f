"""Losses: gradients (md.gradcheck in float64 on hypothesis shapes), properties and argument errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidense as md
import minidense.functional as F
from minidense import testing as mt

REDUCTIONS = ("mean", "sum", "none")
IGNORE = md.IGNORE_INDEX


# ---------------------------------------------------------------- strategies
@st.composite
def class_problems(draw, all_ignored=None):
    """Scores (N, C, *spatial), labels with some (or all) pixels ignored, an optional class weight."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 4))
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    x = draw(mt.arrays((n, c) + spatial, low=-3, high=3))
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    target = gen.integers(0, c, (n,) + spatial)
    frac = 1.0 if all_ignored else draw(st.sampled_from([0.0, 0.3, 1.0]) if all_ignored is None else st.just(0.3))
    target[gen.random(target.shape) < frac] = IGNORE
    weight = gen.uniform(0.2, 2.0, c) if draw(st.booleans()) else None
    return x, target, weight


@st.composite
def masked_pairs(draw, positive=False, channels=None):
    """pred, target (N, C, H, W) and a boolean mask of shape (N, H, W) or (N, C, H, W), maybe all False."""
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    c = channels or draw(st.integers(1, 2))
    shape = (n, c, h, w)
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if positive:
        pred, target = gen.uniform(0.2, 3, shape), gen.uniform(0.2, 3, shape)
    else:
        target = gen.uniform(-2, 2, shape)
        # differences kept away from the kinks of |d| (0) and smooth L1 (±1)
        d = gen.uniform(0.1, 0.9, shape) + gen.integers(0, 2, shape) * 1.0
        pred = target + d * gen.choice([-1.0, 1.0], shape)
    mask_shape = draw(st.sampled_from([(n, h, w), shape]))
    mask = gen.random(mask_shape) < draw(st.sampled_from([0.0, 0.6, 1.0]))
    return pred, target, mask if draw(st.booleans()) else None


# ---------------------------------------------------------------- softmax
@given(mt.arrays(mt.shapes(min_dims=1, max_dims=3), low=-5, high=5), st.data())
def test_softmax_gradcheck(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    md.gradcheck(lambda t: F.log_softmax(t, dim=axis), x)
    md.gradcheck(lambda t: F.softmax(t, axis=axis), x)


def test_softmax_large_logits_and_dtype():
    x = md.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], requires_grad=True)
    p, logp = F.softmax(x, dim=1), F.log_softmax(x, dim=1)
    assert p.dtype == logp.dtype == np.float32
    np.testing.assert_allclose(p.numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
    np.testing.assert_allclose(logp.numpy(), [[0, -2e4, -1e4], [-np.log(3)] * 3], rtol=1e-6)
    (logp * md.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0]])).sum().backward()
    assert np.isfinite(x.grad).all()


# ---------------------------------------------------------------- cross-entropy and NLL
@given(class_problems(), st.sampled_from(REDUCTIONS))
def test_cross_entropy_gradcheck(problem, reduction):
    x, target, weight = problem
    md.gradcheck(lambda t: F.cross_entropy(t, target, weight, ignore_index=IGNORE, reduction=reduction), x)


@given(class_problems(), st.sampled_from(REDUCTIONS))
def test_nll_loss_gradcheck_and_matches_cross_entropy(problem, reduction):
    x, target, weight = problem
    md.gradcheck(lambda t: F.nll_loss(t, target, weight, ignore_index=IGNORE, reduction=reduction), x)
    fused = F.cross_entropy(md.tensor(x), target, weight, ignore_index=IGNORE, reduction=reduction)
    composed = F.nll_loss(F.log_softmax(md.tensor(x), dim=1), target, weight, ignore_index=IGNORE,
                          reduction=reduction)
    np.testing.assert_allclose(fused.numpy(), composed.numpy(), rtol=1e-12, atol=1e-12)


@given(class_problems(all_ignored=False), st.floats(-50, 50))
def test_cross_entropy_shift_invariant(problem, shift):
    x, target, weight = problem
    a = F.cross_entropy(md.tensor(x), target, weight, ignore_index=IGNORE, reduction="none")
    b = F.cross_entropy(md.tensor(x + shift), target, weight, ignore_index=IGNORE, reduction="none")
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-9)


def _ce_reference(x, target, weight, ignore_index):
    """Independent per-pixel reference: one-hot and an explicit log-sum-exp (float64)."""
    c = x.shape[1]
    logp = x - x.max(axis=1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
    valid = target != ignore_index
    onehot = np.moveaxis(np.eye(c)[np.where(valid, target, 0)], -1, 1)
    w = (np.ones(c) if weight is None else weight)[np.where(valid, target, 0)] * valid
    return -(logp * onehot).sum(axis=1) * w, w


@given(class_problems(all_ignored=False))
def test_cross_entropy_matches_reference(problem):
    x, target, weight = problem
    per_pixel, w = _ce_reference(x, target, weight, IGNORE)
    got = {r: F.cross_entropy(md.tensor(x), target, weight, ignore_index=IGNORE, reduction=r).numpy()
           for r in REDUCTIONS}
    np.testing.assert_allclose(got["none"], per_pixel, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got["sum"], per_pixel.sum(), rtol=1e-10, atol=1e-12)
    expected_mean = per_pixel.sum() / w.sum() if w.sum() > 0 else 0.0
    np.testing.assert_allclose(got["mean"], expected_mean, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ignored_pixels_get_exactly_zero_gradient(reduction):
    gen = np.random.default_rng(1)
    x = md.tensor(gen.standard_normal((2, 4, 5, 6)), requires_grad=True)
    target = gen.integers(0, 4, (2, 5, 6))
    target[:, 1:3, 2:5] = IGNORE
    loss = F.cross_entropy(x, target, gen.uniform(0.5, 2, 4), ignore_index=IGNORE, reduction=reduction)
    loss.backward(gen.standard_normal(loss.shape) if reduction == "none" else None)
    ignored = np.broadcast_to((target == IGNORE)[:, None], x.shape)
    assert (x.grad[ignored] == 0).all()
    assert (x.grad[~ignored] != 0).all()
    if reduction == "none":
        assert (loss.numpy()[target == IGNORE] == 0).all()


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_all_ignored_mean_is_zero_with_zero_gradient(fn):
    x = md.tensor(np.random.default_rng(2).standard_normal((2, 3, 4, 4)).astype(np.float32), requires_grad=True)
    target = np.full((2, 4, 4), IGNORE)
    for reduction in ("mean", "sum"):
        loss = fn(x, target, ignore_index=IGNORE, reduction=reduction)
        assert loss.dtype == np.float32 and loss.item() == 0.0   # PyTorch returns NaN for the mean
        x.zero_grad()
        loss.backward()
        assert x.grad.shape == x.shape and (x.grad == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_large_logits_finite_and_dtype(dtype):
    x = np.zeros((2, 3, 2, 2), dtype=dtype)
    x[:, 0], x[:, 1] = 1e4, -1e4
    t = md.tensor(x, requires_grad=True)
    target = np.array([[[0, 1], [2, 1]], [[1, 1], [0, 2]]])
    loss = F.cross_entropy(t, target)
    loss.backward()
    assert loss.dtype == dtype and np.isfinite(loss.item()) and np.isfinite(t.grad).all()
    # half the pixels are labelled 1 (scored -2e4 below the best), two 2 (-1e4), two 0 (exact)
    np.testing.assert_allclose(loss.item(), (4 * 2e4 + 2 * 1e4) / 8, rtol=1e-6)
    for reduction in ("none", "sum"):
        assert F.cross_entropy(md.tensor(x), target, reduction=reduction).dtype == dtype


def test_cross_entropy_2d_input_and_default_ignore_index():
    x = md.tensor(np.random.default_rng(3).standard_normal((5, 3)), requires_grad=True)
    target = np.array([0, 2, -100, 1, -100])
    loss = F.cross_entropy(x, target)
    loss.backward()
    assert (x.grad[[2, 4]] == 0).all()
    per, _ = _ce_reference(x.numpy(), target, None, -100)
    np.testing.assert_allclose(loss.item(), per.sum() / 3, rtol=1e-12)


def test_cross_entropy_non_contiguous_input():
    gen = np.random.default_rng(4)
    x = gen.standard_normal((2, 4, 3, 5))
    target = gen.integers(0, 4, (2, 3, 5))
    view = mt.non_contiguous(x, gen)
    assert not view.flags.c_contiguous
    a, b = md.tensor(x, requires_grad=True), md.Tensor(view, requires_grad=True)
    F.cross_entropy(a, target).backward()
    F.cross_entropy(b, target).backward()
    np.testing.assert_allclose(b.grad, a.grad, rtol=1e-12)


# ---------------------------------------------------------------- depth
DEPTH = {"l1": F.l1_loss, "mse": F.mse_loss, "smooth_l1": F.smooth_l1_loss}


@given(masked_pairs(), st.sampled_from(REDUCTIONS), st.sampled_from(sorted(DEPTH)))
def test_depth_losses_gradcheck(pair, reduction, name):
    pred, target, mask = pair
    md.gradcheck(lambda p, t: DEPTH[name](p, t, mask=mask, reduction=reduction), (pred, target))


@pytest.mark.parametrize("name", sorted(DEPTH))
def test_depth_mask_semantics(name):
    gen = np.random.default_rng(5)
    pred, target = gen.uniform(0, 2, (2, 1, 3, 4)), gen.uniform(0, 2, (2, 1, 3, 4))
    mask = gen.random((2, 3, 4)) < 0.5
    target[0, 0][~mask[0]] = np.nan            # invalid pixels may hold anything, NaN included
    p = md.tensor(pred, requires_grad=True)
    per = DEPTH[name](p, target, mask=mask, reduction="none")
    assert per.shape == pred.shape and (per.numpy()[:, 0][~mask] == 0).all()
    full = DEPTH[name](md.tensor(pred[:, 0][mask]), md.tensor(target[:, 0][mask]))   # mean of valid ones
    loss = DEPTH[name](p, target, mask=mask)
    np.testing.assert_allclose(loss.item(), full.item(), rtol=1e-12)
    loss.backward()
    assert np.isfinite(p.grad).all() and (p.grad[:, 0][~mask] == 0).all()
    empty = DEPTH[name](md.tensor(pred, requires_grad=True), target, mask=np.zeros((2, 3, 4), bool))
    assert empty.item() == 0.0


@given(masked_pairs(positive=True), st.sampled_from([0.0, 0.5, 1.0]))
def test_scale_invariant_log_loss_gradcheck(pair, lam):
    pred, target, mask = pair
    md.gradcheck(lambda p, t: F.scale_invariant_log_loss(p, t, mask, lam=lam), (pred, target))


@given(masked_pairs(positive=True), st.floats(0.01, 100))
def test_scale_invariant_log_loss_ignores_scale_with_lam_1(pair, scale):
    pred, target, mask = pair
    a = F.scale_invariant_log_loss(md.tensor(pred), md.tensor(target), mask, lam=1.0).item()
    b = F.scale_invariant_log_loss(md.tensor(pred * scale), md.tensor(target), mask, lam=1.0).item()
    np.testing.assert_allclose(b, a, atol=1e-10)
    assert a >= -1e-12


def test_scale_invariant_log_loss_definition_and_floor():
    pred = np.array([[[[1.0, 2.0], [0.5, 0.0]]]], dtype=np.float32)
    target = np.array([[[[2.0, 2.0], [1.0, 1.0]]]], dtype=np.float32)
    p = md.tensor(pred, requires_grad=True)
    loss = F.scale_invariant_log_loss(p, target, lam=0.5)   # pred 0 is floored at 1e-6
    loss.backward()
    g = np.log(np.maximum(pred, 1e-6)) - np.log(target)
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), (g ** 2).mean() - 0.5 * g.mean() ** 2, rtol=1e-5)
    assert np.isfinite(p.grad).all() and p.grad[0, 0, 1, 1] == 0


# ---------------------------------------------------------------- normals
@given(masked_pairs(channels=3), st.sampled_from(REDUCTIONS))
def test_cosine_normal_loss_gradcheck(pair, reduction):
    pred, target, mask = pair
    mask = None if mask is None else mask.reshape(mask.shape[0], -1, *mask.shape[-2:])[:, :1]
    md.gradcheck(lambda p, t: F.cosine_normal_loss(p, t, mask, reduction=reduction), (pred, target))


def test_cosine_normal_loss_identical_and_opposite():
    gen = np.random.default_rng(6)
    n = gen.standard_normal((2, 3, 4, 5)).astype(np.float32)
    same = F.cosine_normal_loss(md.tensor(n), md.tensor(n * 3))
    opposite = F.cosine_normal_loss(md.tensor(n), md.tensor(-n), reduction="none")
    assert same.dtype == np.float32
    np.testing.assert_allclose(same.item(), 0.0, atol=1e-6)
    np.testing.assert_allclose(opposite.numpy(), np.full((2, 4, 5), 2.0), atol=1e-6)
    mask = np.zeros((2, 4, 5), bool)
    mask[0, 0, 0] = True
    flipped = n.copy()
    flipped[:, :, 1:] *= -1                   # every pixel opposite except column 0
    np.testing.assert_allclose(F.cosine_normal_loss(md.tensor(n), md.tensor(flipped), mask).item(), 0.0, atol=1e-6)


# ---------------------------------------------------------------- binary cross-entropy with logits
@given(st.data(), st.sampled_from(REDUCTIONS))
def test_bce_with_logits_gradcheck(data, reduction):
    shape = data.draw(mt.shapes(min_dims=2, max_dims=4, max_side=3))
    x = data.draw(mt.arrays(shape, low=-4, high=4))
    t = data.draw(mt.arrays(shape, low=0, high=1))
    per_channel = (shape[1],) + (1,) * (len(shape) - 2)
    weight = data.draw(st.none() | mt.arrays(per_channel, low=0.5, high=2))
    pos_weight = data.draw(st.none() | mt.arrays(per_channel, low=0.5, high=3))
    md.gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight, pos_weight, reduction), (x, t))


def test_bce_with_logits_large_logits():
    x = md.tensor([[1e4, -1e4, 1e4, -1e4]], requires_grad=True)
    t = md.tensor([[1.0, 0.0, 0.0, 1.0]])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    loss.sum().backward()
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.numpy(), [[0, 0, 1e4, 1e4]])
    np.testing.assert_allclose(x.grad, [[0, 0, 1, -1]])


# ---------------------------------------------------------------- argument errors
def _scores():
    return md.randn(2, 3, 4, 5), np.zeros((2, 4, 5), dtype=np.int64)


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_class_loss_errors(fn):
    x, t = _scores()
    name = fn.__name__
    with pytest.raises(TypeError, match=f"{name}: target must hold integer class indices, got dtype float32"):
        fn(x, t.astype(np.float32))
    bad = t.copy()
    bad[1, 2, 3] = 7
    with pytest.raises(ValueError, match=rf"{name}: target holds 7, outside the classes \[0, 3\)") as err:
        fn(x, bad)
    assert "255" not in str(err.value)
    bad[1, 2, 3] = 255
    with pytest.raises(ValueError, match="target holds 255.*ignore_index=255"):
        fn(x, bad)
    fn(x, bad, ignore_index=255)   # the same target is fine once 255 is ignored
    with pytest.raises(ValueError, match=r"target must have shape \(2, 4, 5\).*got \(2, 5, 4\)"):
        fn(x, np.zeros((2, 5, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        fn(x, t, weight=md.ones(4))
    with pytest.raises(TypeError, match="weight must have the input's dtype float32, got float64"):
        fn(x, t, weight=np.ones(3))
    with pytest.raises(ValueError, match=f"{name}: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        fn(x, t, reduction="avg")
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        fn(md.tensor(t[:, None].repeat(3, 1)), t)


@pytest.mark.parametrize("fn", [F.l1_loss, F.mse_loss, F.smooth_l1_loss, F.scale_invariant_log_loss])
def test_depth_loss_errors(fn):
    pred, target = md.rand(2, 1, 4, 5), md.rand(2, 1, 4, 5)
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"{name}: mask must have shape \(2, 1, 4, 5\) or \(2, 4, 5\), "
                                         r"got \(2, 5, 4\)"):
        fn(pred, target, mask=np.ones((2, 5, 4), bool))
    with pytest.raises(TypeError, match=f"{name}: mask must be boolean"):
        fn(pred, target, mask=np.ones((2, 4, 5)))
    with pytest.raises(ValueError, match=rf"{name}: target must have the shape of .* \(2, 1, 4, 5\), got \(2, 4, 5\)"):
        fn(pred, md.rand(2, 4, 5))
    with pytest.raises(TypeError, match=f"{name}: target must have the dtype"):
        fn(pred, target.double())


def test_cosine_and_bce_errors():
    with pytest.raises(ValueError, match=r"cosine_normal_loss: pred must hold normals with 3 channels.*\(2, 2, 4, 5\)"):
        F.cosine_normal_loss(md.randn(2, 2, 4, 5), md.randn(2, 2, 4, 5))
    with pytest.raises(ValueError, match=r"cosine_normal_loss: mask must have shape \(2, 1, 4, 5\) or \(2, 4, 5\)"):
        F.cosine_normal_loss(md.randn(2, 3, 4, 5), md.randn(2, 3, 4, 5), np.ones((2, 3, 4, 5), bool))
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: pos_weight of shape"):
        F.binary_cross_entropy_with_logits(md.randn(2, 3), md.rand(2, 3), pos_weight=md.ones(2, 1, 3))
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits: target must be a floating-point"):
        F.binary_cross_entropy_with_logits(md.randn(2, 3), np.ones((2, 3), np.int64))
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be in"):
        F.smooth_l1_loss(md.rand(3), md.rand(3), beta=-1.0)
