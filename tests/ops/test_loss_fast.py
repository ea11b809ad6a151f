"""Cross-entropy's fast path (ops/loss_fast.py) gives the reference's bits on any split, and no kit ships it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kit_files import assert_no_kit_ships
from threads import split_everything

import minidense as md
import minidense.functional as F
from minidense.assignments import course
from minidense.ops import loss, loss_fast, parallel

#: a line of the split forward: a kit that holds it ships the fast path
SPLIT_LINE = "self.pieces = parallel.split(n, x, MIN_BYTES)"


def _run(x, target, weight, kw, upstream):
    x = md.tensor(x, requires_grad=True)
    out = F.cross_entropy(x, md.tensor(target), weight=None if weight is None else md.tensor(weight), **kw)
    out.backward(md.tensor(upstream.astype(x.dtype)) if out.ndim else None)
    return out, x.grad


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 6), size=st.tuples(st.integers(1, 5), st.integers(1, 4)),
       dtype=st.sampled_from(["float32", "float64"]), weighted=st.booleans(), ignored=st.floats(0, 1),
       reduction=st.sampled_from(["mean", "sum", "none"]), threads=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_the_split_loss_and_gradient_are_the_references_bits(n, c, size, dtype, weighted, ignored, reduction,
                                                              threads, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, c) + size) * 4).astype(dtype)
    target = rng.integers(0, c, (n,) + size)
    target[rng.random(target.shape) < ignored] = md.IGNORE_INDEX   # all of them, sometimes: the mean is then 0
    weight = rng.random(c).astype(dtype) if weighted else None
    upstream = rng.standard_normal(target.shape)
    kw = dict(ignore_index=md.IGNORE_INDEX, reduction=reduction)
    with md.fast_paths(False):
        want, want_grad = _run(x, target, weight, kw, upstream)
        assert type(want._ctx) is loss.CrossEntropy
    with md.fast_paths(True), split_everything(threads):
        got, got_grad = _run(x, target, weight, kw, upstream)
        assert type(got._ctx) is loss_fast.CrossEntropy or n < 2   # one image: nothing to split
    assert got.dtype == want.dtype and got_grad.dtype == want_grad.dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(got_grad, want_grad)


def test_it_splits_only_big_scores_with_several_threads_on_the_cpu():
    big = np.zeros((4, 2, 512, 512), np.float32)          # 8 MiB
    previous = parallel.get_num_threads()
    try:
        parallel.set_num_threads(2)
        assert loss_fast.splits(big)
        assert not loss_fast.splits(big[:, :, :256])      # a quarter of it
        assert not loss_fast.splits(big[:1])              # one image
        assert not loss_fast.splits(np.zeros((2 << 20, 2), np.float32))   # (N, C): no pixel axes
        parallel.set_num_threads(1)
        assert not loss_fast.splits(big)
    finally:
        parallel.set_num_threads(previous)


def test_the_reference_runs_when_the_fast_paths_are_off():
    x = md.randn(4, 3, 2, 2, requires_grad=True)
    with md.fast_paths(False), split_everything(2):
        assert type(F.cross_entropy(x, md.tensor(np.zeros((4, 2, 2), np.int64)))._ctx) is loss.CrossEntropy


@pytest.mark.parametrize("spec", course.COURSE, ids=lambda spec: spec.name)
def test_no_kit_ships_the_split_loss(spec, tmp_path):
    assert_no_kit_ships(spec, tmp_path, loss_fast, SPLIT_LINE)
