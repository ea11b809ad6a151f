"""Gradient checking: analytic gradients (backward) against central differences.

The output is contracted with a random upstream gradient ``u`` and the scalar
``<fn(x), u>`` is differentiated, never a plain sum: the sum of a softmax is a
constant, so a plain sum would pass a softmax with any backward at all.
Everything runs in float64 on float64 copies, since float32's rounding error
swamps the difference quotient.
"""
import numpy as np

from . import backend
from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def numerical_grad(fn, array, eps=1e-6, upstream=None):
    """Central differences of ``sum(fn(array) * upstream)`` with respect to ``array``.

    fn: takes an array (or Tensor) and returns an array or Tensor; ``upstream``
    defaults to ones (a plain sum), which is fine for teaching on scalar outputs.
    Returns an array of ``array``'s shape. ``array`` is perturbed in place and restored.
    """
    def scalar():
        out = fn(array)
        out = out.data if isinstance(out, Tensor) else out
        u = 1.0 if upstream is None else upstream
        return float((out * u).sum())

    grad = np.zeros(array.shape, dtype=np.float64)
    flat = array.reshape(-1) if array.flags.c_contiguous else None
    if flat is None:
        raise ValueError("numerical_grad: array must be C-contiguous (it is perturbed in place)")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = scalar()
        flat[i] = old - eps
        minus = scalar()
        flat[i] = old
        grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check ``fn``'s backward against central differences, in float64.

    fn: called as ``fn(*inputs)``, returns a Tensor of any shape.
    inputs: a Tensor / array or a sequence of them. Floating-point ones are
    copied to float64 and checked; others (integer targets, masks) pass through.
    Returns True, or raises GradcheckError (False when raise_exception=False)
    naming the input, the worst element's index, both values and the relative error.
    """
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    gen = np.random.default_rng(seed)
    copies, checked = [], []
    for i, x in enumerate(inputs):
        arr = x.data if isinstance(x, Tensor) else x
        if backend.is_array(arr) and arr.dtype.kind == "f":
            # float64 copies on the input's own device: a GPU graph is checked on the GPU
            copies.append(Tensor(backend.to_device(backend.to_numpy(arr).astype(np.float64), backend.device_of(arr)),
                                 requires_grad=True))
            checked.append(i)
        else:
            copies.append(x)

    out = fn(*copies)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.dtype != np.float64:
        raise TypeError(f"gradcheck: fn returned dtype {out.dtype} from float64 inputs; it must keep float64")
    upstream = gen.standard_normal(out.shape)
    if out.requires_grad:
        out.backward(backend.to_device(upstream.copy(), out.device))

    for i in checked:
        t = copies[i]
        analytic = backend.to_numpy(t.grad) if t.grad is not None else np.zeros(t.shape)

        def at(arr, i=i):
            args = list(copies)
            args[i] = Tensor(backend.to_device(arr, copies[i].device))
            with no_grad():
                return backend.to_numpy(fn(*args).data)

        numeric = numerical_grad(at, backend.to_numpy(t.data).copy(), eps=eps, upstream=upstream)
        err = np.abs(analytic - numeric)
        bad = err > atol + rtol * np.abs(numeric)
        if bad.any():
            worst = np.unravel_index(np.argmax(err - rtol * np.abs(numeric)), err.shape)
            a, n = analytic[worst], numeric[worst]
            rel = abs(a - n) / max(abs(n), 1e-300)
            msg = (f"gradcheck: gradient of input {i} (shape {t.shape}) is wrong at {bad.sum()} of {bad.size} "
                   f"elements; worst at index {tuple(int(j) for j in worst)}: analytic {a:.6g}, numerical {n:.6g}, "
                   f"relative error {rel:.3g} (atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
