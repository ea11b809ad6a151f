"""Declarations of convolution, pooling and resampling (see minidense/opinfo/core.py), with their NumPy references;
and of nn.DataParallel, over a convolution.

The references are the textbook loops, vectorized only over the batch and channels: windows of the padded
input (sliding_window_view), one kernel tap at a time for the transposed convolution.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import functional as F
from .. import nn
from ..ops import fastpaths, parallel
from .core import ErrorInput, OpInfo, Sample, error, normal


def _windows(x, k, stride, padding, dilation, fill=0.0):
    """(N, C, out..., k...) windows of x (N, C, spatial...) padded with ``fill``; k, stride... per spatial axis."""
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=fill)
    span = tuple((kk - 1) * d + 1 for kk, d in zip(k, dilation))
    w = sliding_window_view(x, span, axis=tuple(range(2, 2 + nd)))
    w = w[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)]
    return w[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]


def _tuple(v, nd):
    return (v,) * nd if np.isscalar(v) else tuple(v)


def conv_reference(input, weight, bias=None, stride=1, padding=0, dilation=1):
    nd = input.ndim - 2
    w = _windows(input, weight.shape[2:], _tuple(stride, nd), _tuple(padding, nd), _tuple(dilation, nd))
    letters = "hw"[:nd] if nd == 2 else "h"
    taps = "ij"[:nd]
    out = np.einsum(f"nc{letters}{taps},oc{taps}->no{letters}", w, weight)
    return out if bias is None else out + bias.reshape((-1,) + (1,) * nd)


def conv_transpose_reference(input, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1):
    """Each input pixel scatters its kernel-weighted values into the output, one kernel tap at a time."""
    nd = input.ndim - 2
    s, p, op, d = (_tuple(v, nd) for v in (stride, padding, output_padding, dilation))
    k = weight.shape[2:]
    full = [(n - 1) * si + di * (ki - 1) + 1 + opi for n, si, di, ki, opi in zip(input.shape[2:], s, d, k, op)]
    out = np.zeros(input.shape[:1] + weight.shape[1:2] + tuple(full))
    for tap in np.ndindex(*k):
        where = tuple(slice(t * di, t * di + (n - 1) * si + 1, si) for t, di, n, si in zip(tap, d, input.shape[2:], s))
        out[(slice(None), slice(None)) + where] += np.einsum("nc...,co->no...", input, weight[(Ellipsis,) + tap])
    out = out[(slice(None), slice(None)) + tuple(slice(pi, f - pi) for pi, f in zip(p, full))]
    return out if bias is None else out + bias.reshape((-1,) + (1,) * nd)


def max_pool_reference(input, kernel_size, stride=None, padding=0, dilation=1):
    k = _tuple(kernel_size, 2)
    w = _windows(input, k, _tuple(stride or kernel_size, 2), _tuple(padding, 2), _tuple(dilation, 2), fill=-np.inf)
    return w.max(axis=(-2, -1))


def avg_pool_reference(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    k, s, p = _tuple(kernel_size, 2), _tuple(stride or kernel_size, 2), _tuple(padding, 2)
    total = _windows(input, k, s, p, (1, 1)).sum(axis=(-2, -1))
    count = k[0] * k[1] if count_include_pad else _windows(np.ones_like(input), k, s, p, (1, 1)).sum(axis=(-2, -1))
    return total / count


def nearest_reference(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """PyTorch's nearest: output pixel i reads input pixel floor(i · in / out)."""
    out = size or tuple(int(n * scale_factor) for n in input.shape[2:])
    rows = np.floor(np.arange(out[0]) * input.shape[2] / out[0]).astype(int)
    cols = np.floor(np.arange(out[1]) * input.shape[3] / out[1]).astype(int)
    return input[:, :, rows][:, :, :, cols]


def bed_of_nails_reference(input, scale_factor=2):
    n, c, h, w = input.shape
    out = np.zeros((n, c, h * scale_factor, w * scale_factor))
    out[:, :, ::scale_factor, ::scale_factor] = input
    return out


