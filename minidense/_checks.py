"""Argument checks shared by the public functions, run before any work.

Each Function stays forward and backward only; the public wrappers (``F.*``,
Tensor methods, ``nn`` layers) call these helpers first, so that bad input
gets a ValueError / TypeError that names the function, the argument, what it
got and what it expected, instead of a traceback from deep inside NumPy.
"""
import numbers
from typing import Any

import numpy as np

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


def same_device(fname, **named):
    """Every Tensor / array among ``named`` (None skipped) on one device, else a ValueError naming the public
    function and where each argument is. Keyword arrays (weights, masks, running statistics, indices) are
    checked with the inputs, so a CPU/GPU mix never reaches CuPy's own error or a silent copy."""
    if not backend.cupy_imported():   # every array is a NumPy array: one device
        return
    where = {name: backend.device_of(array_of(v)) for name, v in named.items()
             if isinstance(v, Tensor) or backend.is_array(v)}
    if len(set(where.values())) > 1:
        listed = ", ".join(f"{name} on {device}" for name, device in where.items())
        raise ValueError(f"{fname}: arguments are on different devices ({listed}); move them with .to(device) first")


def tensor_arg(fname, name, x, ndim=None, floating=False):
    """Check that an argument is a Tensor or array (optionally of given ndim / floating dtype)."""
    if not isinstance(x, Tensor) and not backend.is_array(x):
        raise TypeError(f"{fname}: {name} must be a Tensor or an array, got {type(x).__name__}")
    a = array_of(x)
    if a.dtype.kind not in "biuf":   # complex numbers, objects, strings: nothing here is defined for them
        raise TypeError(f"{fname}: {name} must hold real numbers (bool, int or float), got dtype {a.dtype}")
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


def broadcast_shapes(fname, *shapes, names=None):
    """The broadcast shape, or a clear error naming the shapes (and, given ``names``, the arguments)."""
    if len(shapes) == 2 and shapes[0] == shapes[1]:   # the common case (every op of a plain chain)
        return tuple(shapes[0])
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i and s[i] != 1}
        if len(sizes) > 1:
            what = [f"{n} {tuple(s)}" for n, s in zip(names, shapes)] if names else [str(tuple(s)) for s in shapes]
            raise ValueError(f"{fname}: shapes {', '.join(what)} cannot be broadcast together")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def positive_int(fname, name, value):
    """``value`` as an int >= 1, else a ValueError naming the function (or class) and the argument."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{fname}: {name} must be a positive int, got {value!r}")
    return int(value)


def int_tuple(fname: str, name: str, value: Any, n: int, minimum: int = 0) -> tuple[int, ...]:
    """An int or a sequence of n ints, each >= minimum, as a tuple of n ints."""
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(vals) == n and all(type(v) is int and v >= minimum for v in vals):
        return vals   # plain ints in range, the common case, answered without numbers.Integral's slower check
    if len(vals) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in vals):
        raise TypeError(f"{fname}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in vals):
        raise ValueError(f"{fname}: {name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in vals)


# ---- convolution and pooling

def conv_operands(fname, x, weight, bias, nd, transposed=False):
    """input (N, C, *spatial), weight and bias of a convolution must fit together; returns their arrays.

    weight is (C_out, C_in, *kernel), or (C_in, C_out, *kernel) when ``transposed``, as PyTorch stores them.
    """
    a = tensor_arg(fname, "input", x, ndim=nd + 2, floating=True)
    w = tensor_arg(fname, "weight", weight, ndim=nd + 2, floating=True)
    same_device(fname, input=x, weight=weight, bias=bias)
    layout = "(C_in, C_out, kernel...)" if transposed else "(C_out, C_in, kernel...)"
    if 0 in a.shape:
        raise ValueError(f"{fname}: input must have no empty dimension, got shape {tuple(a.shape)}")
    if 0 in w.shape:
        raise ValueError(f"{fname}: weight must have no empty dimension, got shape {tuple(w.shape)} {layout}")
    in_channels, out_channels = (w.shape[0], w.shape[1]) if transposed else (w.shape[1], w.shape[0])
    if a.shape[1] != in_channels:
        raise ValueError(f"{fname}: input has {a.shape[1]} channels but weight expects {in_channels} "
                         f"(input shape {tuple(a.shape)} is read as (N, C, ...); weight shape {tuple(w.shape)} "
                         f"is {layout})")
    if w.dtype != a.dtype:
        raise TypeError(f"{fname}: weight has dtype {w.dtype} but input has dtype {a.dtype}; convert one of them")
    b = None
    if bias is not None:
        b = tensor_arg(fname, "bias", bias, floating=True)
        if b.shape != (out_channels,):
            raise ValueError(f"{fname}: bias must have shape ({out_channels},), one value per output channel, "
                             f"got shape {tuple(b.shape)}")
        if b.dtype != a.dtype:
            raise TypeError(f"{fname}: bias has dtype {b.dtype} but input has dtype {a.dtype}; convert one of them")
    return a, w, b


def kernel_fits(fname, size, geo):
    """The kernel, dilated, fits in the padded input along every spatial axis (so the output is not empty)."""
    for d, (n, k, p, dl) in enumerate(zip(size, geo.kernel_size, geo.padding, geo.dilation)):
        span = dl * (k - 1) + 1
        if n + 2 * p < span:
            raise ValueError(f"{fname}: the kernel (size {k}, spanning {span} with dilation {dl}) is larger than the "
                             f"padded input along spatial dimension {d}: input size {n} + 2*padding {p} = {n + 2 * p}")


def transposed_size(fname, size, out_size, geo, output_padding):
    """out_size, the transposed convolution's output for input ``size``, is reachable and not empty."""
    for d, (n, m, k, s, p, op, dl) in enumerate(zip(size, out_size, *geo[:3], output_padding, geo.dilation)):
        if op >= max(s, dl):
            raise ValueError(f"{fname}: output_padding must be smaller than either stride or dilation, got "
                             f"output_padding={op} with stride={s} and dilation={dl} (spatial dimension {d})")
        if m < 1:
            raise ValueError(f"{fname}: padding {p} is too large: the output size along spatial dimension {d} "
                             f"would be {m} = ({n} - 1)*{s} - 2*{p} + {dl}*({k} - 1) + {op} + 1")


