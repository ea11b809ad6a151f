"""The op database: one declaration per differentiable public op (PyTorch's ``OpInfo``, MyGrad's test factory).

    from minidense.opinfo import OPS, by_name
    by_name("relu").samples(np.random.default_rng(0))     # the calls every generated test makes

Each :class:`OpInfo` holds the public function, a sample-input generator, a NumPy reference, the dtypes,
the differentiable inputs, the Tensor method and ``nn`` layer names, the ONNX operator it exports to, its
bad inputs and its known exclusions. tests/ops/test_opdb.py generates every per-op check from it; a public op
or a ``Function`` without a declaration fails there, naming what to add. Adding an op is its Function, its
wrapper in ``minidense.functional`` and one declaration in the family's file here:

    basic.py    arithmetic, element-wise, reductions, shapes
    spatial.py  convolution, pooling, resampling
    losses.py   softmax, losses, normalization, dropout
"""
from . import basic, losses, spatial
from .core import TESTS, ErrorInput, Exclusion, OpInfo, Sample, error

OPS = basic.OPS + spatial.OPS + losses.OPS

__all__ = ["OPS", "by_name", "OpInfo", "Sample", "ErrorInput", "Exclusion", "error", "TESTS"]


def by_name(name):
    """The declaration of the op called ``name`` (KeyError naming the declared ones otherwise)."""
    for info in OPS:
        if info.name == name:
            return info
    raise KeyError(f"no op called {name!r} is declared; declared: {', '.join(i.name for i in OPS)}")
