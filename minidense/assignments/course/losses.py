"""Assignment 4: per-pixel losses and metrics: softmax cross-entropy with the unknown label, the confusion
matrix and IoU, depth metrics."""
import numpy as np

from ..cases import normal
from ..specs import Assignment, Cell, Mistake, Part

IGNORE = 255   # md.IGNORE_INDEX, the unknown label

LOSSES_HANDOUT = """
What "good" means for pixel labels. Per-pixel classification is a softmax over the class axis at every
pixel and the cross-entropy against a label map, where the **unknown label** (pixels nobody labelled,
`md.IGNORE_INDEX = 255`) must add nothing to the loss and get exactly zero gradient. A prediction is
then scored: the **confusion matrix**, pixel accuracy and **intersection over union** per class, and for
depth maps the **depth metrics** (abs rel, RMSE, δ < 1.25). You write the loss in `minidense/ops/loss.py`
and the metrics in `minidense/metrics.py`. Everything here runs on the CPU and nothing is trained. In
`ops/loss.py` take the array module as the given code does, `xp = get_array_module(x)` (on the CPU it
is NumPy, so `np` passes the grader too); `metrics.py` is NumPy (`np`).

## Part 1-3: the loss (`minidense/ops/loss.py`)

Shapes: scores (logits) `x` `(N, C, H, W)` or `(N, C)` (float32 or float64); labels `target` `(N, H, W)`
or `(N,)`, integers in `[0, C)` or `ignore_index`, of ANY integer dtype (uint8 too: cast to int64 before
you compute with it, e.g. before `_target_index`); class weights `weight`: `None` when not given, else a
plain `(C,)` array of x's dtype.
`F.log_softmax` and `F.cross_entropy` check their arguments and call your ops through `apply`: your
functions receive plain arrays (NumPy), already checked, and `axis` already non-negative.

- `LogSoftmax.forward(self, x, *, axis)` → ONE array of `x`'s shape and dtype: `log softmax(x)` along
  `axis`. Keep on `self` what your backward needs (e.g. the output and the axis). Do not change `x`.
- `LogSoftmax.backward(self, grad)` → ONE array (not a tuple): the gradient with respect to `x`, of
  `grad`'s shape (= `x`'s shape). Do not change `grad`.
- `_ClassLoss._weights(self, x, target, weight, ignore_index)` → returns nothing (`None`); sets what
  forward and backward share (`NLLLoss` uses the same three; it is stubbed as well, because its code
  would show how they are used):
  - `self.w`: target's shape, x's dtype: each pixel's class weight `weight[target]` (1 without
    weights), **0 where the target is `ignore_index`**;
  - `self.index`: target's shape, integers: the flat index into `x.reshape(-1)` of each pixel's target
    score, made by the given `_target_index(x.shape, t)` from a target `t` in which ignored pixels read
    a safe class (e.g. 0: `weight[255]` or `_target_index` with 255 would read outside the array);
  - `self.count`: a Python `float`, what the mean divides by: `self.w.sum()` (the number of
    non-ignored pixels without weights, their summed weights with).
- `CrossEntropy.forward(self, x, target, *, weight, ignore_index, reduction)` → ONE array: with
  `reduction="none"` the per-pixel loss (target's shape, 0 at ignored pixels), with `"sum"` its sum and
  with `"mean"` the sum divided by `self.count` (a 0-d array or NumPy scalar: what `_reduce` returns).
  Call `self._weights(...)` first and reduce with the given `_reduce(loss, reduction, self.count)`,
  which also gives 0 when every pixel is ignored (count 0; PyTorch returns NaN there). Do not change
  `x` or `target`.
- `CrossEntropy.backward(self, grad)` → the PAIR `(gx, None)`: `gx` of `x`'s shape, `None` for the
  integer target. `grad` is 0-d (`"sum"`, `"mean"`) or target's shape (`"none"`); the given
  `_reduce_backward(grad, reduction, count)` turns it into the reduction's factor (`grad / count` for the
  mean, 0 when nothing counted: a 0-d array for `"sum"` and `"mean"`, target's shape for `"none"`).
  Multiply it by `self.w` (target's shape: 0 at ignored pixels) and insert the class axis at 1
  (`xp.expand_dims(..., 1)`) so that it scales `softmax(x)` `(N, C, ...)`; `gx` has x's dtype.

Hints from the lecture (slide "Semantic Segmentation": F-way classification, the loss
`−log(exp((Wx)_y) / Σ_k exp((Wx)_k))` computed and backpropagated at *every* pixel; slide "Each pixel has
a label, incl. background, and unknown"):

- Stability: `log softmax(x) = (x − max) − log Σ exp(x − max)`; never `exp` a raw score. The grader
  feeds scores of size 1e4, where `exp` overflows to inf.
- `LogSoftmax.backward`: `g − softmax(x) · Σ g`, with `softmax(x) = exp(output)` and the sum taken of
  the upstream gradient `g` along `axis` (keep the dimension so that it broadcasts).
- The gradient of `−log softmax(x)[t]` is `softmax(x) − onehot(t)`, times the pixel's weight (0 when
  ignored) and the reduction's factor. Never build a one-hot tensor `(N, C, H, W)`: gather the target
  scores at `self.index` (`x.reshape(-1)[self.index]`) and subtract at the same place in backward.
  Flat indices assume C-ordered arrays: `a.reshape(-1)` of any other array is a copy, and a write into
  a copy is lost, so start forward with `x = xp.ascontiguousarray(x)`, and make sure the array you
  subtract into in backward is C-ordered too (an array made from a contiguous `x` by `exp` is).
- The unknown label is "nobody knows": an ignored pixel is not background. It adds nothing to the
  loss, nothing to the mean's denominator, and its gradient is exactly 0 (a weight of 0, not a
  small one).

## Part 4: the confusion matrix and IoU (`minidense/metrics.py`)

`md.metrics.confusion_matrix(pred, target, num_classes, ignore_index=255)` and
`md.metrics.segmentation_scores(...)` check their arguments and call your two functions:

- `_count_confusion(pred, target, num_classes, ignore_index)` → ONE `(num_classes, num_classes)` **int64**
  array `cm` with `cm[i, j]` = the number of pixels whose **target is i** and whose **prediction is j**
  (rows: ground truth, columns: prediction). Pixels whose target is `ignore_index` are not counted
  anywhere (the prediction there may be anything, even outside `[0, num_classes)`). `pred`, `target`:
  NumPy integer label maps of one shape, any integer dtype (uint8 too), checked; do not change them.
- `_scores_from_counts(cm)` → a **dict** with these five keys (`cm`: float64, checked: square, counts
  ≥ 0, at least one pixel; do not change it). With `tp = diag(cm)`, `truth = cm.sum(1)` (pixels of
  each class in the ground truth), `predicted = cm.sum(0)`, `union = truth + predicted − tp` ("a float":
  a Python float or a NumPy scalar, both accepted):
  - `"pixel_accuracy"`: a float, `Σ tp / Σ cm`;
  - `"mean_accuracy"`: a float, the mean of `tp / truth` over the classes with `truth > 0`;
  - `"iou"`: a float64 array `(num_classes,)`, `tp / union`, and **NaN** for a class with `union = 0`
    (absent from both prediction and ground truth: it has no IoU);
  - `"miou"`: a float, the mean of `iou` over the classes with `union > 0` (never NaN). A class
    only the prediction has (`truth = 0`, `predicted > 0`) has IoU 0 and counts;
  - `"fwiou"`: a float, `Σ (truth / Σ cm) · iou` over the classes with `union > 0`.
  `segmentation_scores` returns your dict; `SegmentationMeter` adds `"boundary_accuracy"` to it.

Hints (slides "Evaluating Pixel Labels": argmax over labels; "Evaluating Semantic Segmentation":
accuracy `mean(ŷ = y)` against intersection over union averaged over classes):

- One `np.bincount` of the pair codes `num_classes · target + pred` over the counted pixels, reshaped
  to `(num_classes, num_classes)`, fills the whole matrix without a loop over pixels. Cast to int64
  before multiplying: `17 · 16` overflows uint8. Give `minlength`, or classes nobody predicted vanish.
- Rows are the ground truth. A transposed matrix gives the same IoU but wrong per-class accuracies.
- The intersection of class c is `cm[c, c]`; its union is everything in row c or column c.

## Part 5: depth metrics (`minidense/metrics.py`)

`md.metrics.depth_metrics(pred, target, mask=None)` (and `DepthMeter`, which sums batch by batch) checks
its arguments and calls your three functions:

- `_valid_depth(target, mask)` → a bool array of `target`'s shape: True where `mask` is True **and**
  the target is finite and `> 0` (a sensor stores missing depth as 0, NaN or inf). `target`: NumPy
  float depth map; `mask`: NumPy bool array of the same shape (all True when the caller gave none).
  Do not change them. (`np.isfinite`; a comparison with NaN is False.)
- `_sums_of_depth(p, t)` → a float64 array `(9,)`: `[n, Σ |p − t| / t, Σ (p − t)² / t, Σ (p − t)², Σ g²,
  Σ g, #(r < 1.25), #(r < 1.25²), #(r < 1.25³)]` with `g = log p − log t` (natural log), `r = max(p / t,
  t / p)` and `#` the number of pixels where it holds. `p`, `t`: 1-D float64, the prediction and the
  target at the valid pixels (the caller selects them with your mask), all finite and `> 0`.
- `_depth_from_sums(s)` → a **dict** of numbers (Python floats or NumPy scalars) from those nine sums
  (`n = s[0] > 0`; do not change `s`):
  `"abs_rel"` = `s[1] / n` (mean |p − t| / t), `"sq_rel"` = mean (p − t)² / t, `"rmse"` = √(mean (p − t)²),
  `"rmse_log"` = √(mean g²), `"silog"` = 100 · √(mean g² − (mean g)²) (0 when rounding makes the
  difference negative), `"delta1"`, `"delta2"`, `"delta3"` = the fractions of pixels with r < 1.25,
  1.25², 1.25³.

Hints (slide "Other Tasks – Depth Prediction": a regression at every pixel, `‖z_i − ẑ_i‖`; the metrics
are the depth literature's standard ones, the same for every method, so that papers compare):

- abs rel divides by the **ground truth** `t`: an error of 1 m counts less at 20 m than at 2 m. δ < 1.25
  is symmetric: a depth twice too large and one half too small are equally wrong, hence `max(p/t, t/p)`.
- RMSE is the square root of the *mean* squared error, not the mean of the absolute errors.
- Why sums: a meter adds the nine sums over batches and computes the metrics once at the end, which is
  exact; averaging per-batch metrics is not (batches have different numbers of valid pixels).

## What is given, and what you may not change

Everything else in the kit is given and graded as shipped: `_reduce`, `_reduce_backward`,
`_target_index`, the argument checks in `functional` and in `metrics.py` (`_label_maps`, `_counts_arg`,
and `_confusion` and `_depth_sums`, which call your functions). Only your functions are taken from your
files: keep their signatures, and write any helper you need inside them.
"""


