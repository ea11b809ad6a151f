"""Layers with PyTorch's names, arguments, attribute names and weight layouts.

Each layer checks its arguments when built and its input when called, then calls ``minidense.functional``.
Weights: Linear (out_features, in_features); Conv2d (C_out, C_in, kH, kW); ConvTranspose2d
(C_in, C_out, kH, kW) -- so a state dict's arrays load into the same PyTorch modules unchanged.

Initialisation (documented choices):
- Conv2d, ConvTranspose2d: He (Kaiming) normal for ReLU networks, std = sqrt(2 / fan_in), bias 0.
  (PyTorch's default is kaiming_uniform_(a=sqrt(5)), a smaller scale; He's keeps a deep ReLU stack's
  activations from shrinking layer after layer.) ConvTranspose2d(init="bilinear") starts as bilinear upsampling.
- Linear: PyTorch's default, weight and bias U(-1/sqrt(in_features), 1/sqrt(in_features)).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from .. import _checks, backend
from .. import functional as F
from ..backend import Array
from ..tensor import IntOrTuple, Tensor
from . import init as _init
from .module import Module, Parameter
from .summary import Pair


def _empty(*shape: int) -> Array:
    return backend.xp_for("cpu").zeros(shape, dtype=backend.default_dtype)


def _input(layer: str, x: Tensor, ndim: int, channels: int | None = None, channel_name: str = "in_channels") -> Array:
    """Check a layer's input before any work: a floating-point Tensor of ``ndim`` dims and ``channels`` channels."""
    a = _checks.tensor_arg(layer, "input", x, floating=True)
    if a.ndim != ndim:
        raise ValueError(f"{layer}: input must be {ndim}-D ({'(N, C, H, W)' if ndim == 4 else ''}), "
                         f"got shape {tuple(a.shape)}")
    if channels is not None and a.shape[1] != channels:
        raise ValueError(f"{layer}: input has {a.shape[1]} channels (shape {tuple(a.shape)}) but the layer was "
                         f"built with {channel_name}={channels}")
    return a


def _conv_like_rf(rf: Pair, jump: Pair, kernel: Sequence[int], stride: Sequence[int],
                  dilation: Sequence[int]) -> tuple[Pair, Pair]:
    """rf += (k-1)·d·jump; jump *= s, per axis (see nn.summary)."""
    rf = tuple(r + (k - 1) * d * j for r, k, d, j in zip(rf, kernel, dilation, jump))
    return rf, tuple(j * s for j, s in zip(jump, stride))


# ---------------------------------------------------------------- simple layers
class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:   # accepts and ignores arguments, as PyTorch's
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        _checks.tensor_arg("ReLU", "input", x, floating=True)
        return F.relu(x)


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not isinstance(negative_slope, numbers.Real) or isinstance(negative_slope, bool):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, got {negative_slope!r}")
        self.negative_slope: float = float(negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def forward(self, x: Tensor) -> Tensor:
        _checks.tensor_arg("LeakyReLU", "input", x, floating=True)
        return F.leaky_relu(x, self.negative_slope)


class Flatten(Module):
    """(N, C, H, W) -> (N, C·H·W): dimensions start_dim..end_dim merged into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        for name, v in (("start_dim", start_dim), ("end_dim", end_dim)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                raise TypeError(f"Flatten: {name} must be an int, got {v!r}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, x: Tensor) -> Tensor:
        a = _checks.tensor_arg("Flatten", "input", x)
        n = max(a.ndim, 1)
        start, end = self.start_dim % n, self.end_dim % n
        if not (-n <= self.start_dim < n and -n <= self.end_dim < n) or start > end:
            raise ValueError(f"Flatten: start_dim={self.start_dim}, end_dim={self.end_dim} do not fit an input "
                             f"of shape {tuple(a.shape)}")
        return F.reshape(x, *a.shape[:start], -1, *a.shape[end + 1:])


class Linear(Module):
    """y = x @ weight.T + bias.  x: (..., in_features) -> (..., out_features); weight (out_features, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = _checks.positive_int("Linear", "in_features", in_features)
        self.out_features = _checks.positive_int("Linear", "out_features", out_features)
        bound = 1 / math.sqrt(self.in_features)
        self.weight = Parameter(_empty(self.out_features, self.in_features))
        _init.uniform_(self.weight, -bound, bound)
        if bias:
            self.bias = Parameter(_empty(self.out_features))
            _init.uniform_(self.bias, -bound, bound)
        else:
            self.register_parameter("bias", None)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, x: Tensor) -> Tensor:
        a = _checks.tensor_arg("Linear", "input", x, floating=True)
        if a.ndim < 1 or a.shape[-1] != self.in_features:
            raise ValueError(f"Linear: input's last dimension must be in_features={self.in_features}, "
                             f"got shape {tuple(a.shape)}")
        if a.dtype != self.weight.dtype:
            raise TypeError(f"Linear: input has dtype {a.dtype} but the layer's weight has dtype {self.weight.dtype} "
                            "(nothing is cast; convert the input, or the layer with .to(dtype=...))")
        y = F.matmul(x, F.transpose(self.weight))
        return y + self.bias if self.bias is not None else y

    def _receptive_field(self, rf: Pair, jump: Pair, in_shape: tuple[int, ...],
                         out_shape: tuple[int, ...]) -> tuple[Pair | None, Pair | None]:
        return None, None   # every output sees every input position


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1-p); in eval, identity."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p: float = float(p)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, training=self.training)


