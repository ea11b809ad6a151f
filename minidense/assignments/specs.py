"""The course: one small spec per assignment, in course order, and what every kit leaves out.

A spec names

- ``stubs``: the functions the student writes, {file relative to the package: [qualified names]};
- ``reveal``: functions stubbed as well because their code would give the answer away (transposed
  convolution's forward IS convolution's input gradient, the dense convolution matrix holds every index);
- ``parts``: the graded parts with their points; each part's cases come from ``cases.py``
  (public ones shipped in the kit, hidden ones generated at grading time from the term seed and the
  student's id);
- ``training``: the pinned set-up and threshold of a training part, if the assignment has one.

The kit of an assignment stubs its own functions and every function a LATER assignment stubs or
reveals (``COURSE`` is the order), so no kit ships a later answer; earlier assignments' functions are
released reference code, or the student's own carried forward (``make --carry``). Adding an
assignment is a spec here (in ``COURSE``) plus its case generators in ``cases.py``.
"""
from dataclasses import dataclass, field

#: paths (relative to the package) that no kit contains: the kit generator and grader (its case
#: generators compute expected outputs with the library), caches.
LEFT_OUT_OF_KITS = ("assignments", "__pycache__")

#: module-level constants every kit sets, {file: {NAME: value}}, replaced on the syntax tree (a name
#: that is not assigned at the file's top level is an error): the kits run the reference kernels only.
KIT_CONSTANTS = {"ops/fastpaths.py": {"ON_BY_DEFAULT": False}}

#: files every kit holds in place of the library's: the fast paths would compute a convolution without
#: the student's kernels, so an untouched kit has no other road to one
KIT_REPLACED_FILES = {"ops/conv_fast.py": '''"""The fast paths are not part of the course kits: the kit runs the
reference kernels you write."""


class Kernels:
    def __init__(self, keep_columns=False):
        raise NotImplementedError("ops/conv_fast.py: the fast paths are not part of this kit; "
                                  "leave md.fast_paths off")
'''}

#: the stub messages: the student's own functions, and those stubbed so as not to give an answer away
YOUR_CODE = "your code here (see HANDOUT.md)"
REVEALED_LATER = "revealed in a later assignment"


@dataclass(frozen=True)
class Part:
    name: str       # the part's name: ``python grader/run.py -m NAME`` runs its public cases alone
    points: int
    title: str
    builds_on: tuple = ()   # parts whose functions this one runs: a mistake there costs points here too


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    stubs: dict
    reveal: dict
    parts: tuple
    handout: str
    training: dict = field(default=None)
    starter_cells: tuple = field(default=())

    def all_stubs(self):
        """{file: [qualified names]}: what the student writes, then what would reveal it."""
        return merge_tables(self.stubs, self.reveal)

    def handout_markdown(self):
        lines = [f"# {self.title}", "", self.handout.strip(), "", "## What you write", ""]
        for path, names in self.stubs.items():
            lines.append(f"In `minidense/{path}`:")
            lines.append("")
            lines.extend(f"- `{n}`" for n in names)
            lines.append("")
        lines += ["Only these functions are taken from your files when you are graded (each merged into a fresh "
                  "copy of this kit): write any helper you need *inside* them, and keep their signatures. "
                  "Submit the files above at their paths in this kit (e.g. `minidense/ops/conv.py`), and your written "
                  "answers, if any, in `ANSWERS.md` at the kit's top (collected as it is, not autograded).", ""]
        if self.reveal:
            lines += ["These are stubbed too, because their code would give the answer away ('revealed in a later "
                      "assignment'); nothing graded needs them, but if you write them (in the files above) they are "
                      "taken with your functions:", ""]
            for path, names in self.reveal.items():
                lines.extend(f"- `minidense/{path}`: `{n}`" for n in names)
            lines.append("")
        lines += ["Functions of later assignments are stubbed as well ('revealed in a later assignment'); "
                  "nothing graded here needs them.", ""]
        lines += ["## Grading", "", "| part | points | what is checked |", "|---|---|---|"]
        lines += [f"| `{p.name}` | {p.points} | {p.title}"
                  + (f" (builds on {', '.join(f'`{b}`' for b in p.builds_on)}: a mistake there costs points here "
                     "too)" if p.builds_on else "") + " |" for p in self.parts]
        lines += ["", f"Total: {sum(p.points for p in self.parts)} points. A part's points are shared equally "
                  "by its cases. `python grader/run.py` (or `python grader/run.py -m PART` for one part) runs "
                  "the **public** cases from the kit's folder, prints the table and writes `results.json`. "
                  "Your grade comes from **hidden** cases of the same kinds (other shapes, strides, paddings, "
                  "values), generated when the course grades, and compared with the course's reference "
                  "outputs: passing the public cases is necessary, not sufficient.", ""]
        return "\n".join(lines)


