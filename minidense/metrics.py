"""How pixel labels are scored ("Evaluating Pixel Labels"): accuracy versus intersection over union,
and the standard measures for depth, surface normals and keypoints.

One-shot functions score arrays you already have; each Meter accumulates batch by batch
(sums and histograms, never the predictions) and its ``compute()`` gives the same numbers as the
one-shot function on everything it was fed. Predictions and targets may be NumPy or CuPy arrays or
minidense Tensors; everything is computed on the CPU in float64.

Segmentation works from one confusion matrix ``cm[true, pred]`` (rows: ground truth), built with a
single ``bincount``. A class absent from both prediction and ground truth has no IoU (NaN in
``iou``) and is left out of the means, which therefore never contain NaN.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _checks, backend
from .backend import Array
from .constants import IGNORE_INDEX
from .tensor import Tensor

ANGLE_BIN_DEGREES = 0.01   # NormalMeter's histogram resolution: its median is exact to half a bin


def _label_maps(fname: str, pred: Tensor | Array, target: Tensor | Array, num_classes: int,
                ignore_index: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """Checked integer label maps (NumPy): every scored pixel's target and prediction in [0, num_classes)."""
    pred, target = _checks.integer_label_maps(fname, pred, target)
    valid = target != ignore_index
    bad_t = valid & ((target < 0) | (target >= num_classes))
    if bad_t.any():
        raise ValueError(f"{fname}: target holds class {int(target[bad_t][0])}, outside [0, {num_classes}) "
                         f"and not ignore_index={ignore_index}")
    bad_p = valid & ((pred < 0) | (pred >= num_classes))
    if bad_p.any():
        raise ValueError(f"{fname}: pred holds class {int(pred[bad_p][0])}, outside [0, {num_classes})")
    return pred, target


