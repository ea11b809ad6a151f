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
# # 8. Encoder-decoder and U-Net segmentation
#
# Semantic segmentation: a class for every pixel, trained with a cross-entropy loss **at every pixel**
# (pixels marked unknown, `md.IGNORE_INDEX = 255`, are skipped). The networks downsample to see context and
# upsample back to full resolution:
#
# * `EncoderDecoder(skips=False)`: the lecture's plain encoder-decoder;
# * `UNet(skips=False)`: a U-Net with its copies replaced by zeros (same parameters, no detail from the encoder);
# * `UNet()`: the U-Net, which copies the encoder's activations forward at every resolution.
#
# All three are trained on the procedural scenes (`minidense.data.scenes`) with `minidense.train.fit`, then
# evaluated on held-out scenes, overall and at object boundaries, where the missing details show.

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
from IPython.display import display

import minidense as md
from minidense import metrics, viz
from minidense.data import scenes
from minidense.models import EncoderDecoder, UNet
from minidense.tasks import get_task
from minidense.train import evaluate, fit

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
FIGURES = os.environ.get("MINIDENSE_NB_FIGURES")   # a folder: save the README's picture there
if SIZE == "small":
    IMG, N_TRAIN, N_TEST, EPOCHS, BASE, DEPTH = 16, 32, 16, 2, 4, 2
else:
    IMG, N_TRAIN, N_TEST, EPOCHS, BASE, DEPTH = 48, 768, 128, 6, 16, 3
md.manual_seed(0)

# %% [markdown]
# ## The data
#
# Each scene has an image, a label map (background and four object classes, unknown on a one-pixel band at object
# boundaries), depth, surface normals, edges and keypoints. This notebook uses the labels.

# %%
task = get_task("segmentation")
train_data = task.dataset(N_TRAIN, size=IMG, seed=1)
test_data = task.dataset(N_TEST, size=IMG, seed=2)
images = np.stack([test_data[i][0] for i in range(N_TEST)])
labels = np.stack([test_data[i][1] for i in range(N_TEST)])
print("classes:", scenes.CLASSES, " images", images.shape, " labels", labels.shape, labels.dtype)
print("fraction of unknown pixels:", float((labels == md.IGNORE_INDEX).mean().round(3)))

fig, ax = plt.subplots(2, 4, figsize=(10, 5))
for k in range(4):
    ax[0, k].imshow(viz.to_hwc(images[k]))
    ax[1, k].imshow(viz.colorize_labels(labels[k]))
    ax[0, k].axis("off")
    ax[1, k].axis("off")
ax[0, 0].set_title("input")
ax[1, 0].set_title("label (unknown in white)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The networks
#
# The U-Net's table: resolution halves and channels double at each level, then the decoder climbs back up.
# `depth` counts levels (resolutions) in both networks, so `depth=DEPTH` gives the encoder-decoder and the
# U-Net the same levels, channel widths and `DEPTH - 1` poolings: they differ only in how detail reaches
# the decoder (nothing, zeros, or the copied encoder activations).

# %%
models = {
    "encoder-decoder": EncoderDecoder(3, task.out_channels, base_channels=BASE, depth=DEPTH, skips=False),
    "U-Net without skips": UNet(3, task.out_channels, base_channels=BASE, depth=DEPTH, skips=False),
    "U-Net": UNet(3, task.out_channels, base_channels=BASE, depth=DEPTH),
}
models["U-Net"].summary((3, IMG, IMG))

# %% [markdown]
# ## Training
#
# The same data, seed, optimizer (Adam) and number of epochs for each.

# %%
histories = {}
for name, model in models.items():
    md.manual_seed(0)
    histories[name] = fit(model, task, train_data, test_data, epochs=EPOCHS, batch_size=8, lr=3e-3, seed=0,
                          progress=False, log=lambda *a: None)
    last = histories[name][-1]
    print(f"{name:22s} train loss {histories[name][0]['train_loss']:.3f} -> {last['train_loss']:.3f}, "
          f"val mIoU {last['miou']:.3f}")
    assert all(np.isfinite(h["train_loss"]) for h in histories[name])

fig, ax = plt.subplots(1, 2, figsize=(10, 3.2))
for name, hist in histories.items():
    ax[0].plot([h["epoch"] for h in hist], [h["train_loss"] for h in hist], marker="o", label=name)
    ax[1].plot([h["epoch"] for h in hist], [h["miou"] for h in hist], marker="o", label=name)
ax[0].set(title="training loss (per-pixel cross-entropy)", xlabel="epoch")
ax[1].set(title="held-out mIoU", xlabel="epoch")
ax[0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Evaluation, and what the skips add at boundaries
#
# Labels are the argmax over the class scores. Boundary accuracy scores only the pixels within 3 pixels of a class
# change in the ground truth, where the details lost by downsampling matter. The numbers below are whatever this
# run measured. At the full size (48×48, 768 scenes, 6 epochs) the U-Net with its skips should lead on both mIoU
# and boundary accuracy (`examples/skip_connections.py` runs the same comparison, and `tests/nn_models/test_skips.py`
# checks it); at the small size used by the test suite, two epochs are too few for the ranking to mean anything.

# %%
preds, rows = {}, []
for name, model in models.items():
    scores = evaluate(model, task, test_data)
    model.eval()
    with md.no_grad():
        preds[name] = task.predict(model(md.tensor(images)))
    interior = ~metrics.boundary_mask(labels, 3) & (labels != md.IGNORE_INDEX)
    rows.append((name, scores["pixel_accuracy"], scores["miou"], metrics.boundary_accuracy(preds[name], labels),
                 float((preds[name][interior] == labels[interior]).mean())))
print(f"{'model':22s} {'accuracy':>9s} {'mIoU':>7s} {'boundary acc':>13s} {'interior acc':>13s}")
for name, acc, miou, bacc, iacc in rows:
    print(f"{name:22s} {acc:9.3f} {miou:7.3f} {bacc:13.3f} {iacc:13.3f}")
    assert 0 <= miou <= 1 and 0 <= bacc <= 1

# %%
fig, ax = plt.subplots(3, 2 + len(models), figsize=(2.4 * (2 + len(models)), 7.5))
for r in range(3):
    panels = [("input", viz.to_hwc(images[r])), ("ground truth", viz.colorize_labels(labels[r]))]
    panels += [(name, viz.colorize_labels(p[r])) for name, p in preds.items()]
    for c, (title, panel) in enumerate(panels):
        ax[r, c].imshow(panel, interpolation="nearest")
        ax[r, c].axis("off")
        if r == 0:
            ax[r, c].set_title(title, fontsize=10)
plt.tight_layout()
if FIGURES:
    os.makedirs(FIGURES, exist_ok=True)
    fig.savefig(os.path.join(FIGURES, "notebook_segmentation.png"), dpi=60)
plt.show()

# %% [markdown]
# The same predictions drawn by the task itself, `task.draw` (input, truth, prediction, error in red):

# %%
display(task.draw(images[:2], labels[:2], preds["U-Net"][:2]))
