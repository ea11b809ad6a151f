"""Pictures of pixel labels, the general primitives: colours for classes, depth, normals, heatmaps and
keypoints, error maps, grids and strips of pictures, training curves and confusion matrices. Each task
(``minidense.tasks``) draws its own predictions with these.

Inputs follow the project's layout (images (C, H, W), label maps (H, W)); outputs are channels-last
(H, W, 3) float32 arrays in [0, 1] ready for ``imshow`` / :func:`minidense.data.io.write_png`, or
matplotlib figures, saved as PNG when ``path`` is given. Figures are made with
``matplotlib.figure.Figure`` rather than pyplot: nothing is registered with a GUI backend, nothing is
shown, nothing needs closing, and it works the same on a headless machine (Agg) and in a notebook.
"""
import matplotlib
import numpy as np
from matplotlib.figure import Figure

from . import backend
from .constants import IGNORE_INDEX
from .data.io import voc_palette
from .tensor import Tensor


def _np(fname, name, x):
    if isinstance(x, Tensor):
        x = x.data
    if not backend.is_array(x):
        raise TypeError(f"{fname}: {name} must be an array or a Tensor, got {type(x).__name__}")
    return backend.to_numpy(x)


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=fig.dpi)
    return fig


def _cmap(name):
    return matplotlib.colormaps[name]


