"""The public ``F.*`` surface, with PyTorch's names and argument conventions.

    import minidense.functional as F
    y = F.conv2d(x, w, stride=2, padding=1)

Each function checks its arguments (``minidense/_checks.py``) and then applies
the op from ``minidense/ops/``, where forward and backward sit side by side.
"""
from .ops.arith import matmul
from .ops.conv import *  # noqa: F401,F403  (convolution family: im2col, conv2d, conv_transpose2d, ...)
from .ops.elementwise import clip, exp, leaky_relu, log, relu, sigmoid, sqrt, tanh, where
from .ops.loss import *  # noqa: F401,F403  (losses: cross_entropy, l1_loss, ...)
from .ops.norm import *  # noqa: F401,F403  (batch_norm, dropout, normalize)
from .ops.pool import *  # noqa: F401,F403  (pooling, unpooling, interpolate)
from .ops.reduce import max, mean, min, sum
from .ops.shape import concat, pad, permute, reshape, stack, transpose

__all__ = ["matmul", "clip", "exp", "leaky_relu", "log", "relu", "sigmoid", "sqrt", "tanh", "where",
           "max", "mean", "min", "sum", "concat", "pad", "permute", "reshape", "stack", "transpose"]
