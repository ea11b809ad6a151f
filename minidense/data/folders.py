"""A user's own data: folders of images with label masks, depth maps or normal maps.

    train = SegmentationFolder("data/facades", split="train", size=64)   # (image (3, H, W), mask (H, W))
    image, mask = train[0]

Two layouts are recognised:

- ``root/images/*.png|jpg`` with ``root/masks/<stem>.png`` (``depth/`` or ``normals/`` for the other
  targets); ``split="train"`` reads ``root/train/images`` ... or, when ``root/train.txt`` lists stems,
  those images of ``root/images``;
- Pascal VOC's own: ``root/JPEGImages/<stem>.jpg``, ``root/SegmentationClass/<stem>.png`` and the
  stems of ``root/ImageSets/Segmentation/<split>.txt`` (no split: every mask of SegmentationClass).

Images are read with Pillow (which matplotlib requires) as float32 (3, H, W) in [0, 1]. Masks are read
as raw class indices: palette PNGs (as VOC stores them) or 8-bit index images, never converted to RGB
nor scaled; 255 is the unknown label (``IGNORE_INDEX``). Depth is a 16-bit PNG times ``scale`` (default
1/1000: millimetres to metres) or a ``.npy`` of depths; 0 is unknown depth. Normals are ``.npy`` (3, H, W)
or (H, W, 3), or RGB PNGs storing ``(n + 1) / 2``. With ``size`` every sample is resized: images
bilinearly, targets nearest-neighbour only (a label is never blended with its neighbour).

``root/classes.json`` (optional) names the classes, gives their colours and says whether a left-right
flip keeps every label's meaning (``flip_safe``; for masks False unless it says so, since a folder may
hold "left" and "right" classes; for depth and normals True, a flip being exact for them)::

    {"classes": [{"name": "background", "colour": [0, 0, 0]}, {"name": "window", "colour": [0, 0, 255]}],
     "flip_safe": true}

A folder that cannot be read right (a missing target for an image, a target of another size, a mask
index at or above the class count that is not 255, an RGB mask) is refused at construction with one
ValueError listing the files at fault.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..constants import IGNORE_INDEX
from .io import voc_palette

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# _PIL_NOTE: Pillow's type information lists the resampling filters under Image.Resampling (Pillow 9.1+); the
# module-level names used here work on every Pillow that matplotlib accepts.
MAX_LISTED = 5   # problems named in the error of a bad folder (then a count of the others)


def size_arg(fname: str, size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """None, an int or (H, W) of positive ints -> None or (H, W)."""
    if size is None:
        return None
    hw = (size, size) if isinstance(size, (int, np.integer)) and not isinstance(size, bool) else size
    if (not isinstance(hw, (tuple, list)) or len(hw) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in hw)):
        raise ValueError(f"{fname}: size must be None, a positive int or a pair (H, W) of them, got {size!r}")
    return int(hw[0]), int(hw[1])


def read_image(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> NDArray[np.float32]:
    """(3, H, W) float32 in [0, 1] (grey and palette images are made RGB; alpha is dropped)."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGB")
        if size is not None and im.size != (size[1], size[0]):
            im = im.resize((size[1], size[0]), Image.BILINEAR)  # type: ignore[attr-defined]  # see _PIL_NOTE
        return (np.asarray(im, dtype=np.float32) / 255.0).transpose(2, 0, 1).copy()


def read_mask(path: str | os.PathLike[str],
              size: tuple[int, int] | None = None) -> tuple[NDArray[np.int64], NDArray[np.uint8] | None]:
    """(H, W) int64 class indices of a palette or 8-bit index PNG, as stored (nearest-neighbour resize).

    Returns (indices, palette (256, 3) uint8 or None)."""
    from PIL import Image
    with Image.open(path) as im:
        if im.mode not in ("P", "L", "1"):
            raise ValueError(f"{path}: a mask must be a palette or 8-bit index image (PNG mode P or L), got mode "
                             f"{im.mode!r}; an RGB picture of the classes cannot be read as indices")
        palette = None
        if im.mode == "P":
            raw = im.getpalette() or []
            palette = np.zeros((256, 3), dtype=np.uint8)
            colours = np.asarray(raw[:768], dtype=np.uint8).reshape(-1, 3)
            palette[:len(colours)] = colours
        if size is not None and im.size != (size[1], size[0]):
            im = im.resize((size[1], size[0]), Image.NEAREST)  # type: ignore[attr-defined]  # see _PIL_NOTE
        return np.asarray(im).astype(np.int64), palette


