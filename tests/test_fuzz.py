"""Bad input to every public function: a clear ValueError / TypeError, or (legitimate input) the right answer.

A registry describes the public surface (``minidense.functional``, the ``nn`` layers, ``metrics``,
the DataLoader and transforms; the command line has its own test below). Each entry has a builder of
a valid call and the role of each argument; a role says which bad-input kinds apply to it:

    not_array  a list or a string where a tensor belongs    int bool complex object   wrong dtypes
    float16    every floating argument in half precision     mixed     one float argument float64
    nan inf    non-finite values                             empty     a zero-size dimension
    ndim nhwc  wrong number of dimensions, channels last     channels  mismatched channels
    noncontig readonly  legitimate arrays                    range shape length  labels, switches, vectors
    plus per-function kinds: negative or zero stride, kernel larger than the padded input, pooling
    padding over half the kernel, switches outside their plane, NumPy + CuPy mixed (a GPU test)

Each example draws one (function, argument, kind) case with hypothesis and checks:

- error kinds: a ValueError or TypeError whose message names the function, the argument and what
  it got (the dtype, the shape, the type or the value);
- legitimate kinds (non-contiguous, read-only, all-float16): the same result, and the same gradient,
  as on a contiguous, writable copy (float16: the float32 result within half precision);
- nan: a clear error, or the NaN shows in the result (never silently swallowed); inf, empty where
  allowed: a clear error or a result, never an unclear exception.

The command line gets bad command lines of 13 sorts (unknown commands and options, bad numbers, choices and
devices, sizes the model cannot take, missing / truncated / foreign / newer checkpoints, missing and unreadable
images, images of the wrong size): each must exit with status 2 and one line, no traceback.

``make test`` runs a few examples per case; ``make fuzz`` runs many (MINIDENSE_FUZZ_EXAMPLES). The
number of examples tried per kind is printed at the end of the session.
"""
import collections
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minidense as md
import minidense.functional as F
from minidense import backend, metrics, nn
from minidense.data import DataLoader
from minidense.data import transforms as T
from minidense.opinfo import by_name

EXAMPLES = int(os.environ.get("MINIDENSE_FUZZ_EXAMPLES", "3"))
TRIED = collections.Counter()      # kind -> examples tried
ERRORS = collections.Counter()     # kind -> examples answered with a clear error
GPU = backend.gpu_available()


@pytest.fixture(scope="module", autouse=True)
def _summary():
    yield
    if TRIED:
        total = sum(TRIED.values())
        lines = [f"fuzz: {total} bad inputs of {len(TRIED)} kinds tried "
                 f"({sum(ERRORS.values())} answered by a clear error, the rest by the right result):"]
        lines += [f"  {kind:12s} {n:6d}" for kind, n in sorted(TRIED.items())]
        print("\n" + "\n".join(lines))


# ------------------------------------------------------------------ values
def _values(draw, shape, dtype=np.float32, low=-2.0, high=2.0):
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def _positive(draw, shape):
    return _values(draw, shape, low=0.5, high=3.0)


def _labels(draw, shape, classes):
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).integers(0, classes, shape).astype(np.int64)


def _mask(draw, shape):
    m = _values(draw, shape) > -1.0
    m.reshape(-1)[0] = True
    return m


def _nchw(draw, c=None, lo=4, hi=7):
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(lo, hi)), draw(st.integers(lo, hi))
    return (n, c if c is not None else draw(st.integers(1, 3)), h, w)


# ------------------------------------------------------------------ the registry
class Entry:
    """fn(**build(draw)) is a valid call; roles: argument -> role; extra: kind -> maker(draw, kw) -> (kw, words)."""

    def __init__(self, name, fn, build, roles, extra=None, names=None, empty="error", nan_may_vanish=(),
                 labels=None, compare=True, half="same"):
        self.name, self.fn, self.build, self.roles = name, fn, build, roles
        self.extra = extra or {}
        self.names = names or (name,)
        self.empty = empty                    # "error": a zero-size dimension must be refused; "ok": any clear outcome
        self.nan_may_vanish = set(nan_may_vanish)   # arguments whose NaN may legitimately not reach the result
        self.labels = labels or {}            # argument -> how the message calls it
        self.compare = compare                # legitimate kinds: compare with the result on a clean copy
        self.half = half                      # "same": float16 in, the float32 answer in float16 out; "error"


FLOAT_KINDS = ("not_array", "int", "bool", "complex", "object", "nan", "inf", "noncontig", "readonly")
ROLE_KINDS = {
    "float": FLOAT_KINDS + ("empty", "mixed"),
    "nchw": FLOAT_KINDS + ("empty", "ndim", "mixed"),
    "nchw_c": FLOAT_KINDS + ("empty", "ndim", "nhwc", "mixed"),      # the channel count is checked
    "weight": FLOAT_KINDS + ("empty", "ndim", "channels", "mixed"),
    "vector": FLOAT_KINDS + ("length", "mixed"),
    "state": ("not_array", "int", "complex", "object", "noncontig", "length", "mixed"),  # running statistics
    "any": ("not_array", "complex", "object", "nan", "inf", "noncontig", "readonly"),
    "labels": ("not_array", "float", "bool", "complex", "object", "shape", "range", "noncontig", "readonly"),
    "mask": ("not_array", "int", "float", "shape", "noncontig", "readonly"),
    "indices": ("not_array", "float", "shape", "range", "noncontig", "readonly"),
    # metrics compute in float64 on the CPU: any real dtype is fine there
    "m_labels": ("not_array", "float", "complex", "object", "shape", "range", "noncontig", "readonly"),
    "m_float": ("not_array", "complex", "object", "nan", "inf", "shape", "noncontig", "readonly"),
    "m_mask": ("not_array", "int", "shape", "noncontig", "readonly"),
    "m_maps": ("not_array", "float", "complex", "object", "shape", "noncontig", "readonly"),   # no class count
    "m_counts": ("complex", "object", "range", "noncontig", "readonly"),
    "t_image": ("not_array", "noncontig", "readonly"),   # transforms move pixels of any dtype
    "any4": ("not_array", "complex", "object", "nan", "inf", "noncontig", "readonly", "empty", "ndim"),
}
FLOATING = {"float", "nchw", "nchw_c", "weight", "vector", "state"}


