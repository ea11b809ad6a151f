"""Augmentations applied alike to an image and its target (one random draw decides both).

A transform is called ``transform(image, target, rng) -> (image, target)`` on one sample: image
(C, H, W), target shaped by its ``kind``:

- ``"labels"`` (H, W) class map: only moved, never interpolated;
- ``"depth"`` (1, H, W); ``"heatmaps"`` (K, H, W); ``"image"`` (C, H, W): moved like the image; a
  single-channel target may also be (H, W), as depth maps usually are stored;
- ``"normals"`` (3, H, W): moved, and a horizontal flip negates the x component (channel 0),
  since a mirrored surface faces the other way;
- ``"none"``: left as it is (a target that does not live on the pixel grid).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .loader import Transform

# (image, target): what a transform takes and returns
Pair = tuple[NDArray[Any], NDArray[Any]]

KINDS = ("labels", "depth", "normals", "heatmaps", "image", "none")
TASK_KINDS = {"segmentation": "labels", "depth": "depth", "normals": "normals", "keypoints": "heatmaps",
              "sketch2image": "image", "autoencode": "image"}


def _kind_arg(fname: str, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"{fname}: kind must be one of {KINDS}, got {kind!r}")
    return kind


def _check_pair(fname: str, image: NDArray[Any], target: NDArray[Any], kind: str) -> None:
    for name, a in (("image", image), ("target", target)):
        if not isinstance(a, np.ndarray) and (name == "image" or kind != "none"):
            raise TypeError(f"{fname}: {name} must be a NumPy array, got {type(a).__name__}")
    if np.ndim(image) != 3:
        raise ValueError(f"{fname}: image must be (C, H, W), got shape {np.shape(image)}")
    if kind == "none":
        return
    want = (2,) if kind == "labels" else (3,) if kind == "normals" else (2, 3)   # (H, W): one channel
    if np.ndim(target) not in want or np.shape(target)[-2:] != np.shape(image)[-2:]:
        shapes = {(2,): "(H, W)", (3,): "(3, H, W)", (2, 3): "(C, H, W) or (H, W)"}[want]
        raise ValueError(f"{fname}: a {kind!r} target must be {shapes} with the image's H, W "
                         f"{np.shape(image)[-2:]}, got shape {np.shape(target)}")
    if kind == "normals" and np.shape(target)[0] != 3:
        raise ValueError(f"{fname}: a 'normals' target must have 3 channels, got shape {np.shape(target)}")


def flip_keypoints(points: ArrayLike, width: int) -> NDArray[np.float32]:
    """Mirror (..., 2) (x, y) pixel coordinates as a horizontal flip of an image ``width`` wide does."""
    points = np.array(points, dtype=np.float32, copy=True)
    if points.ndim < 1 or points.shape[-1] != 2:
        raise ValueError(f"flip_keypoints: points must be (..., 2) (x, y), got shape {points.shape}")
    points[..., 0] = width - 1 - points[..., 0]
    return points


def hflip(image: NDArray[Any], target: NDArray[Any], kind: str) -> Pair:
    """Flip a sample left-right (no randomness)."""
    image = image[..., ::-1].copy()
    if kind == "none":
        return image, target
    target = target[..., ::-1].copy()
    if kind == "normals":
        target[0] = -target[0]
    return image, target


class RandomHorizontalFlip:
    """Flip image and target left-right with probability p."""

    def __init__(self, kind: str, p: float = 0.5) -> None:
        self.kind = _kind_arg("RandomHorizontalFlip", kind)
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p!r}")
        self.p = p

    def __call__(self, image: NDArray[Any], target: NDArray[Any], rng: np.random.Generator) -> Pair:
        _check_pair("RandomHorizontalFlip", image, target, self.kind)
        return hflip(image, target, self.kind) if rng.uniform() < self.p else (image, target)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(kind={self.kind!r}, p={self.p})"


class RandomCrop:
    """Cut the same random (h, w) window from image and target; ``size`` an int or (h, w)."""

    def __init__(self, size: int | tuple[int, int], kind: str) -> None:
        hw = (size, size) if isinstance(size, (int, np.integer)) else size
        if (not isinstance(hw, (tuple, list)) or len(hw) != 2
                or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in hw)):
            raise ValueError(f"RandomCrop: size must be a positive int or a pair (h, w) of them, got {size!r}")
        self.size = (int(hw[0]), int(hw[1]))
        self.kind = _kind_arg("RandomCrop", kind)

    def __call__(self, image: NDArray[Any], target: NDArray[Any], rng: np.random.Generator) -> Pair:
        _check_pair("RandomCrop", image, target, self.kind)
        (h, w), (H, W) = self.size, image.shape[-2:]
        if h > H or w > W:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the image ({H}, {W})")
        top, left = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
        window = (..., slice(top, top + h), slice(left, left + w))
        return image[window].copy(), (target if self.kind == "none" else target[window].copy())

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, kind={self.kind!r})"


class Compose:
    """Apply transforms in order, each with the same generator."""

    def __init__(self, transforms: Iterable[Transform]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")

    def __call__(self, image: NDArray[Any], target: NDArray[Any], rng: np.random.Generator) -> Pair:
        for t in self.transforms:
            image, target = t(image, target, rng)
        return image, target

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


def transforms_for(task: str, crop: int | tuple[int, int] | None = None) -> Compose:
    """The standard augmentation of a scene task: a random horizontal flip, then an optional random crop."""
    if task not in TASK_KINDS:
        raise ValueError(f"transforms_for: task must be one of {tuple(TASK_KINDS)}, got {task!r}")
    kind = TASK_KINDS[task]
    return Compose([RandomHorizontalFlip(kind)] + ([RandomCrop(crop, kind)] if crop is not None else []))
