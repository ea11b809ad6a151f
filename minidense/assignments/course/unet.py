"""Assignment 5: a U-Net with skips, trained on the built-in scenes, and the skip ablation."""
import numpy as np

from ..cases import course_weights, normal
from ..specs import Assignment, Cell, Mistake, Part

#: the training parts, every hyper-parameter pinned (the harness passes each one to the model, the optimizer
#: and ``fit``); the grader draws the training seed and the held-out scenes from (term seed, student id).
#: Measured with the reference code (docs/assignments.md, "### 5. unet"): REFERENCE_WORST_MIOU at the worst of
#: MIOU_SEEDS training seeds, REFERENCE_WORST_GAP at the worst of GAP_SEEDS; the targets sit the margins below.
REFERENCE_WORST_MIOU = 0.44
MIOU_MARGIN = 0.10
MIOU_SEEDS = 59
REFERENCE_WORST_GAP = 0.06
GAP_MARGIN = 0.03
GAP_SEEDS = 41
TRAINING = {"in_channels": 3, "base_channels": 8, "depth": 3, "up": "transpose", "batch_norm": False,
            "optimizer": "Adam", "lr": 1e-2, "schedule": "cosine", "augment": False, "epochs": 20, "batch_size": 4,
            "size": 16, "n_train": 256, "n_val": 32, "seed": 0, "boundary_width": 1,
            "target_miou": round(REFERENCE_WORST_MIOU - MIOU_MARGIN, 2),
            "min_gap": round(REFERENCE_WORST_GAP - GAP_MARGIN, 2)}

#: the keys of TRAINING that go into a training case's params as they are
_PINNED = ("in_channels", "base_channels", "depth", "up", "batch_norm", "optimizer", "lr", "schedule", "augment",
           "epochs", "batch_size", "size", "n_train")

