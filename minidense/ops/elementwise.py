"""Element-wise functions: exp log sqrt abs, the activations, clip and where."""
from __future__ import annotations

from .. import _checks
from ..backend import Array, get_array_module
from ..tensor import Function, Grads, Tensor


class Exp(Function):
    def forward(self, x: Array) -> Array:
        self.out = get_array_module(x).exp(x)
        return self.out

    def backward(self, grad: Array) -> Grads:
        """grad: x's shape -> the gradient of x, of x's shape."""
        return grad * self.out


class Log(Function):
    def forward(self, x: Array) -> Array:
        self.x = x
        return get_array_module(x).log(x)

    def backward(self, grad: Array) -> Grads:
        """grad: x's shape -> the gradient of x, of x's shape."""
        return grad / self.x


class Sqrt(Function):
    def forward(self, x: Array) -> Array:
        self.out = get_array_module(x).sqrt(x)
        return self.out

    def backward(self, grad: Array) -> Grads:
        return grad / (2 * self.out)


class Abs(Function):
    def forward(self, x: Array) -> Array:
        self.x = x
        return abs(x)

    def backward(self, grad: Array) -> Grads:
        return grad * get_array_module(grad).sign(self.x)


class ReLU(Function):
    def forward(self, x: Array) -> Array:
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad: Array) -> Grads:
        """grad: x's shape -> the gradient of x, of x's shape."""
        return grad * self.mask


class LeakyReLU(Function):
    def forward(self, x: Array, *, negative_slope: float) -> Array:
        xp = get_array_module(x)
        # slope per element: 1 where x > 0, negative_slope elsewhere
        self.slope = xp.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))
        return x * self.slope

    def backward(self, grad: Array) -> Grads:
        return grad * self.slope


class Sigmoid(Function):
    def forward(self, x: Array) -> Array:
        xp = get_array_module(x)
        # exp of a non-positive number only, so large |x| never overflows
        e = xp.exp(-abs(x))
        self.out = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.out

    def backward(self, grad: Array) -> Grads:
        return grad * self.out * (1 - self.out)


class Tanh(Function):
    def forward(self, x: Array) -> Array:
        self.out = get_array_module(x).tanh(x)
        return self.out

    def backward(self, grad: Array) -> Grads:
        return grad * (1 - self.out * self.out)


class Clip(Function):
    """Gradient passes where min <= x <= max (as torch.clamp)."""

    def forward(self, x: Array, *, min: float | None, max: float | None) -> Array:
        xp = get_array_module(x)
        self.inside = xp.ones(x.shape, dtype=bool)
        if min is not None:
            self.inside &= x >= min
        if max is not None:
            self.inside &= x <= max
        return xp.clip(x, min, max).astype(x.dtype, copy=False)

    def backward(self, grad: Array) -> Grads:
        return grad * self.inside


class Where(Function):
    """where(condition, a, b): a where condition holds, else b. condition: bool, no gradient."""

    def forward(self, condition: Array, a: Array, b: Array) -> Array:
        self.condition = condition
        return get_array_module(a).where(condition, a, b)

    def backward(self, grad: Array) -> Grads:
        zero = grad.dtype.type(0)
        xp = get_array_module(grad)
        return None, xp.where(self.condition, grad, zero), xp.where(self.condition, zero, grad)


def _floating(fname: str, x: Tensor | Array) -> Array:
    return _checks.tensor_arg(fname, "input", x, floating=True)


def exp(x: Tensor | Array) -> Tensor:
    _floating("exp", x)
    return Exp.apply(x)


def log(x: Tensor | Array) -> Tensor:
    _floating("log", x)
    return Log.apply(x)


def sqrt(x: Tensor | Array) -> Tensor:
    _floating("sqrt", x)
    return Sqrt.apply(x)


def abs_(x: Tensor | Array) -> Tensor:
    return Abs.apply(x)


def relu(x: Tensor | Array) -> Tensor:
    _floating("relu", x)
    return ReLU.apply(x)


def leaky_relu(x: Tensor | Array, negative_slope: float = 0.01) -> Tensor:
    _floating("leaky_relu", x)
    slope = _checks.number_in("leaky_relu", "negative_slope", negative_slope, -float("inf"), float("inf"))
    return LeakyReLU.apply(x, negative_slope=slope)


def sigmoid(x: Tensor | Array) -> Tensor:
    _floating("sigmoid", x)
    return Sigmoid.apply(x)


def tanh(x: Tensor | Array) -> Tensor:
    _floating("tanh", x)
    return Tanh.apply(x)


def clip(x: Tensor | Array, min: float | None = None, max: float | None = None) -> Tensor:
    """Limit values to [min, max]; either bound may be None."""
    _floating("clip", x)
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    for name, bound in (("min", min), ("max", max)):
        if bound is not None:
            _checks.number_in("clip", name, bound, -float("inf"), float("inf"))
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) must not exceed max ({max})")
    return Clip.apply(x, min=min, max=max)


def where(condition: Tensor | Array, a: Tensor | Array, b: Tensor | Array) -> Tensor:
    """Elements of a where condition is True, else of b (broadcast together)."""
    cond = _checks.array_of(condition)
    if not hasattr(cond, "dtype") or cond.dtype != bool:
        raise TypeError(f"where: condition must be a boolean tensor or array, got "
                        f"{getattr(cond, 'dtype', type(cond).__name__)}")
    x = _checks.tensor_arg("where", "a", a, floating=True)
    y = _checks.tensor_arg("where", "b", b, floating=True)
    _checks.same_device("where", condition=condition, a=a, b=b)
    _checks.same_dtype("where", "a", x, "b", y)
    _checks.broadcast_shapes("where", cond.shape, x.shape, y.shape, names=("condition", "a", "b"))
    return Where.apply(cond, a, b)
