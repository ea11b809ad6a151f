"""Built-in data (no download): procedural scenes with every per-pixel label (``scenes``), handwritten
digit mosaics (``digits``, needs the ``data`` extra), the DataLoader, paired augmentations
(``transforms``) and PNG files (``io``)."""
from . import io, scenes, transforms
from .io import read_png, write_png
from .loader import DataLoader
from .scenes import SceneDataset

__all__ = ["DataLoader", "SceneDataset", "read_png", "write_png", "scenes", "transforms", "io"]
