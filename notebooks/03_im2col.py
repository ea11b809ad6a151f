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
# # 3. Convolution as im2col
#
# A convolution slides a filter over the image and takes a dot product at every position. Written as loops that is
# slow in Python; written as **one matrix multiply** it is as fast as the BLAS library under NumPy. The trick is
# to copy every patch the filter will look at into a column of a matrix: *im2col* (image to columns).
#
# Layout (fixed in `docs/design.md`): `F.im2col(x, k)` with `x: (N, C, H, W)` returns
# `(C·kH·kW, N·H_out·W_out)`, rows ordered `(c, kh, kw)` like `weight.reshape(C_out, -1)`, columns `(n, h_out, w_out)`.

# %%
import os
import time

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
# ## The column matrix of a 4×4 image
#
# Each pixel is numbered by its position, so you can read off which pixels land in which column.

# %%
x = md.arange(16, dtype="float32").reshape(1, 1, 4, 4)
cols = F.im2col(x, kernel_size=3)
print("input shape", x.shape, "-> columns", cols.shape, "= (C·kH·kW, N·H_out·W_out) = (1·3·3, 1·2·2)")
print(x.numpy()[0, 0])
print(cols.numpy())

fig, ax = plt.subplots(1, 2, figsize=(7, 3.5), gridspec_kw=dict(width_ratios=[1, 1]))
ax[0].imshow(x.numpy()[0, 0], cmap="viridis")
for (i, j), v in np.ndenumerate(x.numpy()[0, 0]):
    ax[0].text(j, i, int(v), ha="center", va="center", color="w")
ax[0].set_title("image (4×4)")
ax[1].imshow(cols.numpy(), cmap="viridis", aspect="auto")
for (i, j), v in np.ndenumerate(cols.numpy()):
    ax[1].text(j, i, int(v), ha="center", va="center", color="w")
