"""A strict CuPy stand-in for machines without a GPU: NumPy underneath, CuPy's rules on top.

``make test`` puts ``tests/standin`` first on PYTHONPATH for its second pass, so ``import cupy``
(in the tests, in minidense, in subprocesses such as the command line) finds this package and
every GPU-marked test runs here. It behaves like CuPy (v13/v14) where minidense could go wrong:

- ``cupy.ndarray`` is its own type; ``numpy.asarray(a)`` raises TypeError as CuPy's ``__array__`` does;
- one operation accepts Python and NumPy scalars but refuses any ``numpy.ndarray`` operand (0-d too):
  data moves to the device only through ``cupy.asarray`` / ``cupy.array`` and back through ``.get()`` /
  ``cupy.asnumpy``;
- reductions and integer indexing give 0-d device arrays, never host scalars;
- ``a.flags`` has only ``c_contiguous``, ``f_contiguous`` and ``owndata``;
- ``cupy.random.default_rng`` gives a generator with only CuPy's methods and dtype rules and no state
  getter or setter;
- no public name that CuPy lacks (tests/support/cupy_names.py lists CuPy's, tests/gpu/test_standin.py checks);
- every device-to-host synchronisation (``__bool__``, ``__float__``, ``__int__``, ``item``, ``tolist``,
  ``get``, ``asnumpy``) is counted in ``cupy._syncs``.

Not a simulator of CUDA: kernels, streams and memory pools are absent, and arithmetic is NumPy's.
"""
import numpy as _np

from . import cuda, random  # noqa: F401  (cupy.cuda and cupy.random, as in CuPy)
from ._core import (  # noqa: F401
    _in,
    _out,
    _syncs,
    asarray,
    asnumpy,
    get_array_module,
    ndarray,
)

__version__ = "13.6.0+standin"
_standin = True   # how tests tell the stand-in from real CuPy

# dtypes and constants are NumPy's own objects in CuPy too
bool_, int8, int16, int32, int64 = _np.bool_, _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
dtype, finfo, iinfo = _np.dtype, _np.finfo, _np.iinfo
promote_types, result_type, can_cast, issubdtype = _np.promote_types, _np.result_type, _np.can_cast, _np.issubdtype
inf, nan, pi, e, newaxis = _np.inf, _np.nan, _np.pi, _np.e, None
ndim, shape, size = _np.ndim, _np.shape, _np.size   # CuPy's accept device arrays: no data moves


def _from_numpy(name):
    """cupy.<name>: numpy.<name> on the device arrays behind the arguments (NumPy arrays refused; a ufunc, as
    CuPy's, refuses lists and tuples as operands too)."""
    fn = getattr(_np, name)
    elementwise = isinstance(fn, _np.ufunc)

    def wrapper(*args, **kwargs):
        for a in args if elementwise else ():   # (this module's own `any` is cupy.any: no builtins here)
            if isinstance(a, (list, tuple)):
                raise TypeError(f"Unsupported type {type(a)} in cupy.{name}")
        return _out(fn(*[_in(a, name) for a in args], **{k: _in(v, name) for k, v in kwargs.items()}), args)
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = f"cupy.{name} (stand-in: numpy.{name} on the device's arrays)"
    return wrapper


def _sequence_arg(name):
    """cupy.<name>(arrays, ...): the first argument is a sequence of device arrays (concatenate, stack)."""
    fn = getattr(_np, name)

    def wrapper(arrays, *args, **kwargs):
        return _out(fn([_in(a, name) for a in arrays], *[_in(a, name) for a in args],
                       **{k: _in(v, name) for k, v in kwargs.items()}))
    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


# Element-wise functions (ufuncs in CuPy), reductions, manipulation: NumPy's on device arrays.
_ELEMENTWISE_AND_ROUTINES = """
    abs absolute add subtract multiply divide true_divide floor_divide negative positive power remainder mod
    fmod maximum minimum fmax fmin exp exp2 expm1 log log2 log10 log1p sqrt square cbrt sign reciprocal
    sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh hypot floor ceil trunc
    rint around round clip isfinite isinf isnan signbit copysign logaddexp equal not_equal less less_equal
    greater greater_equal logical_and logical_or logical_not logical_xor bitwise_and bitwise_or bitwise_xor
    invert left_shift right_shift where nonzero argwhere count_nonzero sum prod mean var std max min amax
    amin argmax argmin all any cumsum cumprod median percentile quantile nanmax nanmin nansum nanmean
    sort argsort unique take take_along_axis reshape ravel transpose swapaxes moveaxis expand_dims squeeze
    broadcast_to flip fliplr flipud roll repeat tile pad diff dot matmul tensordot einsum outer inner vdot
    trace diagonal diag tril triu zeros_like ones_like empty_like full_like copy isclose allclose
    array_equal bincount searchsorted digitize histogram interp ascontiguousarray asfortranarray
    atleast_1d atleast_2d atleast_3d nan_to_num real imag conj
"""
for _name in _ELEMENTWISE_AND_ROUTINES.split():
    globals()[_name] = _from_numpy(_name)
for _name in ("concatenate", "stack", "vstack", "hstack", "dstack", "column_stack"):
    globals()[_name] = _sequence_arg(_name)


def broadcast_arrays(*arrays):
    return [_out(a) for a in _np.broadcast_arrays(*[_in(a, "broadcast_arrays") for a in arrays])]


def split(ary, indices_or_sections, axis=0):
    return [_out(a) for a in _np.split(_in(ary, "split"), indices_or_sections, axis)]


def meshgrid(*xi, **kwargs):
    return [_out(a) for a in _np.meshgrid(*[_in(a, "meshgrid") for a in xi], **kwargs)]


def ix_(*args):
    return tuple(_out(a) for a in _np.ix_(*[_in(a, "ix_") for a in args]))


# Creation: shapes and Python values in, device arrays out.
def _creator(name):
    fn = getattr(_np, name)

    def wrapper(*args, **kwargs):
        return _out(fn(*args, **kwargs))
    wrapper.__name__ = wrapper.__qualname__ = name
    return wrapper


for _name in ("zeros", "ones", "empty", "full", "arange", "linspace", "logspace", "eye", "identity",
              "tri", "indices"):
    globals()[_name] = _creator(_name)


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0):
    """A device array from a device array, a NumPy array, or (nested) Python numbers (host-to-device copy)."""
    if isinstance(obj, ndarray):
        out = _np.array(obj._a, dtype=dtype, copy=True if copy else None, order=order, ndmin=ndmin)
    else:
        out = _np.array(_host_values(obj), dtype=dtype, copy=True, order=order, ndmin=ndmin)
    return _out(out)


def _host_values(obj):
    """Host data for array(): lists may hold device arrays (CuPy copies them), nothing else may."""
    if isinstance(obj, (list, tuple)):
        return [_host_values(o) for o in obj]
    if isinstance(obj, ndarray):
        return obj._a
    return obj


def asanyarray(a, dtype=None, order=None):
    return asarray(a, dtype, order)


def copyto(dst, src, casting="same_kind", where=True):
    _np.copyto(_in(dst, "copyto"), _in(src, "copyto"), casting=casting, where=_in(where, "copyto"))


def fuse(*args, **kwargs):   # CuPy's kernel fusion; here a plain call
    if args and callable(args[0]):
        return args[0]
    return lambda fn: fn


def is_available():
    return cuda.is_available()



del _name
