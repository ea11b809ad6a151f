"""A user's own small segmentation network and training loop, written with type annotations.

    python examples/typed_training.py [--steps 40] [--size 16]

What a user writes on top of minidense (an ``nn.Module`` subclass, ``F.*`` calls, Tensor methods, a
hand-written loop with an optimizer): ``make lint`` type-checks this file with mypy, strictly (every
function annotated), so that the package's annotations are checked against real use.
"""
from __future__ import annotations

import argparse

import numpy as np

import minidense as md
import minidense.functional as F
from minidense import Tensor, nn
from minidense.optim import Adam


class TinySegmenter(nn.Module):
    """Two convolutions and a 1x1 classifier: (N, 3, H, W) -> class scores (N, classes, H, W)."""

    def __init__(self, classes: int, width: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h)) + h          # a residual connection
        return self.head(h)


def toy_batch(n: int, size: int, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    """Images whose label is 1 where the red channel is brighter than the green one, else 0."""
    images = rng.random((n, 3, size, size), dtype=np.float32)
    labels = (images[:, 0] > images[:, 1]).astype(np.int64)
    return md.tensor(images), md.tensor(labels)


def pixel_accuracy(scores: Tensor, labels: Tensor) -> float:
    predicted = scores.numpy().argmax(axis=1)
    return float((predicted == labels.numpy()).mean())


def train(steps: int, size: int, seed: int = 0) -> float:
    """Train on fresh toy batches; returns the pixel accuracy on a held-out batch."""
    md.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = TinySegmenter(classes=2)
    optimizer = Adam(model.parameters(), lr=1e-2)
    for step in range(steps):
        images, labels = toy_batch(8, size, rng)
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            print(f"step {step:3d}  loss {loss.item():.3f}")
    model.eval()
    images, labels = toy_batch(16, size, rng)
    with md.no_grad():
        scores = model(images)
    probabilities = F.softmax(scores, dim=1)
    assert probabilities.shape == scores.shape
    return pixel_accuracy(scores, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--size", type=int, default=16)
    args = parser.parse_args()
    print(f"held-out pixel accuracy: {train(args.steps, args.size):.3f}")


if __name__ == "__main__":
    main()
