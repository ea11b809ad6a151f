"""The engine: graph building, backward order, accumulation, freeing, no_grad, errors."""
import sys
import types

import numpy as np
import pytest

import minidense as md
from minidense import backend


def test_diamond_graph_sums_gradients():
    x = md.tensor([2.0, -1.0], requires_grad=True)
    a = x * 3          # two paths from x to y
    b = x ** 2
    y = (a + b).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 3 + 2 * x.data)


def test_tensor_used_twice_in_one_op():
    x = md.tensor([1.5], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0])


def test_long_chain_backpropagates_without_recursion():
    x = md.tensor([1.0], requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(10_000):
        y = y + 1e-4 * y
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [(1 + 1e-4) ** 10_000], rtol=1e-9)


def test_no_grad_records_no_graph():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    with md.no_grad():
        y = (x * 2).sum()
    assert not y.requires_grad and y._ctx is None
    assert md.is_grad_enabled()

    @md.no_grad()
    def f(t):
        return t * 2
    assert f(x)._ctx is None


def test_second_backward_through_freed_graph_raises():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward_and_accumulates():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_backward_frees_saved_arrays():
    x = md.tensor(np.ones(3), requires_grad=True)
    y = x * x
    fn = y._ctx
    assert hasattr(fn, "a")
    y.sum().backward()
    assert fn.freed and not hasattr(fn, "a")


def test_backward_on_non_scalar_needs_grad():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar output.*shape \(2,\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\)"):
        (x * 2).backward(np.ones(3))
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2, 20])


def test_matmul_shape_error_names_both_shapes():
    a, b = md.zeros(2, 3), md.zeros(4, 5)
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        a @ b


def test_broadcast_error_is_clear():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\), \(4,\) cannot be broadcast"):
        md.zeros(2, 3) + md.zeros(4)


def test_mixing_devices_is_refused(monkeypatch):
    cpu = md.zeros(2)
    fake_gpu = md.zeros(2)
    real = backend.device_of
    monkeypatch.setattr(backend, "device_of", lambda a: "cuda" if a is fake_gpu.data else real(a))
    monkeypatch.setattr(backend, "cupy_imported", lambda: True)   # as it is wherever a GPU array exists,
    monkeypatch.setitem(sys.modules, "cupy", types.ModuleType("cupy"))   # which CuPy's import made
    with pytest.raises(ValueError, match=r"add: arguments are on different devices \(a on cpu, b on cuda\)"):
        cpu + fake_gpu


def test_asking_for_cuda_without_gpu_says_why():
    reason = backend.gpu_unavailable_reason()
    if reason is None:
        pytest.skip("a GPU is usable here")
    with pytest.raises(RuntimeError, match="'cuda' is not usable"):
        md.zeros(2, device="cuda")


def test_only_leaves_keep_grad_and_grad_is_a_fresh_array():
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = x + 0
    g = np.array([1.0, 1.0], dtype=np.float32)
    y.backward(g)
    assert y.grad is None
    assert not np.shares_memory(x.grad, g)


def test_requires_grad_only_for_floats():
    with pytest.raises(TypeError, match="floating-point"):
        md.tensor([1, 2], requires_grad=True)


def test_constructors_and_conversions():
    md.manual_seed(3)
    a = md.randn(2, 3)
    md.manual_seed(3)
    b = md.randn((2, 3))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32 and a.device == "cpu"
    assert md.zeros(2, 2).dtype == np.float32 and md.ones_like(a).shape == (2, 3)
    assert md.zeros_like(a).numpy().sum() == 0
    assert md.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert md.tensor([1, 2]).dtype == np.int64 and md.tensor([1.0]).dtype == np.float32
    assert md.tensor(np.zeros(2)).dtype == np.float64   # an array keeps its dtype
    assert md.tensor([[3.5]]).item() == 3.5
    t = md.tensor([1.0], requires_grad=True)
    assert t.detach()._ctx is None and not t.detach().requires_grad
    assert t.to("cpu") is t
    assert "requires_grad=True" in repr(t)


def test_item_of_many_elements_is_an_error():
    with pytest.raises(ValueError, match="one element"):
        md.zeros(3).item()


def test_custom_function_the_way_students_write_it():
    class Cube(md.Function):
        def forward(self, x, scale=1.0):
            self.x, self.scale = x, scale
            return scale * x ** 3

        def backward(self, grad_output):
            return 3 * self.scale * self.x ** 2 * grad_output

    x = md.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = Cube.apply(x, scale=2.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 6 * x.data ** 2)
    assert md.gradcheck(lambda t: Cube.apply(t, scale=0.5), (x,))


def test_function_returning_wrong_number_of_gradients():
    class Bad(md.Function):
        def forward(self, a, b):
            return a + b

        def backward(self, g):
            return g

    a = md.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 1 gradients for 2 inputs"):
        Bad.apply(a, a).sum().backward()

    class AsList(Bad):
        def backward(self, g):
            return [g, g]

    with pytest.raises(TypeError, match="returned a list of 2; return a tuple"):
        AsList.apply(a, a).sum().backward()


def test_leaf_gradients_never_alias_each_other_or_the_caller():
    a, b = md.tensor([1.0, 2.0], requires_grad=True), md.tensor([3.0, 4.0], requires_grad=True)
    g = np.array([1.0, -1.0], dtype=np.float32)
    (a + b).backward(g)                      # Add hands the same array to both inputs
    assert not np.shares_memory(a.grad, b.grad) and not np.shares_memory(a.grad, g)

    class Twice(md.Function):                # one fresh array returned for two inputs
        def forward(self, x, y):
            return x + y

        def backward(self, grad):
            fresh = grad * 2
            return fresh, fresh

    c, d = md.tensor([1.0], requires_grad=True), md.tensor([2.0], requires_grad=True)
    Twice.apply(c, d).sum().backward()
    assert not np.shares_memory(c.grad, d.grad)
    e = md.tensor(np.ones((2, 3)), requires_grad=True)
    e.reshape(6).sum().backward()            # a view of another array is copied too
    e.grad[0, 0] = 5.0                       # and the leaf's gradient is its own, writable
