"""One Task per slide of the lecture: what the network outputs, its loss, its metrics, its pictures
(``picture``, ``error_picture`` and ``draw``, built from the general primitives of ``minidense.viz``).

A Task ties a per-pixel problem to the rest of the framework:

    task = get_task("segmentation")
    loss = task.loss(model(images), targets)        # a scalar Tensor
    meter = task.meter(); meter.update(task.predict(output), targets); meter.compute()

    task          in  out  loss                                   metric (higher or lower is better)
    segmentation   3  C    per-pixel cross-entropy, unknown=255    miou (higher)
    depth          3  1    masked L1 (or scale-invariant log)      abs_rel (lower)
    normals        3  3    1 - cos between unit normals            mean angular error (lower)
    keypoints      3  K    per-pixel BCE on Gaussian heatmaps      pck (higher)
    sketch2image   1  3    L1                                      l1 (lower)
    autoencode     3  3    L1: ||D(E(X)) - X||                     l1 (lower)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import backend, metrics
from . import functional as F
from .backend import to_numpy
from .constants import IGNORE_INDEX
from .data import scenes
from .tensor import Tensor, no_grad


def _array(x):
    return to_numpy(x.data if isinstance(x, Tensor) else x)


class Task:
    """Base class; subclasses set the class attributes and override what differs."""
    name = ""
    in_channels = 3
    out_channels = 1
    target_kind = "none"      # how transforms treat the target
    metric = ""               # the metric that picks the best checkpoint
    higher_is_better = True

    def typical_output(self, train_data, limit=256):
        """The per-channel value a model's output should start at for these targets (C,), or None.

        A freshly initialised network outputs values near 0, while depths are near 4.5 and heatmap
        logits near -4: ``fit`` starts the model's output bias here on a fresh run, so that the first
        steps learn structure instead of slowly walking a bias to a constant. Looks at the first
        ``limit`` samples of ``train_data`` (a sequence of (image, target) pairs).
        """
        targets = np.stack([backend.to_numpy(train_data[i][1]) for i in range(min(len(train_data), limit))])
        return self._typical_value(self.target_batch(targets).astype(np.float64))

    def _typical_value(self, targets):
        return None

    def target_batch(self, targets):
        """A batch of targets as the loss takes them: single-channel (N, H, W) maps (depth as usually
        stored) become (N, 1, H, W); label maps (N, H, W) stay as they are."""
        targets = np.asarray(targets)
        return targets[:, None] if targets.ndim == 3 and self.target_kind != "labels" else targets

    def loss(self, output, target):
        raise NotImplementedError

    def predict(self, output):
        """The model's output, which is already the prediction, turned into the answer the metrics compare
        (a NumPy array): only the task's final step (argmax, sigmoid, clamping, normalising)."""
        return _array(output)

    def meter(self):
        raise NotImplementedError

    def dataset(self, n, size=64, seed=0):
        return scenes.SceneDataset(n, size=size, seed=seed, task=self.name)

    def picture(self, target):
        """One target, or one prediction as ``predict`` gives it, as an (H, W, 3) picture in [0, 1]."""
        from . import viz  # matplotlib is slow to import: only when a picture is wanted
        return viz.to_hwc(np.clip(_array(target), 0, 1))

    def error_picture(self, truth, pred):
        """Where and how much a prediction is wrong, as (H, W, 3): by default the absolute difference (its
        largest channel), black for none, through the 'inferno' colormap."""
        from . import viz
        diff = np.abs(np.asarray(_array(pred), np.float64) - _array(truth))
        return viz.depth_to_rgb(diff.max(0) if diff.ndim == 3 else diff, "inferno", 0, None)

    def draw(self, images, targets, preds, path=None, max_rows=6):
        """A grid with one row per sample: input | ground truth | prediction | error.

        images (N, C, H, W); targets and preds (N, ...) as the data set gives targets and ``predict`` gives
        predictions. Saved as PNG when ``path`` is given; returns the matplotlib figure.
        """
        from . import viz
        images, targets, preds = _array(images), _array(targets), _array(preds)
        if targets.shape != preds.shape or len(images) != len(targets):
            raise ValueError(f"{type(self).__name__}.draw: targets and preds must have the same shape and as many "
                             f"samples as images, got {targets.shape}, {preds.shape} and {images.shape}")
        rows = [[viz.to_hwc(images[r]), self.picture(targets[r]), self.picture(preds[r]),
                 self.error_picture(targets[r], preds[r])] for r in range(min(len(images), max_rows))]
        return viz.picture_grid(rows, ("input", "ground truth", "prediction", "error"), path=path)

    def draw_extra(self, model, images, path_prefix):
        """Pictures beyond the prediction grid, written by fit each epoch (none by default)."""

    def describe(self):
        return f"{self.name}: {self.in_channels} -> {self.out_channels} channels, metric {self.metric}"


class Segmentation(Task):
    name, out_channels, target_kind, metric = "segmentation", scenes.NUM_CLASSES, "labels", "miou"

    def __init__(self, num_classes=scenes.NUM_CLASSES):
        self.out_channels = self.num_classes = num_classes

    def loss(self, output, target):
        return F.cross_entropy(output, target, ignore_index=IGNORE_INDEX)

    def predict(self, output):
        return _array(output).argmax(axis=1)

    def meter(self):
        return metrics.SegmentationMeter(self.num_classes, ignore_index=IGNORE_INDEX)

    def picture(self, target):
        """Labels (H, W) in PASCAL VOC's colours."""
        from . import viz
        return viz.colorize_labels(_array(target))

    def error_picture(self, truth, pred):
        """Wrong labels in red, unknown pixels grey."""
        from . import viz
        return viz.mismatch_to_rgb(_array(truth), _array(pred), IGNORE_INDEX)


