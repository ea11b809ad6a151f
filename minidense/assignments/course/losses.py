"""Assignment 4: per-pixel losses and metrics."""
import numpy as np

from ..cases import normal
from ..specs import Assignment, Cell, Mistake, Part

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




def _scores_and_target(rng, ignored=0.0):
    shape = [[int(rng.integers(2, 7)), int(rng.integers(2, 6))],
             [int(rng.integers(1, 3)), int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))]
             ][int(rng.integers(0, 2))]
    c = shape[1]
    x = normal(rng, shape, 2.0)
    t = rng.integers(0, c, [shape[0], *shape[2:]])
    if ignored:
        t[rng.random(t.shape) < ignored] = 255
        t.flat[0] = 255
    return x, t


def _log_softmax(rng, public):
    cases = []
    for i in range(2 if public else 4):
        shape = [int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        dim = int(rng.integers(0, 4)) if i else 1
        x = normal(rng, shape, 3.0)
        cases.append({"id": f"shape{'x'.join(map(str, shape))}-dim{dim}", "fn": "log_softmax",
                      "params": {"dim": dim}, "inputs": {"x": x, "grad": normal(rng, shape)}})
    big = normal(rng, (2, int(rng.integers(3, 6))), 1.0) * 1e4
    cases.append({"id": "scores-1e4", "fn": "log_softmax", "params": {"dim": 1},
                  "inputs": {"x": big, "grad": normal(rng, big.shape)}})
    return cases


def _loss_case(rng, name, x, t, weighted, reduction, ignore=False):
    inputs = {"x": x, "target": t}
    if weighted:
        inputs["weight"] = rng.uniform(0.5, 2.0, x.shape[1])
    inputs["grad"] = normal(rng, t.shape) if reduction == "none" else np.array(rng.uniform(0.5, 2.0))
    params = {"reduction": reduction}
    if ignore:
        params["ignore_index"] = 255
    shape = "x".join(map(str, x.shape))
    return {"id": f"{name}-{shape}-{reduction}{'-weighted' if weighted else ''}", "fn": "cross_entropy",
            "params": params, "inputs": inputs}


def _cross_entropy(rng, public):
    combos = [("mean", False), ("sum", True)] if public else \
        [("mean", False), ("sum", False), ("none", False), ("mean", True), ("none", True)]
    return [_loss_case(rng, "ce", *_scores_and_target(rng), weighted, red) for red, weighted in combos]


def _unknown_label(rng, public):
    combos = [("mean", False)] if public else [("mean", False), ("sum", False), ("mean", True), ("none", True)]
    cases = [_loss_case(rng, "ignored", *_scores_and_target(rng, 0.35), weighted, red, ignore=True)
             for red, weighted in combos]
    x, t = _scores_and_target(rng)
    cases.append(_loss_case(rng, "all-ignored", x, np.full_like(t, 255), bool(rng.integers(0, 2)), "mean", True))
    return cases


def _training(rng, public):
    """One case: the student's training run predicts held-out scenes the parent made."""
    from ...data import scenes  # the parent draws the held-out scenes with the library's generator
    cfg = dict(TRAINING)
    seed = cfg["seed"] if public else int(rng.integers(1, 2 ** 31))
    val = scenes.SceneDataset(cfg["n_val"], size=cfg["size"], seed=seed + 10_000)
    params = {k: cfg[k] for k in ("size", "n_train", "epochs", "batch_size", "lr", "base_channels", "depth")}
    params.update(seed=seed, num_classes=scenes.NUM_CLASSES, target_miou=cfg["target_miou"])
    return [{"id": f"unet-seed{seed}", "fn": "train_segmentation", "check": "training_miou", "params": params,
             "inputs": {"images": val.arrays["image"].astype(np.float32)},
             "expected": {"labels": val.arrays["labels"]}}]


SPEC = Assignment(
    name="segmentation",
    title="Assignment 4: per-pixel cross-entropy with the unknown label, and training a U-Net",
    stubs={"ops/loss.py": ["LogSoftmax.forward", "LogSoftmax.backward", "_ClassLoss._weights",
                           "CrossEntropy.forward", "CrossEntropy.backward"]},
    reveal={"ops/loss.py": ["Softmax.forward", "Softmax.backward", "NLLLoss.forward", "NLLLoss.backward"]},
    parts=(Part("log_softmax", 20, "log_softmax: values, stability for |x| ~ 1e4, gradient"),
           Part("cross_entropy", 30, "cross_entropy: values with reductions and class weights, gradient"),
           Part("unknown_label", 20, "ignored pixels: not in the mean, zero gradient, all-ignored gives 0"),
           Part("training", 30, f"a small U-Net trained with your loss reaches mean IoU >= "
                                f"{TRAINING['target_miou']}", builds_on=("cross_entropy", "unknown_label"))),
    handout=SEGMENTATION_HANDOUT,
    generators={"log_softmax": _log_softmax, "cross_entropy": _cross_entropy, "unknown_label": _unknown_label,
                "training": _training},
    target=("ops/loss.py", "LogSoftmax.forward"),
    mistakes=(
        Mistake("ignored pixels counted in the mean's denominator",
                (("ops/loss.py", "        self.count = float(self.w.sum())\n",
                  "        self.count = float(self.w.sum() + (~valid).sum())\n"),),
                frozenset({"unknown_label"})),
        Mistake("log-softmax without subtracting the maximum",
                (("ops/loss.py", "        shifted = x - x.max(axis=axis, keepdims=True)\n", "        shifted = x\n"),),
                frozenset({"log_softmax"})),
        Mistake("log-softmax's gradient without the sum of the upstream gradient",
                (("ops/loss.py", "        return grad - xp.exp(self.out) * grad.sum(axis=self.axis, keepdims=True)",
                  "        return grad - xp.exp(self.out)"),),
                frozenset({"log_softmax"})),
    ),
    training=TRAINING,
    starter_cells=(
        Cell("## Your loss on a tiny label map", "x = md.randn(1, 3, 2, 2, dtype=np.float64, requires_grad=True)\n"
             "t = md.tensor(np.array([[[0, 2], [255, 1]]]))\n"
             "loss = F.cross_entropy(x, t, ignore_index=255)\nloss.backward()\nprint(loss.item(), x.grad)"),
    ),
)
