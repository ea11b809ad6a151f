"""cupyx (stand-in): scatter_add, the unbuffered ``a[slices] += value`` where repeated indices add up."""
import numpy as _np
from cupy._core import _in, _index
from cupy._core import ndarray as _ndarray

__all__ = ["scatter_add"]


def scatter_add(a, slices, value):
    if not isinstance(a, _ndarray):
        raise TypeError(f"scatter_add: a must be a cupy.ndarray, got {type(a)}")
    _np.add.at(a._a, _index(slices), _in(value, "cupyx.scatter_add"))
