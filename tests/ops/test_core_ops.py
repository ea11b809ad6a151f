"""Core ops on hypothesis-drawn shapes and axes (broadcast, size-1): gradcheck in float64 and NumPy's answer.

Each op's own samples, references and promises are generated from its declaration (tests/ops/test_opdb.py);
these add random shapes and axes, and the rules no single op owns (scalars keep the dtype, ties, aliases).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from opcheck import check_op

import minidense as md
from minidense import testing as mt


@given(data=st.data())
def test_scalar_operands_keep_dtype(data):
    a = data.draw(mt.arrays(mt.shapes(), avoid=0.3))
    check_op(lambda x: (2.0 - x) * 3 / x + x ** 2 - 1 / x, a)
    t = md.tensor(a.astype(np.float32))
    assert (t * 2.5 + 1).dtype == np.float32 and (2 ** t).dtype == np.float32


def test_sigmoid_is_stable_for_large_inputs():
    x = md.tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=np.float32), requires_grad=True)
    y = x.sigmoid()
    y.sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad).all()
    np.testing.assert_allclose(y.data, [0, 0, 0.5, 1, 1], atol=1e-20)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@given(data=st.data())
def test_sum_mean(reduction, data):
    x = data.draw(mt.arrays(mt.shapes()))
    axis = data.draw(st.none() | st.integers(0, x.ndim - 1) |
                     st.lists(st.integers(0, x.ndim - 1), min_size=1, unique=True).map(tuple))
    keepdims = data.draw(st.booleans())
    out = check_op(lambda t: getattr(t, reduction)(axis=axis, keepdims=keepdims), x)
    np.testing.assert_allclose(out.data, getattr(np, reduction)(x, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("reduction", ["max", "min"])
@given(data=st.data())
def test_max_min_without_ties(reduction, data):
    x = data.draw(mt.arrays(mt.shapes(), distinct=True))
    axis = data.draw(st.none() | st.integers(0, x.ndim - 1))
    keepdims = data.draw(st.booleans())
    out = check_op(lambda t: getattr(t, reduction)(dim=axis, keepdims=keepdims), x)
    np.testing.assert_allclose(out.data, getattr(np, reduction)(x, axis=axis, keepdims=keepdims))


def test_max_ties_share_gradient():
    x = md.tensor(np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0, 0.5, 0.5, 0])


@given(data=st.data())
def test_matmul_batched_and_broadcast(data):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch_a = data.draw(st.sampled_from([(), (2,), (1,), (3, 2)]))
    batch_b = data.draw(st.sampled_from([(), (2,), (1,)])) if len(batch_a) < 2 else (2,)
    a = data.draw(mt.arrays(batch_a + (n, k)))
    b = data.draw(mt.arrays(batch_b + (k, m)))
    out = check_op(lambda x, y: x @ y, a, b)
    np.testing.assert_allclose(out.data, a @ b)


@given(data=st.data())
def test_reshape_permute_transpose(data):
    x = data.draw(mt.arrays(mt.shapes(min_dims=2)))
    perm = tuple(data.draw(st.permutations(range(x.ndim))))
    check_op(lambda t: t.permute(*perm).reshape(-1) * 1.0, x)
    out = check_op(lambda t: t.transpose(), x)
    np.testing.assert_array_equal(out.data, x.transpose())
    out = check_op(lambda t: md.ops.transpose(t, *perm), x)
    np.testing.assert_array_equal(out.data, x.transpose(perm))


@given(data=st.data())
def test_indexing(data):
    x = data.draw(mt.arrays(mt.shapes(min_dims=2, min_side=2)))
    idx = np.array(data.draw(st.lists(st.integers(0, x.shape[0] - 1), min_size=1, max_size=5)))
    check_op(lambda t: t[:, 1:] * 2, x)
    check_op(lambda t: t[::-1, ::2], x)
    out = check_op(lambda t: t[idx], x)   # repeated indices: gradients add up
    np.testing.assert_array_equal(out.data, x[idx])
    mask = x > 0
    check_op(lambda t: t[mask], x)


def test_repeated_index_gradient_adds_up():
    x = md.tensor(np.arange(4.0), requires_grad=True)
    x[np.array([1, 1, 3])].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 2, 0, 1])


@given(data=st.data())
def test_concat_and_stack(data):
    shape = data.draw(mt.shapes(min_dims=1, max_dims=3))
    axis = data.draw(st.integers(0, len(shape) - 1))
    other = list(shape)
    other[axis] = data.draw(st.integers(1, 3))
    a, b = data.draw(mt.arrays(shape)), data.draw(mt.arrays(tuple(other)))
    out = check_op(lambda s, t: md.concat([s, t], axis=axis), a, b)
    np.testing.assert_array_equal(out.data, np.concatenate([a, b], axis=axis))
    c = data.draw(mt.arrays(shape))
    out = check_op(lambda s, t: md.stack([s, t], dim=axis), a, c)
    np.testing.assert_array_equal(out.data, np.stack([a, c], axis=axis))


@given(data=st.data())
def test_pad_and_where(data):
    x = data.draw(mt.arrays(mt.shapes(max_dims=3)))
    widths = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in range(x.ndim))
    out = check_op(lambda t: md.ops.pad(t, widths, value=0.5), x)
    np.testing.assert_array_equal(out.data, np.pad(x, widths, constant_values=0.5))
    y = data.draw(mt.arrays(x.shape))
    cond = x > y
    out = check_op(lambda s, t: md.where(cond, s, t), x, y)
    np.testing.assert_array_equal(out.data, np.where(cond, x, y))


def test_comparisons_carry_no_gradient():
    x = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (x > 1.5, x >= 2, x < 2, x <= 2, x == 2, x != 2):
        assert r.dtype == bool and not r.requires_grad
    np.testing.assert_array_equal((x > 1.5).data, [False, True, True])


def test_dim_is_an_alias_of_axis():
    x = md.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.sum(dim=1).data, x.sum(axis=1).data)
    np.testing.assert_array_equal(md.concat([x, x], dim=1).data, md.concat([x, x], axis=1).data)
    with pytest.raises(TypeError, match="both axis"):
        md.ops.sum(x, axis=0, dim=1)
