"""PyTorch habits: sub-packages reachable from ``import minidense as md``, loaded on first use;
non-numeric data refused by md.tensor and Tensor."""
import re
import subprocess
import sys

import numpy as np
import pytest

import minidense as md

SUBPACKAGES = ("nn", "optim", "functional", "models", "data")


def _run(code):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_import_minidense_alone_loads_no_subpackage_and_no_matplotlib():
    out = _run("import sys, minidense\n"
               f"print(sorted(m for m in {('matplotlib',) + tuple('minidense.' + s for s in SUBPACKAGES)!r} "
               "if m in sys.modules))")
    assert out.strip() == "[]", f"import minidense loaded {out.strip()}"


def test_subpackages_are_imported_on_first_use():
    out = _run("import sys, minidense as md\n"
               "assert 'minidense.nn' not in sys.modules\n"
               "layer = md.nn.Conv2d(3, 4, 3)\n"
               "print('minidense.nn' in sys.modules, type(layer).__module__)")
    assert out.split() == ["True", "minidense.nn.layers"]


@pytest.mark.parametrize("name", SUBPACKAGES + ("metrics", "tasks", "viz", "export"))
def test_subpackage_reachable_as_attribute(name):
    module = getattr(md, name)
    assert module is sys.modules[f"minidense.{name}"]
    assert name in dir(md)


def test_unknown_attribute_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        md.nope  # noqa: B018
    assert not hasattr(md, "torch")


@pytest.mark.parametrize("data, dtype", [(np.array(["a", "b"]), "<U1"), (["a", "b"], "<U1"),
                                         (np.array([b"x"]), "|S1"), (np.array([1, None], dtype=object), "object"),
                                         (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64[D]")])
def test_tensor_refuses_non_numeric_data_naming_the_dtype(data, dtype):
    with pytest.raises(TypeError, match=rf"tensor: data must be numeric.*got dtype {re.escape(dtype)}"):
        md.tensor(data)


def test_tensor_constructor_refuses_non_numeric_arrays():
    with pytest.raises(TypeError, match=r"Tensor: data must be numeric.*got dtype <U3"):
        md.Tensor(np.array(["abc"]))


def test_numeric_data_still_accepted():
    assert md.tensor([True, False]).dtype == np.bool_
    assert md.tensor(np.arange(3, dtype=np.uint8)).dtype == np.uint8
    assert md.tensor([1.5]).dtype == np.float32
