"""The hypothesis strategies give what they promise (so that no example of an op test is wasted)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from minidense import testing as mt


@given(mt.conv_geometries())
def test_conv_geometries_are_valid(g):
    for n, k, s, p, d in zip((g["H"], g["W"]), g["kernel_size"], g["stride"], g["padding"], g["dilation"]):
        assert 1 <= k <= 5 and 1 <= s <= 3 and 0 <= p <= 2 and 1 <= d <= 2
        assert n + 2 * p >= d * (k - 1) + 1          # the dilated kernel fits the padded input


@given(mt.conv_geometries(transposed=True))
def test_transposed_geometries_have_outputs(g):
    for n, k, s, p, d, op in zip((g["H"], g["W"]), g["kernel_size"], g["stride"], g["padding"], g["dilation"],
                                 g["output_padding"]):
        assert op < max(s, d)
        assert (n - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1


@given(mt.pool_geometries())
def test_pool_geometries_keep_padding_at_most_half_the_kernel(g):
    for n, k, p in zip((g["H"], g["W"]), g["kernel_size"], g["padding"]):
        assert 2 * p <= k and n + 2 * p >= k


@given(st.data())
def test_arrays_keep_their_promises(data):
    shape = data.draw(mt.shapes(min_dims=2))
    x = data.draw(mt.arrays(shape, avoid=0.2, contiguous=False))
    assert x.shape == shape and (np.abs(x) >= 0.2).all() and np.abs(x).max() <= 2.2
    assert not x.flags.c_contiguous or x.size <= 1 or 1 in shape
    y = data.draw(mt.arrays(shape, distinct=True))
    assert len(np.unique(y)) == y.size
    z = data.draw(mt.arrays(shape, positive=True))
    assert (z >= 0.1).all()


@given(mt.broadcastable_shapes())
def test_broadcastable_shapes_broadcast(pair):
    np.broadcast_shapes(*pair)
