"""The CuPy stand-in refuses what CuPy refuses, and has nothing that CuPy lacks.

Runs only where tests/standin is first on PYTHONPATH (``make test``'s second pass, ``make test-standin``).
"""
import subprocess
import sys
import types

import numpy as np
import pytest
from cupy_names import CUPY, CUPY_CUDA, CUPY_CUDA_RUNTIME, CUPY_RANDOM, CUPY_VERSION, CUPYX, GENERATOR, NDARRAY

pytestmark = pytest.mark.standin


@pytest.fixture
def cupy():
    import cupy
    assert cupy._standin
    return cupy


def _public(obj):
    return {n for n in dir(obj) if not n.startswith("_")}


def test_namespace_has_no_name_that_cupy_lacks(cupy):
    import cupyx
    extra = {
        "cupy": _public(cupy) - CUPY,
        "cupy.random": _public(cupy.random) - CUPY_RANDOM,
        "cupy.cuda": _public(cupy.cuda) - CUPY_CUDA,
        "cupy.cuda.runtime": _public(cupy.cuda.runtime) - CUPY_CUDA_RUNTIME,
        "cupyx": _public(cupyx) - CUPYX,
        "cupy.ndarray": _public(cupy.ndarray) - NDARRAY,
        "cupy.random.Generator": _public(cupy.random.default_rng(0)) - GENERATOR,
    }
    assert not any(extra.values()), f"names CuPy {CUPY_VERSION} does not have: {extra}"
    for name in ("ndarray", "asarray", "asnumpy", "get_array_module", "random", "cuda"):
        assert name in _public(cupy)
    assert "scatter_add" in _public(cupyx)


def test_a_function_cupy_lacks_is_missing(cupy):
    for name in ("nditer", "einsum_path", "frompyfunc", "busday_count"):   # NumPy has them, CuPy 13.6.0 not
        assert name not in CUPY and not hasattr(cupy, name)
    with pytest.raises(AttributeError):
        cupy.random.default_rng(0).normal(size=3)                    # CuPy's Generator has no normal()


def test_implicit_conversion_to_numpy_is_refused(cupy):
    a = cupy.ones((2, 3), dtype=cupy.float32)
    for convert in (np.asarray, np.array, lambda x: np.array(x, dtype=object), lambda x: np.ascontiguousarray(x)):
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
            convert(a)


@pytest.mark.parametrize("operand", [np.ones(3, np.float32), np.array(2.0), np.array(1, dtype=np.int64)],
                         ids=["1-d", "0-d float", "0-d int"])
def test_a_numpy_array_operand_is_refused(cupy, operand):
    a = cupy.ones(3, dtype=cupy.float32)
    for op in (lambda: a + operand, lambda: operand + a, lambda: a * operand, lambda: cupy.maximum(a, operand),
               lambda: np.maximum(operand, a), lambda: cupy.where(a > 0, operand, a)):
        with pytest.raises(TypeError, match="numpy.ndarray"):
            op()
    with pytest.raises(TypeError, match="numpy.ndarray"):
        a[...] = operand
    with pytest.raises(TypeError, match="numpy.ndarray"):
        a += operand


def test_a_list_operand_is_refused(cupy):
    a = cupy.ones(3)
    for op in (lambda: cupy.add(a, [1, 2, 3]), lambda: cupy.maximum([1.0], a), lambda: a + [1, 2, 3]):
        with pytest.raises(TypeError):
            op()
    assert cupy.sum(a, axis=(0,)).shape == () and cupy.reshape(a, [3, 1]).shape == (3, 1)   # shapes are not operands


def test_python_and_numpy_scalars_are_accepted(cupy):
    a = cupy.arange(3, dtype=cupy.float32)
    for s in (2, 2.0, np.float32(2), cupy.int32(2), np.int64(2), True):
        for out in (a + s, s + a, a * s, cupy.maximum(a, s)):
            assert isinstance(out, cupy.ndarray)
    assert (a * np.float32(2)).dtype == np.float32


