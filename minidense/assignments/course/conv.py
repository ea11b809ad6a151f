"""Assignment 2: convolution forward and backward via im2col / col2im."""
import numpy as np

from ..cases import TOL32, conv_geometry, conv_inputs, geo_id, normal
from ..specs import Assignment, Cell, Mistake, Part


def _im2col(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, _ = conv_geometry(rng, public)
        cases.append({"id": geo_id(geo), "fn": "im2col", "params": geo, "inputs": {"x": normal(rng, x)}})
    return cases


def _col2im(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, out = conv_geometry(rng, public)
        rows, cols = x[1] * geo["kernel_size"][0] * geo["kernel_size"][1], x[0] * out[0] * out[1]
        cases.append({"id": geo_id(geo), "fn": "col2im", "params": {**geo, "input_shape": x},
                      "inputs": {"cols": normal(rng, (rows, cols))}})
    return cases


def _conv_forward(rng, public):
    cases = [conv_inputs(rng, public, False) for _ in range(2 if public else 5)]
    c32 = conv_inputs(rng, public, False)
    c32.update(id=c32["id"] + "-float32", inputs={k: v.astype(np.float32) for k, v in c32["inputs"].items()},
               **TOL32)
    return cases + [c32]


def _conv_backward(rng, public):
    return [conv_inputs(rng, public, True) for _ in range(2 if public else 5)]


CONV_HANDOUT = """
Convolution is one matrix product. You write the column matrix (im2col), its adjoint (col2im), and
the three kernels that make `F.conv2d` and its backward out of them. Everything else (argument checks,
the `Conv2d` Function that calls your kernels, bias, the engine) is given. The kit runs only these
reference kernels: the library's fast paths are not part of the kit (`md.fast_paths` stays off).

## Shapes and the given pieces

- input `x`: `(N, C_in, H, W)`; weight `w`: `(C_out, C_in, kH, kW)`; output `(N, C_out, H_out, W_out)`.
- `geo` is a `Geometry(kernel_size, stride, padding, dilation)` (in `minidense/ops/im2col.py`), each a pair
  `(h, w)`; unpack it as `(kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo`.
- Given in `minidense/ops/im2col.py`: `output_size(size, geo)` returns `(H_out, W_out)` with
  `H_out = (H + 2·p − d·(kH − 1) − 1) // s + 1`, and `pad(x, padding, value=0)` returns the padded copy
  `(N, C, H + 2·pH, W + 2·pW)` (or `x` itself when there is no padding).

## The contracts (what each function takes and returns)

In `minidense/ops/im2col.py`, on raw arrays (NumPy, or CuPy on a GPU):

- `im2col(x, geo, pad_value=0)`: `x` `(N, C, H, W)` → ONE array `cols` of shape `(C·kH·kW, N·H_out·W_out)`.
  `pad_value` fills the padding (max pooling passes `-inf`). Must not change `x`.
- `col2im(cols, geo, x_shape)`: `cols` `(C·kH·kW, N·H_out·W_out)`, `x_shape` the tuple `(N, C, H, W)` →
  ONE array of shape `x_shape`. Entries that came from the same pixel add up; those that fall on the
  padding are dropped. Must not change `cols`.

In `minidense/ops/conv.py` (the three kernels; each returns ONE array, never a pair):

- `_conv_forward(x, w, geo)` → `out` `(N, C_out, H_out, W_out)`: `W · im2col(x)` with `W = w.reshape(C_out, -1)`.
- `_conv_input_grad(g, w, geo, x_shape)`: `g` `(N, C_out, H_out, W_out)` → the input's gradient of shape
  `x_shape`: `col2im(Wᵀ · G)`.
- `_conv_weight_grad(g, x, geo)` → the weight's gradient `(C_out, C_in, kH, kW)`: `G · im2col(x)ᵀ`.

Here `G` is the upstream gradient `g` laid out like the columns: `(C_out, N·H_out·W_out)` (mind the
transpose from NCHW: `g.transpose(1, 0, 2, 3).reshape(C_out, -1)`). `Conv2d.forward` calls
`_conv_forward` and adds the bias; `Conv2d.backward` calls the other two. None of them may change its inputs.

## The im2col layout (fixed: the grader compares your matrix entry by entry)

`im2col(x)` has shape `(C·kH·kW, N·H_out·W_out)`:

- **rows** ordered `(c, kh, kw)`, exactly as `w.reshape(C_out, -1)` orders a weight's columns;
- **columns** ordered `(n, h_out, w_out)`.

Entry `[(c, i, j), (n, r, q)]` is `x_padded[n, c, r·s_h + i·d_h, q·s_w + j·d_w]`. So

```python
cols = im2col(x, geo)                               # (C_in·kH·kW, N·H_out·W_out)
out = (w.reshape(C_out, -1) @ cols).reshape(C_out, N, H_out, W_out).transpose(1, 0, 2, 3)
```

## Hints from the lecture

- Loop over the `kH·kW` kernel taps, never over pixels: tap `(i, j)` is ONE strided slice of the padded
  input, `x_padded[:, :, top:top + s_h·(H_out − 1) + 1:s_h, left:...]` with `top = i·d_h`.
- col2im is the same loop with `+=`: overlapping patches add up. That makes it im2col's exact adjoint,
  `<im2col(x), c> == <x, col2im(c)>` (a check you can run yourself).
- Use `xp = get_array_module(x)` instead of `numpy` so the same code runs on the GPU.
- `md.gradcheck(fn, inputs)` checks your backward against finite differences; try it on tiny shapes
  with stride 2, padding 1 and dilation 2, and with `N ≥ 2`.
"""

SPEC = Assignment(
    name="conv",
    title="Assignment 2: convolution forward and backward via im2col / col2im",
    stubs={"ops/im2col.py": ["im2col", "col2im"],
           "ops/conv.py": ["_conv_forward", "_conv_input_grad", "_conv_weight_grad"]},
    reveal={"ops/conv.py": ["ConvTranspose2d.forward", "ConvTranspose2d.backward"],
            "ops/conv_matrix.py": ["ConvMatrix.forward", "ConvMatrix.backward"],
            "ops/pool.py": ["_switches", "_window_counts"]},
    parts=(Part("im2col", 20, "F.im2col: the column matrix, with stride, padding and dilation"),
           Part("col2im", 20, "F.col2im: the adjoint of im2col (overlaps add up)"),
           Part("conv_forward", 25, "F.conv2d's output (stride, padding, dilation, bias, float32)"),
           Part("conv_backward", 35, "F.conv2d's gradients for input, weight and bias")),
    handout=CONV_HANDOUT,
    generators={"im2col": _im2col, "col2im": _col2im, "conv_forward": _conv_forward, "conv_backward": _conv_backward},
    target=("ops/im2col.py", "im2col"),
    mistakes=(
        Mistake("missing transpose of the upstream gradient in the weight gradient",
                (("ops/conv.py", "    return (g_mat @ columns.im2col(x, geo).T)",
                  "    g_mat = g.reshape(c_out, -1)\n    return (g_mat @ columns.im2col(x, geo).T)"),),
                frozenset({"conv_backward"})),
        Mistake("off-by-one stride in col2im",
                (("ops/im2col.py", "left:left + sw * (wo - 1) + 1:sw] += cols[:, i, j]",
                  "left:left + (sw + 1) * (wo - 1) + 1:sw + 1] += cols[:, i, j]"),),
                frozenset({"col2im", "conv_backward"})),
        Mistake("the output reshaped to (N, C_out, ...) without moving the batch axis",
                (("ops/conv.py", "out.reshape(c_out, n, *columns.output_size(x.shape[2:], geo)).transpose(1, 0, 2, 3)",
                  "out.reshape(n, c_out, *columns.output_size(x.shape[2:], geo))"),),
                frozenset({"conv_forward"})),
    ),
    starter_cells=(
        Cell("## im2col on a tiny image\n\nA 1×1×3×3 image of 0..8 and a 2×2 kernel: 4 rows (the taps), "
             "4 columns (the output pixels).",
             "x = md.tensor(np.arange(9.0).reshape(1, 1, 3, 3))\nprint(F.im2col(x, 2).data)"),
        Cell("## Check your gradient", "x = md.randn(2, 2, 5, 5, dtype=np.float64)\n"
             "w = md.randn(3, 2, 3, 3, dtype=np.float64)\n"
             "md.gradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=1), (x, w))", expected=False),
    ),
)