def _declared(name):
    """The op's bad inputs of its declaration (minidense/opinfo/), as kinds: one list for this suite and
    tests/test_opdb.py."""
    return {e.kind: (lambda d, kw, e=e: e.change(kw)) for e in by_name(name).errors}


def _range_labels(arg, classes_of, words=("target",), ignored=-100):
    def make(draw, kw):
        t = kw[arg].copy()
        # 255 is md.IGNORE_INDEX: out of range for a loss that ignores -100, ignored by the metrics
        bad = draw(st.sampled_from([-1, classes_of(kw), classes_of(kw) + 4] + ([255] if ignored != 255 else [])))
        t.reshape(-1)[draw(st.integers(0, t.size - 1))] = bad
        return {**kw, arg: t}, words + (str(bad),)
    return make


def _functional():
    E = []

    def unary(name, fn, positive=False, **kw):
        build = (lambda d: {"x": _positive(d, _nchw(d))}) if positive else (lambda d: {"x": _values(d, _nchw(d))})
        E.append(Entry(name, fn, build, {"x": "float"}, labels={"x": "input"}, empty="ok", **kw))

    unary("exp", lambda x: F.exp(x))
    unary("log", lambda x: F.log(x), positive=True)
    unary("sqrt", lambda x: F.sqrt(x), positive=True)
    unary("relu", lambda x: F.relu(x))
    unary("sigmoid", lambda x: F.sigmoid(x))
    unary("tanh", lambda x: F.tanh(x))
    unary("leaky_relu", lambda x, negative_slope=0.1: F.leaky_relu(x, negative_slope), extra=_declared("leaky_relu"))
    unary("clip", lambda x, min=-1.0, max=1.0: F.clip(x, min, max), extra=_declared("clip"))
    unary("softmax", lambda x, dim=1: F.softmax(x, dim), extra=_declared("softmax"))
    unary("log_softmax", lambda x, dim=1: F.log_softmax(x, dim), extra=_declared("log_softmax"))
    unary("normalize", lambda x, eps=1e-12: F.normalize(x, dim=1, eps=eps), extra=_declared("normalize"))
    unary("dropout", lambda x, p=0.5: F.dropout(x, p), extra=_declared("dropout"))

    def where_build(d):
        shape = _nchw(d)
        return {"condition": _mask(d, shape), "a": _values(d, shape), "b": _values(d, shape)}
    E.append(Entry("where", lambda condition, a, b: F.where(condition, a, b), where_build,
                   {"condition": "mask", "a": "float", "b": "float"}, empty="ok", nan_may_vanish={"a", "b"}))

    for name in ("sum", "mean", "max", "min"):
        fn = getattr(F, name)
        E.append(Entry(name, lambda x, axis=1, _fn=fn: _fn(x, axis=axis), lambda d: {"x": _values(d, _nchw(d))},
                       {"x": "any"}, labels={"x": "input"}, extra=_declared(name)))
    E.append(Entry("reshape", lambda x, shape=(-1,): F.reshape(x, shape), lambda d: {"x": _values(d, _nchw(d))},
                   {"x": "any"}, labels={"x": "input"}, empty="ok",
                   extra=_declared("reshape")))
    E.append(Entry("permute", lambda x, axes=(0, 2, 3, 1): F.permute(x, axes), lambda d: {"x": _values(d, _nchw(d))},
                   {"x": "any"}, labels={"x": "input"}, empty="ok",
                   extra=_declared("permute")))
    E.append(Entry("transpose", lambda x: F.transpose(x), lambda d: {"x": _values(d, _nchw(d))},
                   {"x": "any"}, labels={"x": "input"}, empty="ok"))
    E.append(Entry("pad", lambda x, pad_width=1: F.pad(x, pad_width), lambda d: {"x": _values(d, _nchw(d))},
                   {"x": "any"}, labels={"x": "input"}, empty="ok",
                   extra=_declared("pad")))
    for name in ("concat", "stack"):
        fn = getattr(F, name)
        E.append(Entry(name, lambda a, b, axis=1, _fn=fn: _fn([a, b], axis=axis),
                       lambda d: (lambda s: {"a": _values(d, s), "b": _values(d, s)})(_nchw(d)),
                       {"a": "any", "b": "any"}, labels={"a": "tensors[0]", "b": "tensors[1]"}, empty="ok",
                       extra=_declared(name)))

    def matmul_build(d):
        n, k, m = d(st.integers(1, 4)), d(st.integers(1, 4)), d(st.integers(1, 4))
        return {"a": _values(d, (n, k)), "b": _values(d, (k, m))}
    E.append(Entry("matmul", lambda a, b: F.matmul(a, b), matmul_build, {"a": "any", "b": "any"}, empty="ok",
                   extra=_declared("matmul")))
    # (matmul promotes mixed float dtypes as NumPy does: notebook 1 relies on it, so no "mixed" kind here)

    # ---- convolution family
    def conv_build(d, transposed=False, nd=2):
        n, cin, cout = d(st.integers(1, 2)), d(st.integers(1, 3)), d(st.integers(1, 3))
        k = d(st.integers(1, 3))
        side = (d(st.integers(k + 1, 7)),) * nd
        wshape = ((cin, cout) if transposed else (cout, cin)) + (k,) * nd
        return {"input": _values(d, (n, cin) + side), "weight": _values(d, wshape), "bias": _values(d, (cout,))}
    for name, transposed, nd in (("conv2d", False, 2), ("conv1d", False, 1), ("conv_transpose2d", True, 2),
                                 ("conv_transpose1d", True, 1)):
        fn = getattr(F, name)
        E.append(Entry(name, lambda _fn=fn, **kw: _fn(**kw),
                       lambda d, t=transposed, nd=nd: conv_build(d, t, nd),
                       {"input": "nchw_c" if nd == 2 else "nchw", "weight": "weight", "bias": "vector"},
                       extra=_declared(name)))
    E.append(Entry("im2col", lambda x, kernel_size=2, stride=1, padding=0, dilation=1: F.im2col(
        x, kernel_size, stride, padding, dilation), lambda d: {"x": _values(d, _nchw(d))}, {"x": "any4"},
        labels={"x": "input"}, extra=_declared("im2col")))

    def col2im_build(d):
        shape = _nchw(d)
        cols = F.im2col(_values(d, shape), 2).data
        return {"cols": cols, "input_shape": shape}
    E.append(Entry("col2im", lambda cols, input_shape, kernel_size=2: F.col2im(cols, input_shape, kernel_size),
                   col2im_build, {"cols": "any"}, extra=_declared("col2im")))

    def matrix_build(d):
        return {"weight": _values(d, (d(st.integers(1, 2)), d(st.integers(1, 2)), 2, 2)),
                "input_size": (d(st.integers(3, 5)), d(st.integers(3, 5)))}
    E.append(Entry("conv2d_matrix", lambda weight, input_size, stride=1, padding=0: F.conv2d_matrix(
        weight, input_size, stride, padding), matrix_build, {"weight": "float"}, extra=_declared("conv2d_matrix")))

    # ---- pooling and resampling
    def pool_build(d):
        return {"input": _values(d, _nchw(d))}
    E.append(Entry("max_pool2d", lambda input, kernel_size=2, stride=None, padding=0: F.max_pool2d(
        input, kernel_size, stride, padding), pool_build, {"input": "nchw"}, extra=_declared("max_pool2d")))
    E.append(Entry("avg_pool2d", lambda input, kernel_size=2, stride=None, padding=0: F.avg_pool2d(
        input, kernel_size, stride, padding), pool_build, {"input": "nchw"}, extra=_declared("avg_pool2d")))

    def unpool_build(d):
        x = _values(d, _nchw(d))
        out, idx = F.max_pool2d(x, 2, return_indices=True)
        return {"input": out.data, "indices": idx.data, "output_size": x.shape[2:]}
    E.append(Entry("max_unpool2d", lambda input, indices, output_size, kernel_size=2: F.max_unpool2d(
        input, indices, kernel_size, output_size=output_size), unpool_build, {"input": "nchw", "indices": "indices"},
        extra=_declared("max_unpool2d")))
    for name in ("interpolate", "upsample_nearest", "upsample_bilinear"):
        fn = getattr(F, name)
        E.append(Entry(name, lambda input, _fn=fn, **kw: _fn(input, **{"size": (5, 6), **kw}),
                       pool_build, {"input": "nchw"}, extra=_declared(name),
                       names=(name, "interpolate")))   # the aliases name interpolate, whose arguments they are
    E.append(Entry("bed_of_nails", lambda input, scale_factor=2: F.bed_of_nails(input, scale_factor), pool_build,
                   {"input": "nchw"}, empty="ok", extra=_declared("bed_of_nails")))

    # ---- losses
    def class_build(d):
        shape = _nchw(d)
        return {"input": _values(d, shape), "target": _labels(d, shape[:1] + shape[2:], shape[1]),
                "weight": _positive(d, (shape[1],))}
    for name in ("cross_entropy", "nll_loss"):
        fn = getattr(F, name)
        E.append(Entry(name, lambda _fn=fn, **kw: _fn(**kw), class_build,
                       {"input": "nchw", "target": "labels", "weight": "vector"}, empty="ok",
                       nan_may_vanish={"input"} if name == "nll_loss" else (), extra=_declared(name)))

    def pointwise_build(d, positive=False):
        shape = _nchw(d, c=1)
        make = _positive if positive else _values
        return {"input": make(d, shape), "target": make(d, shape), "mask": _mask(d, shape[:1] + shape[2:])}
    for name in ("l1_loss", "mse_loss", "smooth_l1_loss"):
        fn = getattr(F, name)
        E.append(Entry(name, lambda _fn=fn, **kw: _fn(**kw), pointwise_build,
                       {"input": "float", "target": "float", "mask": "mask"}, empty="ok", extra=_declared(name)))
    E.append(Entry("scale_invariant_log_loss", lambda input, target, mask, lam=0.5: F.scale_invariant_log_loss(
        input, target, mask, lam), lambda d: pointwise_build(d, positive=True),
        {"input": "float", "target": "float", "mask": "mask"}, labels={"input": "pred"}, empty="ok",
        extra=_declared("scale_invariant_log_loss")))

    def normal_build(d):
        shape = _nchw(d, c=3)
        return {"pred": _values(d, shape), "target": _values(d, shape), "mask": _mask(d, shape[:1] + shape[2:])}
    E.append(Entry("cosine_normal_loss", lambda **kw: F.cosine_normal_loss(**kw), normal_build,
                   {"pred": "nchw_c", "target": "float", "mask": "mask"}, empty="ok"))

    def bce_build(d):
        shape = _nchw(d)
        return {"input": _values(d, shape), "target": _values(d, shape, low=0, high=1),
                "weight": _positive(d, shape), "pos_weight": _positive(d, (shape[1], 1, 1))}
    E.append(Entry("binary_cross_entropy_with_logits", lambda **kw: F.binary_cross_entropy_with_logits(**kw),
                   bce_build, {"input": "float", "target": "float", "weight": "float", "pos_weight": "float"},
                   empty="ok"))

    def bn_build(d):
        shape = _nchw(d)
        c = shape[1]
        return {"input": _values(d, shape), "running_mean": np.zeros(c, np.float32),
                "running_var": np.ones(c, np.float32), "weight": _positive(d, (c,)), "bias": _values(d, (c,))}
    E.append(Entry("batch_norm", lambda input, running_mean, running_var, weight, bias, momentum=0.1: F.batch_norm(
        input, running_mean, running_var, weight, bias, training=True, momentum=momentum), bn_build,
        {"input": "float", "running_mean": "state", "running_var": "state", "weight": "vector", "bias": "vector"},
        nan_may_vanish={"running_mean", "running_var"}, extra=_declared("batch_norm")))
    return E


