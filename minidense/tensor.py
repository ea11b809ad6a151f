"""The graph: Tensor (an array plus where it came from) and Function (one op).

A Function is written the way students write one: ``forward`` on raw arrays,
``backward`` returning one gradient per input, state kept on ``self``::

    class Square(Function):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, grad_output):
            return 2 * self.x * grad_output

    y = Square.apply(t)

``apply`` turns tensors into arrays, runs ``forward`` and, when a gradient is
wanted, links the output to this Function so that ``backward()`` can find it.
Broadcasting is undone in one place (:func:`unbroadcast`, called by the engine),
so no op has to sum its gradient back to an operand's shape.

Tensor's arithmetic operators (``+``, ``@``, ``.sum()``...) are ops, and the ops
import this file; to avoid an import circle they are attached to Tensor by
``minidense/ops/__init__.py``; the class declares them for type checkers only
(mypy's stubtest checks the declarations against what is attached).
"""
from __future__ import annotations

import builtins
import numbers
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Union, cast

from . import backend
from .backend import Array

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# What the ops take where a tensor goes: a Tensor, an array, or a Python / NumPy number (a bool is refused at run
# time, which a type checker cannot tell: for it, bool is a kind of int).
Operand = Union["Tensor", Array, float, "np.number[Any]"]
# NumPy's ``axis`` (and PyTorch's ``dim``): one axis, several, or None for all.
Axis = Union[int, tuple[int, ...], None]
# A shape given as separate ints (``x.reshape(2, 3)``) or as one tuple or list (``x.reshape((2, 3))``).
ShapeArg = Union[int, Sequence[int]]
# A size per spatial axis, or one int for all of them (kernel_size, stride, padding, dilation).
IntOrTuple = Union[int, tuple[int, ...]]
# What a Function's backward returns: one gradient per input (None for an input that needs none).
Grads = Union[Array, tuple[Union[Array, None], ...], None]

_F = TypeVar("_F", bound=Callable[..., Any])

_grad_enabled = True
_ndarray = backend.numpy.ndarray   # the exact type is checked first where every op passes (is_array after)


class no_grad:
    """Context manager (and decorator) in which no graph is recorded."""

    def __enter__(self) -> None:
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn: _F) -> _F:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper  # type: ignore[return-value]  # same arguments and result as fn


def is_grad_enabled() -> bool:
    return _grad_enabled


def _is_float(dtype: np.dtype[Any]) -> bool:
    return dtype.kind == "f"


def check_numeric(dtype: np.dtype[Any], who: str) -> None:
    """TypeError unless ``dtype`` is numeric: strings, bytes, objects and datetimes are refused where they enter
    (md.tensor, Tensor), not by the first op far away. ``who`` starts the message.
    """
    if dtype.kind not in "biufc":
        raise TypeError(f"{who}: data must be numeric (bool, int, float or complex), got dtype {dtype} "
                        f"({'an object array; ragged nested lists?' if dtype.kind == 'O' else 'not a number'})")


