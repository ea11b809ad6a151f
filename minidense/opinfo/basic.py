"""Declarations of the arithmetic, element-wise, reduction and shape ops (see minidense/opinfo/core.py)."""
import numpy as np

from .. import functional as F
from .. import ops
from ..tensor import ToDevice
from .core import ErrorInput, OpInfo, Sample, error, normal

IGNORE_KINKS = 0.05   # samples stay this far from a kink (relu's 0, clip's bounds): central differences need it


def _by_name(fn, *names):
    """A NumPy function of positional arguments, called with the declaration's keyword arguments."""
    return lambda **kw: fn(*(kw[n] for n in names))


def _binary(name, op, reference, functions, positive_b=False, export=None, method=None):
    def samples(rng):
        b = (lambda *s: normal(rng, *s, low=0.5)) if positive_b else (lambda *s: normal(rng, *s))
        return [Sample("same shape", a=normal(rng, 2, 3), b=b(2, 3)),
                Sample("broadcast row", a=normal(rng, 2, 3), b=b(3)),
                Sample("broadcast both", a=normal(rng, 4, 1, 3), b=b(2, 1)),
                Sample("scalar operand", a=normal(rng, 2, 3), b=b())]
    return OpInfo(name, op, inputs=("a", "b"), functions=functions, samples=samples,
                  reference=_by_name(reference, "a", "b"),
                  export=export, method=method, doc="minidense.Tensor")


def _unary(name, op, reference, function, low=None, avoid=None, method=None, layer=None, export=None,
           edge=None, **kw):
    def samples(rng):
        found = [Sample("matrix", x=normal(rng, 3, 4, low=low, avoid=avoid)),
                 Sample("NCHW", x=normal(rng, 2, 3, 2, 2, low=low, avoid=avoid)),
                 Sample("0-d", x=normal(rng, low=low, avoid=avoid))]
        if edge is not None:
            found.append(Sample("edge values", grad=False, x=np.array(edge, dtype=np.float64)))
        return found
    return OpInfo(name, op, inputs=("x",), functions=(function,), samples=samples,
                  reference=_by_name(reference, "x"),
                  method=method or name, layer=layer, export=export, **kw)


def _sigmoid(a):
    return np.where(a >= 0, 1 / (1 + np.exp(-np.abs(a))), np.exp(-np.abs(a)) / (1 + np.exp(-np.abs(a))))


def _reduce(name, function, reference, export):
    def samples(rng):
        return [Sample("axis 1", x=normal(rng, 2, 3, 4), axis=1),
                Sample("all axes", x=normal(rng, 2, 3), axis=None),
                Sample("two axes, kept", x=normal(rng, 2, 3, 4), axis=(0, 2), keepdims=True),
                Sample("negative axis", x=normal(rng, 3, 4), axis=-1)]
    return OpInfo(name, getattr(F, name), inputs=("x",), functions=(function,), samples=samples, method=name,
                  reference=lambda x, axis=None, keepdims=False: reference(x, axis=axis, keepdims=keepdims),
                  export=export,
                  errors=[error("axis=9", axis=9), error("axis=str", axis="a")])


def _shorter_b(kw):
    """The second tensor one shorter along axis 2, where the two must agree."""
    bad = kw["b"][:, :, :-1]
    return {**kw, "b": bad}, ("tensors[1]", str(bad.shape))


def _two(rng, shape_b=None):
    return dict(a=normal(rng, 2, 3, 2), b=normal(rng, *(shape_b or (2, 3, 2))))


