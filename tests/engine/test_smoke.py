import numpy as np

import minidense as md


def test_import_and_backward():
    x = md.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * np.arange(6.0).reshape(2, 3))
