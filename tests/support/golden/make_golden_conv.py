"""Write the golden files for convolution, pooling and resampling (tests/support/golden/conv_*.npz) from PyTorch.

Run by hand, in a side environment that has PyTorch (never a dependency of minidense):

    python3 -m venv /tmp/torchenv_conv && /tmp/torchenv_conv/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv_conv/bin/python tests/support/golden/make_golden_conv.py

Everything is float64 (indices int64). Each case is stored as ``<case>__<field>``: ``op`` (the
function's name, the same in torch.nn.functional and minidense.functional), ``kwargs`` (JSON),
``inputs`` (the names of the inputs) and the inputs themselves, the output ``out`` (and
``indices`` for max_pool2d), ``upstream`` and the gradients ``grad_<input>`` of ``sum(out * upstream)``.
tests/ops/test_golden_conv.py replays every case.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
gen = np.random.default_rng(2025)


def normal(*shape):
    return gen.standard_normal(shape)


def distinct(*shape):
    """No ties: a random permutation of evenly spaced values."""
    return gen.permutation(np.linspace(-2, 2, int(np.prod(shape)))).reshape(shape)


def run(op, inputs, **kwargs):
    """op(**inputs, **kwargs) in torch; returns everything the test needs to replay it."""
    tensors = {k: torch.tensor(v, requires_grad=v.dtype.kind == "f") for k, v in inputs.items()}
    result = getattr(F, op)(**tensors, **kwargs)
    out, indices = result if isinstance(result, tuple) else (result, None)
    upstream = gen.standard_normal(tuple(out.shape))
    (out * torch.tensor(upstream)).sum().backward()
    record = dict(inputs, op=np.array(op), kwargs=np.array(json.dumps(kwargs)), inputs=np.array(list(inputs)),
                  out=out.detach().numpy(), upstream=upstream)
    if indices is not None:
        record["indices"] = indices.numpy()
    record.update({f"grad_{k}": t.grad.numpy() for k, t in tensors.items() if t.requires_grad})
    return record


def convolution_cases():
    c = {}
    c["conv3x3_same"] = run("conv2d", dict(input=normal(2, 3, 6, 5), weight=normal(4, 3, 3, 3), bias=normal(4)),
                            padding=1)
    c["conv_stride2_rect"] = run("conv2d", dict(input=normal(2, 2, 7, 8), weight=normal(3, 2, 3, 2), bias=normal(3)),
                                 stride=2, padding=1)
    c["conv_dilated"] = run("conv2d", dict(input=normal(1, 2, 9, 7), weight=normal(2, 2, 3, 3)),
                            stride=[1, 2], padding=[2, 0], dilation=2)
    c["conv_1x1"] = run("conv2d", dict(input=normal(2, 3, 4, 5), weight=normal(2, 3, 1, 1), bias=normal(2)))
    c["conv_5x5_stride3"] = run("conv2d", dict(input=normal(1, 2, 9, 10), weight=normal(2, 2, 5, 5)),
                                stride=3, padding=2, dilation=[1, 2])
    c["conv1d"] = run("conv1d", dict(input=normal(2, 2, 11), weight=normal(3, 2, 3), bias=normal(3)),
                      stride=2, padding=1, dilation=2)
    # the lecture's "3x3 transpose convolution, stride 2, pad 1"
    c["tconv_3x3_s2_p1"] = run("conv_transpose2d", dict(input=normal(2, 3, 3, 4), weight=normal(3, 2, 3, 3),
                                                        bias=normal(2)), stride=2, padding=1, output_padding=1)
    c["tconv_rect"] = run("conv_transpose2d", dict(input=normal(1, 2, 4, 3), weight=normal(2, 3, 4, 3)),
                          stride=[2, 3], padding=[1, 0], output_padding=[0, 2])
    c["tconv_dilated"] = run("conv_transpose2d", dict(input=normal(2, 2, 4, 4), weight=normal(2, 2, 3, 2),
                                                      bias=normal(2)), padding=1, output_padding=1, dilation=2)
    c["tconv_2x2_s2"] = run("conv_transpose2d", dict(input=normal(1, 3, 3, 3), weight=normal(3, 2, 2, 2)), stride=2)
    c["tconv1d"] = run("conv_transpose1d", dict(input=normal(2, 2, 5), weight=normal(2, 3, 3), bias=normal(3)),
                       stride=2, padding=1, output_padding=1)
    c["tconv1d_lecture"] = run("conv_transpose1d", dict(input=normal(1, 1, 4), weight=normal(1, 1, 3)))
    return c


def pooling_cases():
    c = {}
    c["max_2x2"] = run("max_pool2d", dict(input=distinct(2, 3, 6, 5)), kernel_size=2, return_indices=True)
    c["max_3x3_s2_p1"] = run("max_pool2d", dict(input=distinct(2, 2, 7, 6)), kernel_size=3, stride=2, padding=1,
                             return_indices=True)
    c["max_rect"] = run("max_pool2d", dict(input=distinct(1, 2, 6, 7)), kernel_size=[3, 2], stride=[1, 2],
                        padding=[1, 0], return_indices=True)
    c["max_dilated"] = run("max_pool2d", dict(input=distinct(1, 2, 7, 7)), kernel_size=2, stride=1, dilation=2,
                           return_indices=True)
    # ties everywhere: both take the first maximum in the window
    c["max_ties"] = run("max_pool2d", dict(input=np.round(normal(1, 2, 6, 6))), kernel_size=3, stride=2,
                        padding=1, return_indices=True)
    x, idx = c["max_2x2"]["out"], c["max_2x2"]["indices"]
    c["unpool_output_size"] = run("max_unpool2d", dict(input=x, indices=idx), kernel_size=2, output_size=[6, 5])
    x, idx = c["max_3x3_s2_p1"]["out"], c["max_3x3_s2_p1"]["indices"]
    c["unpool_overlap"] = run("max_unpool2d", dict(input=x, indices=idx), kernel_size=3, stride=2, padding=1,
                              output_size=[7, 6])
    c["avg_3x3_s2_p1"] = run("avg_pool2d", dict(input=normal(2, 2, 7, 6)), kernel_size=3, stride=2, padding=1)
    c["avg_no_pad_count"] = run("avg_pool2d", dict(input=normal(1, 2, 7, 6)), kernel_size=3, stride=2, padding=1,
                                count_include_pad=False)
    c["avg_2x2"] = run("avg_pool2d", dict(input=normal(1, 3, 6, 4)), kernel_size=2)
    return c


def resampling_cases():
    c = {}
    x = normal(2, 2, 4, 3)
    c["nearest_size"] = run("interpolate", dict(input=x), size=[7, 5], mode="nearest")
    c["nearest_x2"] = run("interpolate", dict(input=x), scale_factor=2, mode="nearest")
    c["nearest_x1_5"] = run("interpolate", dict(input=normal(1, 2, 5, 7)), scale_factor=1.5, mode="nearest")
    c["nearest_down"] = run("interpolate", dict(input=normal(1, 2, 7, 6)), size=[3, 4], mode="nearest")
    for corners in (False, True):
        tag = "corners" if corners else "centres"
        c[f"bilinear_size_{tag}"] = run("interpolate", dict(input=x), size=[7, 9], mode="bilinear",
                                        align_corners=corners)
        c[f"bilinear_x2_{tag}"] = run("interpolate", dict(input=x), scale_factor=2, mode="bilinear",
                                      align_corners=corners)
        c[f"bilinear_down_{tag}"] = run("interpolate", dict(input=normal(1, 2, 8, 7)), scale_factor=0.5,
                                        mode="bilinear", align_corners=corners)
    c["bilinear_x1_7"] = run("interpolate", dict(input=normal(1, 1, 5, 4)), scale_factor=1.7, mode="bilinear")
    c["bilinear_to_one"] = run("interpolate", dict(input=normal(1, 1, 3, 4)), size=[1, 5], mode="bilinear",
                               align_corners=True)
    return c


def save(name, cases):
    flat = {f"{case}__{field}": np.asarray(v) for case, rec in cases.items() for field, v in rec.items()}
    np.savez_compressed(os.path.join(HERE, f"conv_{name}.npz"), **flat)


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    save("convolution", convolution_cases())
    save("pooling", pooling_cases())
    save("resampling", resampling_cases())
    print(f"wrote tests/support/golden/conv_*.npz with torch {torch.__version__}")
