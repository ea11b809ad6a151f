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
# # 6. Why pixel labeling is hard, and the two "wrong" ways
#
# To name a pixel, a network must see a lot of context around it (a large **receptive field**), and it must do so
# for every pixel without wasting time or memory. The lecture tries two simple designs and shows why each fails:
#
# 1. **stack 3×3 convolutions** at full resolution until the receptive field is big enough: memory explodes;
# 2. **crop a window around each pixel** and classify it: the same pixels are filtered over and over.
#
# Every number on those slides is computed here, and measured where it can be.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

import minidense as md
import minidense.functional as F
import minidense.nn as nn

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
md.manual_seed(0)

# %% [markdown]
# ## Receptive field of n stacked 3×3 convolutions: 2n + 1
#
# Measured, not assumed: put a gradient of 1 on the centre output pixel, backpropagate through n convolutions
# (all-ones filters, so nothing cancels), and count how wide the nonzero input gradient is.

# %%
def measured_receptive_field(n, side=41):
    x = md.zeros(1, 1, side, side, requires_grad=True)
    y = x
    for _ in range(n):
        y = F.conv2d(y, md.ones(1, 1, 3, 3), padding=1)
    g = np.zeros(y.shape, np.float32)
    g[0, 0, side // 2, side // 2] = 1
    y.backward(g)
    rows = np.nonzero(np.abs(x.grad[0, 0]).sum(axis=1))[0]
    return int(rows.max() - rows.min() + 1)


ns = list(range(1, 9))
measured = [measured_receptive_field(n) for n in ns]
print("n layers:         ", ns)
print("measured RF:      ", measured)
print("2n + 1:           ", [2 * n + 1 for n in ns])
assert measured == [2 * n + 1 for n in ns]

# the same rule from the layer table of nn.summary
stack = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(5)])
rows = stack.summary((1, 32, 32))
assert rows[-1]["receptive_field"] == 11

# %% [markdown]
# The lecture asks: how many layers until the receptive field covers 200 pixels?

# %%
target = 200
layers_needed = next(n for n in range(1, 1000) if 2 * n + 1 >= target)
print(f"smallest n with 2n+1 >= {target}: n = {layers_needed}  (receptive field {2 * layers_needed + 1})")
assert layers_needed == 100

# %% [markdown]
# ## Memory per layer and per batch
#
# 200 filters per layer, $H = W = 400$, float32 (4 bytes): one layer's output for one image, then 100 layers for a
# batch of 20 (and backward needs all of them kept).

# %%
channels, side, bytes_per = 200, 400, 4
per_layer = channels * side * side * bytes_per
per_batch = per_layer * layers_needed * 20
print(f"per layer per image: {channels}·{side}·{side}·{bytes_per} = {per_layer:,} bytes = {per_layer / 2**20:.0f} MB")
print(f"100 layers, batch 20: {per_batch:,} bytes = {per_batch / 2**30:.0f} GB")
assert round(per_layer / 2**20) == 122 and round(per_batch / 2**30) == 238

# the formula checked against a real activation, at a size a laptop can hold
act = F.conv2d(md.zeros(1, 3, 40, 40), md.zeros(channels, 3, 3, 3), padding=1)
assert act.data.nbytes == channels * 40 * 40 * bytes_per
print(f"a real (1, 200, 40, 40) float32 activation: {act.data.nbytes:,} bytes = 200·40·40·4")

# %% [markdown]
# How the memory of this "stack convolutions" network grows with the receptive field it reaches, next to a network
# that halves the resolution every two layers (the encoder of the next notebooks):

# %%
rf_target = np.arange(3, 403, 2)
stacked_mb = (rf_target - 1) / 2 * per_layer / 2**20


