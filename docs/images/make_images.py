"""Write the pictures the README shows: `python docs/images/make_images.py` (from the repository root)."""
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from minidense import metrics, viz
from minidense.data import scenes

HERE = Path(__file__).resolve().parent


def scene_sample(path, n=3, size=64):
    """Rows of scenes: image with keypoints | classes | depth | normals | sketch."""
    d = scenes.generate(n, size=size, seed=0)
    fig = Figure(figsize=(7.5, 1.6 * n), dpi=80)
    axes = fig.subplots(n, 5, squeeze=False)
    for i in range(n):
        panels = [viz.draw_keypoints(d["image"][i], d["keypoints"][i], d["keypoint_visible"][i], radius=1.0),
                  viz.colorize_labels(d["labels"][i]), viz.depth_to_rgb(d["depth"][i]),
                  viz.normals_to_rgb(d["normals"][i]), viz.to_hwc(1 - d["edges"][i])]
        for c, (ax, panel) in enumerate(zip(axes[i], panels)):
            ax.imshow(panel, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(("image + keypoints", "classes", "depth", "normals", "sketch")[c], fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def accuracy_versus_iou(path, size=64):
    """The lecture's point: predicting background everywhere scores high accuracy but low mean IoU."""
    d = scenes.generate(1, size=size, seed=5)
    truth = d["labels"][:1]
    pred = np.zeros_like(truth)
    s = metrics.segmentation_scores(pred, truth, scenes.NUM_CLASSES)
    fig = Figure(figsize=(6, 2.4), dpi=80)
    axes = fig.subplots(1, 3)
    for ax, panel, title in zip(axes, [viz.to_hwc(d["image"][0]), viz.colorize_labels(truth[0]),
                                       viz.colorize_labels(pred[0])],
                                ["image", "ground truth", f"all background\naccuracy {s['pixel_accuracy']:.2f}, "
                                                          f"mIoU {s['miou']:.2f}"]):
        ax.imshow(panel, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    scene_sample(HERE / "scenes.png")
    accuracy_versus_iou(HERE / "accuracy_vs_iou.png")
    print("wrote", HERE / "scenes.png", HERE / "accuracy_vs_iou.png")
