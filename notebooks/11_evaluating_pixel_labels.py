# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 11. Evaluating pixel labels
#
# 1. A network outputs an H×W×F volume of class scores; the label of a pixel is the **argmax** over the F scores.
# 2. **Accuracy** is mean($\hat y = y$) over the labelled pixels. **IoU** of a class is
#    |predicted ∩ true| / |predicted ∪ true|, averaged over classes (mIoU).
#
# On the same predictions they can tell very different stories: when most pixels are background, predicting
# "background" everywhere has a high accuracy and a poor mIoU: the figure at the end of this notebook shows a scene's
# labels beside that prediction, with its two scores.

# %%
# Install cell: installs minidense (with its `notebooks` extra) where it is missing, as in Colab; does nothing
# where it is installed (this repository's `make lab`, `pip install 'minidense[notebooks]'`). The course sets
# MINIDENSE_SOURCE in notebooks/make_notebooks.py; without it, upload minidense-*.whl beside the notebook.
import glob
import importlib.util
import pathlib
import subprocess
import sys

MINIDENSE_SOURCE = ""
if importlib.util.find_spec("minidense") is None:
    wheels = sorted(glob.glob("minidense-*.whl"))
    source = MINIDENSE_SOURCE or (pathlib.Path(wheels[-1]).resolve().as_uri() if wheels else None)
    if source is None:
        raise ModuleNotFoundError("minidense is not installed: upload the course's minidense-*.whl next to this "
                                  "notebook (Colab: the Files pane) and run this cell again, or pip install it")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"minidense[notebooks] @ {source}"],
                   check=True)

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import minidense as md
import minidense.functional as F
from minidense import metrics, viz
from minidense.data import scenes

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
IMG, N = (32, 8) if SIZE == "small" else (64, 32)
md.manual_seed(0)
data = scenes.generate(N, size=IMG, seed=3)
labels = data["labels"]
C = scenes.NUM_CLASSES
print("classes:", scenes.CLASSES)
valid = labels != md.IGNORE_INDEX
print("class frequencies among labelled pixels:",
      {c: float(np.mean(labels[valid] == k).round(3)) for k, c in enumerate(scenes.CLASSES)})

# %% [markdown]
# ## Labels by argmax
#
# A score volume (N, F, H, W): here made from the ground truth plus noise, as a stand-in for a network's output.
# The argmax over F gives the label map (N, H, W). Softmax turns scores into probabilities per pixel; it is
# increasing, so in exact arithmetic it keeps the order of the scores and the argmax of the probabilities is the same
# label. In float32 it can merge two scores: two scores that differ only in the 7th digit can round to the *same*
# probability, and `argmax` of the probabilities then returns the first of the tied classes. So the label comes
# from the scores, and the check below says what softmax keeps: the label's probability is the largest, up to
# one rounding step of float32, and in float64 the two argmaxes agree.

# %%
gen = np.random.default_rng(0)
truth_onehot = np.eye(C, dtype=np.float32)[np.where(valid, labels, 0)].transpose(0, 3, 1, 2)
scores = md.tensor(2.0 * truth_onehot + gen.normal(0, 0.8, truth_onehot.shape).astype(np.float32))
pred = scores.numpy().argmax(axis=1)                        # the label: argmax over the F scores
probs = F.softmax(scores, dim=1)
print("scores", scores.shape, "-> probabilities", probs.shape, "; labels", pred.shape)
assert np.allclose(probs.numpy().sum(axis=1), 1, atol=1e-5)

p = probs.numpy()
p_top = p.max(axis=1)
p_label = np.take_along_axis(p, pred[:, None], axis=1)[:, 0]
assert np.all(p_top - p_label <= 2 * np.spacing(p_top))      # the label is a most probable class, up to rounding
moved = np.argwhere(p.argmax(axis=1) != pred)
print(f"pixels where float32 softmax ties the top two and argmax(probabilities) picks another class: "
      f"{len(moved)} of {pred.size}")
