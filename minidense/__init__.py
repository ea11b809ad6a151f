"""minidense: a from-scratch NumPy/CuPy deep-learning framework for pixel labeling.

    import minidense as md
    import minidense.functional as F

    x = md.randn(2, 3, requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2 * x
"""
from . import backend, ops  # noqa: F401  (ops attaches Tensor's operators)
from .backend import gpu_available, manual_seed
from .constants import IGNORE_INDEX
from .creation import arange, ones, ones_like, rand, randn, tensor, zeros, zeros_like
from .gradcheck import GradcheckError, gradcheck, numerical_grad
from .ops.elementwise import where
from .ops.fastpaths import fast_paths
from .ops.shape import concat, stack
from .tensor import Function, Tensor, is_grad_enabled, no_grad

__version__ = "0.1.0"

__all__ = ["Tensor", "Function", "tensor", "no_grad", "is_grad_enabled", "zeros", "ones", "zeros_like",
           "ones_like", "randn", "rand", "arange", "concat", "stack", "where", "gradcheck", "numerical_grad",
           "GradcheckError", "manual_seed", "gpu_available", "IGNORE_INDEX", "backend", "fast_paths"]
