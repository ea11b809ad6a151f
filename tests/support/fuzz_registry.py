"""The bad-input suite's registry of the public surface, one function per family: each Entry is a valid call
of one public function and the role of each argument (fuzzing.py says what a role lets the suite try)."""
import numpy as np
from fuzzing import Entry, _labels, _mask, _nchw, _positive, _values
from hypothesis import strategies as st

import minidense.functional as F
from minidense import metrics, nn
from minidense.data import DataLoader
from minidense.data import transforms as T
from minidense.opinfo import by_name


def _declared(name):
    """The op's bad inputs of its declaration (minidense/opinfo/), as kinds: one list for this suite and
    tests/ops/test_opdb.py."""
    return {e.kind: (lambda d, kw, e=e: e.change(kw)) for e in by_name(name).errors}


def _range_labels(arg, classes_of, words=("target",), ignored=-100):
    def make(draw, kw):
        t = kw[arg].copy()
        # 255 is md.IGNORE_INDEX: out of range for a loss that ignores -100, ignored by the metrics
        bad = draw(st.sampled_from([-1, classes_of(kw), classes_of(kw) + 4] + ([255] if ignored != 255 else [])))
        t.reshape(-1)[draw(st.integers(0, t.size - 1))] = bad
        return {**kw, arg: t}, words + (str(bad),)
    return make




def core():
    """Elementwise ops, reductions, shape ops, joins, matmul."""
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
    return E


def conv():
    """Convolutions, transposed convolutions, im2col and col2im, the explicit matrix."""
    E = []
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

    return E


def pool():
    """Pooling, unpooling and resampling."""
    E = []
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

    return E


def losses():
    """The losses and batch normalization."""
    E = []
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


def functional():
    """Every function of minidense.functional, all families."""
    return core() + conv() + pool() + losses()


def layers():
    """The nn layers."""
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


def metric_entries():
    """minidense.metrics: functions and meters."""
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


def data():
    """The DataLoader and the transforms."""
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
