"""One small spec per assignment: what to stub, the handout, the parts and their points, the reference data.

A spec names

- ``stubs``: the functions the student writes, {file relative to the package: [qualified names]};
- ``reveal``: functions stubbed as well because their code would give the answer away (transposed
  convolution's forward IS convolution's input gradient, the dense convolution matrix holds every index);
- ``parts``: the graded parts (each a pytest mark in the grader) with their points;
- ``grader``: the test module in ``grading/`` that becomes the kit's ``grader/test_<name>.py``;
- ``references``: a function run by the generator (with the library's own code) that returns the
  arrays stored in the kit's ``grader/reference.npz``. The grader reads them; it never calls a
  reference implementation.
"""
import json
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Part:
    name: str       # the pytest mark: ``python grader/run.py -m NAME`` grades this part alone
    points: int
    title: str


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    stubs: dict
    reveal: dict
    parts: tuple
    grader: str
    handout: str
    references: object
    starter_cells: tuple = field(default=())

    def all_stubs(self):
        """{file: [qualified names]}: what the student writes, then what would reveal it."""
        merged = {}
        for table in (self.stubs, self.reveal):
            for path, names in table.items():
                merged.setdefault(path, []).extend(n for n in names if n not in merged.get(path, []))
        return merged

    def handout_markdown(self):
        lines = [f"# {self.title}", "", self.handout.strip(), "", "## What you write", ""]
        for path, names in self.stubs.items():
            lines.append(f"In `minidense/{path}`:")
            lines.append("")
            lines.extend(f"- `{n}`" for n in names)
            lines.append("")
        if self.reveal:
            lines += ["These are stubbed too, because their code would give the answer away; the grader does not "
                      "use them (write them as well if you like):", ""]
            for path, names in self.reveal.items():
                lines.extend(f"- `minidense/{path}`: `{n}`" for n in names)
            lines.append("")
        lines += ["## Grading", "", "| part | points | what is checked |", "|---|---|---|"]
        lines += [f"| `{p.name}` | {p.points} | {p.title} |" for p in self.parts]
        lines += ["", f"Total: {sum(p.points for p in self.parts)} points. A part's points are shared equally "
                  "by its tests. Run `python grader/run.py` (or `python grader/run.py -m PART` for one part) "
                  "from the kit's folder; it prints the table and writes `results.json`. The grader checks "
                  "gradients by finite differences (`md.gradcheck`, float64), properties such as adjointness, "
                  "and outputs against `grader/reference.npz`.", ""]
        return "\n".join(lines)


def _meta(cases):
    return np.array(json.dumps(cases))


def _rand(rng, *shape):
    return rng.standard_normal(shape)


# ------------------------------------------------------------------ assignment 1: convolution
CONV_FORWARD_CASES = [   # (N, C_in, H, W), (C_out, kH, kW), stride, padding, dilation, bias
    {"x": [2, 2, 5, 5], "w": [3, 3, 3], "stride": [1, 1], "padding": [0, 0], "dilation": [1, 1], "bias": False},
    {"x": [2, 3, 7, 6], "w": [2, 3, 3], "stride": [2, 2], "padding": [1, 1], "dilation": [1, 1], "bias": True},
    {"x": [1, 2, 8, 7], "w": [2, 2, 3], "stride": [2, 1], "padding": [2, 1], "dilation": [2, 1], "bias": True},
    {"x": [3, 1, 6, 6], "w": [4, 1, 1], "stride": [3, 3], "padding": [0, 0], "dilation": [1, 1], "bias": False},
]
IM2COL_CASES = [   # x shape, kernel, stride, padding, dilation
    {"x": [2, 2, 4, 5], "k": [2, 3], "stride": [1, 1], "padding": [0, 0], "dilation": [1, 1]},
    {"x": [2, 3, 6, 6], "k": [3, 3], "stride": [2, 2], "padding": [1, 1], "dilation": [1, 1]},
    {"x": [1, 2, 7, 8], "k": [2, 2], "stride": [3, 2], "padding": [1, 0], "dilation": [2, 3]},
]


