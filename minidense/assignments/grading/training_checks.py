"""The verdicts on training runs (NumPy only): a case with ``"check": NAME`` is judged by ``check_NAME``.

Used like compare.py (which calls it), but shipped only in the kits that have a training part: its mean
IoU, boundary accuracy and depth errors would be answers in the kits of the earlier assignments that ask
for them. The verdict never imports the student's code, so the metrics are written out here in NumPy.
"""
import numpy as np

IGNORE_INDEX = 255


def mean_iou(pred, labels, num_classes, ignore_index=IGNORE_INDEX):
    """Mean IoU over the classes present in the labels or the prediction (pixels labelled ignore_index skipped)."""
    valid = labels != ignore_index
    t, p = labels[valid].astype(np.int64), pred[valid].astype(np.int64)
    cm = np.bincount(num_classes * t + p, minlength=num_classes ** 2).reshape(num_classes, num_classes)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    present = union > 0
    return float((tp[present] / union[present]).mean())


def check_training_miou(expected, got, params):
    """None when the predictions reach the part's target mean IoU; else what was reached."""
    labels = expected["labels"]
    pred, problem = _labels(got, "pred", labels.shape, params["num_classes"])
    if problem:
        return problem
    miou = mean_iou(pred, labels, params["num_classes"])
    if miou >= params["target_miou"]:
        return None
    return f"mean IoU {miou:.3f} on {len(labels)} held-out scenes, below the target {params['target_miou']}"


def _labels(got, name, shape, num_classes):
    """(labels, None) when ``got[name]`` is an integer label map of ``shape`` in [0, num_classes); else (None, why)."""
    pred = got.get(name) if isinstance(got, dict) else None
    if not isinstance(pred, np.ndarray) or pred.dtype.kind not in "iu":
        return None, f"`{name}`: expected integer labels, got {getattr(pred, 'dtype', type(pred).__name__)}"
    if pred.shape != shape:
        return None, f"`{name}`: shape {pred.shape}, expected {shape}"
    if pred.min() < 0 or pred.max() >= num_classes:
        return None, f"`{name}`: labels must lie in [0, {num_classes}), got {pred.min()}..{pred.max()}"
    return pred, None


def _window_extreme(a, width, fn):
    """fn (np.maximum / np.minimum) over each pixel's (2 width + 1)^2 square of the (N, H, W) maps, edges repeated."""
    padded = np.pad(a, [(0, 0), (width, width), (width, width)], mode="edge")
    h, w = a.shape[1:]
    out = a
    for i in range(2 * width + 1):
        for j in range(2 * width + 1):
            out = fn(out, padded[:, i:i + h, j:j + w])
    return out


def boundary_accuracy(pred, labels, width, ignore_index=IGNORE_INDEX):
    """Accuracy on the pixels within ``width`` of a class change of the labels (N, H, W) (an ignored band counts
    as a class), ignored pixels skipped: ``minidense.metrics.boundary_accuracy``, in NumPy here."""
    scored = (_window_extreme(labels, width, np.maximum) != _window_extreme(labels, width, np.minimum)) & \
        (labels != ignore_index)
    return float((pred[scored] == labels[scored]).mean()) if scored.any() else float("nan")


def check_skip_ablation(expected, got, params):
    """None when the boundary accuracy with skips beats the one without by ``min_gap``; else both numbers."""
    labels, k = expected["labels"], params["num_classes"]
    preds = {}
    for name in ("pred_skips", "pred_no_skips"):
        preds[name], problem = _labels(got, name, labels.shape, k)
        if problem:
            return problem
    width = params["boundary_width"]
    with_skips, without = (boundary_accuracy(preds[n], labels, width) for n in ("pred_skips", "pred_no_skips"))
    gap = with_skips - without
    if gap >= params["min_gap"]:
        return None
    return (f"boundary accuracy (width {width}) on {len(labels)} held-out scenes: {with_skips:.3f} with skips, "
            f"{without:.3f} without, a gap of {gap:.3f}, below the required {params['min_gap']} (mean IoU "
            f"{mean_iou(preds['pred_skips'], labels, k):.3f} with skips, "
            f"{mean_iou(preds['pred_no_skips'], labels, k):.3f} without)")


def _prediction(got, shape):
    """The ``pred`` array of a training run, or what is wrong with it."""
    pred = got.get("pred") if isinstance(got, dict) else None
    if not isinstance(pred, np.ndarray) or pred.dtype.kind != "f":
        return None, f"`pred`: expected a float array, got {getattr(pred, 'dtype', type(pred).__name__)}"
    if pred.shape != shape:
        return None, f"`pred`: shape {pred.shape}, expected {shape}"
    if not np.isfinite(pred).all():
        return None, "`pred`: the trained model's output is not finite (NaN or inf)"
    return pred.astype(np.float64), None


def abs_rel(pred, depth, floor=1e-3):
    """mean |pred - depth| / depth over the pixels with depth > 0, pred floored at ``floor`` (as Depth.predict)."""
    valid = depth > 0
    p = np.maximum(pred[valid], floor)
    return float(np.mean(np.abs(p - depth[valid]) / depth[valid]))


def mean_angle(pred, normals):
    """Mean angle in degrees between pred and the true normals (N, 3, H, W), both normalised along axis 1."""
    p, t = (a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12) for a in (pred, normals))
    return float(np.degrees(np.arccos(np.clip((p * t).sum(axis=1), -1, 1))).mean())


def _at_most_target(expected, got, params, key, error, what, noun):
    """None when ``error(pred, expected[key])`` of the trained network is at most the part's target; else the
    error, the target and what one constant prediction scores (``what`` formats the error)."""
    pred, problem = _prediction(got, expected[key].shape)
    if problem:
        return problem
    err = error(pred, expected[key])
    if err <= params["target"]:
        return None
    return (f"{what(err)} on {len(pred)} held-out scenes, above the target {params['target']} "
            f"(predicting one constant {noun} scores about {params['constant']})")


def check_depth_abs_rel(expected, got, params):
    """None when the trained depth network's abs rel on the held-out scenes is at most the target."""
    return _at_most_target(expected, got, params, "depth", abs_rel, lambda e: f"depth abs rel {e:.4f}",
                           "depth")


def check_normals_angle(expected, got, params):
    """None when the trained normal network's mean angle error on the held-out scenes is at most the target."""
    return _at_most_target(expected, got, params, "normals", mean_angle,
                           lambda e: f"normals mean angle error {e:.2f} degrees", "normal")
