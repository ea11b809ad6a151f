"""Assignment 3: transposed convolution, max pooling with switches, unpooling."""
import numpy as np

from ..cases import conv_inputs, geo_id, normal, pair_id
from ..specs import Assignment, Cell, Mistake, Part


def _transposed_inputs(rng, public, backward):
    while True:
        k = [int(v) for v in rng.integers(1, 4, 2)]
        s = [int(v) for v in rng.integers(1, 3 if public else 4, 2)]
        p = [int(v) for v in rng.integers(0, 2, 2)]
        d = [int(v) for v in rng.integers(1, 3, 2)]
        op = [int(rng.integers(0, max(s[a], d[a]))) for a in range(2)]
        x = [int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 6))]
        out = [(x[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a in range(2)]
        if min(out) >= 1:
            break
    c_out = int(rng.integers(1, 4))
    params = {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "output_padding": op}
    inputs = {"x": normal(rng, x), "weight": normal(rng, (x[1], c_out, *k)), "bias": normal(rng, c_out)}
    if backward:
        inputs["grad"] = normal(rng, (x[0], c_out, *out))
    extra = pair_id("outpad", op, 0)
    return {"id": geo_id(params, extra), "fn": "conv_transpose2d_backward" if backward else "conv_transpose2d",
            "params": params, "inputs": inputs}


def _transposed_forward(rng, public):
    return [_transposed_inputs(rng, public, False) for _ in range(2 if public else 5)]


def _transposed_backward(rng, public):
    # convolution's input gradient is a transposed convolution: this assignment writes it too
    return [_transposed_inputs(rng, public, True) for _ in range(2 if public else 4)] + \
        [conv_inputs(rng, public, True)]


def _pool_geometry(rng, public):
    k = int(rng.integers(2, 4))
    s = int(rng.integers(1, k + 1))
    p = int(rng.integers(0, k // 2 + 1))
    x = [int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(k, 9)), int(rng.integers(k, 9))]
    out = [(x[2 + a] + 2 * p - k) // s + 1 for a in range(2)]
    return x, {"kernel_size": k, "stride": s, "padding": p}, out


def _pool_id(p, extra=""):
    parts = [f"k{p['kernel_size']}", f"stride{p['stride']}", f"pad{p['padding']}" if p["padding"] else "", extra]
    return "-".join(s for s in parts if s)


def _tied(rng, shape):
    """Small integers: many windows hold their maximum twice or more."""
    return rng.integers(0, 4, shape).astype(np.float64)


def _switches(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, _ = _pool_geometry(rng, public)
        cases.append({"id": _pool_id(geo, "ties"), "fn": "max_pool2d", "params": geo, "inputs": {"x": _tied(rng, x)}})
    return cases


def _maxpool_backward(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, out = _pool_geometry(rng, public)
        cases.append({"id": _pool_id(geo, "ties"), "fn": "max_pool2d_backward", "params": geo,
                      "inputs": {"x": _tied(rng, x), "grad": normal(rng, (x[0], x[1], *out))}})
    return cases


def _random_switches(rng, x, geo, out):
    """Valid switches: for each window, the flat index of one input position inside it."""
    k, s, p = geo["kernel_size"], geo["stride"], geo["padding"]
    idx = np.empty((x[0], x[1], *out), dtype=np.int64)
    for r in range(out[0]):
        rows = np.arange(max(r * s - p, 0), min(r * s - p + k, x[2]))
        for q in range(out[1]):
            cols = np.arange(max(q * s - p, 0), min(q * s - p + k, x[3]))
            idx[:, :, r, q] = rng.choice(rows, (x[0], x[1])) * x[3] + rng.choice(cols, (x[0], x[1]))
    return idx


def _unpool(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, out = _pool_geometry(rng, public)
        if geo["stride"] < geo["kernel_size"]:   # unpooling needs one switch per window: no overlap
            geo["stride"] = geo["kernel_size"]
            out = [(x[2 + a] + 2 * geo["padding"] - geo["kernel_size"]) // geo["stride"] + 1 for a in range(2)]
        idx = _random_switches(rng, x, geo, out)
        cases.append({"id": _pool_id(geo), "fn": "max_unpool2d", "params": {**geo, "output_size": x[2:]},
                      "inputs": {"x": normal(rng, (x[0], x[1], *out)), "indices": idx, "grad": normal(rng, x)}})
    return cases


# every position equal to its window's maximum gets the gradient (kernel == stride): a planted mistake
_TIED_MAXIMA_BACKWARD = """        xp = get_array_module(grad)
        kh, kw = self.shape[2] // grad.shape[2], self.shape[3] // grad.shape[3]
        maxima = _gather(self.x, self.flat).repeat(kh, axis=2).repeat(kw, axis=3)
        return xp.where(self.x == maxima, grad.repeat(kh, axis=2).repeat(kw, axis=3), 0)
"""

POOL_HANDOUT = """
The decoder's half of the lecture. You write transposed convolution (with col2im), and max pooling
with **switches** and its inverse, max-unpooling. Convolution's forward and weight gradient are given:
`im2col(x, geo, pad_value=0)` in `minidense/ops/im2col.py`, `_conv_forward(x, w, geo)` and
`_conv_weight_grad(g, x, geo)` in `minidense/ops/conv.py` (each returns ONE array). The kit runs only the
reference kernels: the library's fast paths are not part of the kit.

## The contracts

- `col2im(cols, geo, x_shape)` (`ops/im2col.py`): `cols` `(C·kH·kW, N·H_out·W_out)` → ONE array of shape
  `x_shape = (N, C, H, W)`; entries from the same pixel add up, those on the padding are dropped; `cols`
  unchanged. `output_size(size, geo)` and `pad(x, padding, value=0)` are given beside it.
- `_conv_input_grad(g, w, geo, x_shape)` (`ops/conv.py`): `g` `(N, C_out, H_out, W_out)`, `w`
  `(C_out, C_in, kH, kW)` → the input's gradient of shape `x_shape`, `col2im(Wᵀ · G)` with
  `W = w.reshape(C_out, -1)` and `G = g.transpose(1, 0, 2, 3).reshape(C_out, -1)`.
- `ConvTranspose2d.forward(self, x, weight, bias=None, *, geo, out_size)` → ONE array
  `(N, C_out, *out_size)`; save on `self` what backward needs. `ConvTranspose2d.backward(self, grad)` →
  `(gx, gw)`, or `(gx, gw, gb)` when there is a bias; `None` for an input whose
  `self.needs_input_grad[i]` is False. `_kernels()` (given) returns the three kernels as
  `.forward`, `.input_grad`, `.weight_grad`; `_zero_extended` and `_add_bias` (given) handle the rare
  `output_padding ≥ stride` case and the bias.

## Transposed convolution

- input `x`: `(N, C_in, H, W)`; weight `(C_in, C_out, kH, kW)` (PyTorch's layout); output
  `(N, C_out, H_out, W_out)` with `H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1`.
- It is convolution run backwards: the weight is a convolution from the output side (`C_out`) to the
  input side (`C_in`), and the forward of the transposed convolution is that convolution's input gradient,
  `_conv_input_grad(x, w, geo, out_shape)`.
- Its input gradient is convolution's forward, `_conv_forward(grad, w, geo)`. One matrix, used transposed.
- Its **weight gradient** is convolution's weight gradient with the roles of input and output gradient
  swapped: `_conv_weight_grad(x, grad, geo)` (the convolution's "output gradient" is this op's input `x`,
  and its "input" is this op's upstream gradient). Its **bias gradient** is `grad.sum(axis=(0, 2, 3))`.
- col2im is im2col's loop over the kernel taps with `+=` (overlapping patches add up). The column layout:
  rows `(c, kh, kw)`, columns `(n, h_out, w_out)`, as `im2col` (given) builds it.
- Adjointness holds: `<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>` (a check you can run yourself).

## Max pooling with switches

- `_switches(x, geo)`: for each window, the flat index `row·W + col` of its maximum in the input's
  `H·W` plane (PyTorch's `return_indices`). Hint: `im2col(x, geo, pad_value=-inf)` gives every
  window as a column; `argmax` over the taps finds the maximum. **Ties go to the first maximum** in the window.
- The pooled output is the input gathered at the switches (`_gather`, `GatherSwitches.forward`), and the
  gradient goes back to the switches only (`_scatter`, `GatherSwitches.backward`): one input position per
  window, **not** every position that equals the maximum. Overlapping windows (stride < kernel) can share
  a switch: their gradients add up there (`backend.scatter_add`).
- Max-unpooling is the same pair the other way round: `ScatterSwitches.forward` puts each value at its
  switch (zeros elsewhere), its backward gathers.
- The grader uses inputs WITH ties (small integers), so the switch you pick matters.
"""

SPEC = Assignment(
    name="pool",
    title="Assignment 3: transposed convolution, max pooling and unpooling with switches",
    stubs={"ops/im2col.py": ["col2im"],
           "ops/conv.py": ["_conv_input_grad", "ConvTranspose2d.forward", "ConvTranspose2d.backward"],
           "ops/pool.py": ["_switches", "_gather", "_scatter", "GatherSwitches.forward", "GatherSwitches.backward",
                           "ScatterSwitches.forward", "ScatterSwitches.backward"]},
    reveal={"ops/conv_matrix.py": ["ConvMatrix.forward", "ConvMatrix.backward"]},
    parts=(Part("transposed_forward", 25, "F.conv_transpose2d's output (stride, padding, output_padding, dilation)"),
           Part("transposed_backward", 20, "gradients of conv_transpose2d, and of conv2d's input"),
           Part("switches", 20, "max_pool2d values and switches, first maximum on ties"),
           Part("maxpool_backward", 20, "max_pool2d's gradient goes to the switches only (inputs with ties)"),
           Part("unpool", 15, "max_unpool2d: values at the switches, gradient")),
    handout=POOL_HANDOUT,
    generators={"transposed_forward": _transposed_forward, "transposed_backward": _transposed_backward,
                "switches": _switches, "maxpool_backward": _maxpool_backward, "unpool": _unpool},
    target=("ops/pool.py", "_switches"),
    mistakes=(
        Mistake("gradient sent to every tied maximum",
                (("ops/pool.py", "        return _gather(x, self.flat)\n",
                  "        self.x = x\n        return _gather(x, self.flat)\n"),
                 ("ops/pool.py", "        return _scatter(grad, self.flat, self.shape, accumulate=self.overlapping)\n",
                  _TIED_MAXIMA_BACKWARD)),
                frozenset({"maxpool_backward"})),
        Mistake("off-by-one stride in the switches",
                (("ops/pool.py", "corner = (xp.arange(ho).reshape(ho, 1) * sh - ph) * w",
                  "corner = (xp.arange(ho).reshape(ho, 1) * (sh + 1) - ph) * w"),),
                frozenset({"switches", "maxpool_backward"})),
        Mistake("the transposed convolution's weight gradient with input and gradient in each other's roles",
                (("ops/conv.py", "gw = kernels.weight_grad(self.x_full, grad, self.geo)",
                  "gw = kernels.weight_grad(grad, self.x_full, self.geo)"),),
                frozenset({"transposed_backward"})),
    ),
    starter_cells=(
        Cell("## Switches on a tiny image", "x = md.tensor(np.array([[[[1., 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], "
             "[0, 1, 5, 0]]]]))\ny, idx = F.max_pool2d(x, 2, return_indices=True)\nprint(y.data, idx.data)"),
    ),
)