def conv_references():
    import minidense as md
    import minidense.functional as F
    rng = np.random.default_rng(442)
    out = {"meta_forward": _meta(CONV_FORWARD_CASES), "meta_im2col": _meta(IM2COL_CASES)}
    for i, c in enumerate(IM2COL_CASES):
        x = _rand(rng, *c["x"])
        geo = dict(stride=tuple(c["stride"]), padding=tuple(c["padding"]), dilation=tuple(c["dilation"]))
        cols = F.im2col(md.tensor(x), tuple(c["k"]), **geo).data
        y = _rand(rng, *cols.shape)
        out.update({f"im2col{i}_x": x, f"im2col{i}_cols": cols, f"col2im{i}_cols": y,
                    f"col2im{i}_x": F.col2im(md.tensor(y), tuple(c["x"]), tuple(c["k"]), **geo).data})
    for i, c in enumerate(CONV_FORWARD_CASES):
        x, w = _rand(rng, *c["x"]), _rand(rng, c["w"][0], c["x"][1], *c["w"][1:])
        b = _rand(rng, c["w"][0]) if c["bias"] else None
        geo = dict(stride=tuple(c["stride"]), padding=tuple(c["padding"]), dilation=tuple(c["dilation"]))
        xt, wt = md.tensor(x, requires_grad=True), md.tensor(w, requires_grad=True)
        bt = None if b is None else md.tensor(b, requires_grad=True)
        y = F.conv2d(xt, wt, bt, **geo)
        u = _rand(rng, *y.shape)
        y.backward(md.tensor(u))
        out.update({f"conv{i}_x": x, f"conv{i}_w": w, f"conv{i}_y": y.data, f"conv{i}_u": u,
                    f"conv{i}_gx": xt.grad, f"conv{i}_gw": wt.grad})
        if b is not None:
            out.update({f"conv{i}_b": b, f"conv{i}_gb": bt.grad})
    return out


CONV_HANDOUT = """
Convolution is one matrix product. You write the column matrix (im2col), its adjoint (col2im), and
the three helpers that make `F.conv2d` and its backward out of them. Everything else (argument checks,
the `Conv2d` Function that calls your helpers, bias, the engine) is given.

## Shapes

- input `x`: `(N, C_in, H, W)`; weight `w`: `(C_out, C_in, kH, kW)`; output `(N, C_out, H_out, W_out)` with
  `H_out = (H + 2·p − d·(kH − 1) − 1) // s + 1` (the given `_out_size`).
- `geo` is a `Geometry(kernel_size, stride, padding, dilation)`, each a pair `(h, w)`.

## The im2col layout (fixed: the grader compares your matrix entry by entry)

`im2col(x)` has shape `(C·kH·kW, N·H_out·W_out)`:

- **rows** ordered `(c, kh, kw)`, exactly as `w.reshape(C_out, -1)` orders a weight's columns;
- **columns** ordered `(n, h_out, w_out)`.

Entry `[(c, i, j), (n, r, q)]` is `x_padded[n, c, r·s_h + i·d_h, q·s_w + j·d_w]`. So

```python
cols = _im2col(x, geo, out_size)                    # (C_in·kH·kW, N·H_out·W_out)
out = (w.reshape(C_out, -1) @ cols).reshape(C_out, N, H_out, W_out).transpose(1, 0, 2, 3)
```

## Hints from the lecture

- Loop over the `kH·kW` kernel taps, never over pixels: tap `(i, j)` is ONE strided slice of the padded
  input, `x_padded[:, :, top:top + s_h·(H_out − 1) + 1:s_h, left:...]` with `top = i·d_h`.
- col2im is the same loop with `+=`: overlapping patches add up. That makes it im2col's exact adjoint,
  `<im2col(x), c> == <x, col2im(c)>`, and the grader checks this.
- Backward: with `W = w.reshape(C_out, -1)` and `G` the upstream gradient laid out like the columns
  (`(C_out, N·H_out·W_out)`, mind the transpose from NCHW), the input gradient is `col2im(Wᵀ · G)` and
  the weight gradient is `G · im2col(x)ᵀ`.
- Use `xp = get_array_module(x)` instead of `numpy` so the same code runs on the GPU.
- `md.gradcheck(fn, inputs)` checks your backward against finite differences; try it on tiny shapes
  with stride 2, padding 1 and dilation 2, and with `N ≥ 2`.
"""

