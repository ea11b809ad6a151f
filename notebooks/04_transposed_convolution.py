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
# # 4. Transposed convolution is convolution, transposed
#
# A convolution is linear, so it is a matrix $C$: $y = C x$. The decoder of a segmentation network needs to go the
# other way, from a small map to a big one; the **transposed convolution** multiplies by $C^\top$. It is not the
# inverse of the convolution: it has the shape of the way back, not the values.
#
# This notebook builds the lecture's 1-D example with $[a\ b\ c\ d] * [x\ y\ z]$, then the 2-D case, and then
# shows the checkerboard artifacts of strided transposed convolutions next to resize-then-convolve.

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
md.manual_seed(0)
# The reference path: every convolution below runs the kernels of minidense/ops/im2col.py and
# ops/conv.py that this notebook explains, not the fast paths of ops/conv_fast.py.
md.fast_paths(False)

# %% [markdown]
# ## The slide's matrix, computed
#
# Input 4, filter 3, stride 1, pad 1. `F.conv2d_matrix` returns the dense matrix of a convolution; with
# `padded_input=True` its columns index the zero-padded input $[0, a, b, c, d, 0]$, as the slide draws it.
# To print it with letters, the filter is set to $x=1, y=2, z=3$ and each number is read back as its letter.

# %%
FILTER = {1: "x", 2: "y", 3: "z"}
INPUT = "abcd"

w_ids = md.tensor([[[[1.0, 2.0, 3.0]]]])            # (C_out, C_in, kH, kW) = (1, 1, 1, 3)
C = F.conv2d_matrix(w_ids, (1, 4), padding=(0, 1), padded_input=True).numpy()
print("C has shape", C.shape, "(4 outputs, 6 padded inputs)")
for row in C:
    print("  [" + "  ".join(FILTER.get(int(v), "0") for v in row) + "]")


def symbolic(matrix, names):
    """Each row of matrix @ vector, written out: entry v of the matrix is the filter letter FILTER[v]."""
    return ["+".join(f"{n}{FILTER[int(v)]}" for n, v in zip(names, row) if v and n != "0") or "0" for row in matrix]


print("\nC @ [0 a b c d 0] =", symbolic(C, ["0"] + list(INPUT) + ["0"]))

# %% [markdown]
# The slide's answer is `[ay+bz, ax+by+cz, bx+cy+dz, cx+dy]` (the padding zeros contribute nothing, so their
# terms are left out). Now with numbers: the convolution computed by `F.conv1d` equals the matrix product.

# %%
abcd = md.randn(1, 1, 4, dtype="float64")
xyz = md.randn(1, 1, 3, dtype="float64")
Cn = F.conv2d_matrix(xyz.reshape(1, 1, 1, 3), (1, 4), padding=(0, 1)).numpy()       # (4, 4), padding folded in
y_conv = F.conv1d(abcd, xyz, padding=1).numpy().ravel()
print("conv1d:", y_conv)
print("C @ x :", Cn @ abcd.numpy().ravel())
assert np.allclose(y_conv, Cn @ abcd.numpy().ravel())

# %% [markdown]
# ## Transposed: the filter becomes tiles
#
# $C^\top$ is 6×4. Each input value now *stamps* a scaled copy of the filter onto the output, and overlapping stamps
# add. Read from the computed matrix:

# %%
print("C^T has shape", C.T.shape)
for row in C.T:
    print("  [" + "  ".join(FILTER.get(int(v), "0") for v in row) + "]")
print("\nC^T @ [a b c d] =", symbolic(C.T, list(INPUT)))

# %% [markdown]
# That is the slide's `[ax, ay+bx, az+by+cx, bz+cy+dx, cz+dy, dz]`. `F.conv_transpose1d` computes exactly this
# product: with `padding=0` all 6 values, with `padding=1` the middle 4 (the padding is cropped off, so a stride-1
# pad-1 transposed convolution maps 4 values back to 4).

# %%
Cpad = F.conv2d_matrix(xyz.reshape(1, 1, 1, 3), (1, 4), padding=(0, 1), padded_input=True).numpy()
full = F.conv_transpose1d(abcd, xyz, padding=0).numpy().ravel()
cropped = F.conv_transpose1d(abcd, xyz, padding=1).numpy().ravel()
print("conv_transpose1d, padding 0:", full)
print("C_padded^T @ x           :", Cpad.T @ abcd.numpy().ravel())
print("conv_transpose1d, padding 1:", cropped, "= the middle four")
assert np.allclose(full, Cpad.T @ abcd.numpy().ravel())
assert np.allclose(cropped, full[1:-1])
assert np.allclose(cropped, Cn.T @ abcd.numpy().ravel())

# %% [markdown]
# Transposed, not inverse: $C^\top C \neq I$.

# %%
print("C^T C =\n", np.round(Cn.T @ Cn, 3))

# %% [markdown]
# ## 2-D: a 3×3 convolution, stride 2, pad 1
#
# The lecture's downsampling convolution takes 4×4 to 2×2, so its matrix is 4×16. Its transpose, 16×4, is the
# 3×3 transposed convolution with stride 2 and pad 1 that takes 2×2 back to 4×4 (`output_padding=1` picks 4 among
# the sizes 3 and 4 that a stride-2 convolution maps to 2).