def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _layers():
    E = []

    def layer(name, make, shape_of, roles=("nchw",), extra=None, names=None, **kw):
        def build(d):
            module, shape = make(d)
            return {"module": module, "input": _values(d, shape)}
        E.append(Entry(name, lambda module, input: module(input), build, {"input": roles[0]},
                       extra=extra, names=(name,) + tuple(names or ()), **kw))

    def conv(d):
        cin = d(st.integers(1, 3))
        return nn.Conv2d(cin, 2, 3, padding=1), _nchw(d, c=cin)

    def tconv(d):
        cin = d(st.integers(1, 3))
        return nn.ConvTranspose2d(cin, 2, 2, stride=2), _nchw(d, c=cin)

    def bn(d):
        c = d(st.integers(1, 3))
        return nn.BatchNorm2d(c), _nchw(d, c=c)
    ctor = {"Conv2d": lambda **k: nn.Conv2d(2, 2, 3, **k),
            "ConvTranspose2d": lambda **k: nn.ConvTranspose2d(2, 2, 2, **k),
            "MaxPool2d": lambda **k: nn.MaxPool2d(2, **k)}

    def ctor_kinds(name):
        make = ctor[name]

        def bad(arg, value):
            def m(d, kw):
                return {"module": None, "input": kw["input"], "_ctor": lambda: make(**{arg: value})}, (arg, repr(value))
            return m
        return {f"ctor {a}={v!r}": bad(a, v) for a, v in (("stride", 0), ("stride", -2), ("padding", -1),
                                                          ("stride", 1.5))}
    # a layer hands its checked input to its function, whose messages name that function
    layer("Conv2d", conv, None, roles=("nchw_c",), extra=ctor_kinds("Conv2d"), names=("conv2d",), half="error")
    layer("ConvTranspose2d", tconv, None, roles=("nchw_c",), extra=ctor_kinds("ConvTranspose2d"),
          names=("conv_transpose2d",), half="error")
    layer("BatchNorm2d", bn, None, roles=("nchw_c",), names=("batch_norm",), half="error")
    layer("MaxPool2d", lambda d: (nn.MaxPool2d(2), _nchw(d)), None, names=("max_pool2d",),
          extra={**ctor_kinds("MaxPool2d"),
                 "ctor padding>kernel/2": lambda d, kw: ({**kw, "_ctor": lambda: nn.MaxPool2d(2, padding=2)},
                                                         ("padding", "2"))})
    layer("Upsample", lambda d: (nn.Upsample(scale_factor=2), _nchw(d)), None, names=("interpolate",))
    layer("ReLU", lambda d: (nn.ReLU(), _nchw(d)), None, roles=("float",), empty="ok")
    layer("LeakyReLU", lambda d: (nn.LeakyReLU(0.1), _nchw(d)), None, roles=("float",), empty="ok")
    layer("Dropout", lambda d: (nn.Dropout(0.5), _nchw(d)), None, roles=("float",), empty="ok", names=("dropout",))
    layer("Linear", lambda d: (nn.Linear(3, 2), (d(st.integers(1, 4)), 3)), None, roles=("float",), empty="ok",
          half="error")
    layer("Flatten", lambda d: (nn.Flatten(), _nchw(d)), None, roles=("any",), empty="ok")
    return E