CONV = Assignment(
    name="conv",
    title="Assignment 1: convolution forward and backward via im2col / col2im",
    stubs={"ops/conv.py": ["_im2col", "_col2im", "_conv_forward", "_conv_input_grad", "_conv_weight_grad"]},
    reveal={"ops/conv.py": ["_im2col_end_to_end", "_col2im_end_to_end", "ConvTranspose2d.forward",
                            "ConvTranspose2d.backward", "ConvMatrix.forward", "ConvMatrix.backward"],
            "ops/pool.py": ["_switches", "_window_counts"]},
    parts=(Part("im2col", 20, "the column matrix: layout and values, with stride, padding and dilation"),
           Part("col2im", 20, "col2im: values, and the adjoint of im2col"),
           Part("conv_forward", 25, "F.conv2d against stored outputs (stride, padding, dilation, bias)"),
           Part("conv_backward", 35, "gradients of F.conv2d: gradcheck and stored gradients")),
    grader="grade_conv.py",
    handout=CONV_HANDOUT,
    references=conv_references,
    starter_cells=(
        ("## im2col on a tiny image\n\nA 1×1×3×3 image of 0..8 and a 2×2 kernel: 4 rows (the taps), "
         "4 columns (the output pixels).",
         "x = md.tensor(np.arange(9.0).reshape(1, 1, 3, 3))\nprint(F.im2col(x, 2).data)"),
        ("## Check your gradient", "x = md.randn(2, 2, 5, 5, dtype=np.float64)\n"
         "w = md.randn(3, 2, 3, 3, dtype=np.float64)\n"
         "md.gradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=1), (x, w))"),
    ),
)


# ------------------------------------------------------------------ assignment 2: transposed conv, pooling
TRANSPOSED_CASES = [   # x (N, C_in, H, W), weight (C_in, C_out, kH, kW), stride, padding, output_padding, dilation
    {"x": [2, 3, 3, 3], "w": [3, 2, 2, 2], "stride": 2, "padding": 0, "output_padding": 0, "dilation": 1},
    {"x": [2, 2, 4, 3], "w": [2, 3, 3, 3], "stride": 2, "padding": 1, "output_padding": 1, "dilation": 1},
    {"x": [1, 2, 3, 4], "w": [2, 2, 3, 2], "stride": 1, "padding": 1, "output_padding": 0, "dilation": 2},
]
POOL_CASES = [   # kernel, stride, padding; inputs hold ties
    {"x": [2, 2, 6, 6], "kernel": 2, "stride": 2, "padding": 0},
    {"x": [1, 3, 7, 7], "kernel": 3, "stride": 2, "padding": 1},
    {"x": [2, 1, 5, 6], "kernel": 2, "stride": 1, "padding": 0},
]


def _tied(rng, shape):
    """Small integers: many windows hold their maximum twice or more."""
    return rng.integers(0, 4, shape).astype(np.float64)


def pool_references():
    import minidense as md
    import minidense.functional as F
    rng = np.random.default_rng(4420)
    out = {"meta_transposed": _meta(TRANSPOSED_CASES), "meta_pool": _meta(POOL_CASES)}
    for i, c in enumerate(TRANSPOSED_CASES):
        x, w, b = _rand(rng, *c["x"]), _rand(rng, *c["w"]), _rand(rng, c["w"][1])
        kw = {k: c[k] for k in ("stride", "padding", "output_padding", "dilation")}
        y = F.conv_transpose2d(md.tensor(x), md.tensor(w), md.tensor(b), **kw).data
        out.update({f"tconv{i}_x": x, f"tconv{i}_w": w, f"tconv{i}_b": b, f"tconv{i}_y": y})
    for i, c in enumerate(POOL_CASES):
        x = _tied(rng, c["x"])
        xt = md.tensor(x, requires_grad=True)
        y, idx = F.max_pool2d(xt, c["kernel"], c["stride"], c["padding"], return_indices=True)
        u = _rand(rng, *y.shape)
        y.backward(md.tensor(u))
        v = _rand(rng, *y.shape)
        size = tuple(c["x"][2:])
        unpooled = F.max_unpool2d(md.tensor(v), idx, c["kernel"], c["stride"], c["padding"], output_size=size)
        out.update({f"pool{i}_x": x, f"pool{i}_y": y.data, f"pool{i}_idx": idx.data, f"pool{i}_u": u,
                    f"pool{i}_gx": xt.grad, f"pool{i}_v": v, f"pool{i}_unpooled": unpooled.data})
    return out


