"""gradcheck catches wrong backwards and reports where; numerical_grad for teaching."""
import numpy as np
import pytest

import minidense as md


class WrongSquare(md.Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad_output):
        return self.x * grad_output   # should be 2·x


class RightSquare(WrongSquare):
    def backward(self, grad_output):
        return 2 * self.x * grad_output


def test_wrong_backward_is_caught_and_reported():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    with pytest.raises(md.GradcheckError, match=r"input 0 .*worst at index \(\d, \d\).*analytic.*numerical.*relative"):
        md.gradcheck(WrongSquare.apply, (x,))
    assert md.gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False
    assert md.gradcheck(RightSquare.apply, (x,))


def test_softmax_with_wrong_backward_is_caught_despite_constant_sum():
    # The sum of a softmax is 1 whatever x is: a plain-sum gradcheck would pass any backward.
    class WrongSoftmax(md.Function):
        def forward(self, x):
            e = np.exp(x - x.max())
            self.s = e / e.sum()
            return self.s

        def backward(self, g):
            return g * self.s  # missing the -s·<g, s> term

    with pytest.raises(md.GradcheckError):
        md.gradcheck(WrongSoftmax.apply, (np.array([0.1, 0.5, -0.3]),))


def test_gradcheck_runs_in_float64_and_leaves_inputs_alone():
    x = np.array([1.0, 2.0], dtype=np.float32)
    seen = []

    def fn(t):
        seen.append(t.dtype)
        return t * t

    assert md.gradcheck(fn, (x,))
    assert set(seen) == {np.dtype("float64")}
    assert x.dtype == np.float32 and (x == [1.0, 2.0]).all()


def test_integer_inputs_pass_through():
    labels = np.array([0, 2, 1])
    x = np.random.default_rng(0).standard_normal((3, 3))
    assert md.gradcheck(lambda t, y: t[np.arange(3), y] * 2.0, (x, labels))


def test_numerical_grad_for_teaching():
    x = np.array([1.0, -2.0, 3.0])
    g = md.numerical_grad(lambda a: a ** 3, x)
    np.testing.assert_allclose(g, 3 * np.array([1.0, -2.0, 3.0]) ** 2, rtol=1e-6)
    np.testing.assert_array_equal(x, [1.0, -2.0, 3.0])   # restored after perturbing
