"""Assignment 4: per-pixel losses and metrics: softmax cross-entropy with the unknown label, the confusion
matrix and IoU, depth metrics."""
import numpy as np

from ...cases import depth_pair, image_shape, normal
from ...specs import Assignment, Mistake, Part, read_handout, read_starter

IGNORE = 255   # md.IGNORE_INDEX, the unknown label


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


def _depth_shape(rng):
    shape = image_shape(rng, (1, 3), (4, 8), 1)
    return shape if rng.integers(0, 2) else [shape[0], *shape[2:]]


def _depth_case(case_id, pred, target, mask, hint):
    inputs = {"pred": pred, "target": target}
    if mask is not None:
        inputs["mask"] = mask
    return {"id": case_id, "fn": "depth_metrics", "params": {}, "inputs": inputs, "hint": hint}


def _masked(rng, shape):
    """Depth with a mask: where it is false the prediction is far off (and the target is a valid depth)."""
    pred, target = depth_pair(rng, shape, 0.4)
    mask = rng.random(shape) < 0.7
    mask.flat[0] = False
    pred[~mask] = 3.0 * target[~mask]
    return pred, target, mask


def _holes(rng, shape):
    """Missing depth in the target: 0, NaN and inf (no mask)."""
    pred, target = depth_pair(rng, shape, 0.4)
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
                  _depth_case("no-mask", *depth_pair(rng, _depth_shape(rng), 0.4), None, DEPTH_HINT),
                  _depth_case("far-off-prediction", *depth_pair(rng, _depth_shape(rng), 1.0), None,
                              DEPTH_HINT)]
    return cases


SPEC = Assignment(
    name="losses",
    title="Assignment 4: per-pixel losses and metrics: cross-entropy with the unknown label, IoU, depth metrics",
    stubs={"ops/loss.py": ["LogSoftmax.forward", "LogSoftmax.backward", "_ClassLoss._weights",
                           "CrossEntropy.forward", "CrossEntropy.backward"],
           "metrics.py": ["_count_confusion", "_scores_from_counts", "_valid_depth", "_sums_of_depth",
                          "_depth_from_sums"]},
    reveal={"ops/loss.py": ["Softmax.forward", "Softmax.backward", "NLLLoss.forward", "NLLLoss.backward"]},
    parts=(Part("log_softmax", 15, "log_softmax: values, stability for scores of size 1e4, gradient",
                cases=_log_softmax),
           Part("cross_entropy", 20, "cross_entropy: values with reductions and class weights, gradient",
                cases=_cross_entropy),
           Part("unknown_label", 20, "ignored pixels: not in the mean, zero gradient, all-ignored gives 0",
                cases=_unknown_label),
           Part("confusion_iou", 25, "confusion matrix cm[true, pred] without ignored pixels; IoU per class (NaN "
                                     "when absent from both), mean IoU, pixel and mean accuracy, fwIoU",
                cases=_confusion_iou),
           Part("depth_metrics", 20, "abs rel, sq rel, RMSE, RMSE log, silog, δ < 1.25^k over the valid pixels "
                                     "(mask true, target finite and > 0)", cases=_depth_metrics)),
    handout=read_handout(__file__),
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
    starter=read_starter(__file__),
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