POOL_HANDOUT = """
The decoder's half of the lecture. You write transposed convolution (with col2im), and max pooling
with **switches** and its inverse, max-unpooling. Convolution's forward (`_im2col`, `_conv_forward`)
and weight gradient (`_conv_weight_grad`) are given.

## Transposed convolution

- input `x`: `(N, C_in, H, W)`; weight `(C_in, C_out, kH, kW)` (PyTorch's layout); output
  `(N, C_out, H_out, W_out)` with `H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1`.
- It is convolution run backwards: the weight is a convolution from the output side (`C_out`) to the
  input side (`C_in`), and the forward of the transposed convolution is that convolution's input gradient,
  `col2im(Wᵀ · X)` with `W = w.reshape(C_in, -1)` and `X` the input laid out as `(C_in, N·H·W)`.
- Its input gradient is convolution's forward, `_conv_forward(grad, w, geo, ...)`. One matrix, used transposed.
- col2im is im2col's loop over the kernel taps with `+=` (overlapping patches add up). The column layout:
  rows `(c, kh, kw)`, columns `(n, h_out, w_out)`, as `_im2col` (given) builds it.
- The grader checks adjointness: `<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>`.

## Max pooling with switches

- `_switches(x, geo)`: for each window, the flat index `row·W + col` of its maximum in the input's
  `H·W` plane (PyTorch's `return_indices`). Hint: `_im2col(x, geo, out_size, pad_value=-inf)` gives every
  window as a column; `argmax` over the taps finds the maximum. **Ties go to the first maximum** in the window.
- The pooled output is the input gathered at the switches (`_gather`, `GatherSwitches.forward`), and the
  gradient goes back to the switches only (`_scatter`, `GatherSwitches.backward`): one input position per
  window, **not** every position that equals the maximum. Overlapping windows (stride < kernel) can share
  a switch: their gradients add up there (`backend.scatter_add`).
- Max-unpooling is the same pair the other way round: `ScatterSwitches.forward` puts each value at its
  switch (zeros elsewhere), its backward gathers.
- The grader uses inputs WITH ties (small integers), so the switch you pick matters.
"""

POOL = Assignment(
    name="pool",
    title="Assignment 2: transposed convolution, max pooling and unpooling with switches",
    stubs={"ops/conv.py": ["_col2im", "_conv_input_grad", "ConvTranspose2d.forward", "ConvTranspose2d.backward"],
           "ops/pool.py": ["_switches", "_gather", "_scatter", "GatherSwitches.forward", "GatherSwitches.backward",
                           "ScatterSwitches.forward", "ScatterSwitches.backward"]},
    reveal={"ops/conv.py": ["_col2im_end_to_end", "ConvMatrix.forward", "ConvMatrix.backward"]},
    parts=(Part("transposed_forward", 25, "conv_transpose2d: stored outputs and the adjoint of conv2d"),
           Part("transposed_backward", 20, "gradients of conv_transpose2d and of conv2d's input (gradcheck)"),
           Part("switches", 20, "max_pool2d values and switches, first maximum on ties"),
           Part("maxpool_backward", 20, "max_pool2d's gradient goes to the switches only (inputs with ties)"),
           Part("unpool", 15, "max_unpool2d: values at the switches, gradient")),
    grader="grade_pool.py",
    handout=POOL_HANDOUT,
    references=pool_references,
    starter_cells=(
        ("## Switches on a tiny image", "x = md.tensor(np.array([[[[1., 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], "
         "[0, 1, 5, 0]]]]))\ny, idx = F.max_pool2d(x, 2, return_indices=True)\nprint(y.data, idx.data)"),
    ),
)


# ------------------------------------------------------------------ assignment 3: cross-entropy, training
#: the training part: model, data and budget, and the mean IoU the reference reaches with margin
TRAINING = {"size": 16, "n_train": 128, "n_val": 32, "epochs": 20, "batch_size": 4, "lr": 1e-2,
            "base_channels": 8, "depth": 2, "seed": 0, "target_miou": 0.30}


def segmentation_references():
    import minidense as md
    import minidense.functional as F
    rng = np.random.default_rng(44200)
    out = {"training": _meta(TRAINING)}
    x = _rand(rng, 3, 5) * 3
    out.update({"lsm_x": x, "lsm_y": F.log_softmax(md.tensor(x), dim=1).data})
    big = np.array([[1e4, -1e4, 0.0], [5e3, 5e3 + 1.0, -2e4]])
    out.update({"lsm_big_x": big, "lsm_big_y": F.log_softmax(md.tensor(big), dim=1).data})
    s4 = _rand(rng, 2, 4, 3, 3) * 2
    t4 = rng.integers(0, 4, (2, 3, 3))
    wcls = rng.uniform(0.5, 2.0, 4)
    out.update({"ce_x": s4, "ce_t": t4, "ce_w": wcls})
    for red in ("mean", "sum", "none"):
        out[f"ce_{red}"] = F.cross_entropy(md.tensor(s4), md.tensor(t4), reduction=red).data
        out[f"ce_w_{red}"] = F.cross_entropy(md.tensor(s4), md.tensor(t4), weight=md.tensor(wcls), reduction=red).data
    s2, t2 = _rand(rng, 6, 3), rng.integers(0, 3, 6)
    out.update({"ce2_x": s2, "ce2_t": t2, "ce2_mean": F.cross_entropy(md.tensor(s2), md.tensor(t2)).data})
    # the unknown label: a third of the pixels carry 255
    tu = rng.integers(0, 4, (2, 3, 3))
    tu[rng.random(tu.shape) < 0.35] = 255
    tu[0, 0, 0] = 255
    out.update({"unk_x": s4, "unk_t": tu})
    for red in ("mean", "sum"):
        out[f"unk_{red}"] = F.cross_entropy(md.tensor(s4), md.tensor(tu), ignore_index=255, reduction=red).data
        out[f"unk_w_{red}"] = F.cross_entropy(md.tensor(s4), md.tensor(tu), weight=md.tensor(wcls),
                                              ignore_index=255, reduction=red).data
    return out