# ---------------------------------------------------------------- segmentation
def confusion_matrix(pred: Tensor | Array, target: Tensor | Array, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> NDArray[np.int64]:
    """(num_classes, num_classes) int64 counts ``cm[true, pred]`` over pixels whose target is not ignored.

    pred, target: integer label maps of one shape (e.g. (N, H, W)).
    """
    return _confusion("confusion_matrix", pred, target, num_classes, ignore_index)


def _confusion(fname: str, pred: Tensor | Array, target: Tensor | Array, num_classes: int,
               ignore_index: int) -> NDArray[np.int64]:
    num_classes = _checks.num_classes_arg(fname, num_classes)
    pred, target = _label_maps(fname, pred, target, num_classes, ignore_index)
    return _count_confusion(pred, target, num_classes, ignore_index)


def _count_confusion(pred: NDArray[Any], target: NDArray[Any], num_classes: int,
                     ignore_index: int) -> NDArray[np.int64]:
    """(num_classes, num_classes) int64 counts: ``cm[i, j]`` is the number of pixels whose target is i and
    whose prediction is j (rows: ground truth, columns: prediction). Pixels whose target is
    ignore_index are not counted at all.

    pred, target: NumPy integer label maps of one shape (any integer dtype, uint8 included), already
    checked: every target is ignore_index or in [0, num_classes), and so is every prediction where the
    target is not ignore_index (where it is, the prediction may be anything). Neither is changed.
    """
    valid = target != ignore_index
    codes = num_classes * target[valid].astype(np.int64) + pred[valid].astype(np.int64)
    return np.bincount(codes, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def _counts_arg(fname: str, cm: Tensor | Array | ArrayLike) -> NDArray[np.float64]:
    """A checked confusion matrix as float64: square, finite counts >= 0, at least one pixel."""
    if backend.is_array(cm) or isinstance(cm, Tensor):
        cm = _checks.host_array(fname, "cm", cm)
    cm = np.asarray(cm, dtype=np.float64)
    if cm.size and not (np.isfinite(cm).all() and cm.min() >= 0):
        raise ValueError(f"{fname}: cm must hold counts (finite, >= 0), got values from {cm.min()} to {cm.max()}")
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"{fname}: cm must be a square matrix, got shape {cm.shape}")
    if cm.sum() == 0:
        raise ValueError(f"{fname}: no labelled pixel was scored (every target pixel is ignored)")
    return cm


def scores_from_confusion(cm: Tensor | Array | ArrayLike) -> dict[str, Any]:
    """segmentation_scores' dict from a confusion matrix ``cm[true, pred]``."""
    return _scores_from_counts(_counts_arg("scores_from_confusion", cm))


def _scores_from_counts(cm: NDArray[np.float64]) -> dict[str, Any]:
    """segmentation_scores' dict from a checked confusion matrix ``cm[true, pred]``: float64
    (num_classes, num_classes), counts >= 0, total > 0; not changed. Keys and values:

    - ``pixel_accuracy`` (float): correct pixels / all pixels;
    - ``mean_accuracy`` (float): the mean over the classes present in the ground truth (row sum > 0) of
      correct pixels of the class / pixels of the class;
    - ``iou`` ((num_classes,) float64 array): intersection / union per class, NaN for a class absent
      from both prediction and ground truth (union 0);
    - ``miou`` (float): the mean of ``iou`` over the classes that have one (never NaN);
    - ``fwiou`` (float): the sum over those classes of (pixels of the class / all pixels) · IoU.
    """
    total = cm.sum()
    tp, truth, predicted = np.diag(cm), cm.sum(1), cm.sum(0)
    union = truth + predicted - tp
    present = union > 0                      # in the ground truth or in the prediction
    in_truth = truth > 0
    iou = np.full(len(cm), np.nan)
    iou[present] = tp[present] / union[present]
    class_acc = tp[in_truth] / truth[in_truth]
    return {
        "pixel_accuracy": float(tp.sum() / total),
        "mean_accuracy": float(class_acc.mean()),
        "iou": iou,
        "miou": float(iou[present].mean()),
        "fwiou": float((truth[present] / total * iou[present]).sum()),
    }


def segmentation_scores(pred: Tensor | Array, target: Tensor | Array, num_classes: int,
                        ignore_index: int = IGNORE_INDEX) -> dict[str, Any]:
    """pixel_accuracy, mean_accuracy (over classes in the ground truth), iou (num_classes,) with NaN for
    classes absent from both maps, miou (mean over the others), fwiou (IoU weighted by true frequency).

    pred, target: integer label maps of one shape, e.g. (N, H, W); pixels whose target is ignore_index
    are skipped.
    """
    return scores_from_confusion(_confusion("segmentation_scores", pred, target, num_classes, ignore_index))


def _window_extreme(a: NDArray[Any], width: int,
                    fn: Callable[[NDArray[Any], NDArray[Any]], NDArray[Any]]) -> NDArray[Any]:
    """fn (np.maximum / np.minimum) over each pixel's (2 width + 1)^2 square, per (H, W) map."""
    out = a
    for axis in (-1, -2):
        padded = np.pad(out, [(0, 0)] * (a.ndim - 2) + ([(0, 0), (width, width)] if axis == -1
                                                         else [(width, width), (0, 0)]), mode="edge")
        size = a.shape[axis]
        out = padded.take(range(0, size), axis=axis)
        for k in range(1, 2 * width + 1):
            out = fn(out, padded.take(range(k, k + size), axis=axis))
    return out


def boundary_mask(target: NDArray[Any], width: int = 3) -> NDArray[np.bool_]:
    """Pixels (bool, target's shape) within ``width`` pixels (a square window) of a class change in
    the target label map (..., H, W); an ignored band counts as a class of its own."""
    return _window_extreme(target, width, np.maximum) != _window_extreme(target, width, np.minimum)


def _boundary_counts(fname: str, pred: Tensor | Array, target: Tensor | Array, width: int,
                     ignore_index: int) -> tuple[int, int]:
    if not isinstance(width, (int, np.integer)) or isinstance(width, bool) or width < 1:
        raise ValueError(f"{fname}: width must be a positive int, got {width!r}")
    pred, target = _checks.integer_label_maps(fname, pred, target)
    if target.ndim < 2:
        raise ValueError(f"{fname}: pred and target must be label maps (..., H, W), got shape {target.shape}")
    scored = boundary_mask(target, width) & (target != ignore_index)
    return int((pred[scored] == target[scored]).sum()), int(scored.sum())


def boundary_accuracy(pred: Tensor | Array, target: Tensor | Array, width: int = 3,
                      ignore_index: int = IGNORE_INDEX) -> float:
    """Accuracy on the pixels within ``width`` of a class boundary of the target (where missing details
    show); NaN when the target has no boundary. pred, target: label maps (..., H, W)."""
    correct, total = _boundary_counts("boundary_accuracy", pred, target, width, ignore_index)
    return correct / total if total else float("nan")


class SegmentationMeter:
    """Streaming segmentation scores: ``update(pred, target)`` with integer label maps (N, H, W)
    (take the argmax first); ``compute()`` gives segmentation_scores' keys plus boundary_accuracy
    (width ``boundary_width``; NaN if no boundary was seen). ``confusion`` is the running matrix."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX, boundary_width: int = 3) -> None:
        self.num_classes = _checks.num_classes_arg("SegmentationMeter", num_classes)
        self.ignore_index = ignore_index
        self.boundary_width = boundary_width
        self.reset()

    def reset(self) -> None:
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self.boundary_correct = self.boundary_total = 0

    def update(self, pred: Tensor | Array, target: Tensor | Array) -> None:
        self.confusion += _confusion("SegmentationMeter.update", pred, target, self.num_classes, self.ignore_index)
        correct, total = _boundary_counts("SegmentationMeter.update", pred, target, self.boundary_width,
                                          self.ignore_index)
        self.boundary_correct += correct
        self.boundary_total += total

    def compute(self) -> dict[str, Any]:
        scores = scores_from_confusion(self.confusion)
        scores["boundary_accuracy"] = (self.boundary_correct / self.boundary_total if self.boundary_total
                                       else float("nan"))
        return scores


# ---------------------------------------------------------------- depth
def _depth_sums(fname: str, pred: Tensor | Array, target: Tensor | Array,
                mask: Tensor | Array | None) -> NDArray[np.float64]:
    """The sums every depth metric is made of (``_sums_of_depth``) over the valid pixels (``_valid_depth``)."""
    pred, target = _checks.host_array(fname, "pred", pred), _checks.host_array(fname, "target", target)
    _checks.same_host_shape(fname, ("pred", "target"), (pred, target))
    valid = _valid_depth(target, _checks.host_mask(fname, mask, target.shape))
    if not valid.any():
        raise ValueError(f"{fname}: target has no valid pixel (needs mask true, finite and > 0), shape {target.shape}")
    p, t = pred[valid].astype(np.float64), target[valid].astype(np.float64)
    if not (np.isfinite(p).all() and (p > 0).all()):
        bad = int((~np.isfinite(p) | (p <= 0)).sum())
        raise ValueError(f"{fname}: pred must be finite and > 0 on valid pixels (log-depth metrics), "
                         f"got {bad} such pixels; predict e.g. exp(x) or softplus(x)")
    return _sums_of_depth(p, t)


def _valid_depth(target: NDArray[Any], mask: NDArray[Any]) -> NDArray[np.bool_]:
    """bool array of target's shape: the pixels a depth metric scores, where the mask is true and the
    target is finite and > 0 (a sensor's missing depth is stored as 0, NaN or inf).

    target: a NumPy float depth map; mask: a NumPy bool array of the same shape (all True when the
    caller gave none). Neither is changed.
    """
    with np.errstate(invalid="ignore"):
        return mask & np.isfinite(target) & (target > 0)


def _sums_of_depth(p: NDArray[Any], t: NDArray[Any]) -> NDArray[np.float64]:
    """(9,) float64: the sums every depth metric is made of, over the valid pixels, in this order:

    ``[n, Σ |p − t| / t, Σ (p − t)² / t, Σ (p − t)², Σ g², Σ g, #(r < 1.25), #(r < 1.25²), #(r < 1.25³)]``

    with g = log p − log t (natural log), r = max(p / t, t / p) and # the number of pixels where it holds.
    p, t: 1-D float64 arrays of one length n >= 1: prediction and target at the valid pixels, every
    value finite and > 0; not changed.
    """
    g = np.log(p) - np.log(t)
    ratio = np.maximum(p / t, t / p)
    return np.array([len(t), (np.abs(p - t) / t).sum(), ((p - t) ** 2 / t).sum(), ((p - t) ** 2).sum(),
                     (g ** 2).sum(), g.sum(), (ratio < 1.25).sum(), (ratio < 1.25 ** 2).sum(),
                     (ratio < 1.25 ** 3).sum()])


def _depth_from_sums(s: NDArray[Any]) -> dict[str, Any]:
    """depth_metrics' dict {name: number} from the nine sums of ``_sums_of_depth`` (n = s[0] > 0; not changed):
    abs_rel = mean |p − t| / t, sq_rel = mean (p − t)² / t, rmse = sqrt(mean (p − t)²),
    rmse_log = sqrt(mean g²), silog = 100 sqrt(mean g² − (mean g)²) (0 if rounding makes the difference
    negative), delta1, delta2, delta3 = the fractions of pixels with r < 1.25, 1.25², 1.25³.
    """
    n = s[0]
    mean_g2, mean_g = s[4] / n, s[5] / n
    return {"abs_rel": s[1] / n, "sq_rel": s[2] / n, "rmse": np.sqrt(s[3] / n), "rmse_log": np.sqrt(mean_g2),
            # mean(g^2) - mean(g)^2 is a variance: only rounding can make it negative
            "silog": 100 * np.sqrt(max(mean_g2 - mean_g ** 2, 0.0)),
            "delta1": s[6] / n, "delta2": s[7] / n, "delta3": s[8] / n}


def depth_metrics(pred: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None = None) -> dict[str, float]:
    """abs_rel, sq_rel, rmse, rmse_log, silog (100 sqrt(mean g^2 - (mean g)^2), g = log pred - log target),
    delta1..3 (fraction with max(pred/target, target/pred) < 1.25^k).

    pred, target: depth maps of one shape ((N, 1, H, W) or (N, H, W)); mask: optional bool, same shape.
    Pixels count when the mask is true and the target is finite and > 0; pred must be > 0 there.
    """
    return {k: float(v) for k, v in _depth_from_sums(_depth_sums("depth_metrics", pred, target, mask)).items()}


class DepthMeter:
    """Streaming depth_metrics: ``update(pred, target, mask=None)``, then ``compute()``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums = np.zeros(9)

    def update(self, pred: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None = None) -> None:
        self.sums += _depth_sums("DepthMeter.update", pred, target, mask)

    def compute(self) -> dict[str, float]:
        if self.sums[0] == 0:
            raise ValueError("DepthMeter.compute: no valid pixel was given to update()")
        return {k: float(v) for k, v in _depth_from_sums(self.sums).items()}


# ---------------------------------------------------------------- surface normals
NORMAL_THRESHOLDS = (11.25, 22.5, 30.0)


def _normal_angles(fname: str, pred: Tensor | Array, target: Tensor | Array,
                   mask: Tensor | Array | None) -> NDArray[np.float64]:
    """Angles (degrees, 1-D) between pred and target normals (..., 3, H, W) at valid pixels."""
    pred, target = _checks.host_array(fname, "pred", pred), _checks.host_array(fname, "target", target)
    _checks.same_host_shape(fname, ("pred", "target"), (pred, target))
    if target.ndim < 3 or target.shape[-3] != 3:
        raise ValueError(f"{fname}: normals must have 3 channels, shape (N, 3, H, W) or (3, H, W), "
                         f"got shape {target.shape}")
    pixel_shape = target.shape[:-3] + target.shape[-2:]
    if mask is not None and _checks.host_array(fname, "mask", mask).shape == pixel_shape[:-2] + (1,) + pixel_shape[-2:]:
        mask = _checks.host_array(fname, "mask", mask).squeeze(-3)   # (N, 1, H, W) accepted for (N, H, W)
    mask = _checks.host_mask(fname, mask, pixel_shape)
    p, t = np.moveaxis(pred, -3, -1)[mask].astype(np.float64), np.moveaxis(target, -3, -1)[mask].astype(np.float64)
    t_len, p_len = np.linalg.norm(t, axis=1), np.linalg.norm(p, axis=1)
    valid = np.isfinite(t_len) & (t_len > 0)
    if not valid.any():
        raise ValueError(f"{fname}: no valid pixel (mask true and a finite, non-zero target normal), "
                         f"shape {target.shape}")
    if not np.isfinite(p_len[valid]).all():
        raise ValueError(f"{fname}: pred must be finite on valid pixels, got {int((~np.isfinite(p_len[valid])).sum())} "
                         "non-finite normals")
    # a zero-length prediction has no direction: its cosine is 0 (a 90 degree error)
    cos = (p[valid] * t[valid]).sum(1) / (t_len[valid] * np.where(p_len[valid] > 0, p_len[valid], 1.0))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))   # clip: rounding can leave |cos| a hair above 1


def normal_metrics(pred: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None = None) -> dict[str,
                   float]:
    """mean and median angular error (degrees) and the fractions within 11.25, 22.5 and 30 degrees.

    pred, target: (N, 3, H, W) or (3, H, W); both are normalised here (pred need not be unit).
    mask: optional bool (N, H, W) or (N, 1, H, W).
    """
    a = _normal_angles("normal_metrics", pred, target, mask)
    out = {"mean": float(a.mean()), "median": float(np.median(a))}
    for th, key in zip(NORMAL_THRESHOLDS, ("within_11_25", "within_22_5", "within_30")):
        out[key] = float((a < th).mean())
    return out


class NormalMeter:
    """Streaming normal_metrics. The median comes from a histogram of ANGLE_BIN_DEGREES (0.01 degree)
    bins: it is the centre of the bin holding the middle angle, so within 0.005 degrees of the exact one."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.histogram = np.zeros(int(round(180 / ANGLE_BIN_DEGREES)), dtype=np.int64)
        self.count, self.total = 0, 0.0
        self.within = np.zeros(len(NORMAL_THRESHOLDS), dtype=np.int64)

    def update(self, pred: Tensor | Array, target: Tensor | Array, mask: Tensor | Array | None = None) -> None:
        a = _normal_angles("NormalMeter.update", pred, target, mask)
        bins = np.minimum((a / ANGLE_BIN_DEGREES).astype(np.int64), len(self.histogram) - 1)
        self.histogram += np.bincount(bins, minlength=len(self.histogram))
        self.count += len(a)
        self.total += a.sum()
        self.within += np.array([(a < th).sum() for th in NORMAL_THRESHOLDS])

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("NormalMeter.compute: no valid pixel was given to update()")
        # the k-th smallest angle lies in the first bin whose cumulative count reaches k; for an even
        # count the median is the mean of the two middle angles, as np.median takes it
        middle = np.searchsorted(np.cumsum(self.histogram), [(self.count + 1) // 2, self.count // 2 + 1])
        out = {"mean": float(self.total / self.count), "median": float((middle.mean() + 0.5) * ANGLE_BIN_DEGREES)}
        for w, key in zip(self.within, ("within_11_25", "within_22_5", "within_30")):
            out[key] = float(w / self.count)
        return out


# ---------------------------------------------------------------- keypoints
def _pck_counts(fname: str, pred_points: Tensor | Array, true_points: Tensor | Array, threshold: float,
                visible: Tensor | Array | None) -> tuple[int, int, float]:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) or not threshold > 0:
        raise ValueError(f"{fname}: threshold must be a positive number of pixels, got {threshold!r}")
    pred = _checks.host_array(fname, "pred_points", pred_points)
    true = _checks.host_array(fname, "true_points", true_points)
    _checks.same_host_shape(fname, ("pred_points", "true_points"), (pred, true))
    if true.ndim < 1 or true.shape[-1] != 2:
        raise ValueError(f"{fname}: points must be (..., K, 2) (x, y), got shape {true.shape}")
    visible = _checks.host_mask(fname, visible, true.shape[:-1], name="visible")
    for name, a in (("pred_points", pred), ("true_points", true)):
        if not np.isfinite(a[visible]).all():
            raise ValueError(f"{fname}: {name} must be finite at visible keypoints, got {a[visible].ravel()[:4]}...")
    dist = np.linalg.norm(pred.astype(np.float64) - true, axis=-1)[visible]
    return int((dist <= threshold).sum()), int(visible.sum()), float(dist.sum())


def pck(pred_points: Tensor | Array, true_points: Tensor | Array, threshold: float,
        visible: Tensor | Array | None = None) -> float:
    """Percentage of Correct Keypoints (a fraction): visible points whose prediction is within
    ``threshold`` pixels. Points (..., K, 2) in corresponding order; visible: bool (..., K)."""
    correct, total, _ = _pck_counts("pck", pred_points, true_points, threshold, visible)
    if total == 0:
        raise ValueError("pck: no visible keypoint to score")
    return correct / total


class HeatmapPCKMeter:
    """PCK from heatmaps: each true peak is matched to the nearest predicted peak of its type.

    A true keypoint counts as found when a predicted peak of the same type lies
    within ``threshold · max(H, W)`` pixels (a predicted peak is used once at most).
    """

    def __init__(self, threshold: float, peak_threshold: float = 0.25) -> None:
        self.threshold = threshold
        self.peak_threshold = peak_threshold   # a predicted peak must reach this probability
        self.found, self.total = 0, 0

    def update(self, pred: Tensor | Array, target: Tensor | Array) -> None:
        from .data.scenes import heatmap_peaks  # only when keypoints are scored
        pred = _checks.host_array("HeatmapPCKMeter", "pred", pred)
        target = _checks.host_array("HeatmapPCKMeter", "target", target)
        limit = self.threshold * max(pred.shape[-2:])
        for n in range(pred.shape[0]):          # a loop over images and types, not pixels
            peaks = heatmap_peaks(pred[n], threshold=self.peak_threshold)
            for truth, guess in zip(heatmap_peaks(target[n]), peaks):
                guess = [tuple(g) for g in guess]
                for point in truth:
                    self.total += 1
                    if not guess:
                        continue
                    d = [np.hypot(point[0] - g[0], point[1] - g[1]) for g in guess]
                    j = int(np.argmin(d))
                    if d[j] <= limit:
                        self.found += 1
                        guess.pop(j)

    def compute(self) -> dict[str, float]:
        return {"pck": self.found / self.total if self.total else 0.0}


class KeypointMeter:
    """Streaming pck: ``update(pred_points, true_points, visible=None)``; compute() gives
    ``pck``, ``mean_distance`` (pixels) and ``count`` (visible points scored)."""

    def __init__(self, threshold: float) -> None:
        _pck_counts("KeypointMeter", np.zeros((1, 2)), np.zeros((1, 2)), threshold, None)   # checks threshold
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self.correct = self.count = 0
        self.distance = 0.0

    def update(self, pred_points: Tensor | Array, true_points: Tensor | Array,
               visible: Tensor | Array | None = None) -> None:
        correct, total, dist = _pck_counts("KeypointMeter.update", pred_points, true_points, self.threshold, visible)
        self.correct += correct
        self.count += total
        self.distance += dist

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("KeypointMeter.compute: no visible keypoint was given to update()")
        return {"pck": self.correct / self.count, "mean_distance": self.distance / self.count, "count": self.count}


# ---------------------------------------------------------------- image-to-image tasks
class MeanMeter:
    """Streaming mean absolute error between predictions and targets (image-to-image tasks)."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, pred: Tensor | Array, target: Tensor | Array) -> None:
        pred = _checks.host_array("MeanMeter", "pred", pred)
        target = _checks.host_array("MeanMeter", "target", target)
        self.total += float(np.abs(pred.astype(np.float64) - target).sum())
        self.count += target.size

    def compute(self) -> dict[str, float]:
        return {"l1": self.total / max(self.count, 1)}
