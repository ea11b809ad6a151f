"""Declarations of softmax, the losses and the normalizations (see minidense/opinfo/core.py), with NumPy references."""
import numpy as np

from .. import backend
from .. import functional as F
from ..constants import IGNORE_INDEX
from .core import ErrorInput, OpInfo, Sample, error, labels, normal


def log_softmax_reference(x, dim=None):
    dim = 1 if dim is None else dim
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def _reduced(loss, valid, weight, reduction):
    """Sum, weighted mean over the valid elements, or the elements (zero where not valid)."""
    loss = np.where(valid, loss, 0.0)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / max(np.where(valid, weight, 0.0).sum(), 1e-300)


def nll_reference(input, target, weight=None, ignore_index=-100, reduction="mean"):
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    picked = np.take_along_axis(input, safe[:, None], axis=1)[:, 0]
    w = np.ones(input.shape[1]) if weight is None else weight
    return _reduced(-w[safe] * picked, valid, w[safe], reduction)


def cross_entropy_reference(input, target, weight=None, ignore_index=-100, reduction="mean"):
    return nll_reference(log_softmax_reference(input, 1), target, weight, ignore_index, reduction)


def _valid_mask(input, mask):
    if mask is None:
        return np.ones(input.shape, bool)
    return np.broadcast_to(mask if mask.ndim == input.ndim else np.expand_dims(mask, 1), input.shape)


def _pointwise(value):
    def reference(input, target, mask=None, reduction="mean", **kw):
        valid = _valid_mask(input, mask)
        return _reduced(value(input - target, **kw), valid, np.ones(input.shape), reduction)
    return reference


def _smooth(d, beta=1.0):
    return np.where(np.abs(d) < beta, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta) if beta else np.abs(d)


def scale_invariant_reference(pred, target, mask=None, lam=0.5, eps=1e-6):
    g = np.log(np.maximum(pred, eps)) - np.log(np.maximum(target, eps))
    valid = _valid_mask(pred, mask).reshape(len(pred), -1)
    g = g.reshape(len(pred), -1)
    per_image = [(gi[v] ** 2).mean() - lam * gi[v].mean() ** 2 for gi, v in zip(g, valid) if v.any()]
    return np.mean(per_image)


def normalize_reference(x, dim=None, eps=1e-12):
    dim = 1 if dim is None else dim
    return x / np.maximum(np.sqrt((x * x).sum(axis=dim, keepdims=True)), eps)


def cosine_reference(pred, target, mask=None, reduction="mean"):
    cos = (normalize_reference(pred) * normalize_reference(target)).sum(axis=1)
    valid = np.ones(cos.shape, bool) if mask is None else mask.reshape(cos.shape)
    return _reduced(1 - cos, valid, np.ones(cos.shape), reduction)


def bce_reference(input, target, weight=None, pos_weight=None, reduction="mean"):
    log_sig, log_one_minus = -np.logaddexp(0, -input), -np.logaddexp(0, input)
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * target * log_sig + (1 - target) * log_one_minus) * (1.0 if weight is None else weight)
    return _reduced(loss, np.ones(loss.shape, bool), np.ones(loss.shape), reduction)