UNET_HANDOUT = """
The lecture's "Missing Details": an encoder-decoder loses the details when it pools, and U-Net sends
them forward by **copying** each encoder level's activations to the decoder at the same resolution,
where they are concatenated with what comes up from below. You write `UNet.__init__` and
`UNet.forward` in `minidense/models/unet.py` (the class docstring there is the reference), the grader
loads the course's weights into your network and compares outputs, then trains it on the built-in
scenes, with and without the skips.

## What is given

Everything else: the layers of `minidense.nn` (`Conv2d`, `ConvTranspose2d`, `MaxPool2d`, `Upsample`,
`Sequential`, `ModuleList`), `F.concat(tensors, axis)`, `creation.zeros_like(t)`, and in
`minidense/models/blocks.py` `double_conv(in_channels, out_channels, batch_norm)` (two 3×3 convolutions
with padding 1, each followed by [BatchNorm2d and] ReLU; H×W kept), `output_bias(channels)` (the
buffer's initial zeros) and `add_output_bias(out, bias)`. The argument checks are in `_checks` and
`models/_common.py` (`positive_int`, `choice`, `flag`, `images`); `size_multiple` and `extra_repr` are
written. `EncoderDecoder` (`models/encoder_decoder.py`) is released code with the same levels and
widths: read it, its encoder is built as yours is (its skips are max-pooling switches, not copies).

## The contract (the grader loads the course's state dict into your network: names and shapes are fixed)

`UNet(in_channels, out_channels, base_channels=16, depth=4, up="transpose", batch_norm=True,
skips=True)`:

- Every constructor argument is checked (`_checks.positive_int` for the four ints, `_common.choice(...,
  ("transpose", "bilinear"))` for `up`, `_common.flag` for the two flags) and **stored as
  `self.<name>`** under its own name (`checkpoint.describe_model` reads them back to rebuild the model).
- `depth` counts **levels** (resolutions); level `i` has `widths[i] = base_channels * 2**i` channels;
  there are `depth - 1` max-poolings by 2, so H and W must be multiples of `2 ** (depth - 1)`
  (`size_multiple`). `depth=1` is one double conv and the head: no pooling, no decoder.
- Attributes, in this order (the state-dict keys follow from them):
  - `self.downs`: a `ModuleList` of `depth` `double_conv` blocks: `downs.0` maps `in_channels` to
    `widths[0]`, `downs.i` maps `widths[i-1]` to `widths[i]`; `downs.{{depth-1}}` is the bottleneck.
  - `self.pool = MaxPool2d(2)` (no parameters).
  - `self.ups` and `self.decoders`: `ModuleList`s of `depth - 1` modules each, **deepest first**: entry
    `j` goes from level `i = depth - 1 - j` up to level `i - 1`. With `c = widths[i-1]`:
    `ups.j = ConvTranspose2d(widths[i], c, 2, stride=2)` for `up="transpose"`, or
    `Sequential(Upsample(scale_factor=2, mode="bilinear"), Conv2d(widths[i], c, 1))` for `"bilinear"`
    (keys `ups.j.1.weight`, `ups.j.1.bias`); `decoders.j = double_conv(2 * c, c, batch_norm)` (the
    concatenation doubles the channels).
  - `self.head = Conv2d(widths[0], out_channels, 1)`.
  - the buffer `output_bias`: `self.register_buffer("output_bias", output_bias(out_channels))`.
  So `UNet(3, 5, base_channels=4, depth=2, batch_norm=False)` has the state-dict keys `output_bias`,
  `downs.0.0.weight`, `downs.0.0.bias`, `downs.0.2.weight`, `downs.0.2.bias`, `downs.1.0.weight`, ...,
  `ups.0.weight` `(8, 4, 2, 2)`, `ups.0.bias` `(4,)`, `decoders.0.0.weight` `(4, 8, 3, 3)`, ...,
  `head.weight` `(5, 4, 1, 1)`, `head.bias` `(5,)`; no other parameter or buffer.
- `forward(x)`: `x` `(N, in_channels, H, W)` → scores `(N, out_channels, H, W)`. First
  `_common.images("UNet", x, self.in_channels, self.size_multiple, ...)`. Then: every level's block; the
  output of each level but the last is **kept** (the copy, taken *before* its pooling) and pooled; on
  the way up, entry `j` upsamples (`ups.j`), then `decoders.j` runs on
  **`F.concat([copy, upsampled], axis=1)`**: the copy of the same level FIRST. With `skips=False` the
  copy is replaced by `creation.zeros_like(copy)` (same shapes, same parameters: only the detail is
  missing). The result is `add_output_bias(self.head(x), self.output_bias)`.
- Nothing else: no dropout, no cropping, no extra layer; `forward` changes no parameter or buffer.

## Training (the last two parts)

Both train with `minidense.train.fit(model, "segmentation", ...)` (the released loss, optimizer and
loop), every hyper-parameter pinned and passed explicitly (a change of the library's defaults never
moves your grade): `md.manual_seed(seed)`, then `UNet({in_channels}, 5, base_channels={base_channels},
depth={depth}, up="{up}", batch_norm={batch_norm}, skips=...)` started from **the course's initial
weights**, loaded by state-dict name (the order in which your constructor creates its modules does not
matter; a state dict that is not the contract's does not load: the part scores 0), {n_train} built-in scenes of
{size}×{size} pixels (`SceneDataset({n_train}, size={size}, seed=seed)`), {epochs} epochs, batch
{batch_size}, `{optimizer}(model.parameters(), lr={lr})`, schedule `"{schedule}"`, no augmentation,
training seed `seed`; then labels by argmax on {n_val} held-out scenes.

- `training`: the network with skips reaches a mean IoU of at least **{target_miou}** on the held-out
  scenes (predicting background everywhere scores about 0.17). The course's reference reached at least
  {worst_miou} at every one of {miou_seeds} training seeds (0.63 on average); the target sits {miou_margin} below.
- `ablation`: the same run twice, `skips=True` and `skips=False` (same seed: same data, same initial
  weights): the **boundary accuracy** (`minidense.metrics.boundary_accuracy(pred, labels, width={boundary_width})`:
  the accuracy on pixels within {boundary_width} pixel of a class change, the ignored band counting as a
  class) of the network with skips must
  beat the one without by at least **{min_gap}**. The reference's gap was at least {worst_gap} at every one
  of {gap_seeds} seeds (0.14 on average); the requirement sits {gap_margin} below.

The public cases use seed {seed}; graded runs draw the training seed and the held-out scenes anew. Both
parts build on `architecture` and `forward`: they train your network only when its forward matches the
reference's on the trained architecture (`training`: with skips; `ablation`: with and without), and
score 0 otherwise, with a message naming the failed case. With the forward right, what they measure is
that the gradients flow through your network and that it learns. The three runs take about 20 s on one
idle core (a minute or more on a busy one).

## Hints from the lecture

- "Putting It Together – Block Sizes": halve the resolution and double the channels at each level;
  `md.nn.summary(UNet(3, 5, base_channels=4, depth=3), (3, 16, 16))` prints each layer's output shape
  and receptive field: compare yours.
- "Missing Details": the copy is taken at full resolution of its level, before the pooling throws three
  of every four positions away; concatenate it *after* upsampling, when the two agree in H×W.
- Keep the copies in a list on the way down and walk it backwards (`reversed`) on the way up.
- `skips=False` must keep every parameter (the no-skip network is the same network with zeros in place
  of the copies), so `load_state_dict` of one works on the other and the ablation compares like with like.
"""