def _metrics():
    E = []

    def seg_build(d):
        shape = (d(st.integers(1, 2)), d(st.integers(3, 6)), d(st.integers(3, 6)))
        return {"pred": _labels(d, shape, 3), "target": _labels(d, shape, 3)}
    seg_roles = {"pred": "m_labels", "target": "m_labels"}
    seg_extra = {"target range": _range_labels("target", lambda kw: 3, ignored=255),
                 "num_classes=0": lambda d, kw: ({**kw, "num_classes": 0}, ("num_classes", "0")),
                 "num_classes=float": lambda d, kw: ({**kw, "num_classes": 2.5}, ("num_classes", "float"))}
    E.append(Entry("confusion_matrix", lambda pred, target, num_classes=3: metrics.confusion_matrix(
        pred, target, num_classes), seg_build, seg_roles, extra=seg_extra, empty="ok"))
    E.append(Entry("segmentation_scores", lambda pred, target, num_classes=3: metrics.segmentation_scores(
        pred, target, num_classes), seg_build, seg_roles, extra=seg_extra))

    def meter_update(pred, target, num_classes=3):
        m = metrics.SegmentationMeter(num_classes)
        m.update(pred, target)
        return m.compute()
    E.append(Entry("SegmentationMeter.update", meter_update, seg_build, seg_roles, names=(
        "SegmentationMeter",), extra=seg_extra))
    E.append(Entry("boundary_accuracy", lambda pred, target, width=2: metrics.boundary_accuracy(pred, target, width),
                   seg_build, {"pred": "m_maps", "target": "m_maps"}, empty="ok",
                   extra={"width=0": lambda d, kw: ({**kw, "width": 0}, ("width", "0"))}))

    def depth_build(d):
        shape = (d(st.integers(1, 2)), 1, d(st.integers(3, 6)), d(st.integers(3, 6)))
        return {"pred": _positive(d, shape), "target": _positive(d, shape), "mask": _mask(d, shape)}
    droles = {"pred": "m_float", "target": "m_float", "mask": "m_mask"}
    E.append(Entry("depth_metrics", lambda **kw: metrics.depth_metrics(**kw), depth_build, droles,
                   nan_may_vanish={"target"}))

    def depth_meter(pred, target, mask):
        m = metrics.DepthMeter()
        m.update(pred, target, mask)
        return m.compute()
    E.append(Entry("DepthMeter.update", depth_meter, depth_build, droles, nan_may_vanish={"target"}))

    def normal_build(d):
        shape = (d(st.integers(1, 2)), 3, d(st.integers(3, 6)), d(st.integers(3, 6)))
        return {"pred": _values(d, shape), "target": _values(d, shape), "mask": _mask(d, shape[:1] + shape[2:])}
    E.append(Entry("normal_metrics", lambda **kw: metrics.normal_metrics(**kw), normal_build, droles,
                   nan_may_vanish={"target"}))

    def normal_meter(pred, target, mask):
        m = metrics.NormalMeter()
        m.update(pred, target, mask)
        return m.compute()
    E.append(Entry("NormalMeter.update", normal_meter, normal_build, droles, nan_may_vanish={"target"}))

    def pck_build(d):
        shape = (d(st.integers(1, 2)), d(st.integers(1, 4)), 2)
        return {"pred_points": _values(d, shape, high=5), "true_points": _values(d, shape, high=5),
                "visible": _mask(d, shape[:-1])}
    proles = {"pred_points": "m_float", "true_points": "m_float", "visible": "m_mask"}
    E.append(Entry("pck", lambda threshold=1.0, **kw: metrics.pck(threshold=threshold, **kw), pck_build, proles,
                   extra={"threshold=0": lambda d, kw: ({**kw, "threshold": 0}, ("threshold", "0")),
                          "threshold=str": lambda d, kw: ({**kw, "threshold": "a"}, ("threshold", "'a'"))}))

    def kp_meter(**kw):
        m = metrics.KeypointMeter(1.0)
        m.update(**kw)
        return m.compute()
    E.append(Entry("KeypointMeter.update", kp_meter, pck_build, proles))
    E.append(Entry("scores_from_confusion", lambda cm: metrics.scores_from_confusion(cm),
                   lambda d: {"cm": _labels(d, (3, 3), 5) + np.eye(3, dtype=np.int64)}, {"cm": "m_counts"},
                   extra={"cm 2x3": lambda d, kw: ({**kw, "cm": kw["cm"][:2]}, ("cm", "(2, 3)"))}))
    return E