def pyramid_memory(rf_goal):
    rf, jump, mem, res = 1, 1, 0, side
    while rf < rf_goal:
        for _ in range(2):                 # two 3x3 convs at this resolution
            rf += 2 * jump
            mem += channels * res * res * bytes_per
        rf += jump                          # 2x2 max pool, stride 2
        jump *= 2
        res = max(res // 2, 1)
    return mem / 2**20


pyramid_mb = [pyramid_memory(r) for r in rf_target]
plt.figure(figsize=(5.5, 3.5))
plt.plot(rf_target, stacked_mb / 1024, label="stacked 3×3 convs, full resolution")
plt.plot(rf_target, np.array(pyramid_mb) / 1024, label="conv, conv, pool (downsampling)")
plt.xlabel("receptive field (pixels)")
plt.ylabel("activations per image (GB)")
plt.legend()
plt.title("200 channels, 400×400 input")
plt.show()

# %% [markdown]
# ## The second wrong way: crop every window
#
# "Gabor" crops an N×N window around every pixel and classifies its centre independently. How many times is one
# pixel filtered by the first layer? Count it: every window that contains the pixel filters it.

# %%
def times_filtered(image_side, window, pixel):
    half = window // 2
    count = 0
    for ci in range(half, image_side - half):          # every window centre with a full window inside the image
        for cj in range(half, image_side - half):
            if abs(ci - pixel[0]) <= half and abs(cj - pixel[1]) <= half:
                count += 1
    return count


for n in (2, 3, 5, 8):
    window = 2 * n - 1
    print(f"window {window}×{window} (n={n}): the centre pixel of a 30×30 image is filtered "
          f"{times_filtered(30, window, (15, 15))} times = (2n-1)² = {(2 * n - 1) ** 2}")
    assert times_filtered(30, window, (15, 15)) == (2 * n - 1) ** 2

# %% [markdown]
# ## ... and it computes the same thing as a fully convolutional network
#
# A small CNN with unpadded 3×3 convolutions maps a 7×7 window to one score vector (receptive field 7 = 2·3+1).
# Run on every window it labels every interior pixel; run **once on the whole image**, the same weights give the
# same numbers, because every window's convolutions are already inside the big image's convolutions.

# %%
n_classes, depth = 4, 3
window = 2 * depth + 1
net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 16, 3), nn.ReLU(), nn.Conv2d(16, n_classes, 3))
img_side = 24 if SIZE == "small" else 64
image = md.randn(1, 3, img_side, img_side)
out_side = img_side - window + 1

with md.no_grad():
    t0 = time.perf_counter()
    crops = [image[:, :, i:i + window, j:j + window] for i in range(out_side) for j in range(out_side)]
    per_window = md.concat([net(c) for c in crops], axis=0)            # one window at a time, as Gabor does
    t_windows = time.perf_counter() - t0
    t0 = time.perf_counter()
    whole = net(image)                                                   # the whole image at once
    t_fcn = time.perf_counter() - t0

per_window = per_window.numpy().reshape(out_side, out_side, n_classes).transpose(2, 0, 1)
print("windows:", len(crops), " per-window result", per_window.shape, " FCN result", whole.shape[1:])
print("max |difference| =", np.abs(per_window - whole.numpy()[0]).max())
assert np.allclose(per_window, whole.numpy()[0], atol=1e-4)

# %% [markdown]
# The cost, counted in multiply-adds of the convolutions, and timed:

# %%
def conv_macs(side_in):
    macs, c_in, s = 0, 3, side_in
    for c_out in (16, 16, n_classes):
        s -= 2
        macs += s * s * c_out * c_in * 9
        c_in = c_out
    return macs


macs_windows = len(crops) * conv_macs(window)
macs_fcn = conv_macs(img_side)
print(f"multiply-adds: windows {macs_windows:,}   FCN {macs_fcn:,}   ratio {macs_windows / macs_fcn:.1f}×")
print(f"time:          windows {t_windows * 1e3:.1f} ms   FCN {t_fcn * 1e3:.1f} ms   ratio {t_windows / t_fcn:.1f}×")
assert macs_windows > 3 * macs_fcn

fig, ax = plt.subplots(1, 3, figsize=(10, 3))
ax[0].imshow(image.numpy()[0].transpose(1, 2, 0).clip(-2, 2) / 4 + 0.5)
ax[0].set_title(f"input {img_side}×{img_side}")
ax[1].imshow(per_window.argmax(0), cmap="tab10", vmin=0, vmax=9)
ax[1].set_title(f"{len(crops)} windows, one at a time")
ax[2].imshow(whole.numpy()[0].argmax(0), cmap="tab10", vmin=0, vmax=9)
ax[2].set_title("one fully convolutional pass")
for a in ax:
    a.axis("off")
plt.tight_layout()
plt.show()