def _unet_args(rng, depth, up, batch_norm, skips):
    """Every constructor argument of one UNet (small widths: the grader compares all of them)."""
    return {"in_channels": int(rng.integers(1, 4)), "out_channels": int(rng.integers(2, 6)),
            "base_channels": int(rng.integers(2, 5)), "depth": depth, "up": up, "batch_norm": batch_norm,
            "skips": skips}


def _unet_id(args, shape=None):
    parts = [f"depth{args['depth']}", args["up"], "skips" if args["skips"] else "noskips",
             "bn" if args["batch_norm"] else "", f"base{args['base_channels']}"]
    if shape is not None:
        parts.append(f"{shape[2]}x{shape[3]}")
    return "-".join(p for p in parts if p)


#: (depth, up, batch_norm, skips) of the cases; batch norm only up to depth 2 (a message holds <= 64 arrays)
_ARCHITECTURES = {True: [(3, "transpose", False, True), (2, "bilinear", True, False)],
                  False: [(1, "transpose", False, True), (2, "bilinear", True, True), (3, "transpose", False, False),
                          (4, "bilinear", False, True), (4, "transpose", False, True)]}
_FORWARDS = {True: [(2, "transpose", False, True), (2, "bilinear", False, False)],
             False: [(1, "transpose", False, True), (2, "transpose", True, True), (3, "transpose", False, True),
                     (3, "bilinear", False, False), (2, "transpose", False, False), (3, "bilinear", False, True)]}

_ARCHITECTURE_HINT = ("level i has base_channels * 2**i channels; ups and decoders are listed deepest first; "
                      "a decoder's double_conv takes 2 * c channels (copy + upsampled); store every constructor "
                      "argument as self.<name>")


def _architecture(rng, public):
    cases = []
    for depth, up, batch_norm, skips in _ARCHITECTURES[public]:
        args = _unet_args(rng, depth, up, batch_norm, skips)
        cases.append({"id": _unet_id(args), "fn": "unet_architecture", "params": {"args": args}, "inputs": {},
                      "hint": _ARCHITECTURE_HINT})
    return cases


def _state(rng, args):
    """Random values for every entry of the reference UNet's state dict (the layout of the contract)."""
    from ...models import UNet  # the parent reads the shapes off the reference network
    state = {}
    for key, value in UNet(**args).state_dict().items():
        shape = tuple(value.shape)
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(int(rng.integers(0, 100)), dtype=np.int64)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 2.0, shape)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3] if not key.startswith("ups.") or key.endswith(".1.weight") \
                else shape[0]
            state[key] = normal(rng, shape, np.sqrt(2.0 / fan_in))
        else:   # biases, batch-norm weights and shifts, the output bias: all away from their initial values
            state[key] = normal(rng, shape, 0.5)
    return state


def _forward_hint(args):
    hint = ("the copy of each level is taken before its pooling and goes FIRST: F.concat([copy, upsampled], axis=1); "
            "the head's output gets the output_bias buffer added")
    if not args["skips"]:
        hint += "; skips=False: creation.zeros_like(copy) in place of the copy (same parameters)"
    if args["depth"] == 1:
        hint += "; depth=1: one double conv and the head, no pooling"
    return hint


