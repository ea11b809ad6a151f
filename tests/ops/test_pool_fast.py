"""Max pooling's fast path (ops/pool_fast.py) gives the reference argmax's switches, and no course kit ships it."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidense as md
import minidense.functional as F
from minidense.assignments import course
from minidense.assignments.generator import build_package
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
    build_package(spec, str(tmp_path / "minidense"))
    holders = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.py") if TUNED_LINE in p.read_text()]
    assert not holders, f"the {spec.name} kit ships the tuned argmax in {holders}"
    assert "not part of this kit" in (tmp_path / "minidense" / "ops" / "pool_fast.py").read_text()


def test_the_tuned_line_is_the_librarys():
    """The kits' check above looks for a line the library really has."""
    import inspect
    assert TUNED_LINE in inspect.getsource(pool_fast)


def test_conv2d_says_how_to_step_through_the_reference_kernels():
    assert "md.fast_paths(False)" in md.nn.Conv2d.__doc__