def batch_norm_reference(input, running_mean, running_var, weight=None, bias=None, training=True, eps=1e-5,
                         momentum=0.1):
    axes = (0,) + tuple(range(2, input.ndim))
    shape = (1, -1) + (1,) * (input.ndim - 2)
    mean = input.mean(axis=axes) if training else running_mean
    var = input.var(axis=axes) if training else running_var
    y = (input - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return y * (1 if weight is None else weight.reshape(shape)) + (0 if bias is None else bias.reshape(shape))


def _classes(rng, n=2, c=4, spatial=(3, 3), ignore=False):
    return dict(input=normal(rng, n, c, *spatial),
                target=labels(rng, (n,) + spatial, c, IGNORE_INDEX if ignore else None))


def _bad_label(kind, value):
    """A label outside [0, classes): ``value(classes)``; 255 is md.IGNORE_INDEX, out of range where -100 is ignored."""
    def change(kw):
        t, bad = kw["target"].copy(), value(kw["input"].shape[1])
        t.reshape(-1)[0] = bad
        return {**kw, "target": t}, ("target", str(bad))
    return ErrorInput(kind, change)


def _target_shape(kw):
    bad = kw["target"][..., :-1]
    return {**kw, "target": bad}, ("target", str(bad.shape))


def _readonly_running_mean(kw):
    a = kw["running_mean"].copy()
    a.flags.writeable = False
    return {**kw, "running_mean": a}, ("running_mean", "read-only")


def _class_loss(name, reference):
    def samples(rng):
        log = (lambda d: {**d, "input": log_softmax_reference(d["input"], 1)}) if name == "nll_loss" else (lambda d: d)
        return [Sample("(N, C, H, W)", **log(_classes(rng))),
                Sample("weights, ignored pixels", **log(_classes(rng, ignore=True)), weight=normal(rng, 4, low=0.5),
                       ignore_index=IGNORE_INDEX),
                Sample("(N, C), sum", **log(_classes(rng, 3, 5, ())), reduction="sum"),
                Sample("per pixel", **log(_classes(rng, 2, 3, (2,))), reduction="none")]
    return OpInfo(name, getattr(F, name), inputs=("input", "target"), functions=(
        "CrossEntropy" if name == "cross_entropy" else "NLLLoss",), samples=samples, reference=reference,
        errors=[_bad_label("target = classes", lambda c: c), _bad_label("target < 0", lambda c: -1),
                _bad_label("target 255", lambda c: 255), error("reduction", reduction="avg"),
                error("ignore_index=str", ignore_index="x")])


def _pointwise_loss(name, function, value, avoid):
    def samples(rng):
        x = normal(rng, 2, 1, 3, 3)
        return [Sample("mean", input=x, target=x + normal(rng, 2, 1, 3, 3, avoid=avoid)),
                Sample("masked", input=x, target=x + normal(rng, 2, 1, 3, 3, avoid=avoid),
                       mask=normal(rng, 2, 3, 3) > 0),
                Sample("none", input=x[:, 0], target=x[:, 0] + normal(rng, 2, 3, 3, avoid=avoid), reduction="none")]
    return OpInfo(name, getattr(F, name), inputs=("input", "target"), functions=(function,), samples=samples,
                  reference=_pointwise(value),
                  errors=[error("reduction", reduction=None), ErrorInput("target shape", _target_shape)])


def _batch_norm(input, running_mean, running_var, weight=None, bias=None, training=True, momentum=0.1):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training=training, momentum=momentum)


def _dropout(x, p=0.5):
    backend.manual_seed(0)      # the same mask at every call: central differences call it many times
    return F.dropout(x, p)


def _softmax_samples(rng):
    return [Sample("channels", x=normal(rng, 2, 4, 3)), Sample("last axis", x=normal(rng, 3, 5), dim=-1),
            Sample("large logits", grad=False, x=np.array([[1000.0, 0.0, -1000.0]]))]


def _bce_samples(rng):
    return [Sample("probabilities", input=normal(rng, 2, 3), target=rng.random((2, 3))),
            Sample("weights", input=normal(rng, 2, 3, 2, 2), target=1.0 * (normal(rng, 2, 3, 2, 2) > 0),
                   weight=normal(rng, 2, 3, 2, 2, low=0.5), pos_weight=normal(rng, 3, 1, 1, low=0.5)),
            Sample("huge logits", grad=False, input=np.array([-1e4, 1e4]), target=np.array([1.0, 0.0]))]


def _stats(c):
    return dict(running_mean=np.zeros(c), running_var=np.ones(c))


