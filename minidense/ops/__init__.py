"""Differentiable ops, one family per file; each op is a Function with forward and backward side by side.

This module also gives Tensor its operators and methods. ``tensor.py`` cannot
import the ops (they import it), so the methods are attached here, in one
place, when ``minidense`` is imported.
"""
from collections.abc import Callable
from typing import Any

from ..tensor import Tensor
from . import arith, elementwise, reduce, shape
from .arith import add, div, matmul, mul, neg, pow, sub
from .elementwise import abs_, clip, exp, leaky_relu, log, relu, sigmoid, sqrt, tanh, where
from .reduce import max, mean, min, sum
from .shape import concat, getitem, pad, permute, reshape, stack, transpose

__all__ = ["arith", "elementwise", "reduce", "shape", "add", "sub", "mul", "div", "pow", "neg", "matmul",
           "exp", "log", "sqrt", "abs_", "relu", "leaky_relu", "sigmoid", "tanh", "clip", "where",
           "sum", "mean", "max", "min", "reshape", "permute", "transpose", "getitem", "concat", "stack", "pad"]


def _swap(fn: Callable[[Any, Any], Tensor]) -> Callable[[Tensor, Any], Tensor]:
    return lambda self, other: fn(other, self)


_OPERATORS = {
    "__add__": add, "__radd__": _swap(add), "__sub__": sub, "__rsub__": _swap(sub),
    "__mul__": mul, "__rmul__": _swap(mul), "__truediv__": div, "__rtruediv__": _swap(div),
    "__pow__": pow, "__rpow__": _swap(pow), "__matmul__": matmul, "__rmatmul__": _swap(matmul),
    "__neg__": neg, "__abs__": abs_, "__getitem__": getitem,
    "__eq__": arith.eq, "__ne__": arith.ne, "__lt__": arith.lt, "__le__": arith.le,
    "__gt__": arith.gt, "__ge__": arith.ge,
}
_METHODS = {
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs_, "relu": relu, "leaky_relu": leaky_relu,
    "sigmoid": sigmoid, "tanh": tanh, "clip": clip, "clamp": clip,
    "sum": sum, "mean": mean, "max": max, "min": min,
    "reshape": reshape, "view": reshape, "permute": permute, "transpose": transpose, "matmul": matmul,
    "flatten": lambda self, start_dim=0: reshape(self, *self.shape[:start_dim], -1),
}
for _name, _fn in {**_OPERATORS, **_METHODS}.items():
    setattr(Tensor, _name, _fn)
setattr(Tensor, "T", property(lambda self: transpose(self)))
setattr(Tensor, "__hash__", object.__hash__)   # __eq__ is element-wise, yet tensors stay usable as dict keys