class Tensor:
    """An array (``.data``, NumPy or CuPy) that can remember the op that made it.

    Create one with :func:`tensor`. ``.grad`` holds the gradient after
    ``backward()`` (leaf tensors with ``requires_grad=True`` only, as in PyTorch).
    """

    __array_priority__ = 1000  # so that ndarray + Tensor defers to Tensor.__radd__
    # Every op makes a Tensor: slots make that (and reading .data) cheaper; "__dict__" keeps other attributes
    # possible (a subclass's, a user's), its dict made only for a tensor that gets one.
    __slots__ = ("data", "grad", "requires_grad", "_ctx", "__dict__", "__weakref__")

    def __init__(self, data: Array, requires_grad: bool = False, _ctx: Function | None = None) -> None:
        if type(data) is not _ndarray and not backend.is_array(data):
            raise TypeError(f"Tensor: data must be a NumPy or CuPy array, got {type(data).__name__}; "
                            "use md.tensor(...) to convert")
        kind = data.dtype.kind
        if kind not in "biufc":
            check_numeric(data.dtype, "Tensor")
        if requires_grad and kind != "f":
            raise TypeError(f"Tensor: only floating-point tensors can require gradients, got dtype {data.dtype}")
        self.data = data
        self.grad: Array | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx = _ctx   # the Function that produced this tensor (None for a leaf)

    # ------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        dev = ", device='cuda'" if self.device == "cuda" else ""
        body = repr(backend.to_numpy(self.data))
        body = body[body.index("(") + 1:body.rindex(")")] if body.startswith("array(") else body
        return f"tensor({body}{dev}{grad})"

    # ------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray[Any, Any]:
        """The values as a NumPy array (copied from the GPU if needed)."""
        return backend.to_numpy(self.data)

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element can be converted, got shape {self.shape}")
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def detach(self) -> Tensor:
        """The same values, cut from the graph."""
        return Tensor(self.data)

    def to(self, device: str) -> Tensor:
        """A copy on ``device`` ('cpu' or 'cuda'); the same tensor when already there.

        Differentiable, as PyTorch's: the copy is part of the graph, and backward brings its gradient back
        to this tensor's device (so ``x.cuda()`` of a leaf is not a leaf; move leaves with
        ``md.tensor(..., device=...)`` or ``Module.to``).
        """
        device = backend.check_device(device)
        if device == self.device:
            return self
        return ToDevice.apply(self, device=device)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def astype(self, dtype: npt.DTypeLike) -> Tensor:
        return Tensor(self.data.astype(dtype), requires_grad=self.requires_grad and _is_float(self.data.dtype))

    def float(self) -> Tensor:
        return self.astype(backend.default_dtype)

    def double(self) -> Tensor:
        return self.astype("float64")

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = bool(flag)
        return self

    # ------------------------------------------------------------- backward
    def backward(self, grad: Tensor | Array | builtins.float | None = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor to every leaf that requires a gradient.

        grad: the gradient of some scalar with respect to this tensor (same
        shape); may be omitted only when this tensor has one element.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no input had requires_grad=True, "
                               "or it was computed under no_grad)")
        xp = backend.get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be omitted only for a scalar output, but this tensor has "
                                   f"shape {self.shape}; pass grad=<array of that shape>")
            grad = cast(Array, xp.ones_like(self.data))   # xp is NumPy or CuPy: typed as a module
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
            if not backend.is_array(grad) or backend.device_of(grad) != self.device:
                grad = backend.to_device(xp.asarray(grad), self.device) if not backend.is_array(grad) else grad
                if backend.device_of(grad) != self.device:
                    raise ValueError(f"backward: grad is on {backend.device_of(grad)} but the tensor on {self.device}")
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad has shape {grad.shape} but the tensor has shape {self.shape}")
        _run_backward(self, grad.astype(self.dtype, copy=False), retain_graph)

    def zero_grad(self) -> None:
        self.grad = None

    if TYPE_CHECKING:
        # ------------------------------------------------ operators and methods
        # Attached by minidense/ops/__init__.py (the ops import this file); declared here so that a type
        # checker knows them. mypy's stubtest fails if one is not attached at run time or its arguments
        # differ from the op's (so a method's first argument has the op's name).
        def __add__(self, other: Operand, /) -> Tensor: ...
        def __radd__(self, other: Operand, /) -> Tensor: ...
        def __sub__(self, other: Operand, /) -> Tensor: ...
        def __rsub__(self, other: Operand, /) -> Tensor: ...
        def __mul__(self, other: Operand, /) -> Tensor: ...
        def __rmul__(self, other: Operand, /) -> Tensor: ...
        def __truediv__(self, other: Operand, /) -> Tensor: ...
        def __rtruediv__(self, other: Operand, /) -> Tensor: ...
        def __pow__(self, other: Operand, /) -> Tensor: ...
        def __rpow__(self, other: Operand, /) -> Tensor: ...
        def __matmul__(self, other: Tensor | Array, /) -> Tensor: ...
        def __rmatmul__(self, other: Tensor | Array, /) -> Tensor: ...
        def __neg__(self, /) -> Tensor: ...
        def __abs__(self, /) -> Tensor: ...
        def __getitem__(self, index: Any, /) -> Tensor: ...
        # Comparisons are element-wise (boolean tensors), as NumPy's and PyTorch's. The checker sees that
        # ndarray < Tensor could be answered by ndarray; at run time __array_priority__ hands it to Tensor.
        def __eq__(self, other: object, /) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: object, /) -> Tensor: ...  # type: ignore[override]
        def __lt__(self, other: Tensor | Array | builtins.float, /) -> Tensor: ...  # type: ignore[misc]
        def __le__(self, other: Tensor | Array | builtins.float, /) -> Tensor: ...  # type: ignore[misc]
        def __gt__(self, other: Tensor | Array | builtins.float, /) -> Tensor: ...  # type: ignore[misc]
        def __ge__(self, other: Tensor | Array | builtins.float, /) -> Tensor: ...  # type: ignore[misc]
        def __hash__(self, /) -> int: ...

        def exp(x) -> Tensor: ...
        def log(x) -> Tensor: ...
        def sqrt(x) -> Tensor: ...
        def abs(x) -> Tensor: ...
        def relu(x) -> Tensor: ...
        def leaky_relu(x, negative_slope: builtins.float = 0.01) -> Tensor: ...
        def sigmoid(x) -> Tensor: ...
        def tanh(x) -> Tensor: ...
        def clip(x, min: builtins.float | None = None, max: builtins.float | None = None) -> Tensor: ...
        def clamp(x, min: builtins.float | None = None, max: builtins.float | None = None) -> Tensor: ...
        def sum(x, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None) -> Tensor: ...
        def mean(x, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None) -> Tensor: ...
        def max(x, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None) -> Tensor: ...
        def min(x, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None) -> Tensor: ...
        def reshape(x, *shape: ShapeArg) -> Tensor: ...
        def view(x, *shape: ShapeArg) -> Tensor: ...
        def permute(x, *axes: ShapeArg) -> Tensor: ...
        def transpose(x, *axes: int | None) -> Tensor: ...
        def matmul(a, b: Tensor | Array) -> Tensor: ...
        def flatten(self, start_dim: int = 0) -> Tensor: ...

        @property
        def T(self) -> Tensor: ...