def _data():
    E = []

    class Pairs:
        def __init__(self, n, shape=(3, 4, 4)):
            self.items = [(np.full(shape, i, np.float32), np.full(shape[1:], i, np.int64)) for i in range(n)]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    def loader(dataset, batch_size=2, shuffle=True, seed=0, transform=None):
        return [b for b in DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, seed=seed, transform=transform)]
    E.append(Entry("DataLoader", loader, lambda d: {"dataset": Pairs(d(st.integers(1, 5)))}, {},
                   extra={"batch_size=0": lambda d, kw: ({**kw, "batch_size": 0}, ("batch_size", "0")),
                          "batch_size=float": lambda d, kw: ({**kw, "batch_size": 2.5}, ("batch_size", "2.5")),
                          "seed<0": lambda d, kw: ({**kw, "seed": -1}, ("seed", "-1")),
                          "dataset=int": lambda d, kw: ({**kw, "dataset": 5}, ("dataset", "int")),
                          "transform=str": lambda d, kw: ({**kw, "transform": "flip"}, ("transform", "str"))}))

    def pair_build(d):
        c, h, w = d(st.integers(1, 3)), d(st.integers(3, 6)), d(st.integers(3, 6))
        return {"image": _values(d, (c, h, w)), "target": _labels(d, (h, w), 3)}

    def flip(image, target, p=1.0, kind="labels"):
        return T.RandomHorizontalFlip(kind, p=p)(image, target, np.random.default_rng(0))

    def crop(image, target, size=3, kind="labels"):
        return T.RandomCrop(size, kind)(image, target, np.random.default_rng(0))
    shape_kinds = {
        "image 2-D": lambda d, kw: ({**kw, "image": kw["image"][0]}, ("image", str(kw["image"][0].shape))),
        "target size": lambda d, kw: ({**kw, "target": kw["target"][:-1]}, ("target", str(kw["target"][:-1].shape))),
        "kind=str": lambda d, kw: ({**kw, "kind": "colour"}, ("kind", "'colour'"))}
    E.append(Entry("RandomHorizontalFlip", flip, pair_build, {"image": "t_image"},
                   extra={**shape_kinds, "p=2": lambda d, kw: ({**kw, "p": 2.0}, ("p", "2.0")),
                          "p=str": lambda d, kw: ({**kw, "p": "a"}, ("p", "'a'"))}))
    E.append(Entry("RandomCrop", crop, pair_build, {"image": "t_image"},
                   extra={**shape_kinds, "size=0": lambda d, kw: ({**kw, "size": 0}, ("size", "0")),
                          "size>image": lambda d, kw: ({**kw, "size": 9}, ("size", "9"))}))
    return E