# ---------------------------------------------------------------- convolutions
class _ConvBase(Module):
    def __init__(self, layer: str, in_channels: int, out_channels: int, kernel_size: IntOrTuple, stride: IntOrTuple,
                 padding: IntOrTuple, dilation: IntOrTuple, bias: bool) -> None:
        super().__init__()
        self.in_channels = _checks.positive_int(layer, "in_channels", in_channels)
        self.out_channels = _checks.positive_int(layer, "out_channels", out_channels)
        self.kernel_size = _checks.int_tuple(layer, "kernel_size", kernel_size, 2, minimum=1)
        self.stride = _checks.int_tuple(layer, "stride", stride, 2, minimum=1)
        self.padding = _checks.int_tuple(layer, "padding", padding, 2, minimum=0)
        self.dilation = _checks.int_tuple(layer, "dilation", dilation, 2, minimum=1)
        self._has_bias = bool(bias)

    def _make_bias(self) -> None:
        if self._has_bias:
            self.bias = Parameter(_empty(self.out_channels))
        else:
            self.register_parameter("bias", None)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvBase):
    """2-D convolution. x: (N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = (H + 2p - d(k-1) - 1)//s + 1.

    weight: (out_channels, in_channels, kH, kW), He-normal; bias: (out_channels,), zeros.
    To step through the reference kernels (ops/conv.py, ops/im2col.py) in a debugger, turn the fast paths
    off first: ``md.fast_paths(False)`` (or ``with md.fast_paths(False): ...``, or ``MINIDENSE_FAST=0``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                 padding: IntOrTuple = 0, dilation: IntOrTuple = 1, bias: bool = True) -> None:
        super().__init__("Conv2d", in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
        self.weight = Parameter(_empty(self.out_channels, self.in_channels, *self.kernel_size))
        _init.kaiming_normal_(self.weight, mode="fan_in", nonlinearity="relu")
        self._make_bias()

    def forward(self, x: Tensor) -> Tensor:
        _input("Conv2d", x, 4, self.in_channels)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def _receptive_field(self, rf: Pair, jump: Pair, in_shape: tuple[int, ...],
                         out_shape: tuple[int, ...]) -> tuple[Pair | None, Pair | None]:
        return _conv_like_rf(rf, jump, self.kernel_size, self.stride, self.dilation)


class ConvTranspose2d(_ConvBase):
    """Transposed convolution (learned upsampling). x: (N, C_in, H, W) -> (N, C_out, H_out, W_out),
    H_out = (H - 1)·s - 2p + d(k-1) + output_padding + 1.

    weight: (in_channels, out_channels, kH, kW) (PyTorch's layout); bias (out_channels,), zeros.
    init: "kaiming" (He normal with PyTorch's fan_in = out_channels·kH·kW) or "bilinear" (FCN's: output
    channel c is input channel c upsampled bilinearly, needs in_channels == out_channels and a square kernel;
    k = 2s, padding = s/2 reproduces F.interpolate(mode="bilinear") away from the border).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                 padding: IntOrTuple = 0, output_padding: IntOrTuple = 0, dilation: IntOrTuple = 1, bias: bool = True,
                 init: str = "kaiming") -> None:
        super().__init__("ConvTranspose2d", in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
        self.output_padding = _checks.int_tuple("ConvTranspose2d", "output_padding", output_padding, 2, minimum=0)
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"ConvTranspose2d: output_padding must be smaller than stride or dilation, got "
                             f"output_padding={self.output_padding}, stride={self.stride}, dilation={self.dilation}")
        if init not in ("kaiming", "bilinear"):
            raise ValueError(f"ConvTranspose2d: init must be 'kaiming' or 'bilinear', got {init!r}")
        if init == "bilinear" and (self.in_channels != self.out_channels or
                                   self.kernel_size[0] != self.kernel_size[1]):
            raise ValueError(f"ConvTranspose2d: init='bilinear' needs in_channels == out_channels and a square "
                             f"kernel, got {self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}")
        self.weight = Parameter(_empty(self.in_channels, self.out_channels, *self.kernel_size))
        if init == "bilinear":
            _init.bilinear_upsampling_(self.weight)
        else:
            _init.kaiming_normal_(self.weight, mode="fan_in", nonlinearity="relu")
        self._make_bias()

    def forward(self, x: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        """output_size: optional (H_out, W_out) (or a full shape) picking output_padding, as in PyTorch."""
        a = _input("ConvTranspose2d", x, 4, self.in_channels)
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding_for(a.shape[2:], output_size)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.dilation)

    def _output_padding_for(self, in_hw: Sequence[int], output_size: Sequence[int]) -> tuple[int, ...]:
        size = tuple(output_size)[-2:]
        pads = []
        for axis, (n, want) in enumerate(zip(in_hw, size)):
            s, p, d, k = self.stride[axis], self.padding[axis], self.dilation[axis], self.kernel_size[axis]
            smallest = (n - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= want < smallest + max(s, d):
                raise ValueError(f"ConvTranspose2d: output_size {tuple(output_size)} cannot be reached from input "
                                 f"size {tuple(in_hw)}; sizes from {smallest} to {smallest + max(s, d) - 1} "
                                 f"are possible along axis {axis}")
            pads.append(want - smallest)
        return tuple(pads)

    def _receptive_field(self, rf: Pair, jump: Pair, in_shape: tuple[int, ...],
                         out_shape: tuple[int, ...]) -> tuple[Pair | None, Pair | None]:
        # Output o reads input i where o = i·s - p + t·d for a tap t < k. Taps that reach one output differ by
        # s/g in t (g = gcd(d, s)), so an output reads at most ceil(k·g/s) inputs, d/g input steps apart.
        rf = tuple(r + (-(-k * math.gcd(d, s) // s) - 1) * (d // math.gcd(d, s)) * j
                   for r, k, s, d, j in zip(rf, self.kernel_size, self.stride, self.dilation, jump))
        return rf, tuple(j / s for j, s in zip(jump, self.stride))


# ---------------------------------------------------------------- pooling and resampling
class MaxPool2d(Module):
    """Max over kH×kW windows. x: (N, C, H, W) -> (N, C, H_out, W_out), H_out = (H + 2p - k)//s + 1.

    stride defaults to kernel_size. With return_indices=True, forward returns (out, indices), the flat
    index (h·W + w) of each maximum in its input plane, as MaxUnpool2d wants it.
    """

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None, padding: IntOrTuple = 0, *,
                 return_indices: bool = False) -> None:
        super().__init__()
        self.kernel_size = _checks.int_tuple("MaxPool2d", "kernel_size", kernel_size, 2, minimum=1)
        self.stride = self.kernel_size if stride is None else _checks.int_tuple("MaxPool2d", "stride", stride, 2, 1)
        self.padding = _checks.int_tuple("MaxPool2d", "padding", padding, 2, minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"MaxPool2d: padding must be at most half the kernel size, got padding={self.padding}, "
                             f"kernel_size={self.kernel_size}")
        self.return_indices = bool(return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                + (", return_indices=True" if self.return_indices else ""))

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        _input("MaxPool2d", x, 4)
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, return_indices=self.return_indices)

    def _receptive_field(self, rf: Pair, jump: Pair, in_shape: tuple[int, ...],
                         out_shape: tuple[int, ...]) -> tuple[Pair | None, Pair | None]:
        return _conv_like_rf(rf, jump, self.kernel_size, self.stride, (1, 1))


class MaxUnpool2d(Module):
    """Inverse of MaxPool2d: each value goes back to where its maximum was, zeros elsewhere.

    forward(x, indices, output_size=None): x, indices (N, C, H, W) from MaxPool2d(return_indices=True);
    the output is (N, C, (H-1)·s - 2p + k, ...) unless output_size gives it.
    """

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None, padding: IntOrTuple = 0) -> None:
        super().__init__()
        self.kernel_size = _checks.int_tuple("MaxUnpool2d", "kernel_size", kernel_size, 2, minimum=1)
        self.stride = self.kernel_size if stride is None else _checks.int_tuple("MaxUnpool2d", "stride", stride, 2, 1)
        self.padding = _checks.int_tuple("MaxUnpool2d", "padding", padding, 2, minimum=0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x: Tensor, indices: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        a = _input("MaxUnpool2d", x, 4)
        idx = _checks.tensor_arg("MaxUnpool2d", "indices", indices)
        if tuple(idx.shape) != tuple(a.shape):
            raise ValueError(f"MaxUnpool2d: indices must have the input's shape {tuple(a.shape)}, "
                             f"got {tuple(idx.shape)}")
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size=output_size)

    def _receptive_field(self, rf: Pair, jump: Pair, in_shape: tuple[int, ...],
                         out_shape: tuple[int, ...]) -> tuple[Pair | None, Pair | None]:
        return rf, tuple(j / s for j, s in zip(jump, self.stride))