def pool_padding(fname, padding, kernel_size):
    """Pooling pads at most half the kernel, so that every window holds at least one input value."""
    if any(p > k // 2 for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{fname}: padding must be at most half of kernel_size, got padding={padding} "
                         f"for kernel_size={kernel_size}")


# ---- losses and normalization
REDUCTIONS = ("mean", "sum", "none")


def reduction_arg(fname, reduction):
    """reduction must be 'mean', 'sum' or 'none' (PyTorch's values)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fname}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def same_shape(fname, name_a, a, name_b, b):
    """Two arrays of exactly one shape (a loss never broadcasts its target)."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{fname}: {name_b} must have the shape of {name_a} {tuple(a.shape)}, "
                         f"got {tuple(b.shape)} (nothing is broadcast)")


def same_dtype(fname, name_a, a, name_b, b):
    if a.dtype != b.dtype:
        raise TypeError(f"{fname}: {name_b} must have the dtype of {name_a} ({a.dtype}), got {b.dtype} "
                        "(nothing is cast; convert it with .astype)")


def class_target(fname, x, target, ignore_index):
    """An integer target (N, d1, ...) for scores x (N, C, d1, ...), every value in [0, C) or ignore_index."""
    t = tensor_arg(fname, "target", target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fname}: target must hold integer class indices, got dtype {t.dtype} "
                        "(convert labels with .astype('int64'))")
    want = (x.shape[0],) + tuple(x.shape[2:])
    if tuple(t.shape) != want:
        raise ValueError(f"{fname}: target must have shape {want} for input of shape {tuple(x.shape)} "
                         f"(input without its class axis 1), got {tuple(t.shape)}")
    if not isinstance(ignore_index, numbers.Integral) or isinstance(ignore_index, bool):
        raise TypeError(f"{fname}: ignore_index must be an int, got {ignore_index!r}")
    n_classes = x.shape[1]
    bad = ((t < 0) | (t >= n_classes)) & (t != ignore_index)
    if t.size and bool(bad.any()):
        value = int(t[bad].reshape(-1)[0])
        hint = (f"; 255 marks unknown pixels (md.IGNORE_INDEX): pass ignore_index=255 to skip them "
                f"(ignore_index is {ignore_index})") if value == 255 else ""
        raise ValueError(f"{fname}: target holds {value}, outside the classes [0, {n_classes}) "
                         f"and not ignore_index={ignore_index}{hint}")
    return t


