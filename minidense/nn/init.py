"""Weight initialisation, in place, with ``torch.nn.init``'s names; every draw comes from ``backend.rng``.

So ``md.manual_seed(0)`` followed by building a network gives the same weights every time.

Fans follow PyTorch: for a weight of shape (d0, d1, k...), fan_in = d1·prod(k) and fan_out = d0·prod(k).
(For a ConvTranspose2d weight (C_in, C_out, kH, kW) that makes fan_in = C_out·kH·kW, as PyTorch computes it.)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from ..backend import Array
from ..tensor import Tensor

_GAINS = {"linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv_transpose2d": 1.0, "sigmoid": 1.0,
          "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 0.75}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance steady through ``nonlinearity`` (PyTorch's table)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of "
                         f"{sorted(_GAINS) + ['leaky_relu']}")
    return _GAINS[nonlinearity]


def _check(fname: str, tensor: Tensor) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fname}: tensor must be a Tensor (or Parameter), got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{fname}: tensor must be floating-point, got dtype {tensor.dtype}")


def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight with at least 2 dimensions, as PyTorch computes them."""
    if tensor.ndim < 2:
        raise ValueError(f"fan_in_and_fan_out: needs a tensor with at least 2 dimensions, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(fname: str, tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fname}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values: Array | float) -> Tensor:
    """Write values into the tensor's own array (kept: anything holding it sees the new weights)."""
    tensor.data[...] = values
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b)."""
    _check("uniform_", tensor)
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    draw = backend.rng(tensor.device).random(tensor.shape, dtype=tensor.dtype)
    return _fill(tensor, draw * (b - a) + a)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std²)."""
    _check("normal_", tensor)
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    draw = backend.rng(tensor.device).standard_normal(tensor.shape, dtype=tensor.dtype)
    return _fill(tensor, draw * std + mean)


def constant_(tensor: Tensor, val: float) -> Tensor:
    _check("constant_", tensor)
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He initialisation, normal: N(0, std²) with std = gain / sqrt(fan); for ReLU (a=0) std = sqrt(2 / fan_in)."""
    _check("kaiming_normal_", tensor)
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan("kaiming_normal_", tensor, mode))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He initialisation, uniform: U(-bound, bound) with bound = gain · sqrt(3 / fan) (same variance as normal)."""
    _check("kaiming_uniform_", tensor)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan("kaiming_uniform_", tensor, mode))
    return uniform_(tensor, -bound, bound)


def bilinear_kernel(kernel_size: int) -> np.ndarray[Any, Any]:
    """The (k, k) kernel with which a stride-s transposed convolution (k = 2s, padding s/2) upsamples bilinearly.

    The 1-D profile is a tent: 1 - |i - center| / factor, with factor = ceil(k / 2); the 2-D kernel is the
    outer product (FCN's ``get_upsampling_weight``). For k = 4: [0.25, 0.75, 0.75, 0.25] per axis.
    """
    if not isinstance(kernel_size, int) or kernel_size < 1:
        raise ValueError(f"bilinear_kernel: kernel_size must be a positive int, got {kernel_size!r}")
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    tent = 1 - np.abs(np.arange(kernel_size) - center) / factor
    return np.outer(tent, tent)


def bilinear_upsampling_(weight: Tensor) -> Tensor:
    """Set a transposed-convolution weight (C, C, k, k) so that output channel c is input channel c upsampled.

    Every other (input, output) channel pair gets zeros: the layer starts as plain bilinear upsampling.
    """
    _check("bilinear_upsampling_", weight)
    if weight.ndim != 4 or weight.shape[0] != weight.shape[1] or weight.shape[2] != weight.shape[3]:
        raise ValueError(f"bilinear_upsampling_: weight must have shape (C, C, k, k) (as many input as output "
                         f"channels, a square kernel), got {weight.shape}")
    channels, k = weight.shape[0], weight.shape[2]
    values = np.zeros(weight.shape, dtype=weight.dtype)
    values[np.arange(channels), np.arange(channels)] = bilinear_kernel(k)
    return _fill(weight, backend.to_device(values, weight.device))
