"""Assignment 3: transposed convolution, max pooling with switches, unpooling."""
import numpy as np

from ..cases import conv_case, conv_inputs, geo_id, normal, pair_id
from ..specs import Assignment, Cell, Mistake, Part

HINTS = {
    "transposed_forward": "the forward IS convolution's input gradient: _conv_input_grad(x, weight, geo, "
                          "(N, C_out, *out_size)) with the weight as it is, (C_in, C_out, kH, kW), a convolution from "
                          "C_out to C_in channels; col2im must ADD overlapping entries (they overlap whenever the "
                          "stride is smaller than the kernel)",
    "outpad": "output_padding ≥ stride (allowed when dilation > stride): the convolution of an out_size image has "
              "more windows than x has pixels, so extend x with zeros first, "
              "_zero_extended(x, columns.output_size(out_size, geo))",
    "transposed_backward": "grad_input is convolution's FORWARD of grad, _conv_forward(grad, weight, geo), cropped to "
                           "x's H×W; grad_weight is convolution's weight gradient with the roles swapped, "
                           "_conv_weight_grad(x, grad, geo) → (C_in, C_out, kH, kW) (x in the place of the output "
                           "gradient, grad in the place of the input); grad_bias is grad.sum(axis=(0, 2, 3))",
    "conv2d": "conv2d's input gradient is your _conv_input_grad: col2im(Wᵀ·G) with "
              "G = g.transpose(1, 0, 2, 3).reshape(C_out, -1) (a plain reshape mixes samples and channels when "
              "N ≥ 2), and col2im adds overlapping entries",
    "switches": "ties go to the FIRST maximum in the window, taps scanned in order (kh, kw) (np.argmax does that; "
                "replace only on a strictly greater value); a switch is the flat index row·W + col in the input's "
                "UNPADDED H×W plane, dtype int64",
    "pad": "with padding, a tap (i, j) of window (r, q) reads input row r·sH − pH + i·dH and column "
           "q·sW − pW + j·dW: subtract the padding, and use the input's own width W in row·W + col",
    "all-equal": "every window holds its maximum at every tap: the switch is the window's FIRST position",
    "maxpool_backward": "the gradient of a window goes to its ONE switch, not to every entry equal to the "
                        "maximum (the gradient of a tied maximum goes to one switch)",
    "overlap": "windows overlap (stride < kernel): two windows can share a switch, and their gradients ADD there "
               "(_scatter with accumulate=True, backend.scatter_add; a plain out[flat] = g keeps only one)",
    "unpool": "forward: each value at its switch, zeros elsewhere (not in the window's corner as bed-of-nails "
              "does); backward: gather the gradient at the same switches, _gather(grad, self.flat)",
}


def _hinted(case, *keys):
    case["hint"] = "; ".join(HINTS[k] for k in keys)
    return case


def _transposed_inputs(rng, public, backward):
    while True:
        k = [int(v) for v in rng.integers(1, 4, 2)]
        s = [int(v) for v in rng.integers(1, 3 if public else 4, 2)]
        p = [int(v) for v in rng.integers(0, 2, 2)]
        d = [int(v) for v in rng.integers(1, 3, 2)]
        op = [int(rng.integers(0, max(s[a], d[a]))) for a in range(2)]
        x = [int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 6))]
        if min(_transposed_size(x, k, s, p, d, op)) >= 1:
            break
    return _transposed_case(rng, x, int(rng.integers(1, 4)), k, s, p, d, op, backward)