def merge_tables(*tables):
    """{file: [qualified names]} of several such tables, each name once, in first-seen order."""
    merged = {}
    for table in tables:
        for path, names in table.items():
            have = merged.setdefault(path, [])
            have.extend(n for n in names if n not in have)
    return merged


# ------------------------------------------------------------------ assignment 1: convolution
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

CONV = Assignment(
    name="conv",
    title="Assignment 1: convolution forward and backward via im2col / col2im",
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

POOL = Assignment(
    name="pool",
    title="Assignment 2: transposed convolution, max pooling and unpooling with switches",
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
    starter_cells=(
        ("## Switches on a tiny image", "x = md.tensor(np.array([[[[1., 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], "
         "[0, 1, 5, 0]]]]))\ny, idx = F.max_pool2d(x, 2, return_indices=True)\nprint(y.data, idx.data)"),
    ),
)


# ------------------------------------------------------------------ assignment 3: cross-entropy, training
#: the training part, every hyper-parameter pinned; the grader draws the training seed and the held-out
#: scenes from (term seed, student id). The reference's mean IoU over seeds 0-11 at this set-up (see
#: docs/assignments.md): REFERENCE_WORST at the worst; the target sits MARGIN below it.
REFERENCE_WORST = 0.52
MARGIN = 0.12
TRAINING = {"size": 16, "n_train": 256, "n_val": 32, "epochs": 20, "batch_size": 4, "lr": 1e-2,
            "base_channels": 8, "depth": 2, "seed": 0, "target_miou": round(REFERENCE_WORST - MARGIN, 2)}


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

The grader trains `UNet(3, 5, base_channels={base_channels}, depth={depth},
batch_norm=False)` on {n_train} scenes of
{size}×{size} pixels for {epochs} epochs (Adam, lr {lr}, batch {batch_size}, no augmentation) with
`minidense.train.fit(model, "segmentation", ...)`, whose loss is your
`F.cross_entropy(out, target, ignore_index=255)`, and requires a mean IoU of at least {target_miou} on
{n_val} held-out scenes it predicts (predicting background everywhere scores about 0.17). The public case
uses seed {seed}; graded runs draw the training seed and the held-out scenes anew. The reference code
reaches at least {worst} at every one of 12 seeds; the target sits {margin} below. It takes seconds.
""".format(**TRAINING, worst=REFERENCE_WORST, margin=MARGIN)

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
                                f"{TRAINING['target_miou']}", builds_on=("cross_entropy", "unknown_label"))),
    handout=SEGMENTATION_HANDOUT,
    training=TRAINING,
    starter_cells=(
        ("## Your loss on a tiny label map", "x = md.randn(1, 3, 2, 2, dtype=np.float64, requires_grad=True)\n"
         "t = md.tensor(np.array([[[0, 2], [255, 1]]]))\n"
         "loss = F.cross_entropy(x, t, ignore_index=255)\nloss.backward()\nprint(loss.item(), x.grad)"),
    ),
)

#: the course order: a kit stubs its own assignment's functions and every later one's
COURSE = (CONV, POOL, SEGMENTATION)
ASSIGNMENTS = {a.name: a for a in COURSE}
