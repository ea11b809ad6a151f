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
# # 9. Depth, surface normals and keypoints
#
# The lecture's other pixel-labeling tasks use the same networks with a different output and loss:
#
# | task | output per pixel | loss |
# |---|---|---|
# | depth | 1 number | $\lVert z_i - \hat z_i \rVert$ (masked L1) |
# | surface normals | a unit 3-vector | $1 - \cos(\mathbf{n}_i, \hat{\mathbf{n}}_i)$ |
# | keypoints (pose) | one heatmap per keypoint type | per-pixel binary cross-entropy on Gaussian bumps |
#
# Each is trained here with a U-Net and `minidense.train.fit`, compared to a trivial baseline, and shown.

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

import numpy as np
from IPython.display import display

import minidense as md
from minidense import metrics
from minidense.data import scenes
from minidense.models import UNet
from minidense.tasks import get_task
from minidense.train import evaluate, fit

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
if SIZE == "small":
    IMG, N_TRAIN, N_TEST, EPOCHS, BASE, DEPTH = 16, 32, 8, 2, 4, 2
else:
    IMG, N_TRAIN, N_TEST, EPOCHS, BASE, DEPTH = 32, 192, 32, 8, 8, 2


def train(task):
    md.manual_seed(0)
    model = UNet(task.in_channels, task.out_channels, base_channels=BASE, depth=DEPTH)
    train_data = task.dataset(N_TRAIN, size=IMG, seed=1)
    test_data = task.dataset(N_TEST, size=IMG, seed=2)
    history = fit(model, task, train_data, None, epochs=EPOCHS, batch_size=8, lr=3e-3, seed=0, progress=False,
                  log=lambda *a: None)
    assert all(np.isfinite(h["train_loss"]) for h in history)
    inputs = np.stack([test_data[i][0] for i in range(N_TEST)])
    targets = np.stack([test_data[i][1] for i in range(N_TEST)])
    model.eval()
    with md.no_grad():
        preds = task.predict(model(md.tensor(inputs)))
    print(f"{task.name}: train loss {history[0]['train_loss']:.4f} -> {history[-1]['train_loss']:.4f}")
    return model, test_data, inputs, targets, preds


# %% [markdown]
# ## Depth
#
# Regression of one number per pixel. Baseline: predict the training set's mean depth everywhere.

# %%
depth_task = get_task("depth")
model, test_data, inputs, targets, preds = train(depth_task)
mean_depth = float(np.mean([depth_task.dataset(N_TRAIN, size=IMG, seed=1)[i][1].mean() for i in range(N_TRAIN)]))
baseline = metrics.depth_metrics(np.full_like(targets, mean_depth), targets)
scores = evaluate(model, depth_task, test_data)
print(f"abs_rel: network {scores['abs_rel']:.3f}   constant mean depth {baseline['abs_rel']:.3f}")
display(depth_task.draw(inputs[:3], targets[:3], preds[:3]))

# %% [markdown]
# ## Surface normals
#
# Three numbers per pixel, normalized to unit length; the error is the angle between predicted and true normal.
# Baseline: the best single normal for every pixel (the normalized mean of the training normals).

# %%
normal_task = get_task("normals")
model, test_data, inputs, targets, preds = train(normal_task)
train_normals = np.stack([normal_task.dataset(N_TRAIN, size=IMG, seed=1)[i][1] for i in range(N_TRAIN)])
mean_normal = train_normals.mean(axis=(0, 2, 3))
mean_normal /= np.linalg.norm(mean_normal)
baseline = metrics.normal_metrics(np.broadcast_to(mean_normal[None, :, None, None], targets.shape), targets)
scores = evaluate(model, normal_task, test_data)
print(f"mean angular error: network {scores['mean']:.1f}°   constant normal {baseline['mean']:.1f}°")
print("predicted normals have unit length:", bool(np.allclose(np.linalg.norm(preds, axis=1), 1, atol=1e-3)))
display(normal_task.draw(inputs[:3], targets[:3], preds[:3]))