def topological_order(root: Tensor) -> list[Tensor]:
    """Tensors reachable from ``root``, each after all tensors that use it (no recursion).

    root: a Tensor that requires grad. Returns a list of Tensors: ``root`` first, then every tensor that
    requires grad and from which ``root`` was computed (follow ``t._ctx.parents``; a leaf has
    ``_ctx is None``), each exactly once, and each after every tensor whose ``_ctx.parents`` holds it.
    Iterative (a stack, not recursion): a chain 10,000 ops deep must work. Changes no tensor.
    """
    order: list[Tensor] = []
    visited: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in reversed(node._ctx.parents):
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order[::-1]   # root first


def _run_backward(root: Tensor, grad: Array, retain_graph: bool) -> None:
    grads = {id(root): grad}
    # A leaf's .grad must never alias another array. A gradient that a backward made for one input
    # alone ("owned") is kept as it is; anything else that others may hold (the caller's gradient, a
    # grad_output passed along, a view, an array routed to two inputs) is copied first.
    owned: set[int] = set()
    passed = {id(grad)}
    for node in topological_order(root):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        fn = node._ctx
        if fn is None:  # a leaf: keep the gradient
            if node.grad is not None:
                node.grad = node.grad + g
            else:
                node.grad = g if id(node) in owned else g.copy()
            continue
        if fn.freed:
            raise RuntimeError(f"backward: trying to backward through the graph a second time ({type(fn).__name__}'s "
                               "saved arrays were already freed); pass retain_graph=True to the first backward()")
        in_grads = fn.backward(g)
        if not isinstance(in_grads, tuple):
            if isinstance(in_grads, list):
                raise TypeError(f"{type(fn).__name__}.backward returned a list of {len(in_grads)}; return a tuple "
                                "(one gradient per input), or one array for an op of one input")
            in_grads = (in_grads,)
        parents = fn.parents
        if len(in_grads) != len(parents):
            raise RuntimeError(f"{type(fn).__name__}.backward returned {len(in_grads)} gradients "
                               f"for {len(parents)} inputs")
        for parent, pg in zip(parents, in_grads):
            if pg is None or not parent.requires_grad:
                continue
            data = parent.data
            if pg.shape != data.shape:        # the op's inputs were broadcast against each other
                pg = unbroadcast(pg, data.shape)
            if pg.dtype is not data.dtype and pg.dtype != data.dtype:   # NumPy's dtypes are mostly shared objects
                pg = pg.astype(data.dtype)
            key = id(parent)
            if key in grads:                  # a sum is a fresh array
                grads[key] = grads[key] + pg
                owned.add(key)
            else:
                grads[key] = pg
                if pg is not g and pg.base is None and id(pg) not in passed:   # g: handed on as it came
                    owned.add(key)
                passed.add(id(pg))
        if not retain_graph:
            fn.free()


