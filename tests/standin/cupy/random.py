"""cupy.random (stand-in): ``default_rng`` and a Generator with only CuPy's methods and dtype rules.

CuPy's Generator (cupy/random/_generator_api.pyx) has no ``normal``, ``choice``, ``permutation`` or
``shuffle``, and its bit generator has no state getter or setter: a stream cannot be saved and
restored, only re-created from a seed. Its dtype rules: ``random``/``uniform`` draw float64 for
float64 and float32 for anything else, then cast (so float16 "works" and an integer dtype gives
zeros); ``standard_normal`` takes float32 and float64 only.
"""
import numpy as _np

from ._core import _out
from ._core import asarray as _asarray

__all__ = ["BitGenerator", "XORWOW", "Generator", "default_rng"]


class BitGenerator:
    """Seeded like CuPy's (int, sequence of ints or SeedSequence, via numpy.random.SeedSequence)."""

    def __init__(self, seed=None):
        seq = seed if isinstance(seed, _np.random.SeedSequence) else _np.random.SeedSequence(seed)
        object.__setattr__(self, "_source", _np.random.Generator(_np.random.PCG64(seq)))

    def __setattr__(self, name, value):
        raise AttributeError(f"cupy.random.{type(self).__name__} has no settable attribute {name!r}: CuPy's "
                             "bit generators have no state getter or setter")

    def state(self):
        """As CuPy's: the device address of the generator's state (an int), not a readable state."""
        return id(self._source)

    def random_raw(self, size=None, output=True):
        y = _out(self._source.integers(0, 2 ** 31, size=size, dtype=_np.int32))
        return y if output else None


class XORWOW(BitGenerator):
    pass


def _shape(size):
    return () if size is None else size


class Generator:
    """CuPy's generator API (the methods minidense could call; none that CuPy lacks)."""

    def __init__(self, bit_generator):
        self.bit_generator = bit_generator

    def _src(self):
        return self.bit_generator._source

    def random(self, size=None, dtype=_np.float64, out=None):
        if _np.dtype(dtype).char == "d":
            y = self._src().random(_shape(size), dtype=_np.float64)
        else:
            y = self._src().random(_shape(size), dtype=_np.float32)
        y = _out(_np.asarray(y)).astype(dtype, copy=False)
        if out is not None:
            out[...] = y
            return out
        return y

    def uniform(self, low=0.0, high=1.0, size=None, dtype=_np.float64):
        low, high = _asarray(low), _asarray(high)
        shape = _np.broadcast_shapes(low.shape, high.shape) if size is None else size
        y = self.random(shape, dtype=_np.float64 if _np.dtype(dtype).char == "d" else _np.float32)
        return (low + (high - low) * y).astype(dtype, copy=False)

    def standard_normal(self, size=None, dtype=_np.float64, out=None):
        dtype = _np.dtype(dtype)
        if dtype.char not in ("f", "d"):
            raise TypeError(f"Unsupported dtype {dtype.name} for standard_normal")
        y = _out(_np.asarray(self._src().standard_normal(_shape(size), dtype=dtype)))
        if out is not None:
            out[...] = y
            return out
        return y

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        lo, hi = (0, int(low)) if high is None else (int(low), int(high))
        if not endpoint:
            hi -= 1
        if lo > hi:
            raise ValueError("low >= high")
        return _out(_np.asarray(self._src().integers(lo, hi, size=_shape(size), endpoint=True))).astype(dtype)

    def standard_exponential(self, size=None, dtype=_np.float64, method="inv", out=None):
        y = _out(_np.asarray(self._src().standard_exponential(_shape(size)))).astype(dtype, copy=False)
        if out is not None:
            out[...] = y
            return out
        return y

    def exponential(self, scale=1.0, size=None):
        return self.standard_exponential(size) * scale


def default_rng(seed=None):
    """A Generator on CuPy's default bit generator (XORWOW there; NumPy's PCG64 underneath here)."""
    return Generator(XORWOW(seed))