def _geometry(names):
    """The bad strides, paddings, dilations and kernel sizes every convolution and pooling refuses."""
    found = []
    for name in names:
        found += [error(f"{name}=0", **{name: 0}) if name != "padding" else error("padding=bool", padding=True),
                  error(f"{name}<0", **{name: -1}), error(f"{name}=float", **{name: 2.0}),
                  error(f"{name}=3-tuple", **{name: (1, 1, 1)})]
        if name != "padding":
            found.append(error(f"{name}=bool", **{name: True}))
    return found


def _big_kernel(kw):
    w, side = kw["weight"], kw["input"].shape[-1]
    return {**kw, "weight": np.zeros(w.shape[:2] + (side + 3,) * (w.ndim - 2), dtype=w.dtype)}, ("kernel", "input size")


def _conv_samples(transposed, nd):
    def samples(rng):
        def shapes(cin, cout, k):
            return ((cin, cout) if transposed else (cout, cin)) + (k,) * nd
        side = (5,) * nd
        found = [Sample("3x3, padding 1", input=normal(rng, 2, 3, *side), weight=normal(rng, *shapes(3, 4, 3)),
                        bias=normal(rng, 4), padding=1),
                 Sample("stride 2, no bias", input=normal(rng, 1, 2, *side), weight=normal(rng, *shapes(2, 3, 3)),
                        stride=2),
                 Sample("dilation 2", input=normal(rng, 1, 2, *(6,) * nd), weight=normal(rng, *shapes(2, 2, 2)),
                        bias=normal(rng, 2), dilation=2, padding=1),
                 # the fast paths' own kernels (ops/conv_fast.py): a 1×1 score layer's batched products, and
                 # tiling windows (stride = kernel size), whose col2im copies instead of adding
                 Sample("1x1", input=normal(rng, 2, 3, *side), weight=normal(rng, *shapes(3, 2, 1)),
                        bias=normal(rng, 2)),
                 Sample("2x2 stride 2", input=normal(rng, 2, 2, *(4,) * nd), weight=normal(rng, *shapes(2, 3, 2)),
                        bias=normal(rng, 3), stride=2)]
        if transposed:
            found.append(Sample("output padding", input=normal(rng, 1, 2, *(3,) * nd),
                                weight=normal(rng, *shapes(2, 2, 3)), bias=normal(rng, 2), stride=2, padding=1,
                                output_padding=1))
        return found
    return samples


def _conv(name, transposed, nd):
    errors = _geometry(("stride", "padding", "dilation"))
    if transposed:
        errors += [error("output_padding>=stride", output_padding=1), error("padding too large", padding=9)]
    else:
        errors.append(ErrorInput("kernel>input", _big_kernel))
    return OpInfo(name, getattr(F, name), inputs=("input", "weight", "bias"),
                  functions=("ConvTranspose2d" if transposed else "Conv2d",), samples=_conv_samples(transposed, nd),
                  reference=conv_transpose_reference if transposed else conv_reference,
                  layer={"conv2d": "Conv2d", "conv_transpose2d": "ConvTranspose2d"}.get(name),
                  export=("ConvTranspose" if transposed else "Conv") if nd == 2 else None, errors=errors)


def _unpool_samples(rng):
    found = []
    # windows that do not overlap: overlapping ones can share a switch, where the unpooled value is one of
    # several (undefined, as in PyTorch) while the gradient reaches each
    for note, shape, k, s in (("2x2", (2, 2, 4, 4), 2, None), ("3x3 stride 3, a ragged edge", (1, 2, 7, 6), 3, 3)):
        x = normal(rng, *shape)
        out, idx = F.max_pool2d(x, k, s, return_indices=True)
        found.append(Sample(note, input=normal(rng, *out.shape), indices=idx.numpy(), kernel_size=k, stride=s,
                            output_size=shape[2:]))
    return found