def channel_vector(fname, name, v, n, dtype=None, writable=False):
    """A 1-D per-class / per-channel vector of length n (optionally of a given dtype, writable), or None."""
    if v is None:
        return None
    a = tensor_arg(fname, name, v, floating=True)
    # CuPy's flags have no `writeable` (only c_contiguous, f_contiguous, owndata): its arrays are always writable
    if writable and not getattr(a.flags, "writeable", True):
        raise ValueError(f"{fname}: {name} is updated in place but got a read-only array; pass a writable copy")
    if tuple(a.shape) != (n,):
        raise ValueError(f"{fname}: {name} must have shape ({n},), one value per channel, got {tuple(a.shape)}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{fname}: {name} must have the input's dtype {dtype}, got {a.dtype} (nothing is cast)")
    return a


def mask_arg(fname, mask, shape):
    """A boolean mask of valid elements: ``shape`` itself, or ``shape`` without its channel axis 1.

    Returns the mask as an array that broadcasts against ``shape`` (the channel axis put back
    as size 1), or None when no mask is given.
    """
    if mask is None:
        return None
    m = tensor_arg(fname, "mask", mask)
    if m.dtype.kind != "b":
        raise TypeError(f"{fname}: mask must be boolean (True = valid pixel), got dtype {m.dtype}")
    shape = tuple(shape)
    no_channel = shape[:1] + shape[2:] if len(shape) >= 2 else None
    if tuple(m.shape) == shape:
        return m
    if no_channel is not None and tuple(m.shape) == no_channel:
        return m.reshape(shape[:1] + (1,) + shape[2:])
    also = f" or {no_channel}" if no_channel is not None else ""
    raise ValueError(f"{fname}: mask must have shape {shape}{also}, got {tuple(m.shape)}")


def number_in(fname, name, value, low, high, high_open=False):
    """A real number in [low, high] (or [low, high) when high_open)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{fname}: {name} must be a number, got {value!r}")
    if not (low <= value and (value < high if high_open else value <= high)):
        raise ValueError(f"{fname}: {name} must be in [{low}, {high}{')' if high_open else ']'}, got {value!r}")
    return float(value)


# ---- metrics: host-side (NumPy) arrays

def host_array(fname: str, name: str, x: object) -> np.ndarray[Any, Any]:
    """x (an array or a Tensor of real numbers) as a NumPy array: metrics are computed on the CPU."""
    if isinstance(x, Tensor):
        x = x.data
    if not backend.is_array(x):
        raise TypeError(f"{fname}: {name} must be a NumPy/CuPy array or a Tensor, got {type(x).__name__}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{fname}: {name} must hold real numbers, got dtype {x.dtype}")
    return backend.to_numpy(x)


def same_host_shape(fname, names, arrays):
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(f"{fname}: {names[0]} and {names[1]} must have the same shape, got "
                         f"{arrays[0].shape} and {arrays[1].shape}")


def num_classes_arg(fname, num_classes):
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool):
        raise TypeError(f"{fname}: num_classes must be an int, got {type(num_classes).__name__}")
    if num_classes < 1:
        raise ValueError(f"{fname}: num_classes must be at least 1, got {num_classes}")
    return int(num_classes)


def integer_label_maps(fname: str, pred: object, target: object) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """pred and target as NumPy integer label maps of one shape."""
    pred, target = host_array(fname, "pred", pred), host_array(fname, "target", target)
    same_host_shape(fname, ("pred", "target"), (pred, target))
    for name, a in (("pred", pred), ("target", target)):
        if a.dtype.kind not in "iu":
            raise TypeError(f"{fname}: {name} must be an integer label map (take the argmax over classes first), "
                            f"got dtype {a.dtype}")
    return pred, target


def host_mask(fname: str, mask: object, shape: tuple[int, ...], name: str = "mask") -> np.ndarray[Any, Any]:
    """A boolean NumPy mask of exactly ``shape`` (all True when None)."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = host_array(fname, name, mask)
    if mask.dtype != bool:
        raise TypeError(f"{fname}: {name} must be a boolean array, got dtype {mask.dtype}")
    if mask.shape != shape:
        raise ValueError(f"{fname}: {name} must have shape {shape} like the target, got {mask.shape}")
    return mask