def _scores_and_target(rng, ignored=0.0):
    shape = [[int(rng.integers(2, 7)), int(rng.integers(2, 6))],
             [int(rng.integers(1, 3)), int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))]
             ][int(rng.integers(0, 2))]
    c = shape[1]
    x = normal(rng, shape, 2.0)
    t = rng.integers(0, c, [shape[0], *shape[2:]])
    if ignored:
        t[rng.random(t.shape) < ignored] = IGNORE
        t.flat[0] = IGNORE
    return x, t


LOG_SOFTMAX_HINT = ("log softmax's gradient is g − softmax(x) · Σ g along dim, with softmax(x) = exp(output) and "
                    "the sum taken over the upstream gradient g")


def _log_softmax(rng, public):
    cases = []
    for i in range(2 if public else 4):
        shape = [int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        dim = int(rng.integers(0, 4)) if i else 1
        x = normal(rng, shape, 3.0)
        cases.append({"id": f"shape{'x'.join(map(str, shape))}-dim{dim}", "fn": "log_softmax",
                      "params": {"dim": dim}, "inputs": {"x": x, "grad": normal(rng, shape)},
                      "hint": LOG_SOFTMAX_HINT})
    big = normal(rng, (2, int(rng.integers(3, 6))), 1.0) * 1e4
    cases.append({"id": "scores-1e4", "fn": "log_softmax", "params": {"dim": 1},
                  "inputs": {"x": big, "grad": normal(rng, big.shape)},
                  "hint": "subtract the maximum along dim before exp: exp(1e4) is inf, and inf − inf is NaN"})
    return cases


def _loss_case(rng, name, x, t, weighted, reduction, ignore=False, hint=None):
    inputs = {"x": x, "target": t}
    if weighted:
        inputs["weight"] = rng.uniform(0.5, 2.0, x.shape[1])
    inputs["grad"] = normal(rng, t.shape) if reduction == "none" else np.array(rng.uniform(0.5, 2.0))
    params = {"reduction": reduction}
    if ignore:
        params["ignore_index"] = IGNORE
    shape = "x".join(map(str, x.shape))
    case = {"id": f"{name}-{shape}-{reduction}{'-weighted' if weighted else ''}", "fn": "cross_entropy",
            "params": params, "inputs": inputs}
    if hint:
        case["hint"] = hint
    return case


CE_HINT = ("the gradient is (softmax(x) − onehot(target)) times the pixel's weight and the reduction's factor; "
           "with class weights the mean divides by the summed weights of the pixels, not their number")
IGNORED_HINT = ("a pixel labelled 255 adds nothing to the loss, is not counted in the mean's denominator "
                "(self.count) and gets exactly zero gradient")


def _cross_entropy(rng, public):
    combos = [("mean", False), ("sum", True), ("mean", True)] if public else \
        [("mean", False), ("sum", False), ("none", False), ("mean", True), ("none", True)]
    return [_loss_case(rng, "ce", *_scores_and_target(rng), weighted, red, hint=CE_HINT) for red, weighted in combos]


def _unknown_label(rng, public):
    combos = [("mean", False)] if public else [("mean", False), ("sum", False), ("mean", True), ("none", True)]
    cases = [_loss_case(rng, "ignored", *_scores_and_target(rng, 0.35), weighted, red, ignore=True, hint=IGNORED_HINT)
             for red, weighted in combos]
    x, t = _scores_and_target(rng)
    cases.append(_loss_case(rng, "all-ignored", x, np.full_like(t, IGNORE), bool(rng.integers(0, 2)), "mean", True,
                            hint="when every pixel is ignored the mean is 0 with a zero gradient: _reduce and "
                                 "_reduce_backward handle count 0"))
    return cases


# ------------------------------------------------------------------ part 4: the confusion matrix and IoU
CONFUSION_HINT = ("cm[i, j] counts the pixels whose TARGET is i (rows: ground truth) and whose PREDICTION is j; "
                  "pixels whose target is 255 are counted nowhere, whatever was predicted there")
ABSENT_HINT = ("a class absent from both maps (union 0) has IoU NaN and is left out of the mean IoU; a class only the "
               "prediction has has IoU 0 and counts")
ROWS_HINT = ("the rows of cm[true, pred] are the ground truth: mean_accuracy averages tp / (row sum) over the classes "
             "in the ground truth, fwiou weighs each IoU by its row sum / all pixels")


def _label_maps(rng, k, shape, ignored=0.15, agree=0.6, dtype=np.int64):
    """A target with ignored pixels and a prediction that agrees with it at about ``agree`` of the pixels
    (anything at the ignored ones)."""
    target = rng.integers(0, k, shape)
    pred = np.where(rng.random(shape) < agree, target, rng.integers(0, k, shape))
    if ignored:
        target[rng.random(shape) < ignored] = IGNORE
        target.flat[0] = IGNORE
    return pred.astype(dtype), target.astype(dtype)


def _map_shape(rng):
    return [int(rng.integers(1, 3)), int(rng.integers(4, 9)), int(rng.integers(4, 9))]


def _seg_case(case_id, fn, pred, target, k, hint):
    return {"id": case_id, "fn": fn, "params": {"num_classes": k, "ignore_index": IGNORE},
            "inputs": {"pred": pred, "target": target}, "hint": hint}


def _absent_from_both(rng, k):
    """Label maps in which one class (not 0) appears in neither map."""
    pred, target = _label_maps(rng, k, _map_shape(rng))
    gone = int(rng.integers(1, k))
    pred[pred == gone] = 0
    target[target == gone] = 0
    return pred, target


def _only_in_prediction(rng, k):
    """Label maps in which one class appears in the prediction only."""
    pred, target = _label_maps(rng, k, _map_shape(rng))
    only = int(rng.integers(1, k))
    target[target == only] = 0
    labelled = np.flatnonzero(target != IGNORE)
    pred.flat[labelled[:3]] = only
    return pred, target


def _all_background(rng, k):
    """The lecture's point: mostly background, and a prediction of background everywhere."""
    shape = _map_shape(rng)
    target = np.where(rng.random(shape) < 0.75, 0, rng.integers(1, k, shape))
    target.flat[0] = IGNORE
    return np.zeros(shape, dtype=np.int64), target


def _confusion_iou(rng, public):
    k = 5 if public else int(rng.integers(3, 8))
    cases = [_seg_case(f"{k}-classes-ignored-pixels", "confusion_matrix", *_label_maps(rng, k, _map_shape(rng)), k,
                       CONFUSION_HINT),
             _seg_case("class-absent-from-both", "segmentation_scores", *_absent_from_both(rng, 5 if public else k),
                       5 if public else k, f"{ABSENT_HINT}; {ROWS_HINT}"),
             _seg_case("all-background-prediction", "segmentation_scores", *_all_background(rng, 5), 5,
                       f"background everywhere: pixel accuracy is high, mean IoU low; {ABSENT_HINT}; {ROWS_HINT}"),
             _seg_case("uint8-labels-17-classes", "confusion_matrix",
                       *_label_maps(rng, 17, _map_shape(rng), agree=0.3, dtype=np.uint8), 17,
                       "cast the labels to int64 before multiplying: 17 · 16 overflows uint8")]
    if not public:
        k2 = int(rng.integers(2, 8))
        cases += [_seg_case(f"scores-{k2}-classes-ignored-pixels", "segmentation_scores",
                            *_label_maps(rng, k2, _map_shape(rng)), k2, f"{ROWS_HINT}; {CONFUSION_HINT}"),
                  _seg_case("class-only-in-prediction", "segmentation_scores", *_only_in_prediction(rng, k), k,
                            ABSENT_HINT)]
    return cases


# ------------------------------------------------------------------ part 5: depth metrics
DEPTH_HINT = ("abs rel divides |p − t| by the TARGET t; rmse is the square root of the mean squared error; "
              "δ counts max(p/t, t/p) < 1.25^k")


def _depth_maps(rng, shape, spread=0.4):
    """A target depth in [1, 10] and a prediction off by a factor exp(N(0, spread²)) (δ thresholds spread out)."""
    target = rng.uniform(1.0, 10.0, shape)
    return target * np.exp(normal(rng, shape, spread)), target


def _depth_shape(rng):
    n, h, w = int(rng.integers(1, 3)), int(rng.integers(4, 8)), int(rng.integers(4, 8))
    return [n, 1, h, w] if rng.integers(0, 2) else [n, h, w]


def _depth_case(case_id, pred, target, mask, hint):
    inputs = {"pred": pred, "target": target}
    if mask is not None:
        inputs["mask"] = mask
    return {"id": case_id, "fn": "depth_metrics", "params": {}, "inputs": inputs, "hint": hint}


def _masked(rng, shape):
    """Depth with a mask: where it is false the prediction is far off (and the target is a valid depth)."""
    pred, target = _depth_maps(rng, shape)
    mask = rng.random(shape) < 0.7
    mask.flat[0] = False
    pred[~mask] = 3.0 * target[~mask]
    return pred, target, mask


def _holes(rng, shape):
    """Missing depth in the target: 0, NaN and inf (no mask)."""
    pred, target = _depth_maps(rng, shape)
    flat = target.reshape(-1)
    flat[rng.permutation(flat.size)[:3]] = [0.0, np.nan, np.inf]
    return pred, target


def _depth_metrics(rng, public):
    mask_hint = ("only pixels where the mask is true and the target is finite and > 0 count, in every sum and in n; "
                 + DEPTH_HINT)
    holes_hint = "a target of 0, NaN or inf is missing depth: leave the pixel out (np.isfinite, > 0); " + DEPTH_HINT
    cases = [_depth_case("masked-depth", *_masked(rng, _depth_shape(rng)), mask_hint),
             _depth_case("holes-in-target", *_holes(rng, _depth_shape(rng)), None, holes_hint)]
    if not public:
        pred, target, mask = _masked(rng, _depth_shape(rng))
        target.reshape(-1)[int(rng.integers(1, target.size))] = 0.0
        cases += [_depth_case("masked-depth-with-holes", pred, target, mask, mask_hint),
                  _depth_case("no-mask", *_depth_maps(rng, _depth_shape(rng)), None, DEPTH_HINT),
                  _depth_case("far-off-prediction", *_depth_maps(rng, _depth_shape(rng), spread=1.0), None,
                              DEPTH_HINT)]
    return cases


# ------------------------------------------------------------------ the starter notebook
CELL_LOG_SOFTMAX = """x = md.tensor(np.array([[1., 2., 3.], [1001., 1002., 1003.]]), requires_grad=True)
out = F.log_softmax(x, dim=1)
print(out.data)          # both rows alike: only differences of scores matter
out.backward(md.tensor(np.array([[1., 0., 0.], [0., 0., 1.]])))
print(x.grad)            # each row sums to 0
"""

CELL_LOSS = """x = md.tensor(np.array([[[[2.0, 0.5], [0.0, 1.0]],
                          [[0.0, 2.5], [3.0, 0.0]],
                          [[0.5, 0.0], [0.0, 3.0]]]]), requires_grad=True)   # (1, 3, 2, 2) scores
t = md.tensor(np.array([[[0, 2], [255, 2]]]))                                # (1, 2, 2), one unknown pixel
per_pixel = F.cross_entropy(x, t, ignore_index=255, reduction="none")
loss = F.cross_entropy(x, t, ignore_index=255)
loss.backward()
print("per-pixel loss:\\n", per_pixel.data)
print("mean over the 3 labelled pixels:", loss.item())
print("gradient at the unknown pixel (row 1, col 0):", x.grad[0, :, 1, 0])
fig, axes = plt.subplots(1, 2, figsize=(6, 2.6))
axes[0].imshow(np.where(t.data[0] == 255, -1, t.data[0]), cmap="viridis", vmin=-1, vmax=2)
axes[0].set_title("labels (dark: unknown)")
im = axes[1].imshow(per_pixel.data[0], cmap="magma")
axes[1].set_title("loss per pixel")
for (i, j), v in np.ndenumerate(t.data[0]):
    axes[0].text(j, i, "?" if v == 255 else str(v), ha="center", va="center", color="w")
for ax in axes:
    ax.set_xticks([]); ax.set_yticks([])
fig.colorbar(im, ax=axes[1])
"""

CELL_CONFUSION = """names = ["background", "sphere", "box", "cylinder"]
target = np.array([[0, 0, 0, 0, 0, 0],
                   [0, 1, 1, 0, 2, 2],
                   [0, 1, 1, 0, 2, 2],
                   [0, 0, 255, 0, 2, 2],
                   [0, 3, 3, 3, 0, 0],
                   [0, 0, 0, 0, 0, 0]])
pred = np.array([[0, 0, 0, 0, 0, 0],
                 [0, 1, 1, 1, 2, 2],
                 [0, 1, 0, 0, 2, 2],
                 [0, 0, 1, 0, 0, 2],
                 [0, 3, 3, 2, 0, 0],
                 [0, 0, 0, 0, 0, 0]])
cm = md.metrics.confusion_matrix(pred, target, num_classes=4)
print(cm)                        # rows: true class, columns: predicted; the unknown pixel is not counted
print("pixels counted:", cm.sum(), "of", target.size)
fig, ax = plt.subplots(figsize=(4, 3.4))
ax.imshow(cm, cmap="Blues")
for (i, j), v in np.ndenumerate(cm):
    ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
ax.set_xticks(range(4), names, rotation=45, ha="right")
ax.set_yticks(range(4), names)
ax.set_xlabel("predicted")
ax.set_ylabel("true")
"""

CELL_IOU = """from minidense import viz
s = md.metrics.segmentation_scores(pred, target, num_classes=4)
for name, iou in zip(names, s["iou"]):
    print(f"{name:>10}: IoU {iou:.3f}")
print({k: round(v, 3) for k, v in s.items() if k != "iou"})
fig, axes = plt.subplots(1, 3, figsize=(9, 2.8))
axes[0].imshow(viz.colorize_labels(target), interpolation="nearest")
axes[0].set_title("ground truth (cream: unknown)")
axes[1].imshow(viz.colorize_labels(pred), interpolation="nearest")
axes[1].set_title("prediction")
for ax in axes[:2]:
    ax.set_xticks([]); ax.set_yticks([])
axes[2].bar(names, s["iou"], color=[viz.colorize_labels(np.arange(4))[i] for i in range(4)], edgecolor="k")
axes[2].set_ylim(0, 1)
axes[2].set_title(f"IoU per class, mean {s['miou']:.2f}")
axes[2].tick_params(axis="x", rotation=45)
"""

CELL_ACCURACY_VS_IOU = """from minidense.data import scenes
from minidense import viz
d = scenes.generate(1, size=64, seed=5)
truth = d["labels"]
background = np.zeros_like(truth)            # predict background everywhere
s = md.metrics.segmentation_scores(background, truth, scenes.NUM_CLASSES)
print(f"pixel accuracy {s['pixel_accuracy']:.3f}, mean IoU {s['miou']:.3f}")
print("IoU per class (NaN: absent from both maps, left out of the mean):", s["iou"])
fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
panels = [viz.to_hwc(d["image"][0]), viz.colorize_labels(truth[0]), viz.colorize_labels(background[0])]
titles = ["image", "ground truth", f"all background\\naccuracy {s['pixel_accuracy']:.2f}, mIoU {s['miou']:.2f}"]
for ax, panel, title in zip(axes, panels, titles):
    ax.imshow(panel, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]); ax.set_yticks([])
"""

CELL_DEPTH = """target = np.array([[2.0, 2.0, 4.0, 4.0],
                   [2.0, 0.0, 4.0, 8.0],          # 0: the sensor saw nothing there
                   [2.0, 2.0, 8.0, 8.0]])
pred = np.array([[2.2, 1.9, 4.4, 3.0],
                 [2.0, 5.0, 4.0, 8.8],
                 [1.5, 2.1, 9.0, 20.0]])
mask = np.ones_like(target, dtype=bool)
mask[2, 3] = False                                 # e.g. a window: ground truth we do not trust
m = md.metrics.depth_metrics(pred, target, mask)
print({k: round(v, 4) for k, v in m.items()})
fig, axes = plt.subplots(1, 3, figsize=(8, 2.4))
scored = mask & (target > 0)
rel_error = np.full_like(target, np.nan)
rel_error[scored] = np.abs(pred - target)[scored] / target[scored]
for ax, panel, title in zip(axes, [target, pred, rel_error],
                            ["target", "prediction", "|p − t| / t (white: not scored)"]):
    im = ax.imshow(panel, cmap="viridis")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]); ax.set_yticks([])
    fig.colorbar(im, ax=ax, fraction=0.046)
"""

SPEC = Assignment(
    name="losses",
    title="Assignment 4: per-pixel losses and metrics: cross-entropy with the unknown label, IoU, depth metrics",
    stubs={"ops/loss.py": ["LogSoftmax.forward", "LogSoftmax.backward", "_ClassLoss._weights",
                           "CrossEntropy.forward", "CrossEntropy.backward"],
           "metrics.py": ["_count_confusion", "_scores_from_counts", "_valid_depth", "_sums_of_depth",
                          "_depth_from_sums"]},
    reveal={"ops/loss.py": ["Softmax.forward", "Softmax.backward", "NLLLoss.forward", "NLLLoss.backward"]},
    parts=(Part("log_softmax", 15, "log_softmax: values, stability for scores of size 1e4, gradient"),
           Part("cross_entropy", 20, "cross_entropy: values with reductions and class weights, gradient"),
           Part("unknown_label", 20, "ignored pixels: not in the mean, zero gradient, all-ignored gives 0"),
           Part("confusion_iou", 25, "confusion matrix cm[true, pred] without ignored pixels; IoU per class (NaN "
                                     "when absent from both), mean IoU, pixel and mean accuracy, fwIoU"),
           Part("depth_metrics", 20, "abs rel, sq rel, RMSE, RMSE log, silog, δ < 1.25^k over the valid pixels "
                                     "(mask true, target finite and > 0)")),
    handout=LOSSES_HANDOUT,
    generators={"log_softmax": _log_softmax, "cross_entropy": _cross_entropy, "unknown_label": _unknown_label,
                "confusion_iou": _confusion_iou, "depth_metrics": _depth_metrics},
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
        Mistake("the confusion matrix transposed (rows: prediction)",
                (("metrics.py", "codes = num_classes * target[valid].astype(np.int64) + pred[valid].astype(np.int64)",
                  "codes = num_classes * pred[valid].astype(np.int64) + target[valid].astype(np.int64)"),),
                frozenset({"confusion_iou"})),
        Mistake("mean IoU averaged over every class, an absent one counting as 0",
                (("metrics.py", '"miou": float(iou[present].mean()),', '"miou": float(np.nan_to_num(iou).mean()),'),),
                frozenset({"confusion_iou"})),
        Mistake("abs rel divided by the prediction instead of the target",
                (("metrics.py", "(np.abs(p - t) / t).sum()", "(np.abs(p - t) / p).sum()"),),
                frozenset({"depth_metrics"})),
        Mistake("the depth mask ignored",
                (("metrics.py", "        return mask & np.isfinite(target) & (target > 0)\n",
                  "        return np.isfinite(target) & (target > 0)\n"),),
                frozenset({"depth_metrics"})),
    ),
    starter_cells=(
        Cell("## 1. Log-softmax, stable\n\nShifted scores give the same log-probabilities; scores of 1000 must not "
             "overflow. The gradient of each row sums to 0.", CELL_LOG_SOFTMAX),
        Cell("## 2. The loss on a tiny label map with an unknown pixel\n\nThe pixel labelled 255 adds nothing to the "
             "loss, the mean divides by the 3 labelled pixels, and its gradient is exactly 0.", CELL_LOSS),
        Cell("## 3. The confusion matrix\n\nRows are the true class, columns the prediction; the diagonal is what "
             "was right. The unknown pixel is in neither.", CELL_CONFUSION),
        Cell("## 4. IoU per class\n\nThe same maps side by side, and the intersection over union of each class "
             "(`pred` and `target` from the cell above).", CELL_IOU),
        Cell("## 5. Accuracy versus IoU\n\nThe lecture's point: on a scene that is mostly background, predicting "
             "background everywhere scores a high pixel accuracy and a low mean IoU.", CELL_ACCURACY_VS_IOU),
        Cell("## 6. Depth metrics with a mask\n\nThe pixel whose target is 0 (missing) and the masked-out one are "
             "not scored.", CELL_DEPTH),
    ),
    questions=(
        "Predicting background everywhere on the scene of cell 5 scores a high pixel accuracy and a low mean IoU. "
        "Why, and which of the two would you report for scenes whose objects cover 10% of the pixels? Why is a "
        "class absent from both maps left out of the mean IoU rather than counted as 0 (or as 1)?",
        "Why must a pixel with the unknown label get exactly zero gradient, rather than being treated as "
        "background or given a small weight? Think of where the scenes put their unknown pixels (a band on object "
        "boundaries).",
        "What do abs rel and δ < 1.25 measure that RMSE does not? Give a prediction with a small RMSE and a poor "
        "abs rel, and say why the metrics skip pixels whose target is 0.",
    ),
)