OPS = [
    OpInfo("softmax", F.softmax, inputs=("x",), functions=("Softmax",), export="Softmax",
           samples=_softmax_samples,
           reference=lambda x, dim=None: np.exp(log_softmax_reference(x, dim)),
           errors=[ErrorInput("dim=9", lambda kw: ({**kw, "dim": 9}, ("axis", "9")))]),
    OpInfo("log_softmax", F.log_softmax, inputs=("x",), functions=("LogSoftmax",), export="LogSoftmax",
           samples=_softmax_samples,
           reference=log_softmax_reference,
           errors=[ErrorInput("dim=9", lambda kw: ({**kw, "dim": 9}, ("axis", "9")))]),
    _class_loss("cross_entropy", cross_entropy_reference),
    _class_loss("nll_loss", nll_reference),
    _pointwise_loss("l1_loss", "L1Loss", np.abs, avoid=0.05),
    _pointwise_loss("mse_loss", "MSELoss", np.square, avoid=None),
    OpInfo("smooth_l1_loss", F.smooth_l1_loss, inputs=("input", "target"), functions=("SmoothL1Loss",),
           samples=lambda rng: [Sample("beta 1", input=normal(rng, 2, 3), target=normal(rng, 2, 3)),
                                Sample("beta 0.5, masked", input=normal(rng, 2, 3), target=normal(rng, 2, 3),
                                       beta=0.5, mask=normal(rng, 2, 3) > 0)],
           reference=_pointwise(_smooth),
           errors=[error("reduction", reduction=None), ErrorInput("target shape", _target_shape)]),
    OpInfo("scale_invariant_log_loss", F.scale_invariant_log_loss, inputs=("pred", "target"),
           functions=("ScaleInvariantLogLoss",),
           samples=lambda rng: [Sample("depths", pred=normal(rng, 2, 1, 3, 3, low=0.5),
                                       target=normal(rng, 2, 1, 3, 3, low=0.5)),
                                Sample("masked, lam 1", pred=normal(rng, 2, 1, 3, 3, low=0.5),
                                       target=normal(rng, 2, 1, 3, 3, low=0.5), mask=normal(rng, 2, 3, 3) > -0.5,
                                       lam=1.0)],
           reference=scale_invariant_reference, errors=[error("lam>1", lam=2.0)]),
    OpInfo("cosine_normal_loss", F.cosine_normal_loss, inputs=("pred", "target"), functions=("MaskedReduce",),
           samples=lambda rng: [Sample("normals", pred=normal(rng, 2, 3, 2, 2), target=normal(rng, 2, 3, 2, 2)),
                                Sample("masked", pred=normal(rng, 2, 3, 2, 2), target=normal(rng, 2, 3, 2, 2),
                                       mask=normal(rng, 2, 2, 2) > 0),
                                Sample("per pixel", pred=normal(rng, 1, 3, 2, 3), target=normal(rng, 1, 3, 2, 3),
                                       reduction="none")],
           reference=cosine_reference),
    OpInfo("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, inputs=("input", "target"),
           functions=("BCEWithLogits",),
           samples=_bce_samples,
           reference=bce_reference),
    OpInfo("normalize", F.normalize, inputs=("x",), functions=("Normalize",), export="ReduceL2",
           samples=lambda rng: [Sample("normals", x=normal(rng, 2, 3, 2)),
                                Sample("last axis", x=normal(rng, 3, 4), dim=-1),
                                Sample("a zero vector", grad=False, x=np.zeros((1, 3)))],
           reference=normalize_reference, errors=[error("eps<0", eps=-1.0)]),
    OpInfo("batch_norm", F.batch_norm, inputs=("input", "weight", "bias"), call=_batch_norm,
           functions=("BatchNorm",), layer="BatchNorm2d", export="BatchNormalization",
           samples=lambda rng: [Sample("training", input=normal(rng, 4, 3, 2, 2), weight=normal(rng, 3),
                                       bias=normal(rng, 3), **_stats(3)),
                                Sample("(N, C), training", input=normal(rng, 5, 2), weight=normal(rng, 2),
                                       bias=normal(rng, 2), **_stats(2)),
                                Sample("evaluation", input=normal(rng, 2, 3, 2, 2), weight=normal(rng, 3),
                                       bias=normal(rng, 3), training=False, running_mean=normal(rng, 3),
                                       running_var=normal(rng, 3, low=0.5))],
           reference=batch_norm_reference, exported=("evaluation",),
           errors=[error("momentum>1", momentum=2.0), ErrorInput("read-only running_mean", _readonly_running_mean)]),
    OpInfo("dropout", F.dropout, inputs=("x",), call=_dropout, functions=("Dropout",), layer="Dropout",
           samples=lambda rng: [Sample("p 0.3", x=normal(rng, 4, 5), p=0.3), Sample("NCHW", x=normal(rng, 2, 3, 2, 2))],
           errors=[error("p=1", p=1.0), error("p<0", p=-0.5)]),
]
