"""Max pooling's fast path (ops/pool_fast.py) gives the reference argmax's switches, and no course kit ships it."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kit_files import assert_no_kit_ships

import minidense as md
import minidense.functional as F
from minidense.assignments import course
from minidense.ops import pool_fast

#: a line of the tuned loop: a kit that holds it ships the fast path
TUNED_LINE = "xp.maximum(tap, better * xp.int32(t), out=tap)"


@given(taps=st.integers(1, 9), seed=st.integers(0, 2**16), levels=st.sampled_from([2, 3, 50]))
def test_the_tuned_loop_gives_the_first_maximum_as_argmax_does(taps, seed, levels):
    """Small integers make ties everywhere; a few NaNs win once, as in argmax."""
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, levels, (2, taps, 3, 4, 5)).astype(np.float64)
    cols[rng.random(cols.shape) < 0.05] = np.nan
    np.testing.assert_array_equal(pool_fast.first_max_tap(cols), cols.argmax(axis=1))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d_gives_the_same_values_and_switches_on_both_paths(kw):
    x = md.tensor(np.random.default_rng(0).integers(0, 3, (2, 3, 7, 6)).astype(np.float32))   # ties
    with md.fast_paths(False):
        want, want_idx = F.max_pool2d(x, return_indices=True, **kw)
    with md.fast_paths(True):
        got, got_idx = F.max_pool2d(x, return_indices=True, **kw)
    np.testing.assert_array_equal(got_idx.numpy(), want_idx.numpy())
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("spec", course.COURSE, ids=lambda spec: spec.name)
def test_no_kit_ships_the_tuned_loop(spec, tmp_path):
    assert_no_kit_ships(spec, tmp_path, pool_fast, TUNED_LINE)


def test_conv2d_says_how_to_step_through_the_reference_kernels():
    assert "md.fast_paths(False)" in md.nn.Conv2d.__doc__
