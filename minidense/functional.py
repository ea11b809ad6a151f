"""The public ``F.*`` surface, with PyTorch's names and argument conventions.

    import minidense.functional as F
    y = F.conv2d(x, w, stride=2, padding=1)

Each function checks its arguments (``minidense/_checks.py``) and then applies
the op from ``minidense/ops/``, where forward and backward sit side by side.
"""
from .ops.arith import matmul
from .ops.conv import col2im, conv1d, conv2d, conv_transpose1d, conv_transpose2d, im2col
from .ops.conv_matrix import conv2d_matrix
from .ops.elementwise import clip, exp, leaky_relu, log, relu, sigmoid, sqrt, tanh, where
from .ops.loss import (
    binary_cross_entropy_with_logits,
    cosine_normal_loss,
    cross_entropy,
    l1_loss,
    log_softmax,
    mse_loss,
    nll_loss,
    scale_invariant_log_loss,
    smooth_l1_loss,
    softmax,
)
from .ops.norm import batch_norm, dropout, normalize
from .ops.pool import avg_pool2d, max_pool2d, max_unpool2d
from .ops.reduce import max, mean, min, sum
from .ops.resample import bed_of_nails, interpolate, upsample_bilinear, upsample_nearest
from .ops.shape import concat, pad, permute, reshape, stack, transpose

__all__ = [
    # core
    "matmul", "clip", "exp", "leaky_relu", "log", "relu", "sigmoid", "sqrt", "tanh", "where",
    "max", "mean", "min", "sum", "concat", "pad", "permute", "reshape", "stack", "transpose",
    # convolution
    "im2col", "col2im", "conv1d", "conv2d", "conv2d_matrix", "conv_transpose1d", "conv_transpose2d",
    # pooling and upsampling
    "max_pool2d", "max_unpool2d", "avg_pool2d", "interpolate", "upsample_nearest", "upsample_bilinear",
    "bed_of_nails",
    # losses
    "log_softmax", "softmax", "cross_entropy", "nll_loss", "l1_loss", "mse_loss", "smooth_l1_loss",
    "scale_invariant_log_loss", "cosine_normal_loss", "binary_cross_entropy_with_logits",
    # normalization
    "normalize", "batch_norm", "dropout",
]
