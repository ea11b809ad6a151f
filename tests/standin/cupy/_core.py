"""The stand-in's ndarray: a NumPy array kept behind CuPy's rules (see the package docstring)."""
import numbers

import numpy as _np


class _SyncCounter:
    """Device-to-host synchronisations so far; tests read ``count`` and call ``reset()``."""

    def __init__(self):
        self.count = 0
        self.by_kind = {}

    def add(self, kind):
        self.count += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def reset(self):
        self.count = 0
        self.by_kind = {}


_syncs = _SyncCounter()


def _refuse(x, where):
    raise TypeError(f"Unsupported type {type(x)} in {where}: the CuPy stand-in, like CuPy, does not take a "
                    "numpy.ndarray operand; move it with cupy.asarray first")


def _in(x, where="an operation"):
    """The NumPy array behind a device array; scalars, shapes and dtypes pass; NumPy arrays are refused."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _np.ndarray):
        _refuse(x, where)
    if isinstance(x, (list, tuple)):
        return type(x)(_in(v, where) for v in x)
    return x


def _wrap(a):
    out = ndarray.__new__(ndarray)
    out._a = a
    return out


def _out(r, inputs=()):
    """NumPy results as device arrays: scalars become 0-d arrays (as CuPy's reductions give)."""
    if isinstance(r, _np.ndarray):
        for x in inputs:   # an input returned as it is (astype(copy=False), ascontiguousarray) keeps its identity
            if isinstance(x, ndarray) and x._a is r:
                return x
        return _wrap(r)
    if isinstance(r, _np.generic):
        return _wrap(_np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_out(v, inputs) for v in r)
    return r


def _index(key):
    """Indices: device arrays, and (as CuPy copies them to the device) NumPy arrays and lists."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if isinstance(key, ndarray):
        return key._a
    return key


def _is_operand(x):
    return isinstance(x, (ndarray, _np.ndarray, _np.generic, numbers.Number))


class Flags:
    """CuPy's flags: only c_contiguous, f_contiguous and owndata (no writeable, no aligned)."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, c_contiguous, f_contiguous, owndata):
        self.c_contiguous, self.f_contiguous, self.owndata = c_contiguous, f_contiguous, owndata

    def __getitem__(self, name):
        keys = {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous, "OWNDATA": self.owndata}
        if name not in keys:
            raise KeyError(f"{name} is not defined for cupy.ndarray.flags")
        return keys[name]


def _binary(ufunc, reflected=False):
    def op(self, other):
        if not _is_operand(other):
            return NotImplemented
        b = _in(other, f"ndarray operator ({ufunc.__name__})")
        return _out(ufunc(b, self._a) if reflected else ufunc(self._a, b))
    return op


def _inplace(ufunc):
    def op(self, other):
        if not _is_operand(other):
            return NotImplemented
        ufunc(self._a, _in(other, f"ndarray in-place operator ({ufunc.__name__})"), out=self._a)
        return self
    return op


def _method(name):
    def method(self, *args, **kwargs):
        where = f"ndarray.{name}"
        return _out(getattr(self._a, name)(*[_in(a, where) for a in args],
                                           **{k: _in(v, where) for k, v in kwargs.items()}), (self,))
    method.__name__ = name
    return method


class ndarray:
    """A device array (stand-in): the numbers live in ``_a``, reachable only through CuPy's API."""

    __array_priority__ = 100
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = _np.empty(shape, dtype=dtype, order=order)

    # ---- what CuPy refuses
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__":
            return NotImplemented
        outs = kwargs.pop("out", None)
        if outs is not None:
            kwargs["out"] = tuple(_in(o, ufunc.__name__) for o in outs)
        result = ufunc(*[_in(x, f"numpy.{ufunc.__name__}") for x in inputs], **kwargs)
        if outs is not None:
            return outs[0] if len(outs) == 1 else outs
        return _out(result)

    def __array_function__(self, func, types, args, kwargs):
        import cupy
        fn = getattr(cupy, func.__name__, None) if func.__module__ == "numpy" else None
        if fn is None or fn is func:
            return NotImplemented
        return fn(*args, **kwargs)

    # ---- device to host: each one a synchronisation
    def get(self, stream=None, order="C", out=None, blocking=True):
        _syncs.add("get")
        if out is not None:
            out[...] = self._a
            return out
        return _np.array(self._a, order=order, copy=True)

    def item(self):
        _syncs.add("item")
        return self._a.item()

    def tolist(self):
        _syncs.add("tolist")
        return self._a.tolist()

    def __bool__(self):
        _syncs.add("__bool__")
        return bool(self._a)

    def __float__(self):
        _syncs.add("__float__")
        return float(self._a)

    def __int__(self):
        _syncs.add("__int__")
        return int(self._a)

    def __complex__(self):
        _syncs.add("__complex__")
        return complex(self._a)

    def set(self, arr, stream=None):
        """Host to device copy into this array."""
        if not isinstance(arr, _np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        self._a[...] = arr

    # ---- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    T = property(lambda self: _wrap(self._a.T))
    real = property(lambda self: _out(self._a.real, (self,)))
    imag = property(lambda self: _out(self._a.imag, (self,)))
    base = property(lambda self: None if self._a.base is None else _wrap(self._a.base))

    @property
    def flags(self):
        f = self._a.flags
        return Flags(f.c_contiguous, f.f_contiguous, f.owndata)

    @property
    def device(self):
        from . import cuda
        return cuda.Device()

    def __len__(self):
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __copy__(self):
        return _wrap(self._a.copy())

    def __deepcopy__(self, memo):
        return _wrap(self._a.copy())

    def __reduce__(self):
        return _wrap, (self._a.copy(),)

    # ---- indexing
    def __getitem__(self, key):
        return _out(self._a[_index(key)])

    def __setitem__(self, key, value):
        self._a[_index(key)] = _in(value, "ndarray.__setitem__")

    # ---- methods with their own signature in CuPy
    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        return _out(self._a.astype(dtype, order=order, copy=copy), (self,))

    def reshape(self, *shape, order="C"):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _out(self._a.reshape(shape, order=order), (self,))

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return _out(self._a.transpose(*axes), (self,))

    def view(self, dtype=None):
        return _wrap(self._a.view() if dtype is None else self._a.view(dtype))

    def fill(self, value):
        if isinstance(value, _np.ndarray) and value.shape != ():
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        self._a.fill(_in(value, "ndarray.fill"))

    # ---- arithmetic
    __add__, __radd__, __iadd__ = _binary(_np.add), _binary(_np.add, True), _inplace(_np.add)
    __sub__, __rsub__, __isub__ = _binary(_np.subtract), _binary(_np.subtract, True), _inplace(_np.subtract)
    __mul__, __rmul__, __imul__ = _binary(_np.multiply), _binary(_np.multiply, True), _inplace(_np.multiply)
    __truediv__, __rtruediv__ = _binary(_np.true_divide), _binary(_np.true_divide, True)
    __itruediv__ = _inplace(_np.true_divide)
    __floordiv__, __rfloordiv__ = _binary(_np.floor_divide), _binary(_np.floor_divide, True)
    __ifloordiv__ = _inplace(_np.floor_divide)
    __mod__, __rmod__, __imod__ = _binary(_np.remainder), _binary(_np.remainder, True), _inplace(_np.remainder)
    __pow__, __rpow__, __ipow__ = _binary(_np.power), _binary(_np.power, True), _inplace(_np.power)
    __matmul__, __rmatmul__ = _binary(_np.matmul), _binary(_np.matmul, True)
    __and__, __rand__, __iand__ = _binary(_np.bitwise_and), _binary(_np.bitwise_and, True), _inplace(_np.bitwise_and)
    __or__, __ror__, __ior__ = _binary(_np.bitwise_or), _binary(_np.bitwise_or, True), _inplace(_np.bitwise_or)
    __xor__, __rxor__, __ixor__ = _binary(_np.bitwise_xor), _binary(_np.bitwise_xor, True), _inplace(_np.bitwise_xor)
    __lshift__, __rshift__ = _binary(_np.left_shift), _binary(_np.right_shift)
    __eq__, __ne__ = _binary(_np.equal), _binary(_np.not_equal)
    __lt__, __le__ = _binary(_np.less), _binary(_np.less_equal)
    __gt__, __ge__ = _binary(_np.greater), _binary(_np.greater_equal)

    def __neg__(self):
        return _wrap(-self._a)

    def __pos__(self):
        return _wrap(+self._a)

    def __abs__(self):
        return _wrap(abs(self._a))

    def __invert__(self):
        return _wrap(~self._a)


# Methods CuPy's ndarray has, with NumPy's signature (cupy/_core/core.pyx).
for _name in ("all any argmax argmin argpartition argsort clip compress conj conjugate copy cumprod cumsum "
              "diagonal dot max mean min nonzero partition prod put ravel repeat round searchsorted sort "
              "squeeze std sum swapaxes take trace var flatten choose").split():
    setattr(ndarray, _name, _method(_name))
del _name


def asarray(a, dtype=None, order=None, *, blocking=False):
    """A device array: the same one when it already is (and has the dtype), else a host-to-device copy."""
    if isinstance(a, ndarray):
        return _out(_np.asarray(a._a, dtype=dtype, order=order), (a,))
    from . import array
    return array(a, dtype=dtype, copy=True, order=order or "K")


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """A NumPy copy of a device array (a synchronisation); NumPy input comes back as it is."""
    if isinstance(a, ndarray):
        _syncs.add("asnumpy")
        if out is not None:
            out[...] = a._a
            return out
        return _np.array(a._a, order=order, copy=True)
    return _np.asarray(a, order=order)


def get_array_module(*args):
    """cupy when an argument is a device array, else numpy."""
    import cupy
    return cupy if any(isinstance(a, ndarray) for a in args) else _np
