"""normalize, batch_norm, dropout: gradients, PyTorch's running statistics, reproducible randomness."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidense as md
import minidense.functional as F
from minidense import testing as mt


# ---------------------------------------------------------------- normalize
@given(mt.arrays(mt.shapes(min_dims=2, max_dims=4, max_side=4), avoid=0.3), st.data())
def test_normalize_gradcheck_and_unit_length(x, data):
    axis = data.draw(st.integers(0, x.ndim - 1))
    md.gradcheck(lambda t: F.normalize(t, dim=axis), x)
    norms = np.sqrt((F.normalize(md.tensor(x), axis=axis).numpy() ** 2).sum(axis=axis))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-12)


def test_normalize_zero_vector_and_eps():
    x = np.zeros((1, 3, 1, 2))
    x[0, :, 0, 1] = [3.0, 0.0, 4.0]
    out = F.normalize(md.tensor(x, dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy()[0, :, 0], [[0, 0.6], [0, 0], [0, 0.8]])
    # vectors shorter than eps are divided by eps: the gradient is 1/eps, exactly as PyTorch's
    md.gradcheck(lambda t: F.normalize(t, dim=1, eps=0.5), np.array([[0.1, 0.2, -0.1], [1.0, 2.0, 0.5]]))


# ---------------------------------------------------------------- batch norm
@st.composite
def bn_problems(draw):
    c = draw(st.integers(1, 3))
    shape = draw(st.sampled_from([(draw(st.integers(2, 4)), c),
                                  (draw(st.integers(1, 2)), c, draw(st.integers(1, 3)), draw(st.integers(2, 3)))]))
    x = draw(mt.arrays(shape, low=-3, high=3))
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return x, gen.uniform(0.5, 2, c), gen.standard_normal(c), gen.standard_normal(c), gen.uniform(0.5, 2, c)


@given(bn_problems(), st.booleans(), st.booleans())
def test_batch_norm_gradcheck(problem, training, affine):
    x, w, b, rm, rv = problem
    if affine:
        md.gradcheck(lambda t, w_, b_: F.batch_norm(t, rm, rv, w_, b_, training=training), (x, w, b))
    else:
        md.gradcheck(lambda t: F.batch_norm(t, rm, rv, training=training), x)


@given(bn_problems(), st.floats(0, 1))
def test_batch_norm_running_statistics(problem, momentum):
    x, w, b, rm, rv = problem
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1]
    running_mean, running_var = rm.copy(), md.tensor(rv)           # an array and a Tensor: both updated in place
    y = F.batch_norm(md.tensor(x), running_mean, running_var, w, b, training=True, momentum=momentum)
    np.testing.assert_allclose(running_mean, (1 - momentum) * rm + momentum * x.mean(axis=axes), rtol=1e-12,
                               atol=1e-14)
    np.testing.assert_allclose(running_var.numpy(), (1 - momentum) * rv + momentum * x.var(axis=axes) * n / (n - 1),
                               rtol=1e-12, atol=1e-14)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    normalized = (y.numpy() - b.reshape(shape)) / w.reshape(shape)
    np.testing.assert_allclose(normalized.mean(axis=axes), 0, atol=1e-10)
    # eval mode reads the running statistics and leaves them alone
    before = running_mean.copy()
    y = F.batch_norm(md.tensor(x), running_mean, running_var, training=False)
    np.testing.assert_array_equal(running_mean, before)
    np.testing.assert_allclose(y.numpy(), (x - before.reshape(shape)) / np.sqrt(running_var.numpy().reshape(shape)
                                                                                + 1e-5), rtol=1e-12, atol=1e-12)


def test_batch_norm_without_running_stats_and_dtype():
    x = md.randn(4, 3, 2, 2)
    y = F.batch_norm(x, None, None, training=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy().var(axis=(0, 2, 3)), 1, rtol=1e-3)


def test_batch_norm_errors():
    x = md.randn(2, 3, 4, 4)
    rm, rv = md.zeros(3), md.ones(3)
    with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per channel when training"):
        F.batch_norm(md.randn(1, 3), rm, rv, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean must have shape \(3,\).*got \(4,\)"):
        F.batch_norm(x, md.zeros(4), rv)
    with pytest.raises(TypeError, match="batch_norm: running_var must have the input's dtype float32, got float64"):
        F.batch_norm(x, rm, np.ones(3))
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var are needed when training=False"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"batch_norm: momentum must be in \[0, 1\], got 1.5"):
        F.batch_norm(x, rm, rv, training=True, momentum=1.5)
    with pytest.raises(ValueError, match=r"batch_norm: input must be \(N, C\) or \(N, C, H, W\)"):
        F.batch_norm(md.randn(3), rm, rv)


# ---------------------------------------------------------------- dropout
def test_dropout_reproducible_and_scaled():
    x = md.ones(4, 8, 16, 16)
    md.manual_seed(7)
    a = F.dropout(x, p=0.25).numpy()
    md.manual_seed(7)
    b = F.dropout(x, p=0.25).numpy()
    c = F.dropout(x, p=0.25).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)                   # a fresh draw each call
    assert a.dtype == np.float32 and set(np.unique(a)) == {0.0, np.float32(1 / 0.75)}
    assert abs((a == 0).mean() - 0.25) < 0.02        # 8192 fixed draws: the kept fraction is near 1 - p


def test_dropout_gradient_and_identity():
    x = md.tensor(np.random.default_rng(0).standard_normal((3, 5)), requires_grad=True)
    y = F.dropout(x, p=0.4)
    y.backward(np.ones((3, 5)))
    scale = y.numpy() / x.numpy()
    np.testing.assert_allclose(x.grad, scale)
    assert F.dropout(x, p=0.4, training=False) is x
    assert F.dropout(x, p=0.0) is x
    for p in (1.0, -0.1, 2):
        with pytest.raises(ValueError, match=r"dropout: p must be a probability in \[0, 1\)"):
            F.dropout(x, p=p)
    with pytest.raises(TypeError, match="dropout: input must be a floating-point tensor"):
        F.dropout(md.tensor(np.ones(3, dtype=np.int64)))


@pytest.mark.gpu
def test_losses_and_norms_on_gpu_match_cpu():
    gen = np.random.default_rng(0)
    x = gen.standard_normal((2, 4, 5, 6)).astype(np.float32)
    target = gen.integers(0, 4, (2, 5, 6))
    target[:, 0] = 255
    for device in ("cpu", "cuda"):
        t = md.tensor(x, requires_grad=True, device=device)
        loss = F.cross_entropy(t, md.tensor(target, device=device), ignore_index=255)
        bn = F.batch_norm(t, md.zeros(4, device=device), md.ones(4, device=device), training=True)
        (loss + (bn * bn).mean() + F.normalize(t).sum()).backward()
        if device == "cpu":
            ref_loss, ref_grad = loss.item(), t.grad.copy()
    np.testing.assert_allclose(loss.item(), ref_loss, rtol=1e-5)
    np.testing.assert_allclose(md.backend.to_numpy(t.grad), ref_grad, rtol=1e-4, atol=1e-6)
    md.manual_seed(3)
    a = F.dropout(md.ones(64, 64, device="cuda"), p=0.5)
    md.manual_seed(3)
    b = F.dropout(md.ones(64, 64, device="cuda"), p=0.5)
    assert a.device == "cuda" and (a.numpy() == b.numpy()).all() and 0.4 < (a.numpy() == 0).mean() < 0.6
