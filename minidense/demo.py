"""`python -m minidense.demo`: train a U-Net on the built-in scenes and write its pictures.

Segmentation of synthetic scenes (background plus four shape classes whose
colours say nothing about their class). Environment variables scale it:
MINIDENSE_DEMO_EPOCHS, MINIDENSE_DEMO_TRAIN (scenes), MINIDENSE_DEMO_SIZE (pixels).
"""
import json
import os
import time

from . import cli


def main():
    epochs = os.environ.get("MINIDENSE_DEMO_EPOCHS", "8")
    n_train = os.environ.get("MINIDENSE_DEMO_TRAIN", "768")
    size = os.environ.get("MINIDENSE_DEMO_SIZE", "64")
    out = os.environ.get("MINIDENSE_DEMO_OUT", os.path.join("runs", "demo"))
    argv = ["train", "--task", "segmentation", "--model", "unet", "--epochs", epochs, "--size", size,
            "--n-train", n_train, "--n-val", "128", "--base-channels", "16", "--depth", "3", "--batch-size", "8",
            "--seed", "0", "--out", out]
    print("minidense demo: training a U-Net to label every pixel of synthetic scenes")
    print("  minidense " + " ".join(argv))
    start = time.perf_counter()
    code = cli.main(argv)
    if code:
        raise SystemExit(code)
    seconds = time.perf_counter() - start
    with open(os.path.join(out, "history.json")) as f:
        history = json.load(f)
    last = history[-1]
    speed = sum(r["images_per_s"] for r in history) / len(history)
    print(f"held-out mean IoU {last['miou']:.3f}, pixel accuracy {last['pixel_accuracy']:.3f}; "
          f"{seconds:.0f} s in all, {speed:.0f} training images/s")
    print(f"demo pictures and curves are in {os.path.abspath(out)}")


if __name__ == "__main__":
    main()
