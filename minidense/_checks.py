"""Argument checks shared by the public functions, run before any work.

Each Function stays forward and backward only; the public wrappers (``F.*``,
Tensor methods, ``nn`` layers) call these helpers first, so that bad input
gets a ValueError / TypeError that names the function, the argument, what it
got and what it expected, instead of a traceback from deep inside NumPy.
"""
import numbers

from . import backend
from .tensor import Tensor


def array_of(x):
    """The array behind a Tensor, or the array itself."""
    return x.data if isinstance(x, Tensor) else x


def axis_arg(fname, axis, dim):
    """Resolve NumPy's ``axis`` and its PyTorch alias ``dim`` (only one may be given)."""
    if dim is not None and axis is not None and dim != axis:
        raise TypeError(f"{fname}: got both axis={axis!r} and dim={dim!r}; dim is an alias of axis, give one")
    axis = axis if axis is not None else dim
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        if not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
            raise TypeError(f"{fname}: axis must be an int or a tuple of ints, got {axis!r}")
        return tuple(int(a) for a in axis)
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{fname}: axis must be an int or a tuple of ints, got {axis!r}")
    return int(axis)


def axes_in_range(fname, axis, ndim):
    """Check that every axis exists for an array of ``ndim`` dimensions."""
    for a in (axis if isinstance(axis, tuple) else (axis,)):
        if a is not None and not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{fname}: axis {a} is out of range for a tensor with {ndim} dimensions")


def tensor_arg(fname, name, x, ndim=None, floating=False):
    """Check that an argument is a Tensor or array (optionally of given ndim / floating dtype)."""
    if not isinstance(x, Tensor) and not backend.is_array(x):
        raise TypeError(f"{fname}: {name} must be a Tensor or an array, got {type(x).__name__}")
    a = array_of(x)
    if ndim is not None:
        allowed = ndim if isinstance(ndim, tuple) else (ndim,)
        if a.ndim not in allowed:
            want = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(f"{fname}: {name} must be {want}, got shape {tuple(a.shape)}")
    if floating and a.dtype.kind != "f":
        raise TypeError(f"{fname}: {name} must be a floating-point tensor, got dtype {a.dtype}")
    return a


def matmul_shapes(a_shape, b_shape):
    """matmul's inner dimensions and batch dimensions must agree."""
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a_shape} and {b_shape}")
    k_a = a_shape[-1]
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {tuple(a_shape)} and {tuple(b_shape)} do not fit: "
                         f"the last dimension of the first ({k_a}) must equal the "
                         f"{'only' if len(b_shape) == 1 else 'second-to-last'} dimension of the second ({k_b})")
    broadcast_shapes("matmul", a_shape[:-2], b_shape[:-2])


def broadcast_shapes(fname, *shapes):
    """The broadcast shape, or a clear error naming the shapes that do not broadcast."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i and s[i] != 1}
        if len(sizes) > 1:
            raise ValueError(f"{fname}: shapes {', '.join(str(tuple(s)) for s in shapes)} cannot be broadcast together")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def int_tuple(fname, name, value, n, minimum=0):
    """An int or a sequence of n ints, each >= minimum, as a tuple of n ints."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(vals) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in vals):
        raise TypeError(f"{fname}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in vals):
        raise ValueError(f"{fname}: {name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in vals)