def _pool_samples(rng):
    return [Sample("2x2", input=normal(rng, 2, 3, 4, 4), kernel_size=2),
            Sample("3x3 stride 2 padding 1", input=normal(rng, 1, 2, 5, 5), kernel_size=3, stride=2, padding=1),
            Sample("odd size", input=normal(rng, 1, 1, 5, 7), kernel_size=2)]


def _pool_errors():
    big = ErrorInput("kernel>input", lambda kw: ({**kw, "kernel_size": kw["input"].shape[-1] + 3, "padding": 1},
                                                 ("kernel", "input size")))
    return _geometry(("kernel_size", "stride", "padding")) + [big, error("padding>kernel/2", padding=2, kernel_size=2)]


def _resample_errors():
    return [error("size=0", size=(0, 3)), error("size=float", size=(2.5, 3)),
            ErrorInput("scale<0", lambda kw: ({**kw, "size": None, "scale_factor": -2}, ("scale_factor", "-2"))),
            ErrorInput("scale tiny", lambda kw: ({**kw, "size": None, "scale_factor": 0.01}, ("scale_factor", "0.01")))]


def _cols_shape(kw):
    bad = kw["cols"][:-1]
    return {**kw, "cols": bad}, ("cols", str(bad.shape))


def _switch_outside(kw):
    idx = kw["indices"].copy()
    idx.reshape(-1)[0] = kw["indices"].max() + 10**6
    return {**kw, "indices": idx}, ("indices", str(kw["indices"].max() + 10**6))


class _ConvTanh(nn.Module):
    """tanh(conv2d(x, weight, bias, padding=1)), its parameters the caller's own tensors (so that a gradient
    check's leaves get the gradients)."""

    def __init__(self, weight, bias):
        super().__init__()
        self._parameters.update(weight=weight, bias=bias)

    def forward(self, x):
        return F.tanh(F.conv2d(x, self.weight, self.bias, padding=1))


def data_parallel(x, weight, bias):
    """nn.DataParallel over _ConvTanh, on two threads with the fast paths on: the batch is sliced and the
    slices' outputs joined (``_Join`` in the graph)."""
    threads = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        with fastpaths.fast_paths(True):
            return nn.DataParallel(_ConvTanh(weight, bias))(x)
    finally:
        parallel.set_num_threads(threads)