# %%
w2 = md.randn(1, 1, 3, 3, dtype="float64")
C2 = F.conv2d_matrix(w2, (4, 4), stride=2, padding=1).numpy()
img = md.randn(1, 1, 4, 4, dtype="float64")
small = F.conv2d(img, w2, stride=2, padding=1)
print("C2:", C2.shape, "  conv2d output:", small.shape)
assert np.allclose(small.numpy().ravel(), C2 @ img.numpy().ravel())
y = md.randn(1, 1, 2, 2, dtype="float64")
up = F.conv_transpose2d(y, w2, stride=2, padding=1, output_padding=1)
print("conv_transpose2d output:", up.shape)
assert np.allclose(up.numpy().ravel(), C2.T @ y.numpy().ravel())
print("conv_transpose2d(y) == C2^T @ y: True")

fig, ax = plt.subplots(1, 2, figsize=(9, 3))
ax[0].imshow(C2, cmap="RdBu", vmin=-2.5, vmax=2.5)
ax[0].set(title="C: conv 3×3, stride 2, pad 1 (4 × 16)", xlabel="input pixel", ylabel="output pixel")
ax[1].imshow(C2.T, cmap="RdBu", vmin=-2.5, vmax=2.5)
ax[1].set(title="Cᵀ: transposed conv (16 × 4)", xlabel="input pixel", ylabel="output pixel")
plt.tight_layout()
plt.show()

# %% [markdown]
# The "tiles" view in 2-D: one nonzero input pixel stamps the filter; two neighbours, placed 2 apart by the stride,
# stamp two filters that overlap in one column.

# %%
wt = md.tensor(np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3))
one = np.zeros((1, 1, 3, 3), np.float32)
one[0, 0, 1, 1] = 1
two = np.zeros((1, 1, 3, 3), np.float32)
two[0, 0, 1, 0] = two[0, 0, 1, 1] = 1
fig, ax = plt.subplots(1, 3, figsize=(9, 3))
ax[0].imshow(wt.numpy()[0, 0], cmap="viridis")
ax[0].set_title("filter")
for a, inp, title in [(ax[1], one, "one input pixel"), (ax[2], two, "two neighbouring pixels")]:
    out = F.conv_transpose2d(md.tensor(inp), wt, stride=2).numpy()[0, 0]
    a.imshow(out, cmap="viridis")
    for (i, j), v in np.ndenumerate(out):
        a.text(j, i, int(v), ha="center", va="center", color="w", fontsize=7)
    a.set_title(f"{title} → {out.shape[0]}×{out.shape[1]}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Checkerboard artifacts
#
# With stride 2 and a 3×3 kernel, output pixels are covered by different numbers of stamps: some by one, some by
# two, some by four. Even with an all-ones filter and a constant input the output is a checkerboard. Resizing first
# (nearest neighbour, `F.interpolate`) and then convolving covers every pixel the same way.

# %%
side = 8 if SIZE == "small" else 16
const = md.ones(1, 1, side, side)
ones3 = md.ones(1, 1, 3, 3)
transposed = F.conv_transpose2d(const, ones3, stride=2, padding=1, output_padding=1).numpy()[0, 0]
resized = F.conv2d(F.interpolate(const, scale_factor=2, mode="nearest"), ones3, padding=1).numpy()[0, 0]
inner = (slice(2, -2), slice(2, -2))   # away from the border, where the zero padding changes counts anyway
print("transposed conv, interior values:", np.unique(transposed[inner]))
print("resize + conv,   interior values:", np.unique(resized[inner]))
assert len(np.unique(transposed[inner])) > 1 and len(np.unique(resized[inner])) == 1

# %% [markdown]
# With a random (untrained) filter and a smooth input, the same thing: a measure of the artifact is how much the
# average of the four stride-2 phases ((even, even), (even, odd), ...) differs. A smooth upsampling has none.

# %%
def phase_spread(img):
    """Spread of the mean over the 4 pixel phases of a 2× upsampled image, relative to its overall spread."""
    core = img[2:-2, 2:-2]
    means = [core[i::2, j::2].mean() for i in range(2) for j in range(2)]
    return (max(means) - min(means)) / (core.std() + 1e-12)


yy, xx = np.mgrid[0:side, 0:side] / side
smooth = md.tensor((np.sin(3 * xx) + np.cos(2 * yy))[None, None].astype(np.float32))
spreads = {"transposed": [], "resize + conv": []}
for trial in range(20):
    wr = md.randn(1, 1, 3, 3)
    spreads["transposed"].append(phase_spread(
        F.conv_transpose2d(smooth, wr, stride=2, padding=1, output_padding=1).numpy()[0, 0]))
    spreads["resize + conv"].append(phase_spread(
        F.conv2d(F.interpolate(smooth, scale_factor=2, mode="nearest"), wr, padding=1).numpy()[0, 0]))
for name, v in spreads.items():
    print(f"{name:14s} mean phase spread over 20 random filters: {np.mean(v):.3f}")
assert np.mean(spreads["transposed"]) > 3 * np.mean(spreads["resize + conv"])

wr = md.randn(1, 1, 3, 3)
t_img = F.conv_transpose2d(smooth, wr, stride=2, padding=1, output_padding=1).numpy()[0, 0]
r_img = F.conv2d(F.interpolate(smooth, scale_factor=2, mode="nearest"), wr, padding=1).numpy()[0, 0]
fig, ax = plt.subplots(1, 4, figsize=(12, 3))
for a, im, title in [(ax[0], transposed, "transposed conv, all-ones filter"), (ax[1], resized, "resize + conv"),
                     (ax[2], t_img, "transposed conv, random filter"), (ax[3], r_img, "resize + conv, same filter")]:
    a.imshow(im, cmap="gray")
    a.set_title(title, fontsize=9)
    a.axis("off")
plt.tight_layout()
plt.show()