METRIC_ENTRIES = _metrics()   # metrics read every argument to the host: NumPy and CuPy arrays may be mixed there
REGISTRY = _functional() + _layers() + METRIC_ENTRIES + _data()


# ------------------------------------------------------------------ making bad input
def _bad_value(kind, role, value, draw, transposed=False):
    """The bad replacement of one argument and the words its error message must hold (None: legitimate)."""
    a = np.asarray(value)
    if kind == "not_array":
        bad = draw(st.sampled_from(["list", "str", "none-like"]))
        if bad == "list":
            return a.tolist(), ("list",)
        if bad == "str":
            return "abc", ("str",)
        return {"data": a}, ("dict",)
    if kind in ("int", "bool", "float", "complex", "object"):
        dtype = {"int": np.int32, "bool": np.bool_, "float": np.float32, "complex": np.complex64,
                 "object": object}[kind]
        return a.astype(dtype), (np.dtype(dtype).name,)
    if kind == "mixed":
        return a.astype(np.float64), ("float64",)
    if kind in ("nan", "inf"):
        fill = np.nan if kind == "nan" else draw(st.sampled_from([np.inf, -np.inf]))
        return np.full_like(a, fill), None
    if kind == "noncontig":
        b = np.zeros(a.shape + (2,), dtype=a.dtype)
        b[..., 1] = a
        return b[..., 1], None
    if kind == "readonly":
        return _readonly(a), None
    if kind == "empty":
        axis = a.ndim - 1 if a.ndim else 0
        b = np.take(a, [], axis=axis)
        return b, (str(b.shape),)
    if kind == "ndim":
        b = a[0] if draw(st.booleans()) else a[None]
        return b, (str(b.shape),)
    if kind == "nhwc":
        b = a.transpose(0, 2, 3, 1)
        if b.shape[1] == a.shape[1]:      # H happens to equal C: add a column so channels differ
            b = np.concatenate([b, b[:, :1]], axis=1)
        return b, (str(b.shape),)
    if kind == "channels":   # the input-channel axis: 1 for a conv weight, 0 for a transposed one
        b = np.concatenate([a, a], axis=0 if transposed else 1)
        return b, (str(b.shape),)
    if kind == "length":
        b = np.concatenate([a, a[:1]])
        return b, (str(b.shape),)
    if kind == "shape":
        b = a[..., :-1] if a.shape[-1] > 1 else np.concatenate([a, a], axis=-1)
        return b, (str(b.shape),)
    if kind == "range":
        b = a.copy()
        bad = -1 if role != "indices" else int(a.max()) + 10**5
        b.reshape(-1)[draw(st.integers(0, b.size - 1))] = bad
        return b, (str(bad),)
    raise AssertionError(kind)


CASES = []
for _entry in REGISTRY:
    for _arg, _role in _entry.roles.items():
        for _kind in ROLE_KINDS[_role]:
            if _kind == "mixed" and sum(r in FLOATING for r in _entry.roles.values()) < 2:
                continue   # one floating argument: nothing to mix it with
            CASES.append((_entry, _arg, _kind))
    if any(r in FLOATING for r in _entry.roles.values()):
        CASES.append((_entry, None, "float16"))
    if len(_entry.roles) >= 2 and _entry not in METRIC_ENTRIES:   # a GPU test (a GPU, or the CuPy stand-in)
        CASES.append((_entry, next(iter(_entry.roles)), "numpy+cupy"))
    for _kind in _entry.extra:
        CASES.append((_entry, None, _kind))


def _case_id(case):
    entry, arg, kind = case
    return f"{entry.name}-{arg}-{kind}" if arg else f"{entry.name}-{kind}"


# ------------------------------------------------------------------ checking the outcome
def _plain(x):
    """Results as NumPy arrays / floats / nested containers, for comparison."""
    if isinstance(x, md.Tensor):
        return backend.to_numpy(x.data)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _assert_same(got, want, rtol=1e-5, atol=1e-6):
    """Equal up to float rounding (a strided operand can take BLAS through another summation order)."""
    got, want = _plain(got), _plain(want)
    if isinstance(want, dict):
        assert got.keys() == want.keys()
        for k in want:
            _assert_same(got[k], want[k], rtol, atol)
    elif isinstance(want, list):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same(g, w, rtol, atol)
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64),
                                   rtol=rtol, atol=atol, equal_nan=True)


def _has_nan(x):
    x = _plain(x)
    if isinstance(x, dict):
        return any(_has_nan(v) for v in x.values())
    if isinstance(x, list):
        return any(_has_nan(v) for v in x)
    a = np.asarray(x)
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def _call(entry, kw, grad_arg=None):
    """Run an entry; with grad_arg, the gradient of the output's sum with respect to that argument too."""
    md.manual_seed(0)
    kw = dict(kw)
    if "_ctor" in kw:
        kw.pop("_ctor")()
    if grad_arg is not None:
        kw[grad_arg] = md.Tensor(kw[grad_arg], requires_grad=True)
    out = entry.fn(**kw)
    if grad_arg is None:
        return out, None
    first = out[0] if isinstance(out, tuple) else out
    if not first.requires_grad:
        return out, None
    first.sum().backward()
    return out, kw[grad_arg].grad