def test_results_stay_on_the_device(cupy):
    a = cupy.arange(6, dtype=cupy.float32).reshape(2, 3)
    for out in (a.sum(), a[0, 1], a.max(), cupy.sum(a), np.sum(a), a.mean(axis=0), a @ a.T, np.exp(a)):
        assert isinstance(out, cupy.ndarray)
    assert a.sum().shape == ()


def test_only_cupys_three_flags(cupy):
    flags = cupy.zeros((2, 2)).flags
    assert flags.c_contiguous and not flags.f_contiguous and flags.owndata
    assert flags["C_CONTIGUOUS"]
    with pytest.raises(AttributeError):
        flags.writeable
    with pytest.raises(KeyError):
        flags["WRITEABLE"]


def test_generator_has_cupys_methods_and_dtype_rules(cupy):
    g = cupy.random.default_rng(0)
    assert _public(g) <= GENERATOR
    assert g.random((2,), dtype=np.float32).dtype == np.float32
    assert g.random((2,)).dtype == np.float64
    # CuPy draws float32 for any dtype but float64 and casts: float16 works, integers come out as zeros
    assert g.random((2,), dtype=np.float16).dtype == np.float16
    assert (g.random((100,), dtype=np.int32) == 0).all()
    with pytest.raises(TypeError, match="Unsupported dtype int32 for standard_normal"):
        g.standard_normal((2,), dtype=np.int32)
    with pytest.raises(TypeError, match="Unsupported dtype float16"):
        g.standard_normal((2,), dtype=np.float16)
    assert isinstance(g.integers(0, 5, size=3), cupy.ndarray)
    a, b = cupy.random.default_rng([1, 2, 3]).random(4), cupy.random.default_rng([1, 2, 3]).random(4)
    assert (a == b).all()


def test_generator_state_cannot_be_read_or_set(cupy):
    g = cupy.random.default_rng(0)
    with pytest.raises(TypeError):
        g.bit_generator.state["state"]          # NumPy's state dict; CuPy's state() is a device address
    with pytest.raises(AttributeError, match="no state getter or setter"):
        g.bit_generator.state = {"state": 1}
    assert not hasattr(g, "get_state") and not hasattr(g, "set_state")


def test_every_synchronisation_is_counted(cupy):
    a = cupy.arange(4, dtype=cupy.float32)
    cupy._syncs.reset()
    b = a * 2 + 1
    b.sum(), b[1:], cupy.maximum(b, 0), b.reshape(2, 2)
    assert cupy._syncs.count == 0, "device-only work must not synchronise"
    bool(b[0] > 0), float(b[1]), int(b[2]), b[3].item(), b.tolist(), b.get(), cupy.asnumpy(b)
    assert cupy._syncs.by_kind == {"__bool__": 1, "__float__": 1, "__int__": 1, "item": 1, "tolist": 1, "get": 1,
                                   "asnumpy": 1}


def test_moves_asnumpy_scatter_add_and_array_module(cupy):
    import cupyx
    host = np.arange(3.0)
    dev = cupy.asarray(host)
    assert isinstance(dev, cupy.ndarray) and cupy.asarray(dev) is dev
    back = cupy.asnumpy(dev)
    assert isinstance(back, np.ndarray) and (back == host).all() and (dev.get() == host).all()
    target = cupy.zeros(3)
    cupyx.scatter_add(target, cupy.asarray(np.array([0, 0, 2])), 1.0)
    assert target.tolist() == [2.0, 0.0, 1.0]
    assert cupy.get_array_module(dev) is cupy and cupy.get_array_module(host) is np
    assert isinstance(cupy.random, types.ModuleType)


def test_device_object(cupy, monkeypatch):
    d = cupy.cuda.Device()
    assert d.id == 0 and cupy.cuda.runtime.getDeviceCount() == 1
    d.synchronize()
    assert cupy.zeros(1).device == d
    monkeypatch.setenv("MINIDENSE_STANDIN_GPUS", "2")
    with cupy.cuda.Device(1):
        assert cupy.cuda.Device().id == 1
    assert cupy.cuda.Device().id == 0


def test_subprocesses_import_the_stand_in():
    out = subprocess.run([sys.executable, "-c", "import cupy; print(cupy._standin)"], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr
