"""Built-in data (no download): procedural scenes with every per-pixel label (``scenes``), handwritten
digit mosaics (``digits``, needs the ``data`` extra), a user's own folders of images and masks, depth or
normal maps (``folders``), the DataLoader, paired augmentations (``transforms``) and PNG files (``io``)."""
from . import folders, io, scenes, transforms
from .folders import DepthFolder, NormalsFolder, SegmentationFolder
from .io import read_png, write_png
from .loader import DataLoader, batch_tensor
from .scenes import SceneDataset

__all__ = ["DataLoader", "batch_tensor", "SceneDataset", "SegmentationFolder", "DepthFolder", "NormalsFolder",
           "read_png", "write_png", "scenes", "transforms", "io", "folders"]
