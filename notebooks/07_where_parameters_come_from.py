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
# # 7. Where do the parameters come from?
#
# An image classifier maps an image to a vector. A pixel labeler maps an image to an image. The lecture's point:
# **any vector-to-vector layer can be rewritten as a 1×1 convolution**, so the classifier's weights can be reused
# as-is, and if the input is made bigger, the same network labels every position of the bigger image.

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
import minidense.nn as nn
from minidense.models import convolutionalize, linear_to_conv

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
md.manual_seed(0)

# %% [markdown]
# ## A linear layer is a 1×1 convolution
#
# `Linear(C, K)` applied to the C-vector at every pixel of a (N, C, H, W) map is `Conv2d(C, K, 1)` with the
# weight reshaped to (K, C, 1, 1).

# %%
lin = nn.Linear(8, 5)
conv = linear_to_conv(lin)                    # weight (5, 8) -> (5, 8, 1, 1), same bias
fmap = md.randn(2, 8, 6, 7)
by_conv = conv(fmap)
by_linear = lin(fmap.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)   # the Linear at each pixel
print("linear weight", lin.weight.shape, "-> conv weight", conv.weight.shape, "; output", by_conv.shape)
print("max |difference| =", np.abs(by_conv.numpy() - by_linear.numpy()).max())
assert np.allclose(by_conv.numpy(), by_linear.numpy(), atol=1e-5)

# %% [markdown]
# And the first Linear after a Flatten, on a (C', h', w') feature map, is a convolution with an h'×w' kernel: the
# dot product of the flattened map with a weight row is the kernel's dot product with one window.

# %%
lin2 = nn.Linear(8 * 3 * 3, 5)
conv2 = linear_to_conv(lin2, kernel_size=(3, 3))
f3 = md.randn(4, 8, 3, 3)
assert np.allclose(conv2(f3).numpy()[:, :, 0, 0], lin2(f3.reshape(4, -1)).numpy(), atol=1e-5)
print("Linear on a flattened 8×3×3 map == Conv2d(8, 5, 3) on the map: True")

# %% [markdown]
# ## A classifier of small crops, trained
#
# Data: 12×12 crops, each showing one of three things at its centre: a bright horizontal bar, a vertical bar, or
# nothing but noise. The classifier is convolutions (no padding, so a crop never sees zeros where an image would
# have neighbours), a Flatten and two Linear layers.

# %%
CROP, CLASSES = 12, 3
NAMES = ["background", "horizontal bar", "vertical bar"]
gen = np.random.default_rng(0)


def draw_crop(label):
    crop = gen.normal(0, 0.3, (1, CROP, CROP)).astype(np.float32)
    c = CROP // 2 + gen.integers(-1, 2)
    if label == 1:
        crop[0, c - 1:c + 1, 2:-2] += 1.5
    elif label == 2:
        crop[0, 2:-2, c - 1:c + 1] += 1.5
    return crop


classifier = nn.Sequential(
    nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2),        # 12 -> 10 -> 5
    nn.Conv2d(8, 16, 3), nn.ReLU(),                         # 5 -> 3
    nn.Flatten(), nn.Linear(16 * 3 * 3, 32), nn.ReLU(), nn.Linear(32, CLASSES))
classifier.summary((1, CROP, CROP))

steps = 60 if SIZE == "small" else 400
opt_lr = 0.05
params = list(classifier.parameters())
losses = []
for step in range(steps):
    labels = gen.integers(0, CLASSES, 32)
    batch = md.tensor(np.stack([draw_crop(k) for k in labels]))
    loss = F.cross_entropy(classifier(batch), md.tensor(labels))
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p.data -= opt_lr * p.grad
    losses.append(loss.item())

test_labels = np.repeat(np.arange(CLASSES), 50)
with md.no_grad():
    test_pred = classifier(md.tensor(np.stack([draw_crop(k) for k in test_labels]))).numpy().argmax(1)
crop_acc = (test_pred == test_labels).mean()
print(f"loss {np.mean(losses[:5]):.3f} -> {np.mean(losses[-5:]):.3f}; crop accuracy {crop_acc:.1%} (chance 33%)")
assert np.mean(losses[-5:]) < np.mean(losses[:5])

# %% [markdown]
# ## Convolutionalized: the same weights label a bigger image
#
# `convolutionalize` replaces the first Linear with a 3×3 convolution and the second with a 1×1 convolution and drops
# the Flatten. On a 12×12 crop it gives the classifier's scores as a 1×1 map; on a bigger image it gives a map of
# scores, one per crop position (stride 2, the pooling's).

# %%
fcn = convolutionalize(classifier, (1, CROP, CROP))
print(fcn)
crop = md.tensor(draw_crop(1)[None])
with md.no_grad():
    assert np.allclose(fcn(crop).numpy()[:, :, 0, 0], classifier(crop).numpy(), atol=1e-5)
print("on one crop: identical scores")

big_side = 32 if SIZE == "small" else 64
big = gen.normal(0, 0.3, (1, 1, big_side, big_side)).astype(np.float32)
big[0, 0, big_side // 4:big_side // 4 + 2, 4:big_side // 2] += 1.5          # a horizontal bar, top left
big[0, 0, big_side // 3:-4, 3 * big_side // 4:3 * big_side // 4 + 2] += 1.5   # a vertical bar, right
big = md.tensor(big)
with md.no_grad():
    scores = fcn(big)
print("bigger image", big.shape, "-> score map", scores.shape)

# every position of the map is the classifier's answer on the crop at rows 2i.., columns 2j..
i, j = scores.shape[2] // 2, scores.shape[3] // 3
with md.no_grad():
    direct = classifier(big[:, :, 2 * i:2 * i + CROP, 2 * j:2 * j + CROP]).numpy()[0]
assert np.allclose(scores.numpy()[0, :, i, j], direct, atol=1e-4)
print(f"position ({i}, {j}) equals the classifier on the crop at ({2 * i}, {2 * j}): True")

labels_map = scores.numpy()[0].argmax(0)
fig, ax = plt.subplots(1, 3, figsize=(11, 3.3))
ax[0].plot(losses)
ax[0].set(title="classifier training loss", xlabel="step")
ax[1].imshow(big.numpy()[0, 0], cmap="gray")
ax[1].set_title(f"bigger input {big_side}×{big_side}")
im = ax[2].imshow(labels_map, cmap="viridis", vmin=0, vmax=CLASSES - 1)
ax[2].set_title(f"label per crop position {labels_map.shape[0]}×{labels_map.shape[1]}")
cbar = plt.colorbar(im, ax=ax[2], ticks=range(CLASSES))
cbar.ax.set_yticklabels(NAMES)
for a in ax[1:]:
    a.axis("off")
plt.tight_layout()
plt.show()
print("fraction of positions per label:", {n: float((labels_map == k).mean().round(3)) for k, n in enumerate(NAMES)})