def _clear_error(exc, entry, arg, words):
    msg = str(exc)
    assert isinstance(exc, (ValueError, TypeError)), f"{type(exc).__name__} is not a clear error: {msg}"
    assert any(name in msg for name in entry.names), f"the message does not name {entry.names}: {msg}"
    if arg is not None:
        label = entry.labels.get(arg, arg)
        assert label in msg, f"the message does not name the argument {label!r}: {msg}"
    for word in words or ():
        assert word in msg, f"the message does not say what it got ({word!r}): {msg}"


def _expect_error(entry, kw, arg, words):
    with pytest.raises(Exception) as info:
        _call(entry, kw)
    _clear_error(info.value, entry, arg, words)


def _clear_or_result(entry, kw, arg):
    """A clear error, or a result: never an unclear exception. Returns the result (None after an error)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _call(entry, kw)[0]
    except Exception as exc:   # noqa: BLE001 -- any exception is checked to be a clear one
        _clear_error(exc, entry, arg, ())
        ERRORS[kind_of_current[0]] += 1
        return None


kind_of_current = [None]


def _check_case(case, data):
    entry, arg, kind = case
    draw = data.draw
    kw = entry.build(draw)
    TRIED["option" if kind in entry.extra else kind] += 1   # option: stride, padding, kernel, switches, p...
    kind_of_current[0] = kind
    if kind in entry.extra:
        bad_kw, words = entry.extra[kind](draw, kw)
        _expect_error(entry, bad_kw, None, words)
        ERRORS[kind] += 1
        return
    if kind == "float16" and entry.half == "error":
        _expect_error(entry, {**kw, "input": kw["input"].astype(np.float16)}, None, ("float16",))
        ERRORS[kind] += 1
        return
    if kind == "float16":
        floats = [k for k, r in entry.roles.items() if r in FLOATING]
        half = {**kw, **{k: kw[k].astype(np.float16) for k in floats}}
        want = entry.fn(**{**kw, **{k: half[k].astype(np.float32) for k in floats}}) if entry.compare else None
        md.manual_seed(0)
        got = _call(entry, half)[0]
        first = got[0] if isinstance(got, tuple) else got
        if isinstance(first, md.Tensor) and first.dtype.kind == "f":
            assert first.dtype == np.float16, f"float16 in, {first.dtype} out"
        if entry.compare and "dropout" not in entry.names:
            _assert_same(got, want, rtol=2e-2, atol=2e-2)
        return
    if kind == "numpy+cupy":
        import cupy
        bad_kw = {**kw, arg: cupy.asarray(kw[arg])}
        _expect_error(entry, bad_kw, None, ("cuda", "cpu"))
        ERRORS[kind] += 1
        return
    role = entry.roles[arg]
    bad, words = _bad_value(kind, role, kw[arg], draw, transposed="transpose" in entry.name)
    bad_kw = {**kw, arg: bad}
    if kind in ("noncontig", "readonly"):
        grad_arg = arg if np.asarray(kw[arg]).dtype.kind == "f" and role in FLOATING | {"any"} and \
            entry.names[0] not in ("max", "min") else None
        want, want_grad = _call(entry, kw, grad_arg if entry.compare else None)
        got, got_grad = _call(entry, bad_kw, grad_arg if entry.compare else None)
        if entry.compare:
            _assert_same(got, want)
            if want_grad is not None:
                _assert_same(got_grad, want_grad)
        return
    if kind == "nan":
        out = _clear_or_result(entry, bad_kw, arg)
        if out is not None and arg not in entry.nan_may_vanish:
            assert _has_nan(out), f"{entry.name}: a NaN in {arg} vanished from the result {out!r}"
        return
    if kind == "inf" or (kind == "empty" and entry.empty == "ok"):
        _clear_or_result(entry, bad_kw, arg)
        return
    _expect_error(entry, bad_kw, arg, words)
    ERRORS[kind] += 1


def _make_test(case):
    # one hypothesis test per case (one parametrized test would share a settings object across hundreds of runs)
    @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data())
    def test(data):
        _check_case(case, data)
    test.__doc__ = f"bad input: {_case_id(case)}"
    return test


for _case in CASES:
    _name = "test_fuzz_" + "".join(ch if ch.isalnum() else "_" for ch in _case_id(_case))
    while _name in globals():
        _name += "_"
    globals()[_name] = pytest.mark.gpu(_make_test(_case)) if _case[2] == "numpy+cupy" else _make_test(_case)


def test_registry_covers_the_public_surface():
    """Every public function of minidense.functional has an entry (a new function needs one too)."""
    import inspect
    public = {n for n, f in vars(F).items() if inspect.isfunction(f) and not n.startswith("_")
              and f.__module__.startswith("minidense.ops")}
    public -= {"abs_", "neg", "getitem"}
    covered = {e.names[0] for e in REGISTRY} | {e.name for e in REGISTRY}
    assert public - covered == set()
# ------------------------------------------------------------------ the command line
INT_OPTIONS = ("--epochs", "--batch-size", "--size", "--n-train", "--n-val", "--base-channels", "--depth")
SMALL = ["--size", "16", "--depth", "2", "--n-train", "2", "--n-val", "1", "--epochs", "1", "--base-channels", "2"]


def _not_positive_int(text):
    try:
        return int(text) < 1
    except ValueError:
        return True


def _not_positive_float(text):
    try:
        value = float(text)
    except ValueError:
        return True
    return not 0 < value < float("inf")


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    """A checkpoint of a tiny run (written directly, no training) and bad files of every sort."""
    from minidense import checkpoint
    from minidense.data.io import write_png
    root = tmp_path_factory.mktemp("cli")
    config = {"task": "segmentation", "model": "unet", "size": 16, "n_train": 2, "n_val": 1, "base_channels": 2,
              "depth": 2}
    model = checkpoint.rebuild(config)[0]
    good = root / "good.npz"
    checkpoint.save(str(good), model=model.state_dict(), optimizer={}, epoch=1, rng=backend.get_rng_state(),
                    history=[], best=None, config=config)
    data = good.read_bytes()
    files = {"good": good, "truncated": root / "cut.npz", "foreign": root / "foreign.npz", "newer": root / "new.npz",
             "text": root / "notes.txt", "folder": root, "no config": root / "noconfig.npz",
             "junk png": root / "junk.png", "odd png": root / "odd.png", "empty png": root / "empty.png"}
    files["truncated"].write_bytes(data[: len(data) // 2])
    np.savez(files["foreign"], weights=np.zeros(3))
    meta = {"format": checkpoint.FORMAT, "format_version": checkpoint.FORMAT_VERSION + 1, "state": {}}
    np.savez(files["newer"], __meta__=np.array(__import__("json").dumps(meta)))
    files["text"].write_text("not a checkpoint\n")
    checkpoint.save(str(files["no config"]), model=model.state_dict())
    files["junk png"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    write_png(str(files["odd png"]), np.zeros((15, 18, 3)))
    files["empty png"].write_bytes(b"")
    return files


@st.composite
def bad_argv(draw, files, out):
    """(kind, argv) of a command line that must end with status 2 and one line."""
    kind = draw(st.sampled_from(["command", "unknown option", "int option", "float option", "choice", "device",
                                 "size multiple", "autoencoder task", "resume", "missing checkpoint",
                                 "bad checkpoint", "missing image", "bad image"]))
    text = st.text(min_size=1, max_size=12)
    if kind == "command":
        return kind, [draw(text.filter(lambda t: not t.startswith("-") and t not in cli_commands()))]
    if kind == "unknown option":
        return kind, ["train", "--out", out, draw(st.from_regex(r"\A--[a-z]{9,12}\Z"))]
    if kind == "int option":
        return kind, ["train", "--out", out, draw(st.sampled_from(INT_OPTIONS)), draw(text.filter(_not_positive_int))]
    if kind == "float option":
        return kind, ["train", "--out", out, "--lr", draw(text.filter(_not_positive_float) | st.sampled_from(
            ["nan", "inf", "-inf", "0", "-1e-3", "1e999"]))]
    if kind == "choice":
        option = draw(st.sampled_from(["--task", "--model", "--on-nan"]))
        return kind, ["train", "--out", out, option, draw(text.filter(lambda t: t not in (
            "segmentation", "depth", "normals", "keypoints", "sketch2image", "autoencode", "unet", "encdec", "fcn",
            "autoencoder", "stop", "skip")))]
    if kind == "device":
        command = draw(st.sampled_from(["train", "eval", "predict"]))
        usable = ("cpu", "cuda") if GPU else ("cpu",)
        device = draw(text.filter(lambda t: t.split(":")[0] not in usable and not t.startswith("-")))
        rest = {"train": ["--out", out] + SMALL, "eval": ["--checkpoint", str(files["good"])],
                "predict": ["--checkpoint", str(files["good"]), "--input", str(files["odd png"]), "--out", out]}
        return kind, [command, "--device", device] + rest[command]
    if kind == "size multiple":
        size = draw(st.integers(1, 99).filter(lambda n: n % 4))
        return kind, ["train", "--out", out, "--size", str(size), "--depth", "3"]
    if kind == "autoencoder task":
        return kind, ["train", "--out", out, "--model", "autoencoder", "--task", "depth"] + SMALL[:4]
    if kind == "resume":
        return kind, ["train", "--out", out + "-never-written", "--resume"] + SMALL
    if kind == "missing checkpoint":
        name = draw(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"), min_size=1,
                            max_size=10))
        command = draw(st.sampled_from(["eval", "predict"]))
        extra = ["--input", str(files["odd png"]), "--out", out] if command == "predict" else []
        return kind, [command, "--checkpoint", os.path.join(out, "missing", name)] + extra
    if kind == "bad checkpoint":
        bad = draw(st.sampled_from(["truncated", "foreign", "newer", "text", "folder", "no config", "junk png"]))
        command = draw(st.sampled_from(["eval", "predict"]))
        extra = ["--input", str(files["odd png"]), "--out", out] if command == "predict" else []
        return kind, [command, "--checkpoint", str(files[bad])] + extra
    if kind == "missing image":
        return kind, ["predict", "--checkpoint", str(files["good"]), "--input", os.path.join(out, "none.png"),
                      "--out", out + ".png"]
    bad = draw(st.sampled_from(["junk png", "empty png", "text", "folder"]))   # any size is padded: odd png is fine
    return kind, ["predict", "--checkpoint", str(files["good"]), "--input", str(files[bad]), "--out", out + ".png"]


def cli_commands():
    return ("train", "eval", "predict", "info", "assignment")


@settings(max_examples=EXAMPLES * 20, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_bad_command_lines_exit_2_with_one_line(cli_files, tmp_path_factory, data):
    from minidense import cli
    out = str(cli_files["folder"] / "out")
    kind, argv = data.draw(bad_argv(cli_files, out))
    TRIED[f"cli {kind}"] += 1
    import contextlib
    import io
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    err = err.getvalue()
    assert code == 2, (argv, code, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
    assert err.startswith("minidense"), (argv, err)
    ERRORS[f"cli {kind}"] += 1
