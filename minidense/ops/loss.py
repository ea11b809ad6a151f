"""Per-pixel losses: softmax cross-entropy (with the unknown label), depth, surface normals, edges.

Scores are NCHW: ``x: (N, C, H, W)`` and a label map ``target: (N, H, W)``; every loss also
takes ``(N, C)`` with ``target: (N,)``. Reductions follow PyTorch:

- ``"none"``: the per-element loss (zeros where a pixel is ignored or masked out);
- ``"sum"``:  its sum;
- ``"mean"``: the sum divided by how much counted: the summed class weights of the non-ignored
  targets (cross-entropy), or the number of valid elements (masked losses).

When nothing counts (every target ignored, every pixel masked out) the mean is 0 with a zero
gradient. PyTorch returns NaN there; a batch of unlabelled crops should not poison training.

Each loss is one Function with forward and backward side by side, so the gradient of a masked
or ignored pixel is an exact zero, never ``0 * something``.
"""
from __future__ import annotations

from typing import Protocol

from .. import _checks
from ..backend import Array, get_array_module
from ..tensor import Function, Grads, Tensor
from . import fastpaths, loss_fast
from .arith import mul, sub
from .norm import normalize
from .reduce import sum as _sum

__all__ = ["log_softmax", "softmax", "cross_entropy", "nll_loss", "l1_loss", "mse_loss", "smooth_l1_loss",
           "scale_invariant_log_loss", "cosine_normal_loss", "binary_cross_entropy_with_logits"]

#: scale_invariant_log_loss floors depths at this value before the log, so log(0) never happens.
LOG_DEPTH_FLOOR = 1e-6


# ---------------------------------------------------------------- reductions shared by the losses
def _reduce(loss: Array, reduction: str, count: float) -> Array:
    """Reduce a per-element loss; ``count`` is what the mean divides by (0: nothing counted)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / count if count > 0 else total   # nothing counted: every term was weighted 0, total is 0


class _Reduced(Protocol):
    """What a loss's forward saves for ``_reduce_backward``."""
    @property
    def reduction(self) -> str: ...

    @property
    def count(self) -> float: ...


def _reduce_backward(grad: Array, op: _Reduced) -> Array:
    """d(reduced loss)/d(per-element loss), broadcastable against the per-element loss, for the op whose
    forward saved its ``reduction`` and its ``count`` (what the mean divided by) on itself."""
    if op.reduction != "mean":       # "none": the gradient itself; "sum": the same value everywhere
        return grad
    return grad / op.count if op.count > 0 else grad * 0


# ---------------------------------------------------------------- softmax
class LogSoftmax(Function):
    """log softmax along ``axis``: x - max - log(sum(exp(x - max))), so exp never overflows."""

    def forward(self, x: Array, *, axis: int) -> Array:
        xp = get_array_module(x)
        shifted = x - x.max(axis=axis, keepdims=True)
        self.out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.axis = axis
        return self.out

    def backward(self, grad: Array) -> Grads:
        xp = get_array_module(grad)
        return grad - xp.exp(self.out) * grad.sum(axis=self.axis, keepdims=True)


class Softmax(Function):
    def forward(self, x: Array, *, axis: int) -> Array:
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        self.out = e / e.sum(axis=axis, keepdims=True)
        self.axis = axis
        return self.out

    def backward(self, grad: Array) -> Grads:
        # the Jacobian diag(p) - p pᵀ applied to grad, without forming it
        return self.out * (grad - (grad * self.out).sum(axis=self.axis, keepdims=True))


def _softmax_args(fname: str, x: Tensor | Array, dim: int | None, axis: int | None) -> int:
    a = _checks.tensor_arg(fname, "input", x, floating=True)
    axis = _checks.axis_arg(fname, axis, dim)
    axis = 1 if axis is None else axis
    if isinstance(axis, tuple):
        raise TypeError(f"{fname}: dim must be one int, got {axis!r}")
    _checks.axes_in_range(fname, axis, a.ndim)
    return axis % a.ndim