def read_depth(path: str, scale: float, size: tuple[int, int] | None = None) -> NDArray[np.float32]:
    """(1, H, W) float32 depths: a 16-bit PNG times ``scale``, or a .npy (H, W) / (1, H, W) as it is."""
    if path.endswith(".npy"):
        depth = np.load(path, allow_pickle=False).astype(np.float32)
        depth = depth[0] if depth.ndim == 3 and depth.shape[0] == 1 else depth
        if depth.ndim != 2:
            raise ValueError(f"{path}: a depth .npy must be (H, W) or (1, H, W), got shape {depth.shape}")
    else:
        from PIL import Image
        with Image.open(path) as im:
            if im.mode not in ("I;16", "I;16B", "I", "L"):
                raise ValueError(f"{path}: a depth PNG must be 16-bit grey (or 8-bit), got mode {im.mode!r}")
            depth = np.asarray(im).astype(np.float32) * np.float32(scale)
    return resize_nearest(depth, size)[None]


def read_normals(path: str, size: tuple[int, int] | None = None) -> NDArray[np.float32]:
    """(3, H, W) float32 unit normals: a .npy (3, H, W) or (H, W, 3), or an RGB PNG storing (n + 1) / 2."""
    if path.endswith(".npy"):
        n = np.load(path, allow_pickle=False).astype(np.float32)
        if n.ndim == 3 and n.shape[-1] == 3 and n.shape[0] != 3:
            n = n.transpose(2, 0, 1)
        if n.ndim != 3 or n.shape[0] != 3:
            raise ValueError(f"{path}: a normals .npy must be (3, H, W) or (H, W, 3), got shape {n.shape}")
    else:
        from PIL import Image
        with Image.open(path) as im:
            n = (np.asarray(im.convert("RGB"), dtype=np.float32) / 127.5 - 1).transpose(2, 0, 1)
        n = n / np.maximum(np.linalg.norm(n, axis=0, keepdims=True), 1e-6)
    return resize_nearest(n, size)


def resize_nearest(a: NDArray[Any], size: tuple[int, int] | None) -> NDArray[Any]:
    """(..., H, W) -> (..., h, w) for size (h, w), by nearest neighbour (the pixel whose centre is nearest)."""
    if size is None or a.shape[-2:] == tuple(size):
        return a
    rows = np.minimum(((np.arange(size[0]) + 0.5) * a.shape[0] / size[0]).astype(int), a.shape[0] - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * a.shape[1] / size[1]).astype(int), a.shape[1] - 1)
    return a[..., rows, :][..., cols]


def _stems(folder: str, extensions: Sequence[str]) -> dict[str, str]:
    """{stem: path} of the files in ``folder`` with one of ``extensions``."""
    if not os.path.isdir(folder):
        return {}
    found: dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() in extensions and stem not in found:
            found[stem] = os.path.join(folder, name)
    return found


def _read_list(path: str) -> list[str]:
    with open(path) as f:
        return [line.split()[0] for line in f if line.strip()]