class Depth(Task):
    name, out_channels, target_kind, metric, higher_is_better = "depth", 1, "depth", "abs_rel", False
    #: predictions are floored here for the metrics, which take logs and ratios of depths
    MIN_DEPTH = 1e-3

    def __init__(self, loss="l1"):
        if loss not in ("l1", "silog"):
            raise ValueError(f"Depth: loss must be 'l1' or 'silog', got {loss!r}")
        self.kind = loss

    def _typical_value(self, targets):
        return np.array([targets[targets > 0].mean()])

    def loss(self, output, target):
        mask = target > 0
        if self.kind == "silog":
            return F.scale_invariant_log_loss(output, target, mask=mask)
        return F.l1_loss(output, target, mask=mask)

    def predict(self, output):
        return np.maximum(_array(output), self.MIN_DEPTH)

    def meter(self):
        return metrics.DepthMeter()

    def picture(self, target):
        """Depth (1, H, W) through the 'viridis' colormap, its range from the data."""
        from . import viz
        return viz.depth_to_rgb(_array(target))


class Normals(Task):
    name, out_channels, target_kind, metric, higher_is_better = "normals", 3, "normals", "mean", False

    def _typical_value(self, targets):
        return targets.mean(axis=(0, 2, 3))

    def loss(self, output, target):
        return F.cosine_normal_loss(output, target)   # it normalises the prediction itself

    def predict(self, output):
        out = _array(output)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def meter(self):
        return metrics.NormalMeter()

    def picture(self, target):
        """Normals (3, H, W) as colours (n + 1) / 2."""
        from . import viz
        return viz.normals_to_rgb(_array(target))

    def error_picture(self, truth, pred):
        """The angle between true and predicted normal, 0 to 90 degrees through 'inferno'."""
        from . import viz
        t, p = (a / np.maximum(np.linalg.norm(a, axis=0), 1e-12) for a in (_array(truth), _array(pred)))
        return viz.depth_to_rgb(np.degrees(np.arccos(np.clip((t * p).sum(0), -1, 1))), "inferno", 0, 90)


class Keypoints(Task):
    """The lecture's pose estimation on the scenes: one heatmap per keypoint type (centre, corner)."""
    name, target_kind, metric = "keypoints", "heatmaps", "pck"
    out_channels = len(scenes.KEYPOINT_TYPES)

    def __init__(self, threshold=0.1, size=64):
        self.threshold = threshold   # a fraction of the image size, as PCK is usually given
        self.size = size

    def _typical_value(self, targets):
        p = np.clip(targets.mean(axis=(0, 2, 3)), 1e-4, 1 - 1e-4)
        return np.log(p / (1 - p))   # the logit of the mean heatmap value

    def loss(self, output, target):
        return F.binary_cross_entropy_with_logits(output, target)

    def predict(self, output):
        # the sigmoid, written with tanh so that large logits do not overflow
        return 0.5 * (1 + np.tanh(0.5 * _array(output)))

    def meter(self):
        return metrics.HeatmapPCKMeter(self.threshold)

    def picture(self, target):
        """Heatmaps (K, H, W): their maximum over the keypoint types through 'magma'."""
        from . import viz
        return viz.heatmaps_to_rgb(_array(target))


class Sketch2Image(Task):
    name, in_channels, out_channels, target_kind, metric, higher_is_better = \
        "sketch2image", 1, 3, "image", "l1", False

    def _typical_value(self, targets):
        return targets.mean(axis=(0, 2, 3))

    def loss(self, output, target):
        return F.l1_loss(output, target)

    def meter(self):
        return metrics.MeanMeter()


class Autoencode(Sketch2Image):
    """Reconstruction ||D(E(X)) - X||; the AutoEncoder ends in a sigmoid, so its output bias (before the
    sigmoid) is left at zero rather than started at the mean image."""
    name, in_channels = "autoencode", 3

    def _typical_value(self, targets):
        return None

    def draw_extra(self, model, images, path_prefix, steps=8):
        """The latent walk: decoded points on the line between two images' codes (model.interpolate)."""
        if not hasattr(model, "interpolate") or len(images) < 2:
            return None
        from . import viz
        first, second = (Tensor(backend.to_device(images[i:i + 1], backend.device_of(
            next(iter(model.parameters())).data))) for i in (0, 1))
        with no_grad():
            walk = model.interpolate(first, second, steps=steps)
        titles = ["x1"] + [f"{t / (steps - 1):.2f}" for t in range(1, steps - 1)] + ["x2"]
        return viz.image_strip(_array(walk), titles, path=f"{path_prefix}_latent_walk.png")


TASKS = {t.name: t for t in (Segmentation, Depth, Normals, Keypoints, Sketch2Image, Autoencode)}


def get_task(name: Task | str, **options: Any) -> Task:
    """A Task by name (see TASKS)."""
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        raise ValueError(f"get_task: unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name](**options)
