"""Element-wise functions: exp log sqrt abs, the activations, clip and where."""
from .. import _checks
from ..backend import get_array_module
from ..tensor import Function


class Exp(Function):
    def forward(self, x):
        self.out = get_array_module(x).exp(x)
        return self.out

    def backward(self, grad):
        """grad: x's shape -> the gradient of x, of x's shape."""
        return grad * self.out


class Log(Function):
    def forward(self, x):
        self.x = x
        return get_array_module(x).log(x)

    def backward(self, grad):
        """grad: x's shape -> the gradient of x, of x's shape."""
        return grad / self.x


class Sqrt(Function):
    def forward(self, x):
        self.out = get_array_module(x).sqrt(x)
        return self.out

    def backward(self, grad):
        return grad / (2 * self.out)


class Abs(Function):
    def forward(self, x):
        self.x = x
        return abs(x)

    def backward(self, grad):
        return grad * get_array_module(grad).sign(self.x)


class ReLU(Function):
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad):
        """grad: x's shape -> the gradient of x, of x's shape."""
        return grad * self.mask


class LeakyReLU(Function):
    def forward(self, x, *, negative_slope):
        xp = get_array_module(x)
        # slope per element: 1 where x > 0, negative_slope elsewhere
        self.slope = xp.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))
        return x * self.slope

    def backward(self, grad):
        return grad * self.slope


class Sigmoid(Function):
    def forward(self, x):
        xp = get_array_module(x)
        # exp of a non-positive number only, so large |x| never overflows
        e = xp.exp(-abs(x))
        self.out = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.out

    def backward(self, grad):
        return grad * self.out * (1 - self.out)


class Tanh(Function):
    def forward(self, x):
        self.out = get_array_module(x).tanh(x)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out * self.out)


class Clip(Function):
    """Gradient passes where min <= x <= max (as torch.clamp)."""

    def forward(self, x, *, min, max):
        xp = get_array_module(x)
        self.inside = xp.ones(x.shape, dtype=bool)
        if min is not None:
            self.inside &= x >= min
        if max is not None:
            self.inside &= x <= max
        return xp.clip(x, min, max).astype(x.dtype, copy=False)

    def backward(self, grad):
        return grad * self.inside


class Where(Function):
    """where(condition, a, b): a where condition holds, else b. condition: bool, no gradient."""

    def forward(self, condition, a, b):
        self.condition = condition
        return get_array_module(a).where(condition, a, b)

    def backward(self, grad):
        zero = grad.dtype.type(0)
        xp = get_array_module(grad)
        return None, xp.where(self.condition, grad, zero), xp.where(self.condition, zero, grad)


def _floating(fname, x):
    return _checks.tensor_arg(fname, "input", x, floating=True)


def exp(x):
    _floating("exp", x)
    return Exp.apply(x)


def log(x):
    _floating("log", x)
    return Log.apply(x)


def sqrt(x):
    _floating("sqrt", x)
    return Sqrt.apply(x)


def abs_(x):
    return Abs.apply(x)


def relu(x):
    _floating("relu", x)
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    _floating("leaky_relu", x)
    slope = _checks.number_in("leaky_relu", "negative_slope", negative_slope, -float("inf"), float("inf"))
    return LeakyReLU.apply(x, negative_slope=slope)


def sigmoid(x):
    _floating("sigmoid", x)
    return Sigmoid.apply(x)


def tanh(x):
    _floating("tanh", x)
    return Tanh.apply(x)


def clip(x, min=None, max=None):
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


def where(condition, a, b):
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