def load_classes(root: str | os.PathLike[str]) -> tuple[list[str] | None, NDArray[np.uint8] | None, bool | None]:
    """classes.json in ``root`` as (names or None, colours (K, 3) uint8 or None, flip_safe or None)."""
    path = os.path.join(root, "classes.json")
    if not os.path.exists(path):
        return None, None, None
    try:
        with open(path) as f:
            spec = json.load(f)
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    entries = spec.get("classes") if isinstance(spec, dict) else spec
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected {{\"classes\": [...]}} or a list of class names, got {spec!r:.80}")
    names = [e["name"] if isinstance(e, dict) else str(e) for e in entries]
    colours = None
    if all(isinstance(e, dict) and "colour" in e for e in entries):
        colours = np.asarray([e["colour"] for e in entries])
        if colours.shape != (len(entries), 3) or colours.min() < 0 or colours.max() > 255:
            raise ValueError(f"{path}: each colour must be [r, g, b] with values 0..255")
        colours = colours.astype(np.uint8)
    flip_safe = spec.get("flip_safe") if isinstance(spec, dict) else None
    if flip_safe is not None and not isinstance(flip_safe, bool):
        raise ValueError(f"{path}: flip_safe must be true or false, got {flip_safe!r}")
    return names, colours, flip_safe


class _Folder:
    """Pairs (image, target) of a folder; subclasses say where targets live and how they are read."""
    task = ""
    target_dirs: tuple[str, str | None] = ("", None)   # (simple layout folder, VOC layout folder or None)
    target_extensions: tuple[str, ...] = (".png",)
    flips_by_default = False         # whether the flip augmentation is used when classes.json does not say

    def __init__(self, root: str | os.PathLike[str], split: str | None = None,
                 size: int | tuple[int, int] | None = None) -> None:
        fname = type(self).__name__
        if not isinstance(root, (str, os.PathLike)) or not os.path.isdir(root):
            raise ValueError(f"{fname}: root must be an existing folder, got {root!r}")
        self.root, self.split, self.size = os.fspath(root), split, size_arg(fname, size)
        self.images, self.targets = self._pairs(fname)
        self.classes, self.colours, flip_safe = load_classes(self.root)
        self.flip_safe = self.flips_by_default if flip_safe is None else flip_safe
        self.image_sizes = []
        problems = []
        for stem, path in self.images.items():
            if stem not in self.targets:
                problems.append(f"{path}: no {self.target_dirs[0]} file {stem}{self.target_extensions[0]}")
                continue
            try:
                self.image_sizes.append(self._check_pair(path, self.targets[stem]))
            except (ValueError, OSError) as exc:
                problems.append(str(exc))
        if not self.images:
            problems.append(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found for split {split!r}")
        self._finish(problems)
        if problems:
            more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
            raise ValueError(f"{fname}({self.root!r}): " + "; ".join(problems[:MAX_LISTED]) + more)
        self.stems = list(self.images)

    def _pairs(self, fname: str) -> tuple[dict[str, str], dict[str, str]]:
        """({stem: image path}, {stem: target path}) in the layout found under root."""
        r = self.root
        voc = self.target_dirs[1] is not None and os.path.isdir(os.path.join(r, "JPEGImages")) and \
            os.path.isdir(os.path.join(r, self.target_dirs[1]))
        if voc:   # then target_dirs[1] is a folder name (the checker does not follow the flag)
            targets = _stems(os.path.join(r, self.target_dirs[1]), self.target_extensions)  # type: ignore[arg-type]
            listing = os.path.join(r, "ImageSets", "Segmentation", f"{self.split}.txt")
            stems = list(targets) if self.split is None else self._listed(fname, listing)
            found = _stems(os.path.join(r, "JPEGImages"), IMAGE_EXTENSIONS)
            images = {s: found.get(s, os.path.join(r, "JPEGImages", s + ".jpg")) for s in stems}
            missing = [p for p in images.values() if not os.path.exists(p)]
            if missing:
                raise ValueError(f"{fname}({r!r}): {len(missing)} listed images do not exist, e.g. {missing[0]}")
            return images, targets
        base = r
        if self.split is not None and os.path.isdir(os.path.join(r, self.split)):
            base = os.path.join(r, self.split)
        if not os.path.isdir(os.path.join(base, "images")):
            raise ValueError(f"{fname}: {base!r} holds neither images/ + {self.target_dirs[0]}/ nor Pascal VOC's "
                             f"JPEGImages/ + {self.target_dirs[1] or '...'}/")
        images = _stems(os.path.join(base, "images"), IMAGE_EXTENSIONS)
        if self.split is not None and base == r:
            keep = self._listed(fname, os.path.join(r, f"{self.split}.txt"))
            images = {s: images.get(s, os.path.join(r, "images", s + ".png")) for s in keep}
        return images, _stems(os.path.join(base, self.target_dirs[0]), self.target_extensions)

    def _listed(self, fname: str, path: str) -> list[str]:
        if not os.path.exists(path):
            raise ValueError(f"{fname}({self.root!r}): split {self.split!r} needs {path} (a list of stems) or a "
                             f"folder {os.path.join(self.root, str(self.split))}")
        return _read_list(path)

    def _check_pair(self, image_path: str, target_path: str) -> tuple[int, int]:
        """Read the target, check it against its image; returns the image's (H, W)."""
        from PIL import Image
        if not os.path.exists(image_path):
            raise ValueError(f"{image_path}: listed but missing")
        with Image.open(image_path) as im:
            w, h = im.size
        shape = self._check_target(target_path)
        if tuple(shape) != (h, w):
            raise ValueError(f"{target_path}: {shape[0]}x{shape[1]} pixels but its image {image_path} is {h}x{w}")
        return h, w

    def _finish(self, problems: list[str]) -> None:
        """Whole-folder facts found while checking (e.g. the class count)."""

    def _check_target(self, path: str) -> tuple[int, ...]:
        """Read a target file and return its (H, W); a subclass's."""
        raise NotImplementedError

    def _read_target(self, path: str) -> NDArray[Any]:
        """A target as a sample holds it; a subclass's."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.stems)

    def __getitem__(self, i: int) -> tuple[NDArray[np.float32], NDArray[Any]]:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"{type(self).__name__}: index must be an int, got {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"{type(self).__name__}: index {i} out of range for {len(self)} samples")
        stem = self.stems[i]
        return read_image(self.images[stem], self.size), self._read_target(self.targets[stem])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r}, split={self.split!r}, size={self.size}): {len(self)} samples"


class SegmentationFolder(_Folder):
    """(image (3, H, W) float32, mask (H, W) int64) pairs from a folder of images and label masks.

    num_classes: the class count; default: the length of classes.json's list, else the largest index
    found in the masks (255 aside) plus one. ``classes`` (names) and ``colours`` ((K, 3) uint8: classes.json's,
    else the masks' own palette, else VOC's) describe the classes; ``flip_safe`` says whether the
    left-right flip augmentation may be used.
    """
    task = "segmentation"
    target_dirs = ("masks", "SegmentationClass")
    num_classes: int | None
    _largest: dict[str, int]                  # mask path -> its largest class index (-1: none)
    _palette: NDArray[np.uint8] | None        # the first palette found in the masks

    def __init__(self, root: str | os.PathLike[str], split: str | None = None,
                 size: int | tuple[int, int] | None = None, num_classes: int | None = None) -> None:
        if num_classes is not None and (not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool)
                                        or not 1 <= num_classes <= IGNORE_INDEX):
            raise ValueError(f"SegmentationFolder: num_classes must be an int in 1..{IGNORE_INDEX}, got "
                             f"{num_classes!r}")
        self.num_classes, self._largest, self._palette = num_classes, {}, None
        super().__init__(root, split, size)

    def _check_target(self, path: str) -> tuple[int, ...]:
        mask, palette = read_mask(path)
        if self._palette is None and palette is not None:
            self._palette = palette
        known = mask[mask != IGNORE_INDEX]
        self._largest[path] = int(known.max()) if known.size else -1
        return mask.shape

    def _finish(self, problems: list[str]) -> None:
        declared = self.num_classes or (len(self.classes) if self.classes else None)
        if declared is not None:
            problems.extend(f"{p}: class index {m} but there are {declared} classes (0..{declared - 1}, and "
                            f"{IGNORE_INDEX} for unknown)" for p, m in self._largest.items() if m >= declared)
        self.num_classes = declared or max([m + 1 for m in self._largest.values()] + [1])
        if self.classes is not None and len(self.classes) != self.num_classes:
            problems.append(f"classes.json names {len(self.classes)} classes but num_classes is {self.num_classes}")
        if self.colours is None:
            self.colours = (self._palette if self._palette is not None else voc_palette())[:self.num_classes]
        if self.classes is None:
            self.classes = [f"class {i}" for i in range(self.num_classes)]

    def _read_target(self, path: str) -> NDArray[Any]:
        return read_mask(path, self.size)[0]


class DepthFolder(_Folder):
    """(image (3, H, W) float32, depth (1, H, W) float32) pairs: ``root/images`` with ``root/depth/<stem>``
    .png (16-bit, times ``scale``) or .npy. Depth 0 means unknown. A flip keeps depth's meaning, so flips
    are used unless classes.json says ``"flip_safe": false``."""
    task = "depth"
    flips_by_default = True
    target_dirs = ("depth", None)
    target_extensions = (".png", ".npy")

    def __init__(self, root: str | os.PathLike[str], split: str | None = None,
                 size: int | tuple[int, int] | None = None, scale: float = 1e-3) -> None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"DepthFolder: scale must be a positive number, got {scale!r}")
        self.scale = float(scale)
        super().__init__(root, split, size)

    def _check_target(self, path: str) -> tuple[int, ...]:
        return read_depth(path, self.scale).shape[1:]

    def _read_target(self, path: str) -> NDArray[Any]:
        return read_depth(path, self.scale, self.size)


class NormalsFolder(_Folder):
    """(image (3, H, W) float32, normals (3, H, W) float32) pairs: ``root/images`` with ``root/normals/<stem>``
    .npy or .png (RGB storing (n + 1) / 2). The flip augmentation negates x, so flips are used unless
    classes.json says ``"flip_safe": false``."""
    task = "normals"
    flips_by_default = True
    target_dirs = ("normals", None)
    target_extensions = (".npy", ".png")

    def _check_target(self, path: str) -> tuple[int, ...]:
        return read_normals(path).shape[1:]

    def _read_target(self, path: str) -> NDArray[Any]:
        return read_normals(path, self.size)


FOLDERS = {"segmentation": SegmentationFolder, "depth": DepthFolder, "normals": NormalsFolder}