ax[1].set(title="im2col, 3×3 kernel: one column per output pixel", xlabel="output pixel (n, h, w)",
          ylabel="kernel tap (c, kh, kw)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Convolution = one matrix multiply
#
# With the weight flattened to `(C_out, C_in·kH·kW)` the whole convolution, for every output pixel of every image
# of the batch, is one product `W @ cols`.

# %%
N, C_in, C_out, H = 2, 3, 4, 8
xb = md.randn(N, C_in, H, H)
w = md.randn(C_out, C_in, 3, 3)
cols = F.im2col(xb, 3, padding=1)
by_hand = (w.reshape(C_out, -1) @ cols).reshape(C_out, N, H, H).transpose(1, 0, 2, 3)
by_conv = F.conv2d(xb, w, padding=1)
print("x", xb.shape, " w", w.shape, " cols", cols.shape, " W", w.reshape(C_out, -1).shape, " out", by_conv.shape)
print("max |W @ cols - conv2d| =", np.abs(by_hand.numpy() - by_conv.numpy()).max())
assert np.allclose(by_hand.numpy(), by_conv.numpy(), atol=1e-5)

# %% [markdown]
# `col2im` is the way back: it puts every column entry back on its pixel and **adds** overlapping entries. It is the
# exact adjoint of im2col, $\langle \text{im2col}(x), c\rangle = \langle x, \text{col2im}(c)\rangle$, which is why
# convolution's backward (and transposed convolution's forward) is built from it.

# %%
c = md.randn(*cols.shape)
lhs = (cols.numpy() * c.numpy()).sum()
rhs = (xb.numpy() * F.col2im(c, xb.shape, 3, padding=1).numpy()).sum()
print(f"<im2col(x), c> = {lhs:.5f}   <x, col2im(c)> = {rhs:.5f}")
assert np.isclose(lhs, rhs, rtol=1e-4)
counts = F.col2im(md.ones(*F.im2col(md.ones(1, 1, 6, 6), 3).shape), (1, 1, 6, 6), 3).numpy()[0, 0]
print("col2im(ones): how many 3×3 windows cover each pixel of a 6×6 image\n", counts.astype(int))

# %% [markdown]
# ## Why one multiply is fast
#
# The same convolution three ways: four Python loops over output pixels (a dot product each), a loop over the 9
# kernel taps (NumPy slices), and im2col + one matrix multiply. The Python loops pay the interpreter once per
# output pixel; the other two pay it once per kernel tap and hand the rest to compiled code (im2col itself is
# built by the same loop over taps, then one matrix multiply does all the arithmetic in BLAS).

# %%
def conv_loops(x, w):
    n, c, h, wd = x.shape
    co, _, k, _ = w.shape
    out = np.zeros((n, co, h - k + 1, wd - k + 1), x.dtype)
    for b in range(n):
        for o in range(co):
            for i in range(h - k + 1):
                for j in range(wd - k + 1):
                    out[b, o, i, j] = (x[b, :, i:i + k, j:j + k] * w[o]).sum()
    return out


def conv_taps(x, w):
    n, c, h, wd = x.shape
    co, _, k, _ = w.shape
    out = np.zeros((n, co, h - k + 1, wd - k + 1), x.dtype)
    for i in range(k):
        for j in range(k):
            out += np.einsum("nchw,oc->nohw", x[:, :, i:i + h - k + 1, j:j + wd - k + 1], w[:, :, i, j])
    return out


def best_time(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


side, ch = (16, 8) if SIZE == "small" else (48, 16)
xa = md.randn(2, ch, side, side)
wa = md.randn(ch, ch, 3, 3)
timings = {
    "python loops": best_time(lambda: conv_loops(xa.numpy(), wa.numpy()), repeats=1),
    "loop over taps": best_time(lambda: conv_taps(xa.numpy(), wa.numpy())),
    "im2col + matmul": best_time(lambda: F.conv2d(xa, wa)),
}
ref = F.conv2d(xa, wa).numpy()
assert np.allclose(conv_loops(xa.numpy()[:1], wa.numpy()), ref[:1], atol=1e-3)
assert np.allclose(conv_taps(xa.numpy(), wa.numpy()), ref, atol=1e-3)
flops = 2 * ref.size * ch * 9
for name, t in timings.items():
    print(f"{name:16s} {t * 1e3:9.2f} ms   {flops / t / 1e9:7.3f} GFLOP/s")

plt.figure(figsize=(5, 2.5))
plt.barh(list(timings), [t * 1e3 for t in timings.values()])
plt.xscale("log")
plt.xlabel("milliseconds (log scale)")
plt.title(f"3×3 conv, batch 2, {ch} channels, {side}×{side}")
plt.show()

# %% [markdown]
# ## What it costs in memory
#
# The column matrix holds every input value once **per kernel tap that sees it**: about kH·kW = 9 times the input
# for a 3×3 stride-1 convolution. For the slide's layer (200 channels, 400×400, float32) the input alone is 122 MB,
# and the column matrix of one image is over a gigabyte; that is why the package builds it a chunk of images at a
# time for big batches (its fast path, `minidense/ops/conv_fast.py`; the budget is
# `md.fast_paths(True, column_block_bytes=...)`).

# %%
def column_bytes(c, h, w, k, stride=1, padding=None, itemsize=4):
    p = k // 2 if padding is None else padding
    ho, wo = (h + 2 * p - k) // stride + 1, (w + 2 * p - k) // stride + 1
    return c * k * k * ho * wo * itemsize


print(f"{'layer':40s} {'input':>10s} {'columns':>10s} {'ratio':>6s}")
for c, h, k, s in [(3, 32, 3, 1), (64, 128, 3, 1), (200, 400, 3, 1), (200, 400, 3, 2), (64, 128, 7, 1)]:
    inp = c * h * h * 4
    col = column_bytes(c, h, h, k, s)
    layer = f"C={c}, {h}×{h}, {k}×{k} kernel, stride {s}"
    print(f"{layer:40s} {inp / 2**20:8.1f}MB {col / 2**20:8.1f}MB {col / inp:6.2f}")

# measured, not just computed: the array im2col returns
xm = md.randn(1, 16, 32, 32)
cm = F.im2col(xm, 3, padding=1)
print(f"\nmeasured: input {xm.data.nbytes} bytes, columns {cm.data.nbytes} bytes, "
      f"ratio {cm.data.nbytes / xm.data.nbytes}")
assert cm.data.nbytes == 9 * xm.data.nbytes