def _forward(rng, public):
    cases = []
    for depth, up, batch_norm, skips in _FORWARDS[public]:
        args = _unet_args(rng, depth, up, batch_norm, skips)
        m = 2 ** (depth - 1)
        low = -(-4 // m)   # at least 4 pixels a side
        shape = (int(rng.integers(1, 3)), args["in_channels"], m * int(rng.integers(low, low + 3)),
                 m * int(rng.integers(low, low + 3)))
        if depth > 1 and shape[2] == shape[3]:
            shape = (*shape[:3], shape[3] + m)   # never square: rows and columns must not be swapped
        cases.append({"id": _unet_id(args, shape), "fn": "unet_forward", "params": {"args": args},
                      "inputs": {"x": normal(rng, shape), **_state(rng, args)}, "rtol": 1e-6, "atol": 1e-8,
                      "hint": _forward_hint(args)})
    return cases


def _held_out(rng, public):
    """The training seed and the held-out scenes of one training case (drawn by the parent)."""
    from ...data import scenes  # the parent draws the held-out scenes with the library's generator
    seed = TRAINING["seed"] if public else int(rng.integers(1, 2 ** 31))
    val = scenes.SceneDataset(TRAINING["n_val"], size=TRAINING["size"], seed=seed + 10_000)
    params = {k: TRAINING[k] for k in _PINNED}
    params.update(seed=seed, num_classes=scenes.NUM_CLASSES)
    inputs = {"images": val.arrays["image"].astype(np.float32), **course_weights(_trained_unet, seed)}
    return seed, params, inputs, {"labels": val.arrays["labels"]}


# ---- the training parts' prerequisites and initial weights (grading/harness.py loads them by name)
def _trained_args(skips):
    from ...data import scenes
    return {"in_channels": TRAINING["in_channels"], "out_channels": scenes.NUM_CLASSES,
            "base_channels": TRAINING["base_channels"], "depth": TRAINING["depth"], "up": TRAINING["up"],
            "batch_norm": TRAINING["batch_norm"], "skips": skips}


def _trained_unet():
    from ...models import UNet  # the course's reference network: its initial weights
    return UNet(**_trained_args(True))


def _prerequisites(rng, skips_options):
    """The forward cases of the trained architecture that a training part requires (with ``skips`` each of
    ``skips_options``): a network whose forward does not match the reference's is not trained."""
    cases = []
    for skips in skips_options:
        args = _trained_args(skips)
        shape = (1, args["in_channels"], 8, 12)
        cases.append({"id": "trained-" + _unet_id(args, shape), "part": "forward", "fn": "unet_forward",
                      "params": {"args": args}, "inputs": {"x": normal(rng, shape), **_state(rng, args)},
                      "rtol": 1e-6, "atol": 1e-8, "hint": _forward_hint(args)})
    return cases


def _training(rng, public):
    """One case: the student's U-Net, trained in the child, labels the held-out scenes the parent made."""
    seed, params, inputs, expected = _held_out(rng, public)
    params["target_miou"] = TRAINING["target_miou"]
    return [{"id": f"unet-seed{seed}", "fn": "train_unet", "check": "training_miou", "params": params,
             "inputs": inputs, "expected": expected, "requires": _prerequisites(rng, (True,)),
             "hint": "your forward matches the reference's, so check that the gradients reach every weight: a "
                     "forward computed on `.data` (or on a new Tensor made of it) cuts the graph"}]


def _ablation(rng, public):
    """One case: the same run with and without skips; the boundary accuracy must drop without them."""
    seed, params, inputs, expected = _held_out(rng, public)
    params.update(boundary_width=TRAINING["boundary_width"], min_gap=TRAINING["min_gap"])
    return [{"id": f"skips-vs-noskips-seed{seed}", "fn": "unet_skip_ablation", "check": "skip_ablation",
             "params": params, "inputs": inputs, "expected": expected, "requires": _prerequisites(rng, (True, False)),
             "hint": "skips=True must concatenate the copies and skips=False zeros of their shape"}]


SPEC = Assignment(
    name="unet",
    title="Assignment 5: a U-Net with skips, trained, and the skip ablation",
    stubs={"models/unet.py": ["UNet.__init__", "UNet.forward"]},
    reveal={},
    parts=(Part("architecture", 20, "UNet's constructor: state-dict keys and shapes, parameter count, stored "
                                    "arguments (depth 1-4, both up-samplings, batch norm, skips off)"),
           Part("forward", 30, "UNet's output with the course's weights loaded (skips on and off, bilinear, "
                               "batch norm, depth 1-3, non-square inputs)", builds_on=("architecture",)),
           Part("training", 30, f"the pinned U-Net trained on the scenes reaches mean IoU >= "
                                f"{TRAINING['target_miou']} on held-out scenes",
                builds_on=("architecture", "forward")),
           Part("ablation", 20, f"trained with and without skips: the boundary accuracy with skips is higher by "
                                f">= {TRAINING['min_gap']}", builds_on=("architecture", "forward"))),
    handout=UNET_HANDOUT.format(**TRAINING, worst_miou=REFERENCE_WORST_MIOU, miou_margin=MIOU_MARGIN,
                                miou_seeds=MIOU_SEEDS, worst_gap=REFERENCE_WORST_GAP, gap_margin=GAP_MARGIN,
                                gap_seeds=GAP_SEEDS),
    generators={"architecture": _architecture, "forward": _forward, "training": _training, "ablation": _ablation},
    target=("models/unet.py", "UNet.forward"),
    mistakes=(
        Mistake("the copy concatenated after the upsampled tensor instead of before it",
                (("models/unet.py", "x = decoder(F.concat([bridge, x], axis=1))",
                  "x = decoder(F.concat([x, bridge], axis=1))"),),
                frozenset({"forward"})),
        Mistake("skips=False ignored: the copies always reach the decoder",
                (("models/unet.py", "bridge = copy if self.skips else creation.zeros_like(copy)",
                  "bridge = copy"),),
                frozenset({"forward", "ablation"})),
        Mistake("the channels grow by base_channels per level instead of doubling",
                (("models/unet.py", "widths = [self.base_channels * 2 ** i for i in range(self.depth)]",
                  "widths = [self.base_channels * (i + 1) for i in range(self.depth)]"),),
                frozenset({"architecture"})),
        Mistake("the output bias buffer never added to the head's output",
                (("models/unet.py", "return add_output_bias(self.head(x), self.output_bias)",
                  "return self.head(x)"),),
                frozenset({"forward"})),
    ),
    training=TRAINING,
    starter_cells=(
        Cell("## The network, level by level\n\n`md.nn.summary` runs one forward pass and prints each layer's "
             "output shape, its parameters and the receptive field so far. Three levels: 16×16, 8×8, 4×4 "
             "(the bottleneck); the channels double at each level.",
             "net = md.models.UNet(3, 5, base_channels=4, depth=3, batch_norm=False)\n"
             "rows = md.nn.summary(net, (3, 16, 16))"),
        Cell("## The state dict the grader loads into your network",
             "for key, value in md.models.UNet(3, 5, base_channels=4, depth=2, batch_norm=False)"
             ".state_dict().items():\n    print(f'{key:22s} {tuple(value.shape)}')"),
        Cell("## Skips on and off: the same parameters, different outputs\n\nWith the same seed both networks "
             "start from the same weights; only the copies differ (zeros without skips).",
             "md.manual_seed(0)\nwith_skips = md.models.UNet(3, 5, base_channels=4, depth=3, batch_norm=False)\n"
             "md.manual_seed(0)\nwithout = md.models.UNet(3, 5, base_channels=4, depth=3, batch_norm=False, "
             "skips=False)\n"
             "same = all(np.array_equal(a, b) for a, b in zip(with_skips.state_dict().values(), "
             "without.state_dict().values()))\n"
             "x = md.randn(2, 3, 16, 8)\ny1, y2 = with_skips(x), without(x)\n"
             "print('same parameters:', same, ' output shape:', y1.shape)\n"
             "print('the outputs differ:', bool(np.abs(y1.data - y2.data).max() > 0))"),
        Cell("## Where boundary accuracy looks\n\n`md.metrics.boundary_mask(labels, width=1)` marks the pixels "
             "within one pixel of a class change: the ablation's boundary accuracy is the accuracy on those.",
             "from minidense.data import scenes\n"
             "scene = scenes.SceneDataset(1, size=32, seed=10)\n"
             "labels = scene.arrays['labels'][0]\nmask = md.metrics.boundary_mask(labels, width=1)\n"
             "print('classes:', sorted(set(np.unique(labels).tolist()) - {255}),\n"
             "      ' boundary pixels:', int(mask.sum()), 'of', mask.size)\n"
             "fig, axes = plt.subplots(1, 3, figsize=(9, 3))\n"
             "axes[0].imshow(scene.arrays['image'][0].transpose(1, 2, 0))\n"
             "axes[1].imshow(np.ma.masked_equal(labels, 255), vmin=0, vmax=4, interpolation='nearest')\n"
             "axes[2].imshow(mask, cmap='gray', interpolation='nearest')\n"
             "for ax, title in zip(axes, ['image', 'labels (ignored band blank)', 'boundary mask, width 1']):\n"
             "    ax.set_title(title)\n"
             "    ax.axis('off')"),
        Cell("## The ablation, as the grader runs it (two runs: 15 s or more)\n\nThe pinned run with and without "
             "skips on the public seed; the pictures show the predictions on held-out scenes and, in the last "
             "rows, where each is wrong at the boundaries.",
             "from minidense.data import scenes\nfrom minidense.train import fit\nfrom minidense.optim import Adam\n"
             f"T = {dict((k, TRAINING[k]) for k in _PINNED)!r}\n"
             f"seed = {TRAINING['seed']}\n"
             f"val = scenes.SceneDataset({TRAINING['n_val']}, size=T['size'], seed=seed + 10_000)\n"
             "preds = {}\n"
             "for skips in (True, False):\n"
             "    md.manual_seed(seed)\n"
             "    net = md.models.UNet(T['in_channels'], 5, base_channels=T['base_channels'], depth=T['depth'],\n"
             "                         up=T['up'], batch_norm=T['batch_norm'], skips=skips)\n"
             "    fit(net, 'segmentation', scenes.SceneDataset(T['n_train'], size=T['size'], seed=seed), None,\n"
             "        epochs=T['epochs'], batch_size=T['batch_size'], optimizer=Adam(net.parameters(), lr=T['lr']),\n"
             "        lr=T['lr'], schedule=T['schedule'], augment=T['augment'], seed=seed, progress=False,\n"
             "        log=lambda *a, **k: None)\n"
             "    net.eval()\n"
             "    with md.no_grad():\n"
             "        preds[skips] = net(md.tensor(val.arrays['image'])).data.argmax(axis=1)\n"
             "labels = val.arrays['labels']\n"
             "for skips, pred in preds.items():\n"
             "    scores = md.metrics.segmentation_scores(pred, labels, 5)\n"
             "    print(f\"skips={skips}: mean IoU {scores['miou']:.3f}, boundary accuracy \"\n"
             f"          f\"{{md.metrics.boundary_accuracy(pred, labels, width={TRAINING['boundary_width']}):.3f}}\")\n"
             "fig, axes = plt.subplots(5, 6, figsize=(9, 7.5))\n"
             f"edge = md.metrics.boundary_mask(labels, width={TRAINING['boundary_width']}) & (labels != 255)\n"
             "for i in range(6):\n"
             "    rows = [val.arrays['image'][i].transpose(1, 2, 0), np.ma.masked_equal(labels[i], 255),\n"
             "            preds[True][i], preds[False][i],\n"
             "            edge[i] & (preds[False][i] != labels[i])]\n"
             "    for r, (img, title) in enumerate(zip(rows, ['image', 'labels', 'skips', 'no skips',\n"
             "                                             'no-skip errors at edges'])):\n"
             "        axes[r, i].imshow(img, interpolation='nearest', vmin=0 if 0 < r < 4 else None,\n"
             "                          vmax=4 if 0 < r < 4 else None)\n"
             "        axes[r, i].axis('off')\n"
             "        if i == 0:\n"
             "            axes[r, i].set_title(title, fontsize=8, loc='left')",
             expected=False),
    ),
    questions=(
        "Why do the skips help most at object boundaries? Where in the network is the information about a "
        "boundary's exact position, and what happens to it at each max-pooling (slides \"Missing Details\")?",
        "What is the receptive field of one pixel of the bottleneck of `UNet(3, 5, depth=3)` (read it off "
        "`md.nn.summary`), and how many stacked 3×3 convolutions without pooling would reach it (slide "
        "\"Why Not Stack Convolutions?\": 2n + 1)? Does a pixel of the output see more or less than that?",
        "What does the ablation show, and what does it not? The network without skips has the same parameters, "
        "but some of them never learn: which ones, and is the comparison fair?",
    ),
)
