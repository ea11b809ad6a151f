"""Convolutions run forward and backward on arrays: what the fast paths' tests (tests/ops) share."""
import numpy as np

import minidense as md
import minidense.functional as F


def run_all(fn, arrays, upstream):
    """fn's output and the gradient of every input, for one upstream gradient."""
    ts = [md.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(upstream.copy())
    return [out.numpy()] + [t.grad for t in ts]


def same_conv(seed, x_shape, c_out):
    """A 3×3 convolution with padding 1 on random float64 x, weight, bias and upstream gradient, and what the
    reference kernels give: (conv2d, (x, w, b), upstream, [output, grad x, grad w, grad b])."""
    gen = np.random.default_rng(seed)
    n, c_in, h, w_in = x_shape
    x, w, b = gen.standard_normal(x_shape), gen.standard_normal((c_out, c_in, 3, 3)), gen.standard_normal(c_out)
    upstream = gen.standard_normal((n, c_out, h, w_in))

    def conv2d(x, w, b):
        return F.conv2d(x, w, b, padding=1)
    with md.fast_paths(False):
        expected = run_all(conv2d, (x, w, b), upstream)
    return conv2d, (x, w, b), upstream, expected
