"""One checker for every op (MyGrad's test factory, smaller): gradcheck plus the engine's promises."""
import numpy as np

import minidense as md


def check_op(fn, *arrays, **gradcheck_kwargs):
    """Gradcheck ``fn(*tensors)`` in float64 and check that nothing was mutated or aliased.

    - analytic gradients match central differences (md.gradcheck);
    - the inputs and the upstream gradient are unchanged by forward and backward;
    - no two gradients share memory, and no gradient aliases an input;
    - the graph's saved arrays are freed after backward.
    """
    assert md.gradcheck(fn, arrays, **gradcheck_kwargs)
    before = [a.copy() for a in arrays]
    tensors = [md.Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(*tensors)
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    kept = upstream.copy()
    if out.requires_grad:
        out.backward(upstream)
        assert out._ctx is None or out._ctx.freed, "graph not freed after backward"
    np.testing.assert_array_equal(upstream, kept, err_msg="backward mutated the upstream gradient")
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b, err_msg="an op mutated its input")
    grads = [t.grad for t in tensors if t.grad is not None]
    for i, g in enumerate(grads):
        assert g.dtype == np.float64
        for other in grads[i + 1:] + list(arrays):
            assert not np.shares_memory(g, other), "a gradient aliases another array"
    return out