for n, i, j in moved[:3].tolist():
    a, b = pred[n, i, j], p[n, :, i, j].argmax()
    print(f"  image {n}, pixel ({i}, {j}): scores {scores.numpy()[n, a, i, j]:.9g} vs {scores.numpy()[n, b, i, j]:.9g} "
          f"-> probabilities {p[n, a, i, j]:.9g} vs {p[n, b, i, j]:.9g}")
p64 = F.softmax(md.tensor(scores.numpy().astype(np.float64)), dim=1).numpy()
assert np.array_equal(p64.argmax(axis=1), pred)               # in float64 the order of the scores survives

fig, ax = plt.subplots(1, 2 + C, figsize=(2.2 * (2 + C), 2.6))
ax[0].imshow(viz.to_hwc(data["image"][0]))
ax[0].set_title("input")
for k in range(C):
    ax[1 + k].imshow(probs.numpy()[0, k], cmap="gray", vmin=0, vmax=1)
    ax[1 + k].set_title(f"p({scenes.CLASSES[k]})", fontsize=9)
ax[-1].imshow(viz.colorize_labels(pred[0]))
ax[-1].set_title("argmax")
for a in ax:
    a.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Accuracy and IoU, by hand and by `minidense.metrics`
#
# Three predictions of the same scenes: the noisy argmax above, "background everywhere", and the truth with every
# object shrunk by 2 pixels (a prediction that misses boundaries).

# %%
def shrink(lab, r=2):
    """Objects eroded by r pixels (to background): a prediction that misses every boundary."""
    out = lab.copy()
    obj = (lab != 0)
    eroded = obj.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            eroded &= np.roll(np.roll(obj, dy, axis=-2), dx, axis=-1)
    out[obj & ~eroded] = 0
    return np.where(lab == md.IGNORE_INDEX, 0, out)


def by_hand(p, y):
    keep = y != md.IGNORE_INDEX
    acc = float((p[keep] == y[keep]).mean())
    ious = []
    for k in range(C):
        inter = np.sum((p == k) & (y == k) & keep)
        union = np.sum(((p == k) | (y == k)) & keep)
        if union:
            ious.append(inter / union)
    return acc, float(np.mean(ious))


predictions = {"noisy argmax": pred, "all background": np.zeros_like(labels), "shrunk objects": shrink(labels)}
print(f"{'prediction':16s} {'accuracy':>9s} {'mIoU':>7s}   IoU per class")
results = {}
for name, p in predictions.items():
    s = metrics.segmentation_scores(p, labels, C)
    acc, miou = by_hand(p, labels)
    assert np.isclose(acc, s["pixel_accuracy"]) and np.isclose(miou, s["miou"])
    results[name] = s
    print(f"{name:16s} {s['pixel_accuracy']:9.3f} {s['miou']:7.3f}   {np.round(s['iou'], 2)}")

bg = results["all background"]
assert bg["pixel_accuracy"] > 0.5 and bg["miou"] < 0.5 * bg["pixel_accuracy"]
print(f"\nall background: accuracy {bg['pixel_accuracy']:.1%} but mIoU {bg['miou']:.1%}")

# %% [markdown]
# The confusion matrix `cm[true, pred]` holds everything both scores are computed from: accuracy is its trace over
# its sum; the IoU of class k is cm[k, k] over (row k + column k − cm[k, k]).

# %%
cm = metrics.confusion_matrix(predictions["shrunk objects"], labels, C)
print(cm)
assert np.isclose(np.trace(cm) / cm.sum(), results["shrunk objects"]["pixel_accuracy"])
fig, ax = plt.subplots(1, 4, figsize=(12, 3))
ax[0].imshow(viz.colorize_labels(labels[0]))
ax[0].set_title("ground truth")
for a, name in zip(ax[1:], predictions):
    s = results[name]
    a.imshow(viz.colorize_labels(predictions[name][0]))
    a.set_title(f"{name}\nacc {s['pixel_accuracy']:.2f}  mIoU {s['miou']:.2f}", fontsize=9)
for a in ax:
    a.axis("off")
plt.tight_layout()
plt.show()