SEGMENTATION_HANDOUT = """
Per-pixel classification: a softmax over the class axis at every pixel, the cross-entropy against a
label map, and the **unknown label** (pixels nobody labelled, `md.IGNORE_INDEX = 255`), which must add
nothing to the loss and get exactly zero gradient. Then you train a small U-Net on the built-in scenes
with your loss.

## Shapes

- scores (logits) `x`: `(N, C, H, W)` or `(N, C)`; labels `target`: `(N, H, W)` or `(N,)`, integers in
  `[0, C)` or `ignore_index`; optional class weights `weight`: `(C,)`.
- `reduction="none"` gives the per-pixel loss (0 at ignored pixels), `"sum"` its sum, `"mean"` the sum
  divided by **the summed weights of the non-ignored pixels** (their number without class weights).
  When every pixel is ignored the mean is 0 with zero gradient (PyTorch returns NaN there).

## Hints from the lecture

- Stability: `log softmax(x) = (x − max) − log Σ exp(x − max)`; never `exp` a raw score (|x| ~ 1e4 must
  stay finite). The grader feeds such scores.
- `LogSoftmax.backward`: `g − softmax(x) · Σ g` along the class axis (you kept the output in forward).
- The gradient of `−log softmax(x)[t]` is `softmax(x) − onehot(t)`, scaled by the pixel's weight (0 when
  ignored) and by `1/count` for the mean. `_reduce` and `_reduce_backward` (given) do the reductions.
- `_ClassLoss._weights` sets what forward and backward share: `self.w` (per-pixel weights, 0 where
  ignored), `self.index` (flat indices of the target scores, see the given `_target_index`; give ignored
  pixels a safe class, e.g. 0) and `self.count` (what the mean divides by).
- Never build a one-hot tensor of shape `(N, C, H, W)`: gather at `self.index` instead.

## Training (the last part)

The grader trains `UNet(3, 5, base_channels={base_channels}, depth={depth}, batch_norm=False)` on {n_train} scenes of
{size}×{size} pixels for {epochs} epochs (Adam, lr {lr}, batch {batch_size}, seed {seed}) with
`minidense.train.fit(model, "segmentation", ...)`, whose loss is your
`F.cross_entropy(out, target, ignore_index=255)`, and requires a mean IoU of at least {target_miou} on
{n_val} held-out scenes (predicting background everywhere scores about 0.17). It takes seconds on a laptop.
""".format(**TRAINING)

SEGMENTATION = Assignment(
    name="segmentation",
    title="Assignment 3: per-pixel cross-entropy with the unknown label, and training a U-Net",
    stubs={"ops/loss.py": ["LogSoftmax.forward", "LogSoftmax.backward", "_ClassLoss._weights",
                           "CrossEntropy.forward", "CrossEntropy.backward"]},
    reveal={"ops/loss.py": ["Softmax.forward", "Softmax.backward", "NLLLoss.forward", "NLLLoss.backward"]},
    parts=(Part("log_softmax", 20, "log_softmax: values, stability for |x| ~ 1e4, gradient"),
           Part("cross_entropy", 30, "cross_entropy: values with reductions and class weights, gradient"),
           Part("unknown_label", 20, "ignored pixels: not in the mean, zero gradient, all-ignored gives 0"),
           Part("training", 30, f"a small U-Net trained with your loss reaches mean IoU >= "
                                f"{TRAINING['target_miou']}")),
    grader="grade_segmentation.py",
    handout=SEGMENTATION_HANDOUT,
    references=segmentation_references,
    starter_cells=(
        ("## Your loss on a tiny label map", "x = md.randn(1, 3, 2, 2, dtype=np.float64, requires_grad=True)\n"
         "t = md.tensor(np.array([[[0, 2], [255, 1]]]))\n"
         "loss = F.cross_entropy(x, t, ignore_index=255)\nloss.backward()\nprint(loss.item(), x.grad)"),
    ),
)

ASSIGNMENTS = {a.name: a for a in (CONV, POOL, SEGMENTATION)}
