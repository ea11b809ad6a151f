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
# # 10. Sketch to image, and an autoencoder's latent space
#
# **Edges to image**: the input is an H×W×1 sketch (object outlines and creases), the output an H×W×3 image, the
# loss $\lVert I_j - \hat I_j\rVert$ at every pixel (the lecture's "plus other magic", an adversarial loss, is left
# out: an L1 loss alone gives blurry but recognisable images).
#
# **Autoencoder**: the network compresses its input to a small *latent code* (the bottleneck) and decodes it back,
# trained on $\lVert D(E(X)) - X\rVert$. Walking on the straight line between two codes decodes to images in between.

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
from minidense import viz
from minidense.models import AutoEncoder, UNet
from minidense.tasks import get_task
from minidense.train import evaluate, fit

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
if SIZE == "small":
    IMG, N_TRAIN, N_TEST, EPOCHS, BASE, LATENT = 16, 32, 8, 2, 4, 8
else:
    IMG, N_TRAIN, N_TEST, EPOCHS, BASE, LATENT = 32, 256, 32, 10, 8, 32

# %% [markdown]
# ## Sketch to image with a U-Net
#
# Baseline: the mean training image, whatever the sketch.

# %%
sketch_task = get_task("sketch2image")
train_data = sketch_task.dataset(N_TRAIN, size=IMG, seed=1)
test_data = sketch_task.dataset(N_TEST, size=IMG, seed=2)
md.manual_seed(0)
unet = UNet(1, 3, base_channels=BASE, depth=2)
history = fit(unet, sketch_task, train_data, None, epochs=EPOCHS, batch_size=8, lr=3e-3, seed=0, progress=False,
              log=lambda *a: None)
sketches = np.stack([test_data[i][0] for i in range(N_TEST)])
photos = np.stack([test_data[i][1] for i in range(N_TEST)])
mean_image = np.stack([train_data[i][1] for i in range(N_TRAIN)]).mean(axis=0)
baseline = float(np.abs(photos - mean_image).mean())
scores = evaluate(unet, sketch_task, test_data)
print(f"train loss {history[0]['train_loss']:.4f} -> {history[-1]['train_loss']:.4f}")
print(f"held-out L1: network {scores['l1']:.4f}   mean image {baseline:.4f}")
assert np.isfinite(scores["l1"])
unet.eval()
with md.no_grad():
    drawn = sketch_task.predict(unet(md.tensor(sketches)))
display(sketch_task.draw(sketches[:3], photos[:3], drawn[:3]))

# %% [markdown]
# ## An autoencoder
#
# `AutoEncoder`: two stride-2 convolutions, a Linear layer down to a latent vector of `LATENT` numbers, and the
# mirror image back up. The bottleneck is much smaller than the image:

# %%
ae_task = get_task("autoencode")
ae_train = ae_task.dataset(N_TRAIN, size=IMG, seed=1)
ae_test = ae_task.dataset(N_TEST, size=IMG, seed=2)
md.manual_seed(0)
ae = AutoEncoder(3, size=IMG, latent_dim=LATENT, base_channels=BASE)
print(f"image: 3·{IMG}·{IMG} = {3 * IMG * IMG} numbers   latent code: {LATENT} numbers "
      f"({3 * IMG * IMG / LATENT:.0f}× smaller)")
history = fit(ae, ae_task, ae_train, None, epochs=EPOCHS, batch_size=8, lr=3e-3, seed=0, progress=False,
              log=lambda *a: None)
scores = evaluate(ae, ae_task, ae_test)
test_images = np.stack([ae_test[i][0] for i in range(N_TEST)])
print(f"train loss {history[0]['train_loss']:.4f} -> {history[-1]['train_loss']:.4f}; held-out L1 {scores['l1']:.4f}")
ae.eval()
with md.no_grad():
    codes = ae.encode(md.tensor(test_images))
    recon = ae.decode(codes).numpy()
print("codes:", codes.shape)
assert codes.shape == (N_TEST, LATENT)

fig, ax = plt.subplots(2, 4, figsize=(8, 4.2))
for k in range(4):
    ax[0, k].imshow(viz.to_hwc(test_images[k]))
    ax[1, k].imshow(viz.to_hwc(recon[k].clip(0, 1)))
    ax[0, k].axis("off")
    ax[1, k].axis("off")
ax[0, 0].set_title("X")
ax[1, 0].set_title("D(E(X))")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Walking the latent space
#
# `AutoEncoder.interpolate(x1, x2, steps)` decodes evenly spaced points on the line from E(x1) to E(x2). The codes
# in between were never seen in training; the decoder still turns them into images.

# %%
steps = 6 if SIZE == "small" else 8
with md.no_grad():
    walk = ae.interpolate(md.tensor(test_images[0]), md.tensor(test_images[1]), steps=steps).numpy()
    ends = ae.decode(ae.encode(md.tensor(test_images[:2]))).numpy()
assert np.allclose(walk[0], ends[0], atol=1e-5) and np.allclose(walk[-1], ends[1], atol=1e-5)

# the codes on the walk really lie on the straight line between the two ends
with md.no_grad():
    z = ae.encode(md.tensor(test_images[:2])).numpy()
t = np.linspace(0, 1, steps)[:, None]
line = ((1 - t) * z[0] + t * z[1]).astype(np.float32)
with md.no_grad():
    assert np.allclose(ae.decode(md.tensor(line)).numpy(), walk, atol=1e-5)

fig, ax = plt.subplots(1, steps + 2, figsize=(1.6 * (steps + 2), 2))
ax[0].imshow(viz.to_hwc(test_images[0]))
ax[0].set_title("x1")
ax[-1].imshow(viz.to_hwc(test_images[1]))
ax[-1].set_title("x2")
for k in range(steps):
    ax[k + 1].imshow(viz.to_hwc(walk[k].clip(0, 1)))
    ax[k + 1].set_title(f"t={t[k, 0]:.2f}", fontsize=8)
for a in ax:
    a.axis("off")
plt.tight_layout()
plt.show()
