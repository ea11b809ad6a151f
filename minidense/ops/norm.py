"""Normalization: unit vectors along an axis, batch normalization, dropout.

    y = F.batch_norm(x, running_mean, running_var, weight, bias, training=True)   # x: (N, C, H, W)
"""
from __future__ import annotations

import numbers

from .. import _checks
from ..backend import Array, device_of, rng
from ..backend import get_array_module as _xp
from ..tensor import Function, Grads, Tensor

__all__ = ["normalize", "batch_norm", "dropout"]


# ---------------------------------------------------------------- normalize
class Normalize(Function):
    """x / max(||x||, eps) along ``axis`` (PyTorch's F.normalize with p=2)."""

    def forward(self, x: Array, *, axis: int, eps: float) -> Array:
        xp = _xp(x)
        norm = xp.sqrt(xp.sum(x * x, axis=axis, keepdims=True))
        self.active = norm > eps           # where the floor eps is not in use, the norm depends on x
        self.denom = xp.maximum(norm, x.dtype.type(eps))
        self.out = x / self.denom
        self.axis = axis
        return self.out

    def backward(self, grad: Array) -> Grads:
        xp = _xp(grad)
        # remove the gradient's component along the output (it cannot change a unit vector's length)
        along = xp.sum(grad * self.out, axis=self.axis, keepdims=True)
        return (grad - self.out * xp.where(self.active, along, along.dtype.type(0))) / self.denom


def normalize(x: Tensor | Array, dim: int | None = None, eps: float = 1e-12, *, axis: int | None = None) -> Tensor:
    """Scale vectors along ``dim`` (default 1, the channel axis) to unit length: x / max(||x||₂, eps).

    x: (N, 3, H, W) normals, or any shape. A vector shorter than eps is divided by eps instead
    (a zero vector stays zero), as in PyTorch.
    """
    a = _checks.tensor_arg("normalize", "input", x, floating=True)
    axis = _checks.axis_arg("normalize", axis, dim)
    axis = 1 if axis is None else axis
    if isinstance(axis, tuple):
        raise TypeError(f"normalize: dim must be one int, got {axis!r}")
    _checks.axes_in_range("normalize", axis, a.ndim)
    eps = _checks.number_in("normalize", "eps", eps, 0, float("inf"))
    return Normalize.apply(x, axis=axis % a.ndim, eps=eps)


# ---------------------------------------------------------------- batch norm
class BatchNorm(Function):
    """y = weight · (x - mean) / sqrt(var + eps) + bias, per channel of x: (N, C) or (N, C, H, W).

    Training: mean and (biased) var of the batch, over every axis except the channel axis 1;
    the running statistics are updated in place. Evaluation: the running statistics.
    """

    def forward(self, x: Array, weight: Array, bias: Array, *, running_mean: Array | None,
                running_var: Array | None, training: bool, momentum: float, eps: float) -> Array:
        xp = _xp(x)
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)            # a per-channel vector, broadcast against x
        if training:
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            n = x.size // x.shape[1]
            if running_mean is not None:   # PyTorch's rule; the running variance is the unbiased one
                running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            if running_var is not None:
                running_var[...] = (1 - momentum) * running_var + momentum * var * (n / (n - 1))
        else:
            mean, var = running_mean, running_var
        self.inv_std = (1 / xp.sqrt(var + eps)).reshape(shape)
        self.xhat = (x - mean.reshape(shape)) * self.inv_std
        self.weight, self.axes, self.training = weight.reshape(shape), axes, training
        return self.xhat * self.weight + bias.reshape(shape)

    def backward(self, grad: Array) -> Grads:
        axes, xhat = self.axes, self.xhat
        gx = None
        if self.needs_input_grad[0]:
            g = grad * self.weight
            if self.training:
                # the batch's mean and variance depend on every x: subtract their share of the gradient
                g = g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True)
            gx = g * self.inv_std
        gw = (grad * xhat).sum(axis=axes) if self.needs_input_grad[1] else None
        gb = grad.sum(axis=axes) if self.needs_input_grad[2] else None
        return gx, gw, gb


def batch_norm(x: Tensor | Array, running_mean: Tensor | Array | None, running_var: Tensor | Array | None,
               weight: Tensor | Array | None = None, bias: Tensor | Array | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization, as PyTorch's F.batch_norm.

    x: (N, C) or (N, C, H, W); running_mean, running_var: (C,) Tensors or arrays of x's dtype,
    updated IN PLACE in training (new = (1 - momentum)·old + momentum·batch statistic; the variance
    is the unbiased one), read in evaluation; either may be None in training. weight, bias: (C,)
    affine parameters, or None (1 and 0).
    """
    fname = "batch_norm"
    a = _checks.tensor_arg(fname, "input", x, floating=True)
    if a.ndim < 2:
        raise ValueError(f"{fname}: input must be (N, C) or (N, C, H, W), got shape {tuple(a.shape)}")
    if not isinstance(training, bool):
        raise TypeError(f"{fname}: training must be True or False, got {training!r}")
    _checks.same_device(fname, input=x, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    n_channels = a.shape[1]
    rm = _checks.channel_vector(fname, "running_mean", running_mean, n_channels, dtype=a.dtype, writable=training)
    rv = _checks.channel_vector(fname, "running_var", running_var, n_channels, dtype=a.dtype, writable=training)
    _checks.channel_vector(fname, "weight", weight, n_channels, dtype=a.dtype)
    _checks.channel_vector(fname, "bias", bias, n_channels, dtype=a.dtype)
    momentum = _checks.number_in(fname, "momentum", momentum, 0, 1)
    eps = _checks.number_in(fname, "eps", eps, 0, float("inf"))
    if training and a.size // max(n_channels, 1) < 2:
        raise ValueError(f"{fname}: expected more than 1 value per channel when training, got input shape "
                         f"{tuple(a.shape)}")
    if not training and (rm is None or rv is None):
        raise ValueError(f"{fname}: running_mean and running_var are needed when training=False, got None")
    xp = _xp(a)
    weight = weight if weight is not None else xp.ones(n_channels, dtype=a.dtype)
    bias = bias if bias is not None else xp.zeros(n_channels, dtype=a.dtype)
    return BatchNorm.apply(x, weight, bias, running_mean=rm, running_var=rv, training=training,
                           momentum=momentum, eps=eps)


# ---------------------------------------------------------------- dropout
class Dropout(Function):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (the mean is kept)."""

    def forward(self, x: Array, *, p: float) -> Array:
        xp = _xp(x)
        keep = rng(device_of(x)).random(x.shape, dtype=xp.float32) >= p
        self.scale = xp.where(keep, x.dtype.type(1 / (1 - p)), x.dtype.type(0))
        return x * self.scale

    def backward(self, grad: Array) -> Grads:
        return grad * self.scale


def dropout(x: Tensor | Array, p: float = 0.5, training: bool = True) -> Tensor:
    """Dropout drawn from the package's random source (``md.manual_seed`` makes it repeatable).

    x: any shape; p in [0, 1). With training=False (or p=0) x comes back unchanged.
    """
    a = _checks.tensor_arg("dropout", "input", x, floating=True)
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p < 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1), got {p!r}")
    if not isinstance(training, bool):
        raise TypeError(f"dropout: training must be True or False, got {training!r}")
    if not training or p == 0:
        return x if isinstance(x, Tensor) else Tensor(a)
    return Dropout.apply(x, p=float(p))