def unbroadcast(grad: Array, shape: Sequence[int]) -> Array:
    """Sum a gradient back to the shape of an operand that was broadcast to grad's shape.

    The one place where broadcasting is undone: NumPy prepends axes of size 1 and
    stretches axes of size 1, so the gradient sums over exactly those axes.

    grad: an array (NumPy or CuPy) of the broadcast shape; shape: a tuple that broadcasts to
    ``grad.shape``. Returns ONE array of exactly ``shape`` and grad's dtype (``grad`` itself when the
    shapes are equal); never changes ``grad``.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"gradient of shape {grad.shape} cannot belong to an input of shape {shape}")
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    grad = grad.sum(axis=axes, keepdims=True) if axes else grad
    return grad.reshape(shape)


class Function:
    """One differentiable op: ``forward`` on arrays, ``backward`` on the output's gradient.

    Subclasses define ``forward(self, *arrays, **params)`` returning one array,
    and ``backward(self, grad_output)`` returning one gradient per input array
    (a tuple when there are several; None for an input that needs none). The
    input gradients may have the broadcast shape: the engine sums them back.
    """

    # apply sets the slot; an op's own state (self.x = ...) goes to a __dict__, made only for an op that
    # keeps some: an addition's Function then is one object, not two (every op makes one)
    __slots__ = ("parents", "__dict__")
    parents: tuple[Tensor, ...]
    freed = False

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """One bool per input: whether it requires a gradient (asked of the inputs when read, not kept: one
        object fewer per op for the garbage collector to walk)."""
        return tuple([t.requires_grad for t in self.parents])

    def forward(self, *arrays: Any, **params: Any) -> Array:
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad_output: Array) -> Grads:
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def free(self) -> None:
        """Drop the arrays forward saved (the graph's memory); a later backward raises."""
        self.__dict__ = {"freed": True}   # one new dict: cheaper than clearing this one

    @classmethod
    def apply(cls, *inputs: Operand, **params: Any) -> Tensor:
        """Run the op on tensors (or arrays / Python numbers) and record it in the graph.

        Arrays among ``params`` (weights, masks, indices) must be on the inputs' device too.
        """
        fn = cls()
        arrays, wanted = [], []
        tensors: tuple[Tensor, ...] = inputs   # type: ignore[assignment]  # if the loop below gets through
        # one loop, not two comprehensions (each is a function call before Python 3.12); it also finds the
        # common case, Tensors only with no CuPy loaded, that needs no conversion and no device check
        for t in inputs:
            if not isinstance(t, Tensor):
                break
            arrays.append(t.data)
            wanted.append(t.requires_grad)
        # a number or an array among the inputs, or CuPy loaded (the dict lookup first: every op asks)
        if len(arrays) != len(inputs) or ("cupy" in _loaded_modules and backend.cupy_imported()):
            tensors = _as_tensors(inputs, cls.__name__, params)
            arrays = [t.data for t in tensors]
            wanted = [t.requires_grad for t in tensors]
        fn.parents = tensors   # before forward, which may read needs_input_grad
        out = fn.forward(*arrays, **params)
        if type(out) is not _ndarray and not backend.is_array(out):   # NumPy reductions return scalars
            out = backend.get_array_module(*arrays).asarray(out)         # keep arrays everywhere
        if _grad_enabled and True in wanted and out.dtype.kind == "f":
            # Tensor(out, True, fn) without Tensor's checks, which the lines above have made (an array, of a
            # float dtype): every op's output is made here, and the checks were a tenth of an add's time
            result: Tensor = _new_object(Tensor)
            result.data, result.grad, result.requires_grad, result._ctx = out, None, True, fn
            return result
        return Tensor(out)


_new_object = object.__new__
_loaded_modules = sys.modules


def _snake_case(name: str) -> str:
    """CrossEntropy -> cross_entropy, Conv2d -> conv2d: a Function's name as its public function's."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _as_tensors(inputs: tuple[Operand, ...], op_name: str, params: dict[str, Any] | None = None) -> tuple[Tensor, ...]:
    """Inputs as tensors on one device; Python numbers take the dtype of the tensors beside them.

    The public functions check devices first and name their arguments (``_checks.same_device``); this is
    the net under ops without such a wrapper (a student's Function), keyword arrays included.
    """
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    devices = {t.device for t in tensors} | {backend.device_of(x) for x in inputs if backend.is_array(x)}
    devices |= {backend.device_of(v) for v in (params or {}).values() if backend.is_array(v)}
    if len(devices) > 1:
        raise ValueError(f"{_snake_case(op_name)}: inputs are on different devices ({', '.join(sorted(devices))}); "
                         "move them with .to(device) first")
    arrays = [x.data for x in tensors] + [x for x in inputs if backend.is_array(x)]
    ref = next((a for a in arrays if _is_float(a.dtype)), arrays[0] if arrays else None)
    xp = backend.get_array_module(ref) if ref is not None else backend.xp_for("cpu")
    out: list[Tensor] = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(x)
        elif backend.is_array(x):
            out.append(Tensor(x))
        elif isinstance(x, numbers.Number) and not isinstance(x, bool):
            dtype = ref.dtype if ref is not None and _is_float(ref.dtype) else backend.default_dtype
            out.append(Tensor(xp.asarray(x, dtype=dtype)))
        else:
            raise TypeError(f"{op_name}: expected a Tensor, an array or a number, got {type(x).__name__}")
    return tuple(out)


class ToDevice(Function):
    """x on one device -> the same values on another; backward moves the gradient back (Tensor.to)."""

    def forward(self, x: Array, *, device: str) -> Array:
        self.source = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, grad: Array) -> Array:
        return backend.to_device(grad, self.source)
