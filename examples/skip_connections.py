"""The lecture's "missing details": a U-Net with and without its copy-and-concat skips, same budget.

    python examples/skip_connections.py [--size 48] [--n-train 768] [--epochs 6]

Both networks have the same layers, parameters and initial weights (``UNet(skips=False)``
concatenates zeros where the encoder's copies would go), train on the same scenes in the same
order, and are scored on the same held-out scenes. Boundary accuracy is the accuracy on pixels
within 3 pixels of a class boundary, where the details that pooling threw away show.
"""
import argparse
import json
import time

import minidense as md
from minidense.models import UNet
from minidense.tasks import get_task
from minidense.train import fit


def compare(size=48, n_train=768, n_val=128, epochs=6, base_channels=16, depth=3, seed=0, progress=False):
    """Train both networks; returns {"skips": scores, "no_skips": scores} (last epoch's validation)."""
    task = get_task("segmentation")
    train = task.dataset(n_train, size=size, seed=seed)
    val = task.dataset(n_val, size=size, seed=seed + 10_000)
    results = {}
    for name, skips in (("skips", True), ("no_skips", False)):
        md.manual_seed(seed)
        model = UNet(3, task.out_channels, base_channels=base_channels, depth=depth, skips=skips)
        start = time.perf_counter()
        history = fit(model, task, train, val, epochs=epochs, batch_size=8, lr=3e-3, seed=seed,
                      progress=progress, log=lambda line: None)
        last = history[-1]
        results[name] = {"miou": last["miou"], "boundary_accuracy": last["boundary_accuracy"],
                         "pixel_accuracy": last["pixel_accuracy"], "seconds": time.perf_counter() - start}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--n-train", type=int, default=768)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    results = compare(size=args.size, n_train=args.n_train, epochs=args.epochs, progress=True)
    print(json.dumps({k: {m: round(v, 4) for m, v in r.items()} for k, r in results.items()}, indent=1))


if __name__ == "__main__":
    main()