def colorize_labels(labels):
    """(..., H, W) integer labels -> (..., H, W, 3) float32 VOC colours."""
    labels = _np("colorize_labels", "labels", labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"colorize_labels: labels must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError(f"colorize_labels: labels must be in [0, 255], got [{labels.min()}, {labels.max()}]")
    return voc_palette()[labels].astype(np.float32) / 255


def to_hwc(image):
    """(3, H, W) or (1, H, W) or (H, W) image in [0, 1] -> (H, W, 3) float32."""
    image = _np("to_hwc", "image", image).astype(np.float32)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"to_hwc: image must be (3, H, W), (1, H, W) or (H, W), got shape {image.shape}")
    return np.repeat(image, 3 // image.shape[0], axis=0).transpose(1, 2, 0)


def overlay(image, labels, alpha=0.5):
    """The image (3, H, W) with its non-background labels (H, W) blended in at ``alpha`` -> (H, W, 3)."""
    rgb, labels = to_hwc(image), _np("overlay", "labels", labels)
    if labels.shape != rgb.shape[:2]:
        raise ValueError(f"overlay: labels must be (H, W) = {rgb.shape[:2]}, got {labels.shape}")
    a = np.where(labels[..., None] > 0, alpha, 0.0)
    return ((1 - a) * rgb + a * colorize_labels(labels)).astype(np.float32)


def depth_to_rgb(depth, cmap="viridis", vmin=None, vmax=None):
    """Depth (H, W) or (1, H, W) through a matplotlib colormap -> (H, W, 3); range from the data by default."""
    d = _np("depth_to_rgb", "depth", depth).astype(np.float64)
    d = d[0] if d.ndim == 3 and d.shape[0] == 1 else d
    if d.ndim != 2:
        raise ValueError(f"depth_to_rgb: depth must be (H, W) or (1, H, W), got shape {np.shape(depth)}")
    lo = np.nanmin(d) if vmin is None else vmin
    hi = np.nanmax(d) if vmax is None else vmax
    scaled = (d - lo) / (hi - lo) if hi > lo else np.zeros_like(d)
    return _cmap(cmap)(np.clip(scaled, 0, 1))[..., :3].astype(np.float32)   # colormaps saturate


def normals_to_rgb(normals):
    """Normals (3, H, W), normalised here, shown as (n + 1) / 2 -> (H, W, 3)."""
    n = _np("normals_to_rgb", "normals", normals).astype(np.float64)
    if n.ndim != 3 or n.shape[0] != 3:
        raise ValueError(f"normals_to_rgb: normals must be (3, H, W), got shape {n.shape}")
    length = np.linalg.norm(n, axis=0)
    n = n / np.where(length > 0, length, 1.0)
    return ((n + 1) / 2).transpose(1, 2, 0).astype(np.float32)


def draw_keypoints(image, points, visible=None, radius=1.5, color=(1.0, 0.1, 0.1), hidden_color=(0.1, 0.4, 1.0)):
    """The image (3, H, W) with a disc at each (x, y) of points (K, 2) -> (H, W, 3); points not
    visible are drawn as rings in ``hidden_color``."""
    rgb = to_hwc(image).copy()
    points = _np("draw_keypoints", "points", points).astype(np.float64).reshape(-1, 2)
    visible = np.ones(len(points), bool) if visible is None else _np("draw_keypoints", "visible", visible).ravel()
    if visible.shape != (len(points),):
        raise ValueError(f"draw_keypoints: visible must have one entry per point ({len(points)}), got {visible.shape}")
    H, W = rgb.shape[:2]
    dist = np.hypot(np.arange(W)[None, None] - points[:, 0, None, None],
                    np.arange(H)[None, :, None] - points[:, 1, None, None])      # (K, H, W)
    disc = (dist[visible] <= radius).any(0)
    ring = ((dist[~visible] <= radius + 0.5) & (dist[~visible] >= radius - 0.5)).any(0)
    rgb[ring] = hidden_color
    rgb[disc] = color
    return rgb


def heatmaps_to_rgb(heatmaps, cmap="magma"):
    """Heatmaps (K, H, W) with values in [0, 1]: their maximum over K through a colormap -> (H, W, 3)."""
    h = _np("heatmaps_to_rgb", "heatmaps", heatmaps).astype(np.float64)
    if h.ndim != 3:
        raise ValueError(f"heatmaps_to_rgb: heatmaps must be (K, H, W), got shape {h.shape}")
    return _cmap(cmap)(np.clip(h.max(axis=0), 0, 1))[..., :3].astype(np.float32)


def mismatch_to_rgb(truth, pred, ignore_index=IGNORE_INDEX):
    """Where two label maps (H, W) differ: red, unknown truth (``ignore_index``) grey, the rest black -> (H, W, 3)."""
    truth, pred = _np("mismatch_to_rgb", "truth", truth), _np("mismatch_to_rgb", "pred", pred)
    if truth.shape != pred.shape or truth.ndim != 2:
        raise ValueError(f"mismatch_to_rgb: truth and pred must be label maps (H, W) of one shape, "
                         f"got {truth.shape} and {pred.shape}")
    err = np.zeros(truth.shape + (3,), np.float32)
    err[pred != truth] = (1.0, 0.15, 0.15)
    err[truth == ignore_index] = (0.5, 0.5, 0.5)
    return err


def picture_grid(rows, titles=None, path=None):
    """A figure of pictures in rows: ``rows`` is a list of rows, each a list of (H, W, 3) arrays; ``titles``
    names the columns (shown above the first row). Each task's ``draw`` builds its rows with this."""
    if not rows or not all(isinstance(r, (list, tuple)) and r for r in rows) or len({len(r) for r in rows}) != 1:
        raise ValueError("picture_grid: rows must be a non-empty list of equally long, non-empty lists of pictures")
    cols = len(rows[0])
    if titles is not None and len(titles) != cols:
        raise ValueError(f"picture_grid: {cols} columns but {len(titles)} titles")
    fig = Figure(figsize=(2 * cols, 2 * len(rows)), dpi=80)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for r, row in enumerate(rows):
        for c, (ax, panel) in enumerate(zip(axes[r], row)):
            ax.imshow(_np("picture_grid", "a picture", panel), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and titles is not None:
                ax.set_title(titles[c])
    fig.tight_layout()
    return _finish(fig, path)


def image_strip(images, titles=None, path=None):
    """One row of images (n, C, H, W) or (n, H, W, C), e.g. a walk through an autoencoder's latent space."""
    images = _np("image_strip", "images", images)
    if images.ndim != 4:
        raise ValueError(f"image_strip: images must be (n, C, H, W) or (n, H, W, C), got shape {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"image_strip: {len(images)} images but {len(titles)} titles")
    fig = Figure(figsize=(1.6 * len(images), 1.9), dpi=80)
    axes = fig.subplots(1, len(images), squeeze=False)[0]
    for k, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(np.clip(to_hwc(image), 0, 1), interpolation="nearest")
        ax.axis("off")
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


def plot_curves(history, path=None):
    """Training curves from a list of per-epoch dicts (``epoch``, ``train_loss``, ``val_loss`` and
    metrics): the losses in one panel, every other numeric key in a panel of its own."""
    if not isinstance(history, (list, tuple)) or not history or not all(isinstance(h, dict) for h in history):
        raise ValueError("plot_curves: history must be a non-empty list of per-epoch dicts")
    epochs = [h.get("epoch", i) for i, h in enumerate(history)]
    # bookkeeping (speed, learning rate, skipped steps) is in history.csv; the panels show what was learned
    keys = [k for k in history[-1] if k not in ("epoch", "train_loss", "val_loss", "images_per_s", "lr",
                                                 "skipped_steps")
            and isinstance(history[-1][k], (int, float, np.number)) and not isinstance(history[-1][k], bool)]
    cols = min(4, 1 + len(keys))
    rows = -(-(1 + len(keys)) // cols)
    fig = Figure(figsize=(3.6 * cols, 2.8 * rows), dpi=80)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for name in ("train_loss", "val_loss"):
        xs = [e for e, h in zip(epochs, history) if name in h]
        if xs:
            axes[0].plot(xs, [h[name] for h in history if name in h], marker="o", label=name)
    axes[0].set_title("loss")
    axes[0].set_xlabel("epoch")
    axes[0].legend()
    for ax, key in zip(axes[1:], keys):
        ax.plot([e for e, h in zip(epochs, history) if key in h], [h[key] for h in history if key in h], marker="o")
        ax.set_title(key)
        ax.set_xlabel("epoch")
    for ax in axes[1 + len(keys):]:
        ax.set_visible(False)
    fig.tight_layout()
    return _finish(fig, path)


def plot_confusion(cm, class_names=None, path=None, normalize=True):
    """The confusion matrix cm[true, pred] as a heat map (rows normalised to sum 1 by default)."""
    cm = np.asarray(_np("plot_confusion", "cm", cm), dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion: cm must be a square matrix, got shape {cm.shape}")
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(cm))]
    if len(names) != len(cm):
        raise ValueError(f"plot_confusion: class_names must have {len(cm)} names, got {len(names)}")
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    fig = Figure(figsize=(1.6 + 0.6 * len(cm), 1.2 + 0.6 * len(cm)), dpi=80)
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for (i, j), v in np.ndenumerate(shown):
        ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center", fontsize=7,
                color="white" if v > 0.6 * shown.max() else "black")
    ax.set_xticks(range(len(cm)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(cm)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return _finish(fig, path)
