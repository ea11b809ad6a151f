"""Read and write PNG images as float32 arrays in [0, 1].

Uses Pillow, which matplotlib itself requires, so it adds no dependency. Arrays are (H, W, 3) colour
or (H, W) grey (channels last, as image files and ``imshow`` have them; ``image.transpose(2, 0, 1)``
gives the (3, H, W) a model takes).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import NDArray


def read_png(path: str | os.PathLike[str]) -> NDArray[np.float32]:
    """(H, W, 3) or (H, W) float32 in [0, 1]; an alpha channel is dropped."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("I;16", "I;16B", "I"):
                return (np.asarray(im, dtype=np.float64) / 65535.0).astype(np.float32)
            if mode in ("L", "1", "LA"):
                return (np.asarray(im.convert("L"), dtype=np.float32) / 255.0)
            return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise ValueError(f"read_png: cannot open {str(path)!r}: {exc}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"read_png: {str(path)!r} is not a readable image: {exc}") from None


def write_png(path: str | os.PathLike[str], array: NDArray[Any]) -> None:
    """Write (H, W) grey or (H, W, 3) colour: floats in [0, 1] or uint8 (no clipping: out of range is an error)."""
    from PIL import Image
    a = np.asarray(array)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"write_png: array must be (H, W) or (H, W, 3), got shape {a.shape}")
    if a.dtype == np.uint8:
        data = a
    elif a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1:
            raise ValueError(f"write_png: float values must be finite and in [0, 1], got range "
                             f"[{np.nanmin(a)}, {np.nanmax(a)}]")
        data = np.rint(a * 255).astype(np.uint8)
    else:
        raise TypeError(f"write_png: array must be float in [0, 1] or uint8, got dtype {a.dtype}")
    Image.fromarray(np.ascontiguousarray(data)).save(path, format="PNG")   # uint8 (H, W) -> L, (H, W, 3) -> RGB


def voc_palette(n: int = 256) -> NDArray[np.uint8]:
    """PASCAL VOC's colours (n, 3) uint8: the bits of the class index spread over the high bits of R, G, B.
    Class 0 is black and IGNORE_INDEX = 255 gets VOC's own cream (224, 224, 192)."""
    index = np.arange(n)
    palette = np.zeros((n, 3), dtype=np.int64)
    for j in range(8):
        for ch in range(3):
            palette[:, ch] |= ((index >> (3 * j + ch)) & 1) << (7 - j)
    return palette.astype(np.uint8)
