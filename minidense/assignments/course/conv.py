"""Assignment 2: convolution forward and backward via im2col / col2im."""
import numpy as np

from ..cases import TOL32, conv_case, conv_geometry, conv_inputs, geo_id, normal
from ..specs import Assignment, Cell, Mistake, Part

HINTS = {
    "im2col": "rows are ordered (c, kh, kw) and columns (n, h_out, w_out): entry [(c, i, j), (n, r, q)] is "
              "x_padded[n, c, r·sH + i·dH, q·sW + j·dW] (the stride moves the window, the dilation spaces its taps)",
    "im2col-batch": "with N ≥ 2 and C ≥ 2 a swapped axis shows: rows are (c, kh, kw), columns (n, h_out, w_out); "
                    "write each tap into cols of shape (C, kH, kW, N, H_out, W_out), then reshape",
    "col2im": "col2im is im2col's loop with +=: where windows overlap their entries ADD up (a plain = keeps only "
              "the last); entries that fall on the padding are dropped (crop the padded image at the end)",
    "conv_forward": "W·im2col(x) is (C_out, N·H_out·W_out): reshape it to (C_out, N, H_out, W_out) and move the "
                    "batch axis first, .transpose(1, 0, 2, 3); a reshape straight to (N, C_out, ...) mixes samples "
                    "and channels (it shows only when N ≥ 2 and C_out ≥ 2)",
    "float32": "float32 in, float32 out (build new arrays with dtype=x.dtype; the tolerance here is 1e-4)",
    "conv_backward": "move the upstream gradient from NCHW to the columns' layout first, "
                     "G = g.transpose(1, 0, 2, 3).reshape(C_out, -1), (C_out, N·H_out·W_out); a plain reshape mixes "
                     "samples and channels when N ≥ 2. Input gradient col2im(Wᵀ·G) (overlaps add), weight gradient "
                     "G·im2col(x)ᵀ reshaped to (C_out, C_in, kH, kW)",
}


def _case(case, hint, extra=""):
    case.update(hint=hint)
    if extra:
        case["id"] = f"{extra}-{case['id']}"
    return case


