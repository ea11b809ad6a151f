"""Arithmetic with broadcasting: + - * / ** negation and matmul.

Each backward returns gradients in the broadcast shape; the engine sums them
back to each operand's shape (``tensor.unbroadcast``), so no op does it here.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from .. import _checks, backend
from ..backend import Array, get_array_module
from ..tensor import Function, Grads, Operand, Tensor

_loaded_modules = sys.modules


class Add(Function):
    def forward(self, a: Array, b: Array) -> Array:
        return a + b

    def backward(self, grad: Array) -> Grads:
        return grad, grad


class Sub(Function):
    def forward(self, a: Array, b: Array) -> Array:
        return a - b

    def backward(self, grad: Array) -> Grads:
        return grad, -grad


class Mul(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        return a * b

    def backward(self, grad: Array) -> Grads:
        """grad: the output's (broadcast) shape -> (grad_a, grad_b), each in that broadcast shape."""
        return grad * self.b, grad * self.a


class Div(Function):
    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        return a / b

    def backward(self, grad: Array) -> Grads:
        """grad: the output's (broadcast) shape -> (grad_a, grad_b), each in that broadcast shape."""
        ga = grad / self.b
        return ga, -ga * self.a / self.b


class Neg(Function):
    def forward(self, a: Array) -> Array:
        return -a

    def backward(self, grad: Array) -> Grads:
        return -grad


class Pow(Function):
    """a ** b. The exponent's gradient (a**b · log a) is only computed when asked for."""

    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        self.out = a ** b
        return self.out

    def backward(self, grad: Array) -> Grads:
        xp = get_array_module(grad)
        ga = grad * self.b * self.a ** (self.b - 1)
        gb = grad * self.out * xp.log(self.a) if self.needs_input_grad[1] else None
        return ga, gb


class MatMul(Function):
    """a @ b, batched and broadcast like NumPy's matmul; 1-D operands as NumPy treats them.

    a: (..., n, k), b: (..., k, m) -> (..., n, m)
    """

    def forward(self, a: Array, b: Array) -> Array:
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad: Array) -> Grads:
        """grad: (..., n, m) -> (grad_a (..., n, k), grad_b (..., k, m)), batch axes as the output's;
        a 1-D operand's gradient is 1-D, as the operand."""
        xp = get_array_module(grad)
        a, b = self.a, self.b
        # Give 1-D operands their implied axis back so one formula serves all cases.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad[..., None] if b.ndim == 1 else grad
        if a.ndim == 1:
            g = g[..., None, :]
        ga = g @ xp.swapaxes(b2, -1, -2)
        gb = xp.swapaxes(a2, -1, -2) @ g
        if a.ndim == 1:
            ga = ga[..., 0, :]
        if b.ndim == 1:
            gb = gb[..., :, 0]
        return ga, gb


def _binary(op: type[Function], name: str) -> Callable[[Operand, Operand], Tensor]:
    def fn(a: Operand, b: Operand) -> Tensor:
        # the common case, two tensors of one shape with only NumPy loaded, skips the checks' calls: every
        # elementwise op of a network passes here
        if type(a) is not Tensor or type(b) is not Tensor or a.data.shape != b.data.shape:
            _checks.broadcast_shapes(name, _shape(a), _shape(b))
        if "cupy" in _loaded_modules and backend.cupy_imported():   # the dict lookup first: every op asks
            _checks.same_device(name, a=a, b=b)
        return op.apply(a, b)
    fn.__name__ = name
    return fn


def _shape(x: Operand) -> tuple[int, ...]:
    if isinstance(x, Tensor):
        return x.data.shape
    return tuple(getattr(x, "shape", ()))


add = _binary(Add, "add")
sub = _binary(Sub, "sub")
mul = _binary(Mul, "mul")
div = _binary(Div, "div")
pow = _binary(Pow, "pow")


def neg(a: Tensor | Array) -> Tensor:
    return Neg.apply(a)


def matmul(a: Tensor | Array, b: Tensor | Array) -> Tensor:
    """Matrix product, batched: (..., n, k) @ (..., k, m) -> (..., n, m)."""
    _checks.tensor_arg("matmul", "a", a)
    _checks.tensor_arg("matmul", "b", b)
    _checks.same_device("matmul", a=a, b=b)
    _checks.matmul_shapes(_shape(a), _shape(b))
    return MatMul.apply(a, b)


def _compare(op: Callable[[Any, Any], Array]) -> Callable[[Operand, Operand], Tensor]:
    """Comparisons give boolean tensors, which carry no gradient."""
    def fn(a: Operand, b: Operand) -> Tensor:
        return Tensor(op(_checks.array_of(a), _checks.array_of(b)))
    return fn


eq = _compare(lambda a, b: a == b)
ne = _compare(lambda a, b: a != b)
lt = _compare(lambda a, b: a < b)
le = _compare(lambda a, b: a <= b)
gt = _compare(lambda a, b: a > b)
ge = _compare(lambda a, b: a >= b)
