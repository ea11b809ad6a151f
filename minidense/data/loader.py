"""DataLoader: batches of a sequence of samples, with seeded shuffling and augmentation; batch_tensor: a batch
as a Tensor on a device."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from .. import backend
from ..tensor import Tensor

# A sample or a batch: a tuple of arrays, e.g. (image (C, H, W), target) or (images (B, C, H, W), targets (B, ...)).
Sample = tuple[Any, ...]
Batch = tuple[np.ndarray[Any, Any], ...]
# transform(image, target, rng) -> (image, target)
Transform = Callable[[np.ndarray[Any, Any], np.ndarray[Any, Any], np.random.Generator],
                     tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]


class Dataset(Protocol):
    """What DataLoader and fit take: a sequence of samples, each a tuple of arrays (NumPy or CuPy)."""

    def __len__(self) -> int:
        ...

    def __getitem__(self, index: int, /) -> Sample:
        ...


class DataLoader:
    """Iterate ``dataset`` (anything with len and integer getitem returning a tuple of arrays, e.g.
    ``(image, target)``) in batches: tuples of stacked NumPy arrays, e.g. ``(images (B, C, H, W),
    targets (B, ...))``.

    Shuffling and augmentation are deterministic from ``seed`` and the epoch: each ``iter(loader)``
    uses ``loader.epoch`` and then adds one to it, so epoch e always sees the same order and the same
    augmentations; a resumed run calls ``set_epoch(e)`` before iterating. ``transform(image, target,
    rng) -> (image, target)`` is applied to each sample with a generator made from (seed, epoch, index
    in the epoch order).
    """

    def __init__(self, dataset: Dataset, batch_size: int = 8, shuffle: bool = False, seed: int = 0,
                 transform: Transform | None = None, drop_last: bool = False) -> None:
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must be a sequence (len and getitem), got {type(dataset).__name__}")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable or None, got {type(transform).__name__}")
        self.dataset, self.batch_size, self.shuffle = dataset, int(batch_size), bool(shuffle)
        self.seed, self.transform, self.drop_last = int(seed), transform, bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next iteration uses (its order and augmentations)."""
        if not isinstance(epoch, (int, np.integer)) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be a non-negative int, got {epoch!r}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch: int | None = None) -> np.ndarray[Any, Any]:
        """The sample indices of an epoch, in the order they are served."""
        epoch = self.epoch if epoch is None else epoch
        n = len(self.dataset)
        return backend.generator([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self) -> Iterator[Batch]:
        epoch = self.epoch
        self.epoch += 1
        order = self.order(epoch)
        for b in range(len(self)):
            samples = []
            for pos in range(b * self.batch_size, min((b + 1) * self.batch_size, len(order))):
                # a data set may hold device (CuPy) arrays: batches are assembled and augmented on the host
                sample = tuple(backend.to_numpy(part) for part in self.dataset[int(order[pos])])
                if self.transform is not None:
                    image, target = sample
                    sample = self.transform(image, target, backend.generator([self.seed, epoch, pos, 1]))
                samples.append(sample)
            yield tuple(np.stack([s[k] for s in samples]) for k in range(len(samples[0])))


def batch_tensor(array: np.ndarray[Any, Any], device: str,
                 float_dtype: backend.DTypeLike = backend.default_dtype) -> Tensor:
    """A batch (NumPy array) as a Tensor on ``device``; floating-point data in ``float_dtype``, labels as they are."""
    array = array.astype(float_dtype) if array.dtype.kind == "f" else array
    return Tensor(backend.to_device(array, device))
