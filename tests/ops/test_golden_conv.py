"""Convolution, pooling and resampling against PyTorch, via golden files (tests/support/golden/conv_*.npz).

The files are written by tests/support/golden/make_golden_conv.py (run by hand where PyTorch is installed),
so PyTorch's semantics are checked here without PyTorch. Every case names its op and keyword
arguments; it is replayed in float64 and the output, the switches and every gradient compared.
"""
import json

import numpy as np
import pytest
from golden_files import TOL, load_cases

import minidense as md
import minidense.functional as F

FILES = ("convolution", "pooling", "resampling")


def load(name):
    return load_cases(f"conv_{name}.npz")


CASES = [(name, case, fields) for name in FILES for case, fields in sorted(load(name).items())]


def test_every_op_of_the_family_has_golden_cases():
    ops = {str(fields["op"]) for _, _, fields in CASES}
    assert ops == {"conv2d", "conv1d", "conv_transpose2d", "conv_transpose1d", "max_pool2d", "max_unpool2d",
                   "avg_pool2d", "interpolate"}


@pytest.mark.parametrize("name, case, fields", CASES, ids=[f"{n}-{c}" for n, c, _ in CASES])
def test_matches_pytorch(name, case, fields):
    tensors = {k: md.tensor(fields[k], requires_grad=fields[k].dtype.kind == "f") for k in map(str, fields["inputs"])}
    result = getattr(F, str(fields["op"]))(**tensors, **json.loads(str(fields["kwargs"])))
    out, indices = result if isinstance(result, tuple) else (result, None)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), fields["out"], **TOL)
    if "indices" in fields and indices is not None:
        assert indices.dtype == np.int64
        np.testing.assert_array_equal(indices.numpy(), fields["indices"])
    out.backward(fields["upstream"])
    for k, t in tensors.items():
        if t.requires_grad:
            np.testing.assert_allclose(t.grad, fields[f"grad_{k}"], **TOL, err_msg=f"gradient of {k}")