def _transposed_size(x, k, s, p, d, op):
    return [(x[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a in range(2)]


def _transposed_case(rng, x, c_out, k, s, p, d, op, backward, name=""):
    out = _transposed_size(x, k, s, p, d, op)
    params = {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "output_padding": op}
    inputs = {"x": normal(rng, x), "weight": normal(rng, (x[1], c_out, *k)), "bias": normal(rng, c_out)}
    if backward:
        inputs["grad"] = normal(rng, (x[0], c_out, *out))
    ident = "-".join(t for t in (name, geo_id(params, pair_id("outpad", op, 0))) if t)
    beyond = any(op[a] >= s[a] for a in range(2))
    keys = ("transposed_backward",) if backward else ("transposed_forward",)
    return _hinted({"id": ident, "fn": "conv_transpose2d_backward" if backward else "conv_transpose2d",
                    "params": params, "inputs": inputs}, *keys, *(("outpad",) if beyond else ()))


def _fixed_transposed(rng, backward):
    """The lecture's "3x3 Transpose Convolution, Stride 2, Pad 1" on a batch of two (C_in 2 -> C_out 3), and an
    output_padding past the stride (dilation 2, stride 1)."""
    return [_transposed_case(rng, [2, 2, 3, 4], 3, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], backward, "batch2-cout3"),
            _transposed_case(rng, [1, 2, 3, 3], 2, [2, 2], [1, 1], [0, 0], [2, 2], [1, 0], backward,
                             "outpad-past-stride")]


def _transposed_forward(rng, public):
    return [_transposed_inputs(rng, public, False) for _ in range(2 if public else 5)] + _fixed_transposed(rng, False)


#: conv2d's input gradient on a batch of two with three output channels (stride 1: windows overlap)
CONV_BATCH = {"kernel_size": [3, 2], "stride": [1, 1], "padding": [1, 0], "dilation": [1, 1]}


def _transposed_backward(rng, public):
    # convolution's input gradient is a transposed convolution: this assignment writes it too
    cases = [_transposed_inputs(rng, public, True) for _ in range(2 if public else 4)] + _fixed_transposed(rng, True)
    conv = [conv_inputs(rng, public, True), conv_case(rng, [2, 2, 4, 4], CONV_BATCH, 3, False, True, "batch2-cout3")]
    for c in conv:
        c["id"] = "conv2d-" + c["id"]
    return cases + [_hinted(c, "conv2d") for c in conv]


def _pool_geometry(rng, public):
    k = int(rng.integers(2, 4))
    s = int(rng.integers(1, k + 1))
    p = int(rng.integers(0, k // 2 + 1))
    x = [int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(k, 9)), int(rng.integers(k, 9))]
    return x, {"kernel_size": k, "stride": s, "padding": p}, _pool_size(x, k, s, p)


def _pool_size(x, k, s, p):
    return [(x[2 + a] + 2 * p - k) // s + 1 for a in range(2)]


def _pool_id(p, extra=""):
    parts = [f"k{p['kernel_size']}", f"stride{p['stride']}", f"pad{p['padding']}" if p["padding"] else "",
             "overlap" if p["stride"] < p["kernel_size"] else "", extra]
    return "-".join(s for s in parts if s)


def _tied(rng, shape):
    """Small integers: many windows hold their maximum twice or more."""
    return rng.integers(0, 4, shape).astype(np.float64)


def _pool_hints(geo, name, part_key):
    """The case's own mistakes first (ties everywhere, overlapping windows, padding), the part's last."""
    overlap = part_key == "maxpool_backward" and geo["stride"] < geo["kernel_size"]
    return (("all-equal",) if name == "all-equal" else ()) + (("overlap",) if overlap else ()) + \
        (("pad",) if geo["padding"] else ()) + (part_key,)


#: fixed pooling cases every student gets: (name, input shape, geometry, input kind)
FIXED_POOLS = (("all-equal", [1, 2, 4, 6], {"kernel_size": 2, "stride": 2, "padding": 0}, "equal"),
               ("batch2", [2, 2, 5, 5], {"kernel_size": 3, "stride": 2, "padding": 1}, "tied"),
               ("shared-switch", [2, 1, 5, 5], {"kernel_size": 2, "stride": 1, "padding": 0}, "peaks"))


def _pool_input(rng, shape, kind):
    if kind == "equal":   # one value everywhere (its own in each case: a hidden case never repeats a public one)
        return np.full(shape, rng.standard_normal())
    x = _tied(rng, shape)
    if kind == "peaks":   # one maximum inside four overlapping 2×2 windows: they share its switch
        x[:, :, 1, 1] = x[:, :, 3, 3] = 9.0
    return x


def _pool_cases(rng, public, fn, part_key, with_grad, fixed):
    cases = []
    draws = [_pool_geometry(rng, public) for _ in range(2 if public else 5)]
    inputs = [(x, geo, out, _tied(rng, x), "ties") for x, geo, out in draws]
    for name, x, geo, kind in fixed:
        inputs.append((x, geo, _pool_size(x, geo["kernel_size"], geo["stride"], geo["padding"]),
                       _pool_input(rng, x, kind), name))
    for x, geo, out, values, name in inputs:
        data = {"x": values, "grad": normal(rng, (x[0], x[1], *out))} if with_grad else {"x": values}
        cases.append(_hinted({"id": _pool_id(geo, name), "fn": fn, "params": geo, "inputs": data},
                             *_pool_hints(geo, name, part_key)))
    return cases


def _switches(rng, public):
    return _pool_cases(rng, public, "max_pool2d", "switches", False, FIXED_POOLS[:2])


def _maxpool_backward(rng, public):
    return _pool_cases(rng, public, "max_pool2d_backward", "maxpool_backward", True, FIXED_POOLS)


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
    draws = [_pool_geometry(rng, public) for _ in range(2 if public else 5)]
    draws.append(([2, 2, 6, 5], {"kernel_size": 2, "stride": 2, "padding": 0}, None))
    for i, (x, geo, _) in enumerate(draws):
        geo["stride"] = geo["kernel_size"]   # unpooling needs one switch per window: no overlap
        out = _pool_size(x, geo["kernel_size"], geo["stride"], geo["padding"])
        idx = _random_switches(rng, x, geo, out)
        size = "x".join(map(str, x[2:]))
        extra = f"to{size}" + ("-batch2" if i == len(draws) - 1 else "")
        cases.append(_hinted({"id": _pool_id(geo, extra), "fn": "max_unpool2d",
                              "params": {**geo, "output_size": x[2:]},
                              "inputs": {"x": normal(rng, (x[0], x[1], *out)), "indices": idx,
                                         "grad": normal(rng, x)}}, "unpool"))
    return cases


# every position equal to its window's maximum gets the gradient (kernel == stride): a planted mistake
_TIED_MAXIMA_BACKWARD = """        xp = get_array_module(grad)
        kh, kw = self.shape[2] // grad.shape[2], self.shape[3] // grad.shape[3]
        maxima = _gather(self.x, self.flat).repeat(kh, axis=2).repeat(kw, axis=3)
        return xp.where(self.x == maxima, grad.repeat(kh, axis=2).repeat(kw, axis=3), 0)
"""

POOL_HANDOUT = """
The decoder's half of the lecture (slides "How Do We Upsample?": pooling → unpooling, convolution →
transpose convolution). You write transposed convolution (with `col2im`), and max pooling with
**switches** and its inverse, max-unpooling. Everything works on raw arrays (NumPy, or CuPy on a GPU),
never on `Tensor`s; keep the input's dtype. The kit runs only the reference kernels: the library's fast
paths are not part of the kit.

## Given (call them, don't rewrite them)

- `minidense/ops/im2col.py`: `Geometry(kernel_size, stride, padding, dilation)` (a named tuple, each
  entry a pair `(h, w)`: `(kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo`), `output_size(size, geo)` →
  `(H_out, W_out)` with `H_out = (H + 2·pH − dH·(kH − 1) − 1) // sH + 1`, `pad(x, padding, value=0)` and
  `im2col(x, geo, pad_value=0)` → ONE array `(C·kH·kW, N·H_out·W_out)`, rows ordered `(c, kh, kw)`,
  columns `(n, h_out, w_out)`. In `ops/conv.py` and `ops/pool.py` that module is imported as `columns`
  (`columns.im2col`, `columns.col2im`, `columns.output_size`).
- `minidense/ops/conv.py`: `_conv_forward(x, w, geo)` → ONE array `(N, C_out, H_out, W_out)`, and
  `_conv_weight_grad(g, x, geo)` → ONE array `(C_out, C_in, kH, kW)`, for `x` `(N, C_in, H, W)`, `w`
  `(C_out, C_in, kH, kW)`, `g` `(N, C_out, H_out, W_out)`. `_kernels()` returns the three kernels as
  `.forward`, `.input_grad` (yours), `.weight_grad`: call them through it. `_zero_extended(x, size)` →
  `x` with zeros appended after its last rows and columns up to `size` (`x` itself when it is that size).
  `_add_bias(out, bias)` → `out` with `bias[:, None, None]` added (in place; `out` must be your own new
  array; nothing when `bias` is None). `_bias_grad(grad, self)` → `grad.sum(axis=(0, 2, 3))`, or None
  when the bias needs no gradient.
- `minidense/ops/pool.py`: `_flat_index(indices, plane_size)` turns switches `(N, C, h, w)`, each an
  index into its own `H·W` plane, into indices into the whole flattened `(N, C, H, W)` array (it adds
  `(n·C + c)·H·W`). `scatter_add(target, index, values)` (from `minidense/backend.py`, imported in `pool.py`) does
  `target[index] += values` IN PLACE where repeated indices add up, on 1-D arrays.
- `get_array_module(x)` → `numpy` or `cupy`: write `xp = get_array_module(x)`, then `xp.zeros(...)`.
- A `Function`'s `forward(self, *arrays, **params)` returns ONE array; its `backward(self, grad)` returns
  one gradient per positional input: a single array when there is one input (the keyword `params`, such
  as `indices`, get none), else a tuple, with `None` for an input whose `self.needs_input_grad[i]` is
  False. Keep on `self` what `backward` needs.

## The contracts

None of these may change their inputs (`x`, `cols`, `grad`, `values`, `indices`); each returns a new array.

`minidense/ops/im2col.py` and `ops/conv.py` (the same contracts as in assignment 2):

- `col2im(cols, geo, x_shape)`: `cols` `(C·kH·kW, N·H_out·W_out)` → ONE array of shape
  `x_shape = (N, C, H, W)`: im2col's loop over the kernel taps with `+=` (entries from the same pixel add
  up), those on the padding are dropped.
- `_conv_input_grad(g, w, geo, x_shape)`: `g` `(N, C_out, H_out, W_out)`, `w` `(C_out, C_in, kH, kW)` →
  ONE array, the input's gradient of shape `x_shape`: `col2im(Wᵀ · G, geo, x_shape)` with
  `W = w.reshape(C_out, -1)` and `G = g.transpose(1, 0, 2, 3).reshape(C_out, -1)` (channel axis first).

`ConvTranspose2d` in `ops/conv.py`, for `x` `(N, C_in, H, W)`, `weight` `(C_in, C_out, kH, kW)`
(PyTorch's layout), `bias` `(C_out,)` or None:

- `forward(self, x, weight, bias=None, *, geo, out_size)` → ONE array `(N, C_out, *out_size)`. `out_size`
  `(H_out, W_out)` is computed for you by `F.conv_transpose2d`:
  `H_out = (H − 1)·sH − 2·pH + dH·(kH − 1) + output_padding + 1`.
- `backward(self, grad)`: `grad` `(N, C_out, H_out, W_out)` → the tuple `(gx, gw, gb)` when there is a
  bias, else `(gx, gw)`: `gx` `(N, C_in, H, W)`, `gw` `(C_in, C_out, kH, kW)`, `gb` `(C_out,)`; `None`
  for an input whose `self.needs_input_grad[i]` is False (`i` = 0, 1, 2 for x, weight, bias).

In `ops/pool.py`:

- `_switches(x, geo)`: `x` `(N, C, H, W)` → ONE **int64** array `(N, C, H_out, W_out)`: for each window,
  the flat index `row·W + col` of its maximum in the input's own (unpadded) `H×W` plane. **Ties go to
  the first maximum** in the window, taps taken in the order `(kh, kw)`.
- `_gather(x, flat)` → ONE array shaped like `flat`: `out[n, c, i, j] = x.ravel()[flat[n, c, i, j]]`.
- `_scatter(values, flat, shape, accumulate)` → ONE new array of `shape`, dtype of `values`: zeros, each
  value at its flat index. `accumulate=True`: values at a repeated index ADD (use `scatter_add`);
  `accumulate=False`: a plain assignment (every index appears once, or the values there are equal).
- `GatherSwitches.forward(self, x, *, indices, overlapping)`: `x` `(N, C, H, W)`, `indices` the switches
  `(N, C, h, w)`, `overlapping` True when windows overlap (stride < kernel) → ONE array `(N, C, h, w)`,
  `x` at the switches. `GatherSwitches.backward(self, grad)`: `grad` `(N, C, h, w)` → ONE array
  `(N, C, H, W)` (not a tuple: `x` is the only input): each gradient at its switch, zeros elsewhere.
- `ScatterSwitches.forward(self, x, *, indices, plane_size)`: `x` `(N, C, h, w)`, `indices` like `x`,
  `plane_size` `(H, W)` → ONE array `(N, C, H, W)`: each value at its switch, zeros elsewhere.
  `ScatterSwitches.backward(self, grad)`: `grad` `(N, C, H, W)` → ONE array `(N, C, h, w)`.

`F.max_pool2d(x, kernel_size, stride, padding, return_indices=True)` (given) calls
`indices = _switches(x, geo)`, then `GatherSwitches.apply(x, indices=indices, overlapping=...)`; it
returns the pooled values and the switches. `F.max_unpool2d(y, indices, kernel_size, stride, padding,
output_size)` (given) calls `ScatterSwitches.apply(y, indices=indices, plane_size=(H, W))`.

## Transposed convolution ("learned upsampling")

- Slide "Transpose Convolution: Filter: tiles used to make image": each input pixel stamps the kernel,
  scaled by its value, into the output; the stride spaces the stamps, and where stamps overlap they add.
- Slide "Why 'Transpose Convolution'? Transpose convolution is convolution transposed": the weight
  `(C_in, C_out, kH, kW)` is a convolution from this op's output side (`C_out` channels) to its input side
  (`C_in` channels), and this op runs that convolution backwards. So:
  - **forward** is that convolution's input gradient: `_conv_input_grad(x, weight, geo, (N, C_out, *out_size))`,
    the weight passed as it is. When `output_padding ≥ stride` (possible when dilation > stride), the
    convolution of an `out_size` image has more windows than `x` has pixels: pass
    `x_full = _zero_extended(x, columns.output_size(out_size, geo))` instead of `x` (it is `x` otherwise).
    Then add the bias (`_add_bias`).
  - its **input gradient** is that convolution's forward: `_conv_forward(grad, weight, geo)`, shape
    `(N, C_in, H', W')` with `(H', W') = columns.output_size(out_size, geo)`, cropped to `[:, :, :H, :W]`.
  - its **weight gradient** is convolution's weight gradient with the roles of input and output gradient
    swapped: `_conv_weight_grad(x_full, grad, geo)`, shape `(C_in, C_out, kH, kW)`. In
    `_conv_weight_grad(g, x, geo)` the "output gradient" `g` is this op's input `x_full`
    `(N, C_in, H', W')` and the "input" `x` is this op's upstream gradient `grad` `(N, C_out, H_out, W_out)`.
    Passing them the other way round gives `(C_out, C_in, kH, kW)`: the wrong shape, or, when
    `C_in = C_out`, the wrong entries.
  - its **bias gradient** is `grad.sum(axis=(0, 2, 3))`, shape `(C_out,)` (`_bias_grad`).
- Adjointness holds: `<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>` (the starter notebook checks it).

## Max pooling with switches, unpooling ("unpooling with switches" against "bed of nails")

- Slide "Recall: Pooling": a window's output is its maximum. The **switch** remembers where it was, so
  that unpooling (slide "Now: Unpooling") can put the value back there (PyTorch's `return_indices`);
  bed-of-nails unpooling (`F.bed_of_nails`, given) always puts it in the window's top-left corner.
- `_switches`: `im2col(x, geo, pad_value=-xp.inf)` gives every window as a column (the padding never
  wins); reshape it to `(C, kH·kW, N, H_out, W_out)` and take the argmax over the taps (`argmax` returns
  the first maximum). Tap `t = i·kW + j` of window `(r, q)` reads input row `r·sH − pH + i·dH` and column
  `q·sW − pW + j·dW`: its switch is `row·W + col` with the input's own width `W`. Move the axes back to
  `(N, C, H_out, W_out)` at the end; the result must be int64 (`astype(xp.int64)` if needed).
- The pooled output is the input gathered at the switches (`GatherSwitches.forward`: keep
  `self.flat = _flat_index(indices, x.shape[2:])`, `x.shape` and `overlapping`, return
  `_gather(x, self.flat)`), and the gradient goes back to the switches only (`GatherSwitches.backward`:
  `_scatter(grad, self.flat, x's shape, accumulate=overlapping)`): one input position per window,
  **not** every position that equals the maximum (the gradient of a tied maximum goes to one switch).
  Overlapping windows (stride < kernel) can share a switch: their gradients add up there.
- In `_scatter`, write through a flat view of your new array: `out.reshape(-1)` of a new array is a view,
  `out.flatten()` is a copy (writes into a copy are lost).
- Max-unpooling is the same pair the other way round: `ScatterSwitches.forward` puts each value at its
  switch, zeros elsewhere (`_scatter`, no overlap), and its backward gathers the gradient at the switches.
- The grader uses inputs WITH ties (small integers, and an input whose values are all equal), so the switch
  you pick matters.
"""

#: draws the switches on the input grid; defined in the first cell, used by the later ones
_DRAW = '''def draw_switches(ax, image, switches, k, s, title):
    """The input's values, each window's outline, and a red ring around each switch."""
    h, w = image.shape
    ax.imshow(image, cmap='Greys', alpha=0.35)
    for (r, c), v in np.ndenumerate(image):
        ax.text(c, r, f'{v:g}', ha='center', va='center', fontsize=11)
    for r in range(0, h - k + 1, s):
        for c in range(0, w - k + 1, s):
            ax.add_patch(plt.Rectangle((c - 0.45, r - 0.45), k - 0.1, k - 0.1, fill=False, color='tab:blue'))
    for flat in np.asarray(switches).ravel():
        r, c = divmod(int(flat), w)
        ax.add_patch(plt.Circle((c, r), 0.4, fill=False, color='red', lw=2))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
'''

CELLS = (
    Cell("## 1. Switches on a tiny image\n\nMax pooling 2×2, stride 2. The switches are flat indices `row·W + col` "
         "in the 4×4 input (int64). The top-left window holds 3 twice and the top-right 2 three times: ties go to "
         "the FIRST maximum, read row by row. Red rings: the switches; blue: the windows.",
         _DRAW + "\n"
         "x = md.tensor(np.array([[[[1., 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], [0, 1, 5, 0]]]]))\n"
         "y, idx = F.max_pool2d(x, 2, return_indices=True)\n"
         "print('pooled:\\n', y.data[0, 0])\n"
         "print('switches:\\n', idx.data[0, 0], idx.data.dtype)\n"
         "fig, ax = plt.subplots(figsize=(3.5, 3.5))\n"
         "draw_switches(ax, x.data[0, 0], idx.data[0, 0], 2, 2, 'max pooling 2×2: switches')"),
    Cell("## 2. The gradient goes to the switches only\n\nBackward of the sum of the pooled values: every window "
         "sends 1 to its one switch, not to every entry equal to its maximum. With stride 1 the 2×2 windows "
         "overlap: a switch that several windows share gets the SUM of their gradients (the 4 in the middle).",
         "x = md.tensor(np.array([[[[1., 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], [0, 1, 5, 0]]]]), requires_grad=True)\n"
         "F.max_pool2d(x, 2).sum().backward()\n"
         "print('stride 2:\\n', x.grad[0, 0])\n"
         "peak = np.array([[[[0., 1, 0, 1], [1, 9, 0, 0], [0, 0, 1, 0], [2, 0, 0, 3.]]]])\n"
         "peak = md.tensor(peak, requires_grad=True)\n"
         "y, idx = F.max_pool2d(peak, 2, stride=1, return_indices=True)\n"
         "y.sum().backward()\n"
         "print('stride 1 (overlapping windows):\\n', peak.grad[0, 0])\n"
         "fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))\n"
         "draw_switches(axes[0], peak.data[0, 0], idx.data[0, 0], 2, 1, '2×2, stride 1: switches')\n"
         "axes[1].imshow(np.asarray(peak.grad)[0, 0], cmap='Reds')\n"
         "axes[1].set_title('gradient: windows per switch')"),
    Cell("## 3. Three unpoolings\n\nThe lecture's unpoolings of the same pooled 2×2 values: max-unpooling puts each "
         "value back at its switch (yours), bed of nails in the window's top-left corner, nearest neighbour in the "
         "whole window.",
         "x = md.tensor(np.array([[[[1., 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], [0, 1, 5, 0]]]]))\n"
         "y, idx = F.max_pool2d(x, 2, return_indices=True)\n"
         "pictures = {'max_unpool2d (switches)': F.max_unpool2d(y, idx, 2),\n"
         "            'bed of nails': F.bed_of_nails(y, 2),\n"
         "            'nearest': F.interpolate(y, scale_factor=2, mode='nearest')}\n"
         "print(pictures['max_unpool2d (switches)'].data[0, 0])\n"
         "fig, axes = plt.subplots(1, 3, figsize=(9, 3))\n"
         "for ax, (name, t) in zip(axes, pictures.items()):\n"
         "    ax.imshow(t.data[0, 0], cmap='viridis', vmin=0, vmax=5)\n"
         "    ax.set_title(name)\n"
         "    ax.set_xticks([])\n"
         "    ax.set_yticks([])"),
    Cell("## 4. Transposed convolution: the kernel's footprint\n\nSlide \"Transpose Conv.: filter: tiles used to "
         "make image\". A 1-hot input stamps the kernel (here 1..9) once into the output; two 1-hots stamp it "
         "twice, stride 2 apart, and where the stamps overlap they ADD (the middle column).",
         "w = md.tensor(np.arange(1.0, 10.0).reshape(1, 1, 3, 3))    # (C_in, C_out, kH, kW)\n"
         "one = np.zeros((1, 1, 3, 3))\n"
         "one[0, 0, 1, 1] = 1\n"
         "two = np.zeros((1, 1, 3, 3))\n"
         "two[0, 0, 1, 0] = two[0, 0, 1, 1] = 1\n"
         "fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))\n"
         "for ax, x, title in zip(axes, (one, two), ('one 1-hot', 'two 1-hots, overlapping')):\n"
         "    out = F.conv_transpose2d(md.tensor(x), w, stride=2).data[0, 0]\n"
         "    print(title, out.shape)\n"
         "    print(out)\n"
         "    ax.imshow(out, cmap='viridis')\n"
         "    ax.set_title(f'{title}: stride 2, 3×3')"),
    Cell("## 5. Checkerboard\n\nThe lecture's \"3x3 Transpose Convolution, Stride 2, Pad 1\" of a CONSTANT image with "
         "a kernel of ones: the output is not constant. Each output pixel sums the stamps that cover it, 1, 2 or 4 "
         "of them (question 3). A 4×4 kernel with stride 2 covers every pixel equally often.",
         "x = md.ones(1, 1, 5, 5, dtype=np.float64)\n"
         "k3 = F.conv_transpose2d(x, md.ones(1, 1, 3, 3, dtype=np.float64), stride=2, padding=1).data[0, 0]\n"
         "k4 = F.conv_transpose2d(x, md.ones(1, 1, 4, 4, dtype=np.float64), stride=2, padding=1).data[0, 0]\n"
         "print(k3)\n"
         "fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))\n"
         "for ax, out, title in zip(axes, (k3, k4), ('3×3, stride 2, pad 1', '4×4, stride 2, pad 1')):\n"
         "    ax.imshow(out, cmap='magma', vmin=0, vmax=4)\n"
         "    ax.set_title(title)"),
    Cell("## 6. The transpose is the adjoint\n\nSlide \"Transpose convolution is convolution transposed\": with the "
         "same weight, `<conv2d(x, w), y> = <x, conv_transpose2d(y, w)>`. The two numbers agree to about 1e-12.",
         "rng = np.random.default_rng(0)\n"
         "x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3))\n"
         "y = rng.standard_normal((2, 4, 4, 3))\n"
         "conv = F.conv2d(md.tensor(x), md.tensor(w), stride=2, padding=1).data            # (2, 4, 4, 3)\n"
         "back = F.conv_transpose2d(md.tensor(y), md.tensor(w), stride=2, padding=1, output_padding=(0, 1)).data\n"
         "print(conv.shape, back.shape)\n"
         "print(f'<conv2d(x, w), y>           = {np.sum(conv * y):.8f}')\n"
         "print(f'<x, conv_transpose2d(y, w)> = {np.sum(x * back):.8f}')"),
    Cell("## 7. The transposed convolution's gradients\n\nShapes first (the weight gradient is "
         "`(C_in, C_out, kH, kW)`, like the weight), then `md.gradcheck` on input, weight and bias with stride 2, "
         "padding 1, output_padding 1.",
         "rng = np.random.default_rng(1)\n"
         "x = md.tensor(rng.standard_normal((2, 3, 3, 4)), requires_grad=True)\n"
         "w = md.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)\n"
         "b = md.tensor(rng.standard_normal(2), requires_grad=True)\n"
         "out = F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)\n"
         "out.sum().backward()\n"
         "print('out', out.shape, ' x.grad', x.grad.shape, ' w.grad', w.grad.shape, ' b.grad', b.grad.shape)\n"
         "print(md.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),\n"
         "                   (x, w, b)))"),
)

QUESTIONS = (
    "Slide \"Why 'Transpose Convolution'?\": a convolution is a matrix C (out = C·x). Why is the forward of the "
    "transposed convolution the convolution's input gradient (Cᵀ·y), and why is its input gradient the "
    "convolution's forward? Why does the identity of cell 6 hold for every x and y, and what would it catch in "
    "your code?",
    "Unpooling with switches against bed of nails (slides \"Now: Unpooling\"): what does max-unpooling need from "
    "the encoder that bed of nails does not, and what does it give the decoder in return? Where do the values of "
    "cell 3 land in each?",
    "Checkerboard artifacts: in cell 5, why do the output pixels of the stride-2, 3×3 transposed convolution of a "
    "constant image take the values 1, 2 and 4 in a checkerboard? Why does a 4×4 kernel (a multiple of the "
    "stride) avoid it, and what else could a decoder do instead (the lecture's other unpoolings, or resize then "
    "convolve)?",
    "Ties: max(a, b) has no derivative where a = b. Why does the gradient of a tied maximum go to ONE switch rather "
    "than being split among, or copied to, every maximum, and what does that mean for a gradcheck on an input with "
    "ties?",
)

SPEC = Assignment(
    name="pool",
    title="Assignment 3: transposed convolution, max pooling and unpooling with switches",
    stubs={"ops/im2col.py": ["col2im"],
           "ops/conv.py": ["_conv_input_grad", "ConvTranspose2d.forward", "ConvTranspose2d.backward"],
           "ops/pool.py": ["_switches", "_gather", "_scatter", "GatherSwitches.forward", "GatherSwitches.backward",
                           "ScatterSwitches.forward", "ScatterSwitches.backward"]},
    reveal={"ops/conv_matrix.py": ["ConvMatrix.forward", "ConvMatrix.backward"]},
    parts=(Part("transposed_forward", 25, "F.conv_transpose2d's output (stride, padding, output_padding, dilation, "
                                          "a batch)"),
           Part("transposed_backward", 20, "gradients of conv_transpose2d (input, weight, bias), and conv2d's "
                                           "input gradient"),
           Part("switches", 20, "max_pool2d's values and int64 switches, first maximum on ties, padding"),
           Part("maxpool_backward", 20, "max_pool2d's gradient goes to the switches only (ties, overlapping "
                                        "windows)", builds_on=("switches",)),
           Part("unpool", 15, "max_unpool2d: values at the switches, zeros elsewhere; its gradient")),
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
        Mistake("switches counted without the padding (the corner of window (r, q) taken as r·sH, q·sW)",
                (("ops/pool.py", "corner = (xp.arange(ho).reshape(ho, 1) * sh - ph) * w + xp.arange(wo) * sw - pw",
                  "corner = (xp.arange(ho).reshape(ho, 1) * sh) * w + xp.arange(wo) * sw"),),
                frozenset({"switches", "maxpool_backward"})),
        Mistake("the transposed convolution's weight gradient with input and gradient in each other's roles",
                (("ops/conv.py", "gw = kernels.weight_grad(self.x_full, grad, self.geo)",
                  "gw = kernels.weight_grad(grad, self.x_full, self.geo)"),),
                frozenset({"transposed_backward"})),
        Mistake("overlapping windows' gradients written (=) at a shared switch instead of added",
                (("ops/pool.py", "        return _scatter(grad, self.flat, self.shape, accumulate=self.overlapping)\n",
                  "        return _scatter(grad, self.flat, self.shape, accumulate=False)\n"),),
                frozenset({"maxpool_backward"})),
    ),
    starter_cells=CELLS,
    questions=QUESTIONS,
)