def _im2col(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, _ = conv_geometry(rng, public)
        cases.append({"id": geo_id(geo), "fn": "im2col", "params": geo, "inputs": {"x": normal(rng, x)},
                      "hint": HINTS["im2col"]})
    # a batch of two with two channels: rows (c, kh, kw) against columns (n, h_out, w_out) cannot hide
    geo = {"kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 0], "dilation": [2, 1]}
    cases.append({"id": "batch2-channels2-" + geo_id(geo), "fn": "im2col", "params": geo,
                  "inputs": {"x": normal(rng, (2, 2, 4, 5))}, "hint": HINTS["im2col-batch"]})
    return cases


def _col2im(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, out = conv_geometry(rng, public)
        cases.append(_col2im_case(rng, x, geo, out))
    # windows that overlap (stride 1 under a 3×3 kernel): every inner pixel sums nine entries
    geo = {"kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1], "dilation": [1, 1]}
    cases.append(_col2im_case(rng, [2, 2, 4, 5], geo, [4, 5], "overlap"))
    return cases


def _col2im_case(rng, x, geo, out, extra=""):
    rows, cols = x[1] * geo["kernel_size"][0] * geo["kernel_size"][1], x[0] * out[0] * out[1]
    return _case({"id": geo_id(geo), "fn": "col2im", "params": {**geo, "input_shape": x},
                  "inputs": {"cols": normal(rng, (rows, cols))}}, HINTS["col2im"], extra)


#: a batch of two, three output channels, overlapping windows: the case that isolates the batch axis
BATCH = {"kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 2], "dilation": [1, 2]}
DILATED = {"kernel_size": [2, 3], "stride": [2, 1], "padding": [1, 2], "dilation": [2, 2]}


def _conv_forward(rng, public):
    cases = [_case(conv_inputs(rng, public, False), HINTS["conv_forward"]) for _ in range(2 if public else 5)]
    c32 = conv_inputs(rng, public, False)
    c32.update(id=c32["id"] + "-float32", inputs={k: v.astype(np.float32) for k, v in c32["inputs"].items()},
               hint=HINTS["conv_forward"] + "; " + HINTS["float32"], **TOL32)
    batch = conv_case(rng, [2, 2, 4, 5], BATCH, 3, True, False, "batch2-cout3")
    return cases + [c32, _case(batch, HINTS["conv_forward"])]


def _conv_backward(rng, public):
    cases = [_case(conv_inputs(rng, public, True), HINTS["conv_backward"]) for _ in range(2 if public else 5)]
    cases.append(_case(conv_case(rng, [2, 2, 4, 5], BATCH, 3, True, True, "batch2-cout3"), HINTS["conv_backward"]))
    cases.append(_case(conv_case(rng, [2, 1, 7, 6], DILATED, 2, False, True, "batch2"), HINTS["conv_backward"]))
    return cases


CONV_HANDOUT = """
Convolution is one matrix product (the lecture's slide "Why 'Transpose Convolution'? Can write convolution as
matrix-multiply"). You write the column matrix (`im2col`), its adjoint (`col2im`), and the three kernels
that make `F.conv2d` and its backward out of them. Everything else (argument checks, the `Conv2d` Function
that calls your kernels, the bias, the autograd engine) is given. The kit runs only these reference
kernels: the library's fast paths are not part of the kit (`md.fast_paths` stays off).

## Shapes, dtypes and the given pieces

- input `x`: `(N, C_in, H, W)`; weight `w`: `(C_out, C_in, kH, kW)`; output `(N, C_out, H_out, W_out)`.
  Everything is a raw array (NumPy, or CuPy on a GPU), never a `Tensor`. Keep the input's dtype: float64
  in, float64 out; float32 in, float32 out (make new arrays with `dtype=x.dtype`).
- `geo` is a `Geometry(kernel_size, stride, padding, dilation)`, a named tuple defined in
  `minidense/ops/im2col.py`, each entry a pair `(h, w)` of ints; unpack it as
  `(kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo`, or read `geo.padding`.
- Given in `minidense/ops/im2col.py` (call them, don't rewrite them):
  - `output_size(size, geo)` → the pair `(H_out, W_out)` for `size = (H, W)`, with
    `H_out = (H + 2·pH − dH·(kH − 1) − 1) // sH + 1`;
  - `pad(x, padding, value=0)` → the padded array `(N, C, H + 2·pH, W + 2·pW)` filled with `value` around
    `x` (or `x` itself when the padding is `(0, 0)`: never write into what `pad` returns);
  - `get_array_module(x)` (imported from `minidense/backend.py`) → `numpy` or `cupy`: write
    `xp = get_array_module(x)` and `xp.zeros(...)` instead of `np.zeros(...)`.
- In `minidense/ops/conv.py` the module `ops/im2col.py` is imported as `columns`: call
  `columns.im2col(x, geo)`, `columns.col2im(cols, geo, x_shape)` and `columns.output_size(size, geo)`.

## The contracts (what each function takes and returns)

In `minidense/ops/im2col.py`:

- `im2col(x, geo, pad_value=0)`: `x` `(N, C, H, W)` → ONE new array `cols` of shape
  `(C·kH·kW, N·H_out·W_out)`, dtype of `x`. `pad_value` fills the padding (max pooling, in the next
  assignment, passes `-inf`). Must not change `x`.
- `col2im(cols, geo, x_shape)`: `cols` `(C·kH·kW, N·H_out·W_out)`, `x_shape` the tuple `(N, C, H, W)` →
  ONE new array of shape `x_shape`, dtype of `cols`. Entries that came from the same pixel ADD up; those
  that fall on the padding are dropped. Must not change `cols`.

In `minidense/ops/conv.py`, the three kernels. Each returns ONE array, never a pair or a tuple, and none
may change its inputs (`x`, `w`, `g`):

- `_conv_forward(x, w, geo)` → `out` `(N, C_out, H_out, W_out)`: `W · im2col(x)` with
  `W = w.reshape(C_out, -1)`, reshaped and transposed as below.
- `_conv_input_grad(g, w, geo, x_shape)`: `g` `(N, C_out, H_out, W_out)` → the input's gradient of
  shape `x_shape` `(N, C_in, H, W)`: `col2im(Wᵀ · G, geo, x_shape)`.
- `_conv_weight_grad(g, x, geo)`: `g` `(N, C_out, H_out, W_out)`, `x` `(N, C_in, H, W)` → the weight's
  gradient `(C_out, C_in, kH, kW)`: `G · im2col(x)ᵀ`, reshaped.

Here `G` is the upstream gradient `g` laid out like the columns, `(C_out, N·H_out·W_out)`. `g` is NCHW,
so the channel axis must move first: `G = g.transpose(1, 0, 2, 3).reshape(C_out, -1)`. A plain
`g.reshape(C_out, -1)` has the right shape and the wrong entries as soon as `N ≥ 2`.

This is how the given `Conv2d` (in `ops/conv.py`) calls them; `self.kernels` holds your three kernels
(`_kernels()` returns them as `.forward`, `.input_grad`, `.weight_grad`):

```python
def forward(self, x, weight, bias=None, *, geo):          # Conv2d.forward (given)
    ...
    return _add_bias(self.kernels.forward(x, weight, geo), bias)      # ONE array, the bias added to it

def backward(self, grad):                                 # Conv2d.backward (given)
    gx = self.kernels.input_grad(grad, self.weight, self.geo, self.x.shape) if ... else None
    gw = self.kernels.weight_grad(grad, self.x, self.geo) if ... else None
    return (gx, gw, _bias_grad(grad, self)) if self.has_bias else (gx, gw)
```

`_bias_grad` (given) is `grad.sum(axis=(0, 2, 3))`. The public functions `F.im2col(x, kernel_size,
stride=1, padding=0, dilation=1)`, `F.col2im(cols, input_shape, kernel_size, ...)` and `F.conv2d(x, w, b,
stride, padding, dilation)` check their arguments and call your code; the grader calls those.

## The im2col layout (fixed: the grader compares your matrix entry by entry)

`im2col(x)` has shape `(C·kH·kW, N·H_out·W_out)`:

- **rows** ordered `(c, kh, kw)`, exactly as `w.reshape(C_out, -1)` orders a weight's columns;
- **columns** ordered `(n, h_out, w_out)`.

Entry `[(c, i, j), (n, r, q)]` is `x_padded[n, c, r·sH + i·dH, q·sW + j·dW]`: the stride moves the
window, the dilation spaces its taps. With it, `_conv_forward` is two lines and returns ONE array:

```python
# N = x.shape[0], C_out = w.shape[0], (H_out, W_out) = columns.output_size(x.shape[2:], geo)
cols = columns.im2col(x, geo)                             # (C_in·kH·kW, N·H_out·W_out)
return (w.reshape(C_out, -1) @ cols).reshape(C_out, N, H_out, W_out).transpose(1, 0, 2, 3)
```

The product is `(C_out, N·H_out·W_out)`, channel first; the `transpose(1, 0, 2, 3)` moves the batch axis
to the front. Reshaping straight to `(N, C_out, H_out, W_out)` gives the right shape and mixes samples
with channels.

## Hints from the lecture

- Slide "Recall: Convolution (3x3 Convolution, Stride 2, Pad 1): dot product between filter f and
  input": each column of `im2col(x)` is one window's input, each row of `W` one filter, so every output
  pixel is one entry of the product.
- Loop over the `kH·kW` kernel taps, never over pixels: tap `(i, j)` of every window at once is ONE
  strided slice of the padded input, rows `i·dH, i·dH + sH, ..., i·dH + sH·(H_out − 1)`, that is
  `x_padded[:, :, top:top + sH·(H_out − 1) + 1:sH, left:left + sW·(W_out − 1) + 1:sW]` with
  `top, left = i·dH, j·dW`. Write it into `cols` viewed as `(C, kH, kW, N, H_out, W_out)`
  (`x_padded.transpose(1, 0, 2, 3)` puts `C` before `N`), then reshape.
- col2im is the same loop with `+=` into a zero padded image `(N, C, H + 2·pH, W + 2·pW)` (or
  `(C, N, ...)`, transposed at the end), cropped to `[pH:pH + H, pW:pW + W]`: overlapping patches add up.
  That makes it im2col's exact adjoint, `<im2col(x), c> == <x, col2im(c)>` (the starter notebook checks it).
- Slide "Why 'Transpose Convolution'?": the convolution is a matrix `C` with `out = C·x`, so the input's
  gradient is `Cᵀ·g`, and `Cᵀ` is `col2im` after `Wᵀ`. A pixel read by several windows gets the SUM of
  their gradients.
- `md.gradcheck(fn, inputs)` checks your backward against central differences (in float64); try it on tiny
  shapes with stride 2, padding 1 and dilation 2, and with `N ≥ 2` and `C_out ≥ 2` (the starter notebook
  does).
"""

#: the starter notebook's cells (each runs in well under a second)
CELLS = (
    Cell("## 1. im2col on a tiny image\n\nA 1×1×3×3 image of 0..8 and a 2×2 kernel: 4 rows (the kernel taps "
         "`(c, kh, kw)`), 4 columns (the output pixels `(n, h_out, w_out)`). Column `q` is window `q` read row by "
         "row.",
         "x = md.tensor(np.arange(9.0).reshape(1, 1, 3, 3))\n"
         "print(x.data[0, 0])\n"
         "cols = F.im2col(x, 2)\n"
         "print('im2col:', cols.shape, '= (C·kH·kW, N·H_out·W_out)')\n"
         "print(cols.data)"),
    Cell("## 2. The column matrix as a picture\n\nA batch of two images with two channels, each pixel holding its "
         "own flat index in `x`, so every entry says where it came from. Rows: channel, then tap; columns: sample, "
         "then output pixel. Read one column top to bottom: one window of one sample, both channels.",
         "x = md.tensor(np.arange(36.0).reshape(2, 2, 3, 3))   # (N, C, H, W); value = flat index in x\n"
         "cols = F.im2col(x, 2).data                              # (2·2·2, 2·2·2)\n"
         "rows = [f'c{c} tap({i},{j})' for c in range(2) for i in range(2) for j in range(2)]\n"
         "outs = [f'n{n} out({r},{q})' for n in range(2) for r in range(2) for q in range(2)]\n"
         "fig, ax = plt.subplots(figsize=(7, 5))\n"
         "ax.imshow(cols, cmap='viridis')\n"
         "for (a, b), v in np.ndenumerate(cols):\n"
         "    ax.text(b, a, int(v), ha='center', va='center', color='w', fontsize=9)\n"
         "ax.set_yticks(range(len(rows)), rows)\n"
         "ax.set_xticks(range(len(outs)), outs, rotation=60)\n"
         "ax.set_ylabel('rows (c, kh, kw)')\n"
         "ax.set_xlabel('columns (n, h_out, w_out)')\n"
         "ax.set_title('im2col: a column per window, a row per kernel tap')\n"
         "print(cols[:, 4])   # sample 1's first window: x[1, :, 0:2, 0:2]"),
    Cell("## 3. Stride, padding, dilation\n\nThe stride moves the window, the padding adds zeros around the image, "
         "the dilation spaces the taps. Watch the shapes, and the zeros that padding puts in the columns.",
         "x = md.tensor(np.arange(1.0, 26.0).reshape(1, 1, 5, 5))\n"
         "for kw in (dict(), dict(stride=2), dict(padding=1), dict(dilation=2), dict(stride=2, padding=1)):\n"
         "    print(f'{str(kw):32s}', F.im2col(x, 3, **kw).shape)\n"
         "print(F.im2col(x, 3, stride=2, padding=1).data)"),
    Cell("## 4. col2im: overlapping patches add\n\n`col2im` of a column matrix of ones counts, for each pixel, the "
         "windows that read it (3×3 kernel, stride 1, padding 1 on a 5×5 image): 9 inside, 6 on the edges, 4 in "
         "the corners.",
         "ones = md.tensor(np.ones((9, 25)))                       # (C·kH·kW, N·H_out·W_out) for a 1×1×5×5 image\n"
         "counts = F.col2im(ones, (1, 1, 5, 5), 3, stride=1, padding=1).data[0, 0]\n"
         "print(counts)\n"
         "fig, ax = plt.subplots(figsize=(3.5, 3))\n"
         "im = ax.imshow(counts, cmap='magma', vmin=0)\n"
         "fig.colorbar(im)\n"
         "ax.set_title('col2im(ones): windows per pixel')"),
    Cell("## 5. col2im is im2col's adjoint\n\nFor any `x` and any column matrix `c` of the right shape, "
         "`<im2col(x), c> = <x, col2im(c)>` (the dot product of all entries). The two numbers agree to about 1e-12.",
         "rng = np.random.default_rng(0)\n"
         "x = rng.standard_normal((2, 3, 6, 5))\n"
         "geo = dict(kernel_size=(3, 2), stride=2, padding=1, dilation=(1, 2))\n"
         "cols = F.im2col(md.tensor(x), **geo).data\n"
         "c = rng.standard_normal(cols.shape)\n"
         "back = F.col2im(md.tensor(c), x.shape, **geo).data\n"
         "print(f'<im2col(x), c> = {np.sum(cols * c):.8f}')\n"
         "print(f'<x, col2im(c)> = {np.sum(x * back):.8f}')"),
    Cell("## 6. conv2d against a direct loop\n\nThe lecture's convolution, one dot product per output pixel, against "
         "your one matrix product; then one sample alone against the same sample in the batch (a batch axis in the "
         "wrong place fails here).",
         "rng = np.random.default_rng(1)\n"
         "x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)\n"
         "s, p = 2, 1\n"
         "out = F.conv2d(md.tensor(x), md.tensor(w), md.tensor(b), stride=s, padding=p).data\n"
         "x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))\n"
         "loop = np.zeros_like(out)\n"
         "for n in range(out.shape[0]):\n"
         "    for o in range(out.shape[1]):\n"
         "        for r in range(out.shape[2]):\n"
         "            for q in range(out.shape[3]):\n"
         "                loop[n, o, r, q] = np.sum(x_padded[n, :, r*s:r*s + 3, q*s:q*s + 3] * w[o]) + b[o]\n"
         "print('out:', out.shape, ' equal to the loop:', np.allclose(out, loop))\n"
         "alone = F.conv2d(md.tensor(x[1:]), md.tensor(w), md.tensor(b), stride=s, padding=p).data\n"
         "print('sample 1 alone equals sample 1 of the batch:', np.allclose(alone[0], out[1]))"),
    Cell("## 7. Check your gradients\n\n`md.gradcheck` compares your backward (input, weight and bias gradients) "
         "with central differences in float64. It prints `True`, or raises naming the input and the worst "
         "element.",
         "rng = np.random.default_rng(2)\n"
         "x = md.tensor(rng.standard_normal((2, 2, 5, 6)))\n"
         "w = md.tensor(rng.standard_normal((3, 2, 3, 2)))\n"
         "b = md.tensor(rng.standard_normal(3))\n"
         "print(md.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2)), (x, w, b)))"),
    Cell("## 8. What one multiply costs in memory\n\nThe column matrix copies every pixel once per kernel tap that "
         "reads it (question 2).",
         "x = md.randn(1, 64, 96, 96)                               # float32\n"
         "cols = F.im2col(x, 3, padding=1)\n"
         "print(f'x: {x.data.nbytes / 2**20:.2f} MiB, im2col(x): {cols.data.nbytes / 2**20:.2f} MiB, '\n"
         "      f'{cols.data.nbytes / x.data.nbytes:.0f}x')"),
)

QUESTIONS = (
    "The slide \"Why 'Transpose Convolution'? Can write convolution as matrix-multiply\" writes a 1-D convolution "
    "as a sparse matrix times the input. im2col writes it as the dense weight matrix `W` (C_out × C_in·kH·kW) "
    "times the column matrix. Give the shapes of both factors for x of shape (N, C_in, H, W), and say why one "
    "large matrix product is faster than the lecture's loop of dot products, although it does the same "
    "multiplications.",
    "What im2col costs: by what factor is `im2col(x)` larger than `x` for a 3×3 kernel, stride 1, padding 1 "
    "(cell 8), and for a 2×2 kernel with stride 2? Using the slide \"Why Not Stack Convolutions?\" (200 channels, "
    "400×400 images, float32), how many bytes is the column matrix of one image for one 3×3 layer?",
    "Why do overlapping patches ADD in col2im, and why is the input gradient `col2im(Wᵀ·G)`? Use the chain rule "
    "for a pixel that three windows read, and the adjoint identity of cell 5.",
)

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
           Part("conv_forward", 25, "F.conv2d's output (stride, padding, dilation, bias, float32, a batch)",
                builds_on=("im2col",)),
           Part("conv_backward", 35, "F.conv2d's gradients for input, weight and bias",
                builds_on=("im2col", "col2im"))),
    handout=CONV_HANDOUT,
    generators={"im2col": _im2col, "col2im": _col2im, "conv_forward": _conv_forward, "conv_backward": _conv_backward},
    target=("ops/im2col.py", "im2col"),
    mistakes=(
        Mistake("the upstream gradient reshaped to (C_out, N·H_out·W_out) without moving its channel axis first "
                "(weight gradient)",
                (("ops/conv.py", "    return (g_mat @ columns.im2col(x, geo).T)",
                  "    g_mat = g.reshape(c_out, -1)\n    return (g_mat @ columns.im2col(x, geo).T)"),),
                frozenset({"conv_backward"})),
        Mistake("col2im writes (=) where overlapping patches must add (+=)",
                (("ops/im2col.py", "left:left + sw * (wo - 1) + 1:sw] += cols[:, i, j]",
                  "left:left + sw * (wo - 1) + 1:sw] = cols[:, i, j]"),),
                frozenset({"col2im", "conv_backward"})),
        Mistake("the output reshaped to (N, C_out, ...) without moving the batch axis",
                (("ops/conv.py", "out.reshape(c_out, n, *columns.output_size(x.shape[2:], geo)).transpose(1, 0, 2, 3)",
                  "out.reshape(n, c_out, *columns.output_size(x.shape[2:], geo))"),),
                frozenset({"conv_forward"})),
        Mistake("im2col ignores the dilation (taps next to each other)",
                (("ops/im2col.py", "            top, left = i * dh, j * dw\n            cols[:, i, j]",
                  "            top, left = i, j\n            cols[:, i, j]"),),
                frozenset({"im2col", "conv_forward", "conv_backward"})),
    ),
    starter_cells=CELLS,
    questions=QUESTIONS,
)
