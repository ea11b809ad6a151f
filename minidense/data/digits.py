"""Segmentation mosaics of real handwritten digits (scikit-learn's bundled 8x8 digits; no download).

Each mosaic places a few digits, upscaled smoothly, in distinct cells of a canvas; each pixel is labelled
with its digit's class (``1 + digit``) where the stroke is bright, background (0) elsewhere. The 1,797
source digits are split once (seeded by ``split_seed``) into train and test sets that never share a
source digit. Needs the ``data`` extra: ``pip install 'minidense[data]'``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import backend
from .._extras import require

CLASSES = ("background",) + tuple(str(d) for d in range(10))
NUM_CLASSES = len(CLASSES)
SPLITS = ("train", "test")
TEST_FRACTION = 0.2
STROKE_THRESHOLD = 0.5      # upscaled intensity (0..1) from which a pixel belongs to its digit


def load_source_digits() -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """(images (1797, 8, 8) float in [0, 1], digit labels (1797,)) from scikit-learn's bundled file."""
    datasets = require("sklearn.datasets", "data", "minidense.data.digits (scikit-learn's bundled digits)",
                       package="scikit-learn")
    bunch = datasets.load_digits()
    return bunch.images / 16.0, bunch.target.astype(np.int64)


def split_indices(split: str, count: int, split_seed: int = 0) -> NDArray[np.int64]:
    """Indices of the source digits in a split: a seeded permutation, the last TEST_FRACTION is test."""
    if split not in SPLITS:
        raise ValueError(f"digits: split must be one of {SPLITS}, got {split!r}")
    order = backend.generator(split_seed).permutation(count)
    n_test = int(round(TEST_FRACTION * count))
    return np.sort(order[count - n_test:] if split == "test" else order[:count - n_test])


def _upscale_matrix(src: int, dst: int) -> NDArray[np.float64]:
    """(dst, src) linear interpolation between pixel centres (bilinear when applied on both axes)."""
    pos = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0, src - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, src - 1)
    m = np.zeros((dst, src))
    np.add.at(m, (np.arange(dst), lo), 1 - (pos - lo))
    np.add.at(m, (np.arange(dst), hi), pos - lo)
    return m


def generate(n: int, size: int = 64, split: str = "train", seed: int | None = 0,
             digits_per_image: tuple[int, int] = (2, 4), grid: int = 3, split_seed: int = 0) -> dict[str, NDArray[Any]]:
    """n mosaics: ``image`` (n, 1, S, S) float32 in [0, 1], ``labels`` (n, S, S) int64 (0 background,
    1 + digit), ``sources`` (n, grid^2) int64 (source digit indices placed, -1 for empty cells).

    Digits fill ``digits_per_image`` (min, max) of the grid x grid cells, each scaled to ~80% of a cell.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"digits.generate: n must be a positive int, got {n!r}")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 8 * grid:
        raise ValueError(f"digits.generate: size must be an int of at least {8 * grid} (8 pixels per cell), "
                         f"got {size!r}")
    lo, hi = digits_per_image
    if not 1 <= lo <= hi <= grid * grid:
        raise ValueError(f"digits.generate: digits_per_image must be (min, max) with 1 <= min <= max <= "
                         f"{grid * grid}, got {digits_per_image!r}")
    images, targets = load_source_digits()
    pool = split_indices(split, len(images), split_seed)
    rng = backend.generator(seed)
    cell = size // grid
    side = max(8, int(0.8 * cell))
    up = _upscale_matrix(8, side)
    counts = rng.integers(lo, hi + 1, n)
    cells = np.argsort(rng.uniform(size=(n, grid * grid)), axis=1)       # a random order of the cells
    sources = rng.choice(pool, size=(n, grid * grid))
    offsets = rng.integers(0, cell - side + 1, size=(n, grid * grid, 2))
    sources[np.arange(grid * grid)[None] >= counts[:, None]] = -1
    glyphs = np.einsum("ds,ksr,er->kde", up, images, up)                 # every source digit, upscaled
    canvas = np.zeros((n, size, size))
    labels = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):              # a few slice assignments per mosaic; the pixels are written whole
        for k in range(counts[i]):
            r, c = divmod(int(cells[i, k]), grid)
            top, left = r * cell + offsets[i, k, 0], c * cell + offsets[i, k, 1]
            glyph = glyphs[sources[i, k]]
            canvas[i, top:top + side, left:left + side] = glyph
            labels[i, top:top + side, left:left + side] = np.where(glyph >= STROKE_THRESHOLD,
                                                                     1 + targets[sources[i, k]], 0)
    return {"image": canvas[:, None].astype(np.float32), "labels": labels, "sources": sources}


class DigitsDataset:
    """n digit mosaics as ``(image (1, S, S), labels (S, S))`` pairs; ``num_classes`` = 11."""

    def __init__(self, n: int, size: int = 64, split: str = "train",
                 seed: int | None = 0, **kwargs: Any) -> None:
        self.task = "segmentation"
        self.num_classes = NUM_CLASSES
        self.classes = CLASSES
        self.in_channels = 1
        self.arrays = generate(n, size, split, seed, **kwargs)

    def __len__(self) -> int:
        return len(self.arrays["image"])

    def __getitem__(self, i: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"DigitsDataset: index must be an int, got {type(i).__name__}")
        return self.arrays["image"][i], self.arrays["labels"][i]