OPS = [
    _binary("add", ops.add, np.add, ("Add",), export="Add", method="__add__"),
    _binary("sub", ops.sub, np.subtract, ("Sub",), export="Sub", method="__sub__"),
    _binary("mul", ops.mul, np.multiply, ("Mul",), export="Mul", method="__mul__"),
    _binary("div", ops.div, np.divide, ("Div",), positive_b=True, export="Div", method="__truediv__"),
    OpInfo("pow", ops.pow, inputs=("a", "b"), functions=("Pow",), method="__pow__", doc="minidense.Tensor",
           samples=lambda rng: [Sample("both tensors", a=normal(rng, 2, 3, low=0.5), b=normal(rng, 2, 3)),
                                Sample("broadcast exponent", a=normal(rng, 2, 3, low=0.5), b=normal(rng, 3)),
                                Sample("number exponent", a=normal(rng, 2, 3), b=3.0)],
           reference=_by_name(np.power, "a", "b"), export="Pow"),
    OpInfo("neg", ops.neg, inputs=("a",), functions=("Neg",), method="__neg__", doc="minidense.Tensor",
           samples=lambda rng: [Sample("matrix", a=normal(rng, 2, 3)), Sample("0-d", a=normal(rng))],
           reference=_by_name(np.negative, "a"), export="Neg"),
    OpInfo("matmul", F.matmul, inputs=("a", "b"), functions=("MatMul",), method="matmul", export="MatMul",
           samples=lambda rng: [Sample("matrices", a=normal(rng, 2, 3), b=normal(rng, 3, 4)),
                                Sample("batched", a=normal(rng, 2, 2, 3), b=normal(rng, 2, 3, 4)),
                                Sample("matrix @ vector", a=normal(rng, 4, 2, 3), b=normal(rng, 3)),
                                Sample("vector @ matrix", a=normal(rng, 3), b=normal(rng, 3, 2)),
                                Sample("vector @ vector", a=normal(rng, 3), b=normal(rng, 3)),
                                Sample("broadcast batch", a=normal(rng, 3, 2, 2, 3), b=normal(rng, 2, 3, 4))],
           reference=_by_name(np.matmul, "a", "b"),
           errors=[ErrorInput("inner", lambda kw: ({**kw, "b": np.zeros((kw["a"].shape[-1] + 1, 2))},
                                                   ("shapes",)))]),
    _unary("exp", F.exp, np.exp, "Exp", export="Exp", edge=[-800.0, 0.0, 80.0]),
    _unary("log", F.log, np.log, "Log", low=0.5, export="Log", edge=[1e-300, 1.0, 1e300]),
    _unary("sqrt", F.sqrt, np.sqrt, "Sqrt", low=0.5, export="Sqrt", edge=[0.0, 1e-300, 1e300]),
    _unary("abs", ops.abs_, np.abs, "Abs", avoid=IGNORE_KINKS, method="abs", export="Abs", doc="minidense.Tensor",
           edge=[-0.0, 0.0, -1e300]),
    _unary("relu", F.relu, lambda x: np.maximum(x, 0), "ReLU", avoid=IGNORE_KINKS, layer="ReLU", export="Relu",
           edge=[-1e-300, 0.0, 1e300]),
    _unary("sigmoid", F.sigmoid, _sigmoid, "Sigmoid", export="Sigmoid", edge=[-1e4, -50.0, 0.0, 50.0, 1e4]),
    _unary("tanh", F.tanh, np.tanh, "Tanh", export="Tanh", edge=[-1e4, 0.0, 1e4]),
    OpInfo("leaky_relu", F.leaky_relu, inputs=("x",), functions=("LeakyReLU",), method="leaky_relu",
           layer="LeakyReLU", export="LeakyRelu",
           samples=lambda rng: [Sample("default slope", x=normal(rng, 3, 4, avoid=IGNORE_KINKS)),
                                Sample("slope 0.2", x=normal(rng, 2, 3, 2, 2, avoid=IGNORE_KINKS), negative_slope=0.2),
                                Sample("0-d", x=normal(rng, avoid=IGNORE_KINKS), negative_slope=0.5)],
           reference=lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x),
           errors=[error("negative_slope=str", negative_slope="a")]),
    OpInfo("clip", F.clip, inputs=("x",), functions=("Clip",), method="clip", export="Clip",
           samples=lambda rng: [Sample("both bounds", x=_away(normal(rng, 3, 4), (-0.5, 0.7)), min=-0.5, max=0.7),
                                Sample("min only", x=_away(normal(rng, 2, 3), (0.1,)), min=0.1),
                                Sample("max only", x=_away(normal(rng, 2, 3), (-0.2,)), max=-0.2)],
           reference=lambda x, min=None, max=None: np.clip(x, min, max),
           errors=[error("min>max", min=1.0, max=-1.0), error("min=str", min="a")]),
    OpInfo("where", F.where, inputs=("condition", "a", "b"), functions=("Where",), export="Where",
           samples=lambda rng: [Sample("same shape", condition=normal(rng, 2, 3, 2) > 0, **_two(rng)),
                                Sample("broadcast", condition=normal(rng, 3, 1) > 0, a=normal(rng, 2, 3, 2),
                                       b=normal(rng, 2))],
           reference=_by_name(np.where, "condition", "a", "b")),
    _reduce("sum", "Sum", np.sum, "ReduceSum"),
    _reduce("mean", "Mean", np.mean, "ReduceMean"),
    _reduce("max", "Max", np.max, "ReduceMax"),
    _reduce("min", "Min", np.min, "ReduceMin"),
    OpInfo("reshape", F.reshape, inputs=("x",), functions=("Reshape",), method="reshape", export="Reshape",
           call=lambda x, shape: F.reshape(x, shape),
           samples=lambda rng: [Sample("to 2-D", x=normal(rng, 2, 3, 4), shape=(6, 4)),
                                Sample("with -1", x=normal(rng, 2, 3, 4), shape=(-1, 2))],
           reference=lambda x, shape: np.reshape(x, shape),
           errors=[ErrorInput("shape=7", lambda kw: ({**kw, "shape": (7, kw["x"].size)}, ("shape", "(7,")))]),
    OpInfo("permute", F.permute, inputs=("x",), functions=("Permute",), method="permute", export="Transpose",
           call=lambda x, axes: F.permute(x, axes),
           samples=lambda rng: [Sample("NCHW to NHWC", x=normal(rng, 2, 3, 2, 4), axes=(0, 2, 3, 1))],
           reference=lambda x, axes: np.transpose(x, axes),
           errors=[error("axes=3", axes=(0, 1, 2))]),
    OpInfo("transpose", F.transpose, inputs=("x",), functions=("Permute",), method="transpose", export="Transpose",
           samples=lambda rng: [Sample("matrix", x=normal(rng, 2, 3)), Sample("3-D", x=normal(rng, 2, 3, 4))],
           reference=_by_name(np.transpose, "x")),
    OpInfo("getitem", ops.getitem, inputs=("x",), functions=("GetItem",), method="__getitem__",
           doc="minidense.Tensor",
           samples=lambda rng: [Sample("slices", x=normal(rng, 3, 4, 5), index=(slice(1, None), slice(None, None, 2))),
                                Sample("repeated rows", x=normal(rng, 3, 4), index=np.array([0, 1, 1, 2])),
                                Sample("boolean mask", x=normal(rng, 3, 4), index=normal(rng, 3, 4) > 0),
                                Sample("integer and None", x=normal(rng, 3, 4), index=(1, None))],
           reference=lambda x, index: x[index],
           exclusions=[]),
    OpInfo("concat", F.concat, inputs=("a", "b"), functions=("Concat",), export="Concat",
           call=lambda a, b, axis=0: F.concat([a, b], axis=axis),
           samples=lambda rng: [Sample("axis 1", a=normal(rng, 2, 3, 2), b=normal(rng, 2, 1, 2), axis=1),
                                Sample("axis 0", **_two(rng), axis=0)],
           reference=lambda a, b, axis=0: np.concatenate([a, b], axis=axis),
           errors=[error("axis=9", axis=9), ErrorInput("shapes", _shorter_b)]),
    OpInfo("stack", F.stack, inputs=("a", "b"), functions=("Stack",), export="Concat",
           call=lambda a, b, axis=0: F.stack([a, b], axis=axis),
           samples=lambda rng: [Sample("axis 1", **_two(rng), axis=1), Sample("last axis", **_two(rng), axis=-1)],
           reference=lambda a, b, axis=0: np.stack([a, b], axis=axis),
           errors=[error("axis=9", axis=9), ErrorInput("shapes", _shorter_b)]),
    OpInfo("pad", F.pad, inputs=("x",), functions=("Pad",), export="Pad",
           samples=lambda rng: [Sample("one each side", x=normal(rng, 2, 3), pad_width=1),
                                Sample("per axis, a value", x=normal(rng, 2, 3), pad_width=((1, 0), (0, 2)),
                                       value=0.5)],
           reference=lambda x, pad_width, value=0.0: np.pad(x, pad_width, constant_values=value),
           errors=[error("pad_width<0", pad_width=-1), error("pad_width=str", pad_width="a")]),
    OpInfo("to", lambda x, device: x.to(device), inputs=("x",), functions=("ToDevice",), method="to",
           call=lambda x, device=None: ToDevice.apply(x, device=device or x.device), doc="minidense.Tensor",
           samples=lambda rng: [Sample("to its own device", x=normal(rng, 2, 3))],
           reference=lambda x, device=None: x),
]


def _away(x, points, distance=IGNORE_KINKS):
    """x with every value at least ``distance`` from each of ``points`` (clip's kinks)."""
    for p in points:
        x = np.where(np.abs(x - p) < distance, p + np.copysign(2 * distance, x - p), x)
    return x