OPS = [
    _conv("conv2d", False, 2), _conv("conv1d", False, 1),
    _conv("conv_transpose2d", True, 2), _conv("conv_transpose1d", True, 1),
    OpInfo("im2col", F.im2col, inputs=("x",), functions=("Im2col",),
           samples=lambda rng: [Sample("3x3 padding 1", x=normal(rng, 2, 2, 5, 5), kernel_size=3, padding=1),
                                Sample("2x2 stride 2", x=normal(rng, 1, 3, 4, 6), kernel_size=2, stride=2)],
           errors=_geometry(("kernel_size", "stride", "padding", "dilation"))),
    OpInfo("col2im", F.col2im, inputs=("cols",), functions=("Col2im",),
           samples=lambda rng: [Sample("3x3 padding 1", cols=normal(rng, 18, 50), input_shape=(2, 2, 5, 5),
                                       kernel_size=3, padding=1)],
           errors=[error("input_shape=str", input_shape="abc"), ErrorInput("cols shape", _cols_shape)]),
    OpInfo("conv2d_matrix", F.conv2d_matrix, inputs=("weight",), functions=("ConvMatrix",),
           samples=lambda rng: [Sample("4x4, padding 1", weight=normal(rng, 2, 1, 3, 3), input_size=(4, 4), padding=1),
                                Sample("stride 2", weight=normal(rng, 1, 2, 2, 2), input_size=(5, 4), stride=2)],
           errors=[error("stride=0", stride=0), error("input_size=0", input_size=(0, 3)),
                   ErrorInput("kernel>input", lambda kw: ({**kw, "input_size": (1, 1), "padding": 0},
                                                          ("kernel", "1")))]),
    OpInfo("max_pool2d", F.max_pool2d, inputs=("input",), functions=("GatherSwitches",), samples=_pool_samples,
           call=lambda input, **kw: F.max_pool2d(input, **kw),     # looked up at call time: to_onnx watches F
           reference=max_pool_reference, layer="MaxPool2d", export="MaxPool",
           errors=_pool_errors()),
    OpInfo("max_unpool2d", F.max_unpool2d, inputs=("input", "indices"), functions=("ScatterSwitches",),
           samples=_unpool_samples, layer="MaxUnpool2d",
           errors=[ErrorInput("switch outside plane", _switch_outside), error("kernel_size=0", kernel_size=0),
                   error("output_size", output_size=(99, 99))]),
    OpInfo("avg_pool2d", F.avg_pool2d, inputs=("input",), functions=("AvgPool2d",), export="AveragePool",
           samples=lambda rng: _pool_samples(rng) + [
               Sample("padding left out of the mean", input=normal(rng, 1, 2, 5, 5), kernel_size=3, stride=2,
                      padding=1, count_include_pad=False)],
           reference=avg_pool_reference,
           errors=_pool_errors()),
    OpInfo("interpolate", F.interpolate, inputs=("input",), functions=("Interpolate",), export="Resize",
           layer="Upsample",
           samples=lambda rng: [Sample("nearest x2", input=normal(rng, 1, 2, 3, 4), scale_factor=2),
                                Sample("nearest to a size", input=normal(rng, 1, 2, 3, 4), size=(5, 7)),
                                Sample("bilinear", input=normal(rng, 1, 2, 3, 4), scale_factor=2, mode="bilinear"),
                                Sample("bilinear, corners aligned", input=normal(rng, 1, 1, 3, 3), size=(5, 4),
                                       mode="bilinear", align_corners=True)],
           reference=lambda input, mode="nearest", **kw: nearest_reference(input, **kw) if mode == "nearest" else None,
           errors=_resample_errors() + [error("mode=cubic", mode="cubic")]),
    OpInfo("upsample_nearest", F.upsample_nearest, inputs=("input",), functions=("Interpolate",), export="Resize",
           samples=lambda rng: [Sample("x2", input=normal(rng, 1, 2, 3, 4), scale_factor=2),
                                Sample("to a size", input=normal(rng, 1, 2, 3, 3), size=(4, 5))],
           reference=nearest_reference, errors=_resample_errors(), error_names=("upsample_nearest", "interpolate")),
    OpInfo("upsample_bilinear", F.upsample_bilinear, inputs=("input",), functions=("Interpolate",), export="Resize",
           samples=lambda rng: [Sample("x2", input=normal(rng, 1, 2, 3, 4), scale_factor=2)],
           errors=_resample_errors(), error_names=("upsample_bilinear", "interpolate")),
    OpInfo("bed_of_nails", F.bed_of_nails, inputs=("input",), functions=("BedOfNails",),
           samples=lambda rng: [Sample("x2", input=normal(rng, 1, 2, 3, 3)),
                                Sample("x3", input=normal(rng, 2, 1, 2, 3), scale_factor=3)],
           reference=bed_of_nails_reference, errors=[error("scale_factor=0", scale_factor=0)]),
    OpInfo("data_parallel", data_parallel, inputs=("x", "weight", "bias"), functions=("_Join",),
           layer="DataParallel", doc="minidense.nn.DataParallel",
           samples=lambda rng: [Sample("3 images in 2 slices", x=normal(rng, 3, 2, 4, 5),
                                       weight=normal(rng, 3, 2, 3, 3), bias=normal(rng, 3)),
                                Sample("2 images, 1 channel", x=normal(rng, 2, 1, 3, 3),
                                       weight=normal(rng, 2, 1, 3, 3), bias=normal(rng, 2))],
           reference=lambda x, weight, bias: np.tanh(conv_reference(x, weight, bias, padding=1))),
]
