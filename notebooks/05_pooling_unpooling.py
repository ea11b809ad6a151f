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
# # 5. Pooling and unpooling
#
# The encoder downsamples with convolutions and pooling; the decoder must upsample. The lecture's answer:
# "do the opposite of how we downsample". For pooling, three opposites:
#
# * **bed of nails**: each value goes to the top-left corner of its block, zeros elsewhere (`F.bed_of_nails`);
# * **nearest neighbour**: each value is copied into its whole block (`F.interpolate(mode="nearest")`);
# * **max-unpooling**: each value goes back to where max pooling found its maximum, remembered as a *switch*
#   (`F.max_pool2d(..., return_indices=True)` then `F.max_unpool2d`).

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

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
FIGURES = os.environ.get("MINIDENSE_NB_FIGURES")   # a folder: save the README's picture there
md.manual_seed(0)

# %% [markdown]
# ## Pooling a 4×4 map

# %%
x = md.tensor(np.array([[1, 2, 6, 3],
                        [3, 5, 2, 1],
                        [1, 2, 2, 1],
                        [7, 3, 4, 8]], dtype=np.float32)[None, None])
pooled, switches = F.max_pool2d(x, 2, return_indices=True)
print("max pool 2×2:\n", pooled.numpy()[0, 0])
print("switches (flat index of each maximum in the 4×4 plane):\n", switches.numpy()[0, 0])
print("average pool 2×2:\n", F.avg_pool2d(x, 2).numpy()[0, 0])

# %% [markdown]
# ## Three ways back, side by side
#
# Unpool the pooled 2×2 map to 4×4.

# %%
ups = {
    "bed of nails": F.bed_of_nails(pooled, 2),
    "nearest": F.interpolate(pooled, scale_factor=2, mode="nearest"),
    "max-unpooling (switches)": F.max_unpool2d(pooled, switches, 2),
}
fig, ax = plt.subplots(1, 5, figsize=(15, 3))
panels = [("input", x), ("max pooled", pooled)] + list(ups.items())
for a, (title, t) in zip(ax, panels):
    im = t.numpy()[0, 0]
    a.imshow(im, cmap="viridis", vmin=0, vmax=8)
    for (i, j), v in np.ndenumerate(im):
        a.text(j, i, int(v), ha="center", va="center", color="w")
    a.set_title(title)
    a.axis("off")
plt.tight_layout()
if FIGURES:
    os.makedirs(FIGURES, exist_ok=True)
    fig.savefig(os.path.join(FIGURES, "notebook_unpooling.png"), dpi=60)
plt.show()
for name, t in ups.items():
    print(f"{name}:\n{t.numpy()[0, 0]}")

# the three agree on the pooled values, and differ in where they put them
assert np.allclose(F.max_pool2d(ups["max-unpooling (switches)"], 2).numpy(), pooled.numpy())
unpooled = ups["max-unpooling (switches)"].numpy()
assert np.array_equal(unpooled[unpooled != 0], x.numpy()[unpooled != 0])   # each value back at its own position
assert ups["bed of nails"].numpy()[0, 0, ::2, ::2].tolist() == pooled.numpy()[0, 0].tolist()

# %% [markdown]
# ## Max-unpooling is max pooling's gradient
#
# Max pooling passes each window's maximum forward, so its backward sends each upstream gradient back to the
# maximum's position, zeros elsewhere: exactly a max-unpooling of the gradient with the switches.

# %%
xg = md.tensor(x.numpy(), requires_grad=True)
g = md.randn(1, 1, 2, 2)
F.max_pool2d(xg, 2).backward(g)
print("gradient of max pool:\n", xg.grad[0, 0])
print("max_unpool2d(g, switches):\n", F.max_unpool2d(g, switches, 2).numpy()[0, 0])
assert np.allclose(xg.grad, F.max_unpool2d(g, switches, 2).numpy())

# %% [markdown]
# ## On a picture
#
# A picture with thin structures, pooled by 4 and unpooled three ways. Bed of nails leaves a sparse grid,
# nearest neighbour gives blocks, max-unpooling puts the bright values back on the thin lines where they came from
# (and leaves zeros elsewhere). In a network, the convolutions after the unpooling fill in the rest.

# %%
side = 32 if SIZE == "small" else 96
yy, xx = np.mgrid[0:side, 0:side]
picture = ((np.abs(xx - yy) < 1.5) | (np.abs(xx + yy - side) < 1.5) | ((xx - side / 2) ** 2 + (yy - side / 2) ** 2
           < (side / 5) ** 2)).astype(np.float32) * (0.5 + 0.5 * xx / side)
p = md.tensor(picture[None, None])
pooled_p, sw = F.max_pool2d(p, 4, return_indices=True)
outs = {"input": p, "max pooled ÷4": pooled_p, "bed of nails": F.bed_of_nails(pooled_p, 4),
        "nearest": F.interpolate(pooled_p, scale_factor=4), "max-unpooling": F.max_unpool2d(pooled_p, sw, 4)}
fig, ax = plt.subplots(1, 5, figsize=(15, 3.2))
for a, (title, t) in zip(ax, outs.items()):
    a.imshow(t.numpy()[0, 0], cmap="magma", interpolation="nearest")
    a.set_title(f"{title} {t.shape[2]}×{t.shape[3]}")
    a.axis("off")
plt.tight_layout()
plt.show()

for name in ("bed of nails", "nearest", "max-unpooling"):
    err = np.abs(outs[name].numpy()[0, 0] - picture).mean()
    print(f"{name:14s} mean |unpooled - input| = {err:.4f}")