class Upsample(Module):
    """Resize (N, C, H, W) to a fixed ``size`` or by ``scale_factor``; mode "nearest" or "bilinear".

    align_corners (bilinear only) defaults to False, PyTorch's default.
    """

    def __init__(self, size: int | Sequence[int] | None = None, scale_factor: float | Sequence[float] | None = None,
                 mode: str = "nearest", align_corners: bool | None = None) -> None:
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample: give exactly one of size and scale_factor, got size={size!r}, "
                             f"scale_factor={scale_factor!r}")
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"Upsample: mode must be 'nearest' or 'bilinear', got {mode!r}")
        if mode == "nearest" and align_corners is not None:
            raise ValueError("Upsample: align_corners can only be set with mode='bilinear'")
        self.size = size if size is None else _checks.int_tuple("Upsample", "size", size, 2, minimum=1)
        if scale_factor is not None:
            if not isinstance(scale_factor, numbers.Real) or isinstance(scale_factor, bool) or scale_factor <= 0:
                raise ValueError(f"Upsample: scale_factor must be a positive number, got {scale_factor!r}")
            scale_factor = float(scale_factor)
        self.scale_factor, self.mode = scale_factor, mode
        self.align_corners = bool(align_corners) if mode == "bilinear" else None

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}" + (", align_corners=True" if self.align_corners else "")

    def forward(self, x: Tensor) -> Tensor:
        _input("Upsample", x, 4)
        if self.mode == "bilinear":
            return F.interpolate(x, self.size, self.scale_factor, mode="bilinear", align_corners=self.align_corners)
        return F.interpolate(x, self.size, self.scale_factor, mode="nearest")

    def _receptive_field(self, rf: Pair, jump: Pair, in_shape: tuple[int, ...],
                         out_shape: tuple[int, ...]) -> tuple[Pair | None, Pair | None]:
        from fractions import Fraction
        scale = [Fraction(o, i) for i, o in zip(in_shape[2:], out_shape[2:])]
        if self.mode == "bilinear":   # each output mixes two neighbouring inputs: one input step more
            rf = tuple(r + j for r, j in zip(rf, jump))
        return rf, tuple(j / s for j, s in zip(jump, scale))