# %% [markdown]
# ### The cosine loss is the slide's ‖n − n̂‖, squared and halved
#
# The slide trains the normal network to make $\lVert \mathbf{n}_i - \hat{\mathbf{n}}_i \rVert$ small; the task
# above minimizes $1 - \cos(\mathbf{n}_i, \hat{\mathbf{n}}_i)$. For unit vectors they are the same thing:
#
# $$\lVert \mathbf{n} - \hat{\mathbf{n}} \rVert^2 = \lVert \mathbf{n} \rVert^2 + \lVert \hat{\mathbf{n}} \rVert^2
#   - 2\,\mathbf{n}\cdot\hat{\mathbf{n}} = 2\,(1 - \cos(\mathbf{n}, \hat{\mathbf{n}})),$$
#
# so $1 - \cos = \tfrac12 \lVert \mathbf{n} - \hat{\mathbf{n}} \rVert^2$: the same minimum (0 when the directions
# agree), the same order of any two predictions, and with θ the angle between them, $\lVert \mathbf{n} -
# \hat{\mathbf{n}} \rVert = 2 \sin(θ/2)$. `F.cosine_normal_loss` normalizes the prediction first, so the network's
# raw 3-vector may have any length: only its direction is scored. Checked numerically, on random unit vectors and
# on the trained network's predictions above:

# %%
import matplotlib.pyplot as plt  # noqa: E402  (only this section draws with matplotlib directly)

import minidense.functional as F  # noqa: E402

gen = np.random.default_rng(0)
n = gen.normal(size=(4, 3, 8, 8))
n /= np.linalg.norm(n, axis=1, keepdims=True)
n_hat = gen.normal(size=n.shape)
raw = 5.0 * n_hat                                   # a network's raw output: any length
n_hat /= np.linalg.norm(n_hat, axis=1, keepdims=True)
one_minus_cos = F.cosine_normal_loss(md.tensor(raw), md.tensor(n), reduction="none").numpy()
half_sq_distance = 0.5 * np.sum((n - n_hat) ** 2, axis=1)
print("random unit vectors: max |(1 - cos) - ½‖n - n̂‖²| =", np.abs(one_minus_cos - half_sq_distance).max())
assert np.allclose(one_minus_cos, half_sq_distance, atol=1e-12)

cos_loss = float(F.cosine_normal_loss(md.tensor(preds), md.tensor(targets)).item())
half_sq = float(np.mean(0.5 * np.sum((preds - targets) ** 2, axis=1)))
print(f"trained network: mean (1 - cos) = {cos_loss:.5f}   mean ½‖n - n̂‖² = {half_sq:.5f}")
assert np.isclose(cos_loss, half_sq, rtol=1e-3, atol=1e-5)

theta = np.linspace(0, np.pi, 181)
plt.figure(figsize=(5, 3))
plt.plot(np.degrees(theta), 1 - np.cos(theta), label="1 − cos θ (the loss above)")
plt.plot(np.degrees(theta), 2 * np.sin(theta / 2), "--", label="‖n − n̂‖ = 2 sin(θ/2) (the slide)")
plt.plot(np.degrees(theta), 0.5 * (2 * np.sin(theta / 2)) ** 2, ":", lw=3, label="½‖n − n̂‖²")
plt.xlabel("angle θ between true and predicted normal (degrees)")
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Keypoints (pose)
#
# One heatmap per keypoint type (an object's centre and its corners). The target puts a Gaussian bump of height 1 on
# each keypoint; the network learns it with a per-pixel binary cross-entropy; keypoints are read back as the peaks.
# PCK: the fraction of true keypoints with a predicted peak within a threshold distance.

# %%
print("keypoint types:", scenes.KEYPOINT_TYPES)
kp_task = get_task("keypoints", size=IMG)
model, test_data, inputs, targets, preds = train(kp_task)
scores = evaluate(model, kp_task, test_data)
print(f"PCK of the network: {scores['pck']:.3f}")
peaks = scenes.heatmap_peaks(targets[0])
print("keypoints decoded from the first target's heatmaps, per type:", [len(p) for p in peaks])
display(kp_task.draw(inputs[:3], targets[:3], preds[:3]))
