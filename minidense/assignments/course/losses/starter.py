# The starter notebook of the losses kit, in jupytext's percent format (see docs/assignments.md).

# %%
import os
import sys

sys.path.insert(0, os.path.abspath("."))  # the kit's minidense, not an installed one

import matplotlib.pyplot as plt
import numpy as np

import minidense as md
import minidense.functional as F

np.set_printoptions(precision=4, suppress=True)
md.manual_seed(0)

# %% [markdown]
# ## 1. Log-softmax, stable
#
# Shifted scores give the same log-probabilities; scores of 1000 must not overflow. The gradient of each row sums to
# 0.

# %%
x = md.tensor(np.array([[1., 2., 3.], [1001., 1002., 1003.]]), requires_grad=True)
out = F.log_softmax(x, dim=1)
print(out.data)          # both rows alike: only differences of scores matter
out.backward(md.tensor(np.array([[1., 0., 0.], [0., 0., 1.]])))
print(x.grad)            # each row sums to 0

# %% [markdown]
# ## 2. The loss on a tiny label map with an unknown pixel
#
# The pixel labelled 255 adds nothing to the loss, the mean divides by the 3 labelled pixels, and its gradient is
# exactly 0.

# %%
x = md.tensor(np.array([[[[2.0, 0.5], [0.0, 1.0]],
                          [[0.0, 2.5], [3.0, 0.0]],
                          [[0.5, 0.0], [0.0, 3.0]]]]), requires_grad=True)   # (1, 3, 2, 2) scores
t = md.tensor(np.array([[[0, 2], [255, 2]]]))                                # (1, 2, 2), one unknown pixel
per_pixel = F.cross_entropy(x, t, ignore_index=255, reduction="none")
loss = F.cross_entropy(x, t, ignore_index=255)
loss.backward()
print("per-pixel loss:\n", per_pixel.data)
print("mean over the 3 labelled pixels:", loss.item())
print("gradient at the unknown pixel (row 1, col 0):", x.grad[0, :, 1, 0])
fig, axes = plt.subplots(1, 2, figsize=(6, 2.6))
axes[0].imshow(np.where(t.data[0] == 255, -1, t.data[0]), cmap="viridis", vmin=-1, vmax=2)
axes[0].set_title("labels (dark: unknown)")
im = axes[1].imshow(per_pixel.data[0], cmap="magma")
axes[1].set_title("loss per pixel")
for (i, j), v in np.ndenumerate(t.data[0]):
    axes[0].text(j, i, "?" if v == 255 else str(v), ha="center", va="center", color="w")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(im, ax=axes[1])

# %% [markdown]
# ## 3. The confusion matrix
#
# Rows are the true class, columns the prediction; the diagonal is what was right. The unknown pixel is in neither.

# %%
names = ["background", "sphere", "box", "cylinder"]
target = np.array([[0, 0, 0, 0, 0, 0],
                   [0, 1, 1, 0, 2, 2],
                   [0, 1, 1, 0, 2, 2],
                   [0, 0, 255, 0, 2, 2],
                   [0, 3, 3, 3, 0, 0],
                   [0, 0, 0, 0, 0, 0]])
pred = np.array([[0, 0, 0, 0, 0, 0],
                 [0, 1, 1, 1, 2, 2],
                 [0, 1, 0, 0, 2, 2],
                 [0, 0, 1, 0, 0, 2],
                 [0, 3, 3, 2, 0, 0],
                 [0, 0, 0, 0, 0, 0]])
cm = md.metrics.confusion_matrix(pred, target, num_classes=4)
print(cm)                        # rows: true class, columns: predicted; the unknown pixel is not counted
print("pixels counted:", cm.sum(), "of", target.size)
fig, ax = plt.subplots(figsize=(4, 3.4))
ax.imshow(cm, cmap="Blues")
for (i, j), v in np.ndenumerate(cm):
    ax.text(j, i, str(v), ha="center", va="center", color="white" if v > cm.max() / 2 else "black")
ax.set_xticks(range(4), names, rotation=45, ha="right")
ax.set_yticks(range(4), names)
ax.set_xlabel("predicted")
ax.set_ylabel("true")

# %% [markdown]
# ## 4. IoU per class
#
# The same maps side by side, and the intersection over union of each class (`pred` and `target` from the cell above).

# %%
from minidense import viz

s = md.metrics.segmentation_scores(pred, target, num_classes=4)
for name, iou in zip(names, s["iou"]):
    print(f"{name:>10}: IoU {iou:.3f}")
print({k: round(v, 3) for k, v in s.items() if k != "iou"})
fig, axes = plt.subplots(1, 3, figsize=(9, 2.8))
axes[0].imshow(viz.colorize_labels(target), interpolation="nearest")
axes[0].set_title("ground truth (cream: unknown)")
axes[1].imshow(viz.colorize_labels(pred), interpolation="nearest")
axes[1].set_title("prediction")
for ax in axes[:2]:
    ax.set_xticks([])
    ax.set_yticks([])
axes[2].bar(names, s["iou"], color=[viz.colorize_labels(np.arange(4))[i] for i in range(4)], edgecolor="k")
axes[2].set_ylim(0, 1)
axes[2].set_title(f"IoU per class, mean {s['miou']:.2f}")
axes[2].tick_params(axis="x", rotation=45)

# %% [markdown]
# ## 5. Accuracy versus IoU
#
# The lecture's point: on a scene that is mostly background, predicting background everywhere scores a high pixel
# accuracy and a low mean IoU.

# %%
from minidense import viz
from minidense.data import scenes

d = scenes.generate(1, size=64, seed=5)
truth = d["labels"]
background = np.zeros_like(truth)            # predict background everywhere
s = md.metrics.segmentation_scores(background, truth, scenes.NUM_CLASSES)
print(f"pixel accuracy {s['pixel_accuracy']:.3f}, mean IoU {s['miou']:.3f}")
print("IoU per class (NaN: absent from both maps, left out of the mean):", s["iou"])
fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
panels = [viz.to_hwc(d["image"][0]), viz.colorize_labels(truth[0]), viz.colorize_labels(background[0])]
titles = ["image", "ground truth", f"all background\naccuracy {s['pixel_accuracy']:.2f}, mIoU {s['miou']:.2f}"]
for ax, panel, title in zip(axes, panels, titles):
    ax.imshow(panel, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])

# %% [markdown]
# ## 6. Depth metrics with a mask
#
# The pixel whose target is 0 (missing) and the masked-out one are not scored.

# %%
target = np.array([[2.0, 2.0, 4.0, 4.0],
                   [2.0, 0.0, 4.0, 8.0],          # 0: the sensor saw nothing there
                   [2.0, 2.0, 8.0, 8.0]])
pred = np.array([[2.2, 1.9, 4.4, 3.0],
                 [2.0, 5.0, 4.0, 8.8],
                 [1.5, 2.1, 9.0, 20.0]])
mask = np.ones_like(target, dtype=bool)
mask[2, 3] = False                                 # e.g. a window: ground truth we do not trust
m = md.metrics.depth_metrics(pred, target, mask)
print({k: round(v, 4) for k, v in m.items()})
fig, axes = plt.subplots(1, 3, figsize=(8, 2.4))
scored = mask & (target > 0)
rel_error = np.full_like(target, np.nan)
rel_error[scored] = np.abs(pred - target)[scored] / target[scored]
for ax, panel, title in zip(axes, [target, pred, rel_error],
                            ["target", "prediction", "|p − t| / t (white: not scored)"]):
    im = ax.imshow(panel, cmap="viridis")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, fraction=0.046)