# ---------------------------------------------------------------- normalisation
class BatchNorm2d(Module):
    """Normalise each channel by batch statistics (training) or running statistics (eval), then scale and shift.

    x: (N, C, H, W). Parameters weight (C,) = 1, bias (C,) = 0 (if affine); buffers running_mean (C,) = 0,
    running_var (C,) = 1, num_batches_tracked () = 0 (if track_running_stats), PyTorch's names.
    momentum=None uses a cumulative average (1 / num_batches_tracked), as PyTorch.
    """
    eps: float
    momentum: float | None
    affine: bool
    track_running_stats: bool
    weight: Parameter | None
    bias: Parameter | None

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        super().__init__()
        self.num_features = _checks.positive_int("BatchNorm2d", "num_features", num_features)
        if not isinstance(eps, numbers.Real) or eps <= 0:
            raise ValueError(f"BatchNorm2d: eps must be a positive number, got {eps!r}")
        if momentum is not None and (not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1):
            raise ValueError(f"BatchNorm2d: momentum must be in [0, 1] or None, got {momentum!r}")
        self.eps, self.momentum = float(eps), None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        xp = backend.xp_for("cpu")
        if self.affine:
            self.weight = Parameter(xp.ones(self.num_features, dtype=backend.default_dtype))
            self.bias = Parameter(_empty(self.num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(_empty(self.num_features)))
            self.register_buffer("running_var", Tensor(xp.ones(self.num_features, dtype=backend.default_dtype)))
            self.register_buffer("num_batches_tracked", Tensor(xp.zeros((), dtype=xp.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def forward(self, x: Tensor) -> Tensor:
        _input("BatchNorm2d", x, 4, self.num_features, channel_name="num_features")
        # batch statistics in training, and always when no running statistics are kept
        use_batch_stats = self.training or not self.track_running_stats
        momentum = 0.0 if self.momentum is None else self.momentum
        batches = None
        if self.training and self.track_running_stats:
            batches = int(self.num_batches_tracked.item()) + 1
            if self.momentum is None:   # cumulative average: the k-th batch gets weight 1/k
                momentum = 1.0 / batches
        # running statistics, when kept, are updated in training (in place, by F.batch_norm) and read in eval
        out = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                           training=use_batch_stats, momentum=momentum, eps=self.eps)
        if batches is not None:
            self.num_batches_tracked.data[...] = batches
        return out