def log_softmax(x: Tensor | Array, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """log of softmax along ``dim`` (default 1, the class axis of NCHW scores); stable for |x| ~ 1e4."""
    return LogSoftmax.apply(x, axis=_softmax_args("log_softmax", x, dim, axis))


def softmax(x: Tensor | Array, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (default 1); stable for |x| ~ 1e4."""
    return Softmax.apply(x, axis=_softmax_args("softmax", x, dim, axis))


# ---------------------------------------------------------------- cross-entropy and NLL
def _target_index(shape: tuple[int, ...], target: Array) -> Array:
    """Flat indices of (n, target[n, ...], ...) in a C-contiguous array of ``shape`` (N, C, *rest).

    One gather / scatter along the class axis without a one-hot tensor and without moving
    the class axis last (no (N, C, H, W) -> (N·H·W, C) copy).
    """
    xp = get_array_module(target)
    n, c = shape[0], shape[1]
    rest = target.size // n if n else 0
    image = xp.arange(n).reshape((n,) + (1,) * (target.ndim - 1)) * (c * rest)
    pixel = xp.arange(rest).reshape(target.shape[1:]) if target.ndim > 1 else 0
    return image + target * rest + pixel


class _ClassLoss(Function):
    """What cross-entropy and NLL share: per-pixel class weights, ignored pixels, the reduction."""
    w: Array

    def _weights(self, x: Array, target: Array, weight: Array | None, ignore_index: int) -> None:
        xp = get_array_module(x)
        valid = target != ignore_index
        self.safe_target = xp.where(valid, target, 0)     # ignored pixels read class 0, weighted 0
        self.index = _target_index(x.shape, self.safe_target)
        if weight is None:
            self.w = valid.astype(x.dtype)
        else:
            self.w = xp.where(valid, weight[self.safe_target], x.dtype.type(0))
        self.count = float(self.w.sum())


class CrossEntropy(_ClassLoss):
    """x: (N, C, ...) scores, target: (N, ...) -> loss. Softmax and NLL fused into one op.

    The gradient of -log softmax(x)[t] is softmax(x) - onehot(t): backward scales
    exp(x - max) by (pixel weight / sum of exps) and subtracts it at the target class.
    """

    def forward(self, x: Array, target: Array, *, weight: Array | None, ignore_index: int, reduction: str) -> Array:
        xp = get_array_module(x)
        x = xp.ascontiguousarray(x)   # so that the buffers below are C-ordered for the flat scatter
        self._weights(x, target, weight, ignore_index)
        shifted = x - x.max(axis=1, keepdims=True)
        picked = shifted.reshape(-1)[self.index]                    # (x - max) at the target class
        self.e = xp.exp(shifted, out=shifted)                       # reuse the buffer: shifted is done
        self.sum_e = self.e.sum(axis=1)
        self.reduction = reduction
        return _reduce((xp.log(self.sum_e) - picked) * self.w, reduction, self.count)

    def backward(self, grad: Array) -> Grads:
        coef = _reduce_backward(grad, self) * self.w   # (N, ...): 0 where ignored
        xp = get_array_module(coef)
        gx = self.e * xp.expand_dims(coef / self.sum_e, 1)
        gx.reshape(-1)[self.index] -= coef    # minus onehot(target): one write per pixel, no one-hot tensor
        return gx, None


class NLLLoss(_ClassLoss):
    """x: (N, C, ...) log-probabilities, target: (N, ...) -> -x[target] weighted and reduced."""

    def forward(self, x: Array, target: Array, *, weight: Array | None, ignore_index: int, reduction: str) -> Array:
        self._weights(x, target, weight, ignore_index)
        self.shape, self.reduction = x.shape, reduction
        return _reduce(-x.reshape(-1)[self.index] * self.w, reduction, self.count)

    def backward(self, grad: Array) -> Grads:
        coef = _reduce_backward(grad, self) * self.w
        gx = get_array_module(coef).zeros(self.shape, dtype=coef.dtype)
        gx.reshape(-1)[self.index] = -coef    # one target per pixel: a plain write, no repeats
        return gx, None


def _class_loss(op: type[Function], fname: str, x: Tensor | Array, target: Tensor | Array,
                weight: Tensor | Array | None, ignore_index: int, reduction: str) -> Tensor:
    a = _checks.tensor_arg(fname, "input", x, floating=True)
    if a.ndim < 2:
        raise ValueError(f"{fname}: input must be (N, C) or (N, C, H, W), got shape {tuple(a.shape)}")
    _checks.same_device(fname, input=x, target=target, weight=weight)
    _checks.class_target(fname, a, target, ignore_index)
    w = _checks.channel_vector(fname, "weight", weight, a.shape[1], dtype=a.dtype)
    _checks.reduction_arg(fname, reduction)
    if op is CrossEntropy and fastpaths.enabled() and loss_fast.splits(a):
        op = loss_fast.CrossEntropy   # the same op, its passes split between threads (md.set_num_threads)
    return op.apply(x, target, weight=w, ignore_index=int(ignore_index), reduction=reduction)


def cross_entropy(input: Tensor | Array, target: Tensor | Array, weight: Tensor | Array | None = None,
                  ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of class scores against integer labels, as PyTorch's.

    input: (N, C) or (N, C, H, W) scores (logits); target: (N,) or (N, H, W) integers in [0, C)
    or ``ignore_index``; weight: (C,) per-class weights, or None.
    ``reduction="mean"`` divides by the summed weights of the non-ignored targets; ignored pixels
    add nothing and get exactly zero gradient. If every target is ignored, the mean is 0 with zero
    gradient (PyTorch returns NaN). Segmentation passes ``ignore_index=md.IGNORE_INDEX`` (255).
    """
    return _class_loss(CrossEntropy, "cross_entropy", input, target, weight, ignore_index, reduction)


def nll_loss(input: Tensor | Array, target: Tensor | Array, weight: Tensor | Array | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (e.g. ``log_softmax(x, 1)``); as cross_entropy."""
    return _class_loss(NLLLoss, "nll_loss", input, target, weight, ignore_index, reduction)


# ---------------------------------------------------------------- depth: L1, MSE, smooth L1
def _valid_count(d: Array, mask: Array | None) -> float:
    """How many elements of d are valid (the mask may lack d's channel axis, shared by every channel)."""
    return d.size if mask is None else float(mask.sum()) * (d.size // mask.size)


class _PointwiseLoss(Function):
    """loss(pred - target) per element, masked and reduced. Subclasses give value(d) and slope(d).

    A masked-out element gets the difference 0, where every one of these losses has value 0 and
    slope 0: it adds nothing and its gradient is exactly zero, even if its target is NaN.
    """
    beta: float

    def value(self, d: Array) -> Array:
        raise NotImplementedError

    def slope(self, d: Array) -> Array:
        raise NotImplementedError

    def forward(self, pred: Array, target: Array, *, mask: Array | None, reduction: str, beta: float = 1.0) -> Array:
        xp = get_array_module(pred)
        d = pred - target
        if mask is not None:
            d = xp.where(mask, d, d.dtype.type(0))
        self.d, self.beta, self.reduction = d, beta, reduction
        self.count = _valid_count(d, mask)
        return _reduce(self.value(d), reduction, self.count)

    def backward(self, grad: Array) -> Grads:
        g = _reduce_backward(grad, self) * self.slope(self.d)
        return g, -g


class L1Loss(_PointwiseLoss):
    def value(self, d: Array) -> Array:
        return abs(d)

    def slope(self, d: Array) -> Array:
        return get_array_module(d).sign(d)     # 0 at d == 0, as PyTorch


class MSELoss(_PointwiseLoss):
    def value(self, d: Array) -> Array:
        return d * d

    def slope(self, d: Array) -> Array:
        return 2 * d


class SmoothL1Loss(_PointwiseLoss):
    """Quadratic 0.5·d²/beta inside |d| < beta, linear |d| - 0.5·beta outside (beta=0: plain L1)."""

    def value(self, d: Array) -> Array:
        xp = get_array_module(d)
        if self.beta == 0:
            return abs(d)
        return xp.where(abs(d) < self.beta, d * d * (0.5 / self.beta), abs(d) - 0.5 * self.beta)

    def slope(self, d: Array) -> Array:
        xp = get_array_module(d)
        if self.beta == 0:
            return xp.sign(d)
        return xp.where(abs(d) < self.beta, d / self.beta, xp.sign(d))


def _pointwise_args(fname: str, pred: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None,
                    reduction: str) -> Array | None:
    p = _checks.tensor_arg(fname, "input", pred, floating=True)
    t = _checks.tensor_arg(fname, "target", target, floating=True)
    _checks.same_device(fname, input=pred, target=target, mask=mask)
    _checks.same_shape(fname, "input", p, "target", t)
    _checks.same_dtype(fname, "input", p, "target", t)
    _checks.reduction_arg(fname, reduction)
    return _checks.mask_arg(fname, mask, p.shape)


def l1_loss(input: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None = None,
            reduction: str = "mean") -> Tensor:
    """|input - target| per element. input, target: (N, 1, H, W) depth or any shape (equal shapes).

    mask: boolean, input's shape or input's shape without the channel axis (True = valid pixel).
    "mean" averages over valid elements only (0, with zero gradient, when none is valid); "none"
    gives the per-element loss with zeros at invalid pixels.
    """
    m = _pointwise_args("l1_loss", input, target, mask, reduction)
    return L1Loss.apply(input, target, mask=m, reduction=reduction)


def mse_loss(input: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None = None,
             reduction: str = "mean") -> Tensor:
    """(input - target)² per element; mask and reduction as :func:`l1_loss`."""
    m = _pointwise_args("mse_loss", input, target, mask, reduction)
    return MSELoss.apply(input, target, mask=m, reduction=reduction)


def smooth_l1_loss(input: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """PyTorch's smooth L1 (Huber / beta): 0.5·d²/beta where |d| < beta, else |d| - 0.5·beta.

    mask and reduction as :func:`l1_loss`; beta=0 is plain L1.
    """
    m = _pointwise_args("smooth_l1_loss", input, target, mask, reduction)
    beta = _checks.number_in("smooth_l1_loss", "beta", beta, 0, float("inf"))
    return SmoothL1Loss.apply(input, target, mask=m, reduction=reduction, beta=beta)


# ---------------------------------------------------------------- depth: scale-invariant log loss
class ScaleInvariantLogLoss(Function):
    """Eigen et al. (2014): per image, D = mean(g²) - lam·mean(g)² over its valid pixels, g = log p - log t.

    pred, target: (N, ...) positive depths; the loss is the mean of D over the images that have
    a valid pixel. Depths are floored at ``eps`` before the log; below the floor the slope is 0.
    """

    def forward(self, pred: Array, target: Array, *, mask: Array | None, lam: float, eps: float) -> Array:
        xp = get_array_module(pred)
        valid = xp.ones(pred.shape, dtype=bool) if mask is None else xp.broadcast_to(mask, pred.shape)
        self.p, self.t = xp.maximum(pred, eps), xp.maximum(target, eps)
        g = xp.where(valid, xp.log(self.p) - xp.log(self.t), pred.dtype.type(0))
        axes = tuple(range(1, pred.ndim))
        n = valid.sum(axis=axes, dtype=pred.dtype)
        self.n = xp.maximum(n, 1)                  # an image without valid pixels has g = 0, so D = 0
        self.images = float((n > 0).sum())
        self.mean_g = g.sum(axis=axes) / self.n
        per_image = (g * g).sum(axis=axes) / self.n - lam * self.mean_g ** 2
        self.g, self.valid, self.lam, self.eps = g, valid, lam, eps
        return per_image.sum() / self.images if self.images else per_image.sum()

    def backward(self, grad: Array) -> Grads:
        xp = get_array_module(grad)
        if not self.images:
            return xp.zeros_like(self.g), xp.zeros_like(self.g)
        shape = (-1,) + (1,) * (self.g.ndim - 1)
        n, mean_g = self.n.reshape(shape), self.mean_g.reshape(shape)
        dg = (2 * grad / self.images) * (self.g - self.lam * mean_g) / n
        zero = dg.dtype.type(0)
        gp = xp.where(self.valid & (self.p > self.eps), dg / self.p, zero)
        gt = xp.where(self.valid & (self.t > self.eps), -dg / self.t, zero)
        return gp, gt


def scale_invariant_log_loss(pred: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None = None,
                             lam: float = 0.5, *, eps: float = LOG_DEPTH_FLOOR) -> Tensor:
    """Eigen et al.'s scale-invariant log depth loss, averaged over images.

    pred, target: (N, 1, H, W) (or any (N, ...)) depths; mask: pred's shape or (N, H, W).
    Per image: D = mean(g²) - lam·mean(g)² over valid pixels, g = log pred - log target. lam=1 makes
    it blind to a global scale of pred, lam=0 is the plain log MSE. Depths below ``eps`` (1e-6) are
    raised to it before the log (no log 0; zero gradient there). Images without a valid pixel are
    left out of the mean; 0 with zero gradient if no image has one.
    """
    fname = "scale_invariant_log_loss"
    p = _checks.tensor_arg(fname, "pred", pred, floating=True)
    t = _checks.tensor_arg(fname, "target", target, floating=True)
    if p.ndim < 2:
        raise ValueError(f"{fname}: pred must be (N, 1, H, W) or (N, ...), got shape {tuple(p.shape)}")
    _checks.same_device(fname, pred=pred, target=target, mask=mask)
    _checks.same_shape(fname, "pred", p, "target", t)
    _checks.same_dtype(fname, "pred", p, "target", t)
    m = _checks.mask_arg(fname, mask, p.shape)
    lam = _checks.number_in(fname, "lam", lam, 0, 1)
    eps = _checks.number_in(fname, "eps", eps, 0, float("inf"))
    if eps <= 0:
        raise ValueError(f"{fname}: eps must be > 0 (the floor before the log), got {eps!r}")
    return ScaleInvariantLogLoss.apply(pred, target, mask=m, lam=lam, eps=eps)


# ---------------------------------------------------------------- surface normals
class MaskedReduce(Function):
    """A per-pixel loss (N, ...) reduced over the pixels where mask (same shape) is True."""

    def forward(self, loss: Array, *, mask: Array | None, reduction: str) -> Array:
        xp = get_array_module(loss)
        if mask is not None:
            loss = xp.where(mask, loss, loss.dtype.type(0))
        self.shape, self.mask, self.reduction = loss.shape, mask, reduction
        self.count = _valid_count(loss, mask)
        return _reduce(loss, reduction, self.count)

    def backward(self, grad: Array) -> Grads:
        xp = get_array_module(grad)
        g = xp.broadcast_to(_reduce_backward(grad, self), self.shape)
        return g.copy() if self.mask is None else xp.where(self.mask, g, g.dtype.type(0))


def cosine_normal_loss(pred: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None = None,
                       reduction: str = "mean") -> Tensor:
    """1 - cos(pred, target) per pixel, between predicted and true surface normals.

    pred, target: (N, 3, H, W) (need not be unit length: both are normalized, see F.normalize);
    mask: (N, H, W) or (N, 1, H, W). "mean" averages over valid pixels (0 with zero gradient when
    none is valid); "none" gives (N, H, W) with zeros at invalid pixels. 0 for equal directions,
    2 for opposite ones.
    """
    fname = "cosine_normal_loss"
    p = _checks.tensor_arg(fname, "pred", pred, floating=True)
    t = _checks.tensor_arg(fname, "target", target, floating=True)
    if p.ndim < 2 or p.shape[1] != 3:
        raise ValueError(f"{fname}: pred must hold normals with 3 channels, (N, 3, H, W), got shape {tuple(p.shape)}")
    _checks.same_device(fname, pred=pred, target=target, mask=mask)
    _checks.same_shape(fname, "pred", p, "target", t)
    _checks.same_dtype(fname, "pred", p, "target", t)
    _checks.reduction_arg(fname, reduction)
    m = _checks.mask_arg(fname, mask, p.shape[:1] + (1,) + p.shape[2:])
    m = None if m is None else m.reshape(p.shape[:1] + p.shape[2:])
    return _one_minus_cos(pred, target, m, reduction)


def _one_minus_cos(pred: Tensor | Array, target: Tensor | Array, mask: Array | None, reduction: str) -> Tensor:
    """1 - cos(pred, target) per pixel, reduced over the valid pixels: the loss once its arguments are checked.

    pred, target: Tensors (N, 3, ...), both normalized along axis 1 first (F.normalize), so neither need
    be unit length; mask: None or a boolean array (N, ...) (the loss's shape: no channel axis).
    Returns MaskedReduce's result: (N, ...) for "none", else a scalar.
    """
    cos = _sum(mul(normalize(pred, dim=1), normalize(target, dim=1)), axis=1)
    return MaskedReduce.apply(sub(1, cos), mask=mask, reduction=reduction)


# ---------------------------------------------------------------- edges and masks
def _sigmoid(x: Array) -> Array:
    xp = get_array_module(x)
    e = xp.exp(-abs(x))        # exp of a non-positive number only: no overflow for |x| ~ 1e4
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class BCEWithLogits(Function):
    """Binary cross-entropy of logits x against targets t in [0, 1], as PyTorch writes it:

        loss = (1 - t)·x + (1 + (pos_weight - 1)·t)·log(1 + exp(-x))

    with log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)), finite for any x.
    """

    def forward(self, x: Array, t: Array, *, weight: Array | None, pos_weight: Array | None, reduction: str) -> Array:
        xp = get_array_module(x)
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-abs(x)))
        self.scale = 1 + (pos_weight - 1) * t if pos_weight is not None else 1
        loss = (1 - t) * x + self.scale * softplus_neg
        if weight is not None:
            loss = loss * weight
        self.x, self.t, self.softplus_neg = x, t, softplus_neg
        self.weight, self.pos_weight, self.reduction, self.count = weight, pos_weight, reduction, x.size
        return _reduce(loss, reduction, self.count)

    def backward(self, grad: Array) -> Grads:
        g = _reduce_backward(grad, self)
        if self.weight is not None:
            g = g * self.weight
        gx = g * ((1 - self.t) - self.scale * _sigmoid(-self.x))      # = sigmoid(x) - t without pos_weight
        gt = None
        if self.needs_input_grad[1]:
            dt = -self.x if self.pos_weight is None else (self.pos_weight - 1) * self.softplus_neg - self.x
            gt = g * dt
        return gx, gt


def _elementwise_weight(fname: str, name: str, w: Tensor | Array | None, x: Array) -> Array | None:
    """A weight that broadcasts to x's shape (x itself is never broadcast), of x's dtype."""
    if w is None:
        return None
    a = _checks.tensor_arg(fname, name, w, floating=True)
    _checks.same_dtype(fname, "input", x, name, a)
    if _checks.broadcast_shapes(fname, a.shape, x.shape, names=(name, "input")) != tuple(x.shape):
        raise ValueError(f"{fname}: {name} of shape {tuple(a.shape)} must broadcast to input's shape "
                         f"{tuple(x.shape)} without enlarging it")
    return a


def binary_cross_entropy_with_logits(input: Tensor | Array, target: Tensor | Array,
                                     weight: Tensor | Array | None = None, pos_weight: Tensor | Array | None = None,
                                     reduction: str = "mean") -> Tensor:
    """Sigmoid + binary cross-entropy in one stable op (edge maps, foreground masks), as PyTorch's.

    input: logits, any shape; target: probabilities in [0, 1] of input's shape and dtype.
    weight: multiplies each element's loss; pos_weight: multiplies the positive term (for
    (N, C, H, W) pass shape (C, 1, 1), as in PyTorch). Both broadcast to input's shape and are
    constants (no gradient flows to them). Finite for logits of any size.
    """
    fname = "binary_cross_entropy_with_logits"
    x = _checks.tensor_arg(fname, "input", input, floating=True)
    t = _checks.tensor_arg(fname, "target", target, floating=True)
    _checks.same_device(fname, input=input, target=target, weight=weight, pos_weight=pos_weight)
    _checks.same_shape(fname, "input", x, "target", t)
    _checks.same_dtype(fname, "input", x, "target", t)
    w = _elementwise_weight(fname, "weight", weight, x)
    pw = _elementwise_weight(fname, "pos_weight", pos_weight, x)
    _checks.reduction_arg(fname, reduction)
    return BCEWithLogits.apply(input, target, weight=w, pos_weight=pw, reduction=reduction)
