"""minidense: a from-scratch NumPy/CuPy deep-learning framework for pixel labeling.

    import minidense as md
    import minidense.functional as F

    x = md.randn(2, 3, requires_grad=True)
    y = (x * x).sum()
    y.backward()          # x.grad == 2 * x

The sub-packages are reachable as attributes, as ``torch.nn`` is after ``import torch``:
``md.nn``, ``md.optim``, ``md.functional``, ``md.models``, ``md.data`` (and ``md.metrics``, ``md.tasks``,
``md.viz``, ``md.export``). Each is imported on first use (PEP 562), so ``import minidense`` stays quick
and loads neither the layers nor matplotlib. Importing changes nothing outside the package: the one
process-wide setting, glibc's malloc keeping freed memory for the next step, is made by ``fit``, the
``minidense`` command and the benchmark, or by ``md.tune_memory()`` (see ``minidense/_malloc.py``).
"""
import importlib
from typing import TYPE_CHECKING

from . import backend, ops  # noqa: F401  (ops attaches Tensor's operators)
from ._malloc import tune_memory
from .backend import gpu_available, manual_seed
from .constants import IGNORE_INDEX
from .creation import arange, ones, ones_like, rand, randn, tensor, zeros, zeros_like
from .gradcheck import GradcheckError, gradcheck, numerical_grad
from .ops.elementwise import where
from .ops.fastpaths import fast_paths
from .ops.parallel import get_num_threads, set_num_threads
from .ops.shape import concat, stack
from .tensor import Function, Tensor, is_grad_enabled, no_grad

__version__ = "0.1.0"

# imported on first attribute access by __getattr__ below (their own imports are heavier: matplotlib, ...)
_LAZY_SUBMODULES = ("functional", "nn", "optim", "models", "data", "metrics", "tasks", "viz", "export")


if TYPE_CHECKING:   # what a type checker sees: the sub-packages as attributes, as __getattr__ gives them
    from . import data, export, functional, metrics, models, nn, optim, tasks, viz  # noqa: F401
else:   # hidden from type checkers, so that they still report a misspelt md.<name>
    def __getattr__(name):
        """``md.nn`` and the other sub-packages of _LAZY_SUBMODULES, imported when first used (PEP 562)."""
        if name in _LAZY_SUBMODULES:
            return importlib.import_module(f"{__name__}.{name}")   # the import also sets it as an attribute
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


__all__ = ["Tensor", "Function", "tensor", "no_grad", "is_grad_enabled", "zeros", "ones", "zeros_like",
           "ones_like", "randn", "rand", "arange", "concat", "stack", "where", "gradcheck", "numerical_grad",
           "GradcheckError", "manual_seed", "gpu_available", "IGNORE_INDEX", "backend", "fast_paths", "tune_memory",
           "get_num_threads", "set_num_threads"]
