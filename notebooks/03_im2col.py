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
import sys
import time
import tracemalloc

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
# kernel taps (NumPy slices), and im2col + one matrix multiply. All three do the same arithmetic. The Python loops
# hand work to compiled code once per output pixel, a few dozen numbers at a time; the other two hand it over once
# per kernel tap, a whole image's worth at a time (im2col itself is built by the same loop over taps, then one
# matrix multiply does all the arithmetic in BLAS).

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


side, ch = (16, 8) if SIZE == "small" else (48, 16)
xa = md.randn(2, ch, side, side)
wa = md.randn(ch, ch, 3, 3)
x_np, w_np = xa.numpy(), wa.numpy()
ways = {
    "python loops": lambda: conv_loops(x_np, w_np),
    "loop over taps": lambda: conv_taps(x_np, w_np),
    "im2col + matmul": lambda: F.conv2d(xa, wa),
}
ref = F.conv2d(xa, wa).numpy()
assert np.allclose(conv_loops(x_np, w_np), ref, atol=1e-3)
assert np.allclose(conv_taps(x_np, w_np), ref, atol=1e-3)
print(f"3×3 convolution, batch 2, {ch} → {ch} channels, {side}×{side}: output {ref.shape}")

# %% [markdown]
# ### Counted: what each way asks of the interpreter, the arithmetic, the memory
#
# Counts do not depend on what else the machine is doing, so they carry the argument:
#
# - **Python lines executed** while the convolution runs, counted by `sys.settrace` (every line the interpreter
#   steps through: this notebook's loops, minidense's and NumPy's Python code; time spent inside compiled code
#   executes no Python lines). This is the interpreter's share of the work.
# - **multiply-adds**: N·C_out·H_out·W_out·C_in·kH·kW, the same for all three.
# - **peak extra memory**, measured by `tracemalloc` (NumPy reports its arrays to it): what each way allocates
#   beyond its inputs at its fullest; im2col's price is its column matrix.

# %%
def python_lines(fn):
    """Lines of Python the interpreter executes while fn() runs, in every function it calls."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        count += event == "line"
        return tracer

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def peak_extra_bytes(fn):
    """The most memory fn() holds at once beyond what existed before it ran (arrays included)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


macs = ref.size * ch * 9
counted = {name: (python_lines(fn), peak_extra_bytes(fn)) for name, fn in ways.items()}
print(f"{'':16s} {'Python lines':>13s} {'multiply-adds':>14s} {'per line':>9s} {'peak extra memory':>18s}")
for name, (lines, peak) in counted.items():
    print(f"{name:16s} {lines:13,d} {macs:14,d} {macs / lines:9,.0f} {peak / 2**10:15,.0f} KB")
assert counted["im2col + matmul"][1] >= 9 * xa.data.nbytes * ((side - 2) / side) ** 2   # the column matrix

# once per output pixel or once per tap? count again on an image of half the side
half = side // 2
xh = md.randn(2, ch, half, half)
halved = {
    "python loops": lambda: conv_loops(xh.numpy(), w_np),
    "loop over taps": lambda: conv_taps(xh.numpy(), w_np),
    "im2col + matmul": lambda: F.conv2d(xh, wa),
}
pixel_ratio = (side - 2) ** 2 / (half - 2) ** 2
growth = {name: counted[name][0] / python_lines(fn) for name, fn in halved.items()}
print(f"\ndoubling the side ({half}→{side}) multiplies the output pixels by {pixel_ratio:.1f} and the Python lines by:")
for name, g in growth.items():
    print(f"  {name:16s} {g:5.2f}")
assert growth["python loops"] > 0.8 * pixel_ratio          # the interpreter works once per output pixel
assert growth["loop over taps"] < 1.1 and growth["im2col + matmul"] < 1.1   # ... or once per tap, any size

# %% [markdown]
# ### Timed, repeatedly, with the spread shown
#
# What is timed is the **CPU time of this process** (`time.process_time`, all its threads): the time other
# programs run while this one waits is not counted, which a stopwatch (wall-clock time) would count. Even so a
# busy machine makes CPU time noisy (shared caches and memory bandwidth), so each way is timed in several rounds,
# the three ways taking turns in every round, and the plot shows the median with the fastest and slowest round.
# No single timing decides anything here: the counts above are the argument, the times show what they cost.

# %%
def cpu_seconds_per_call(fn, min_seconds=0.05):
    """CPU seconds of one fn() call, averaged over enough calls to last min_seconds of CPU time."""
    calls, t0 = 0, time.process_time()
    while True:
        fn()
        calls += 1
        spent = time.process_time() - t0
        if spent >= min_seconds:
            return spent / calls


rounds = 3 if SIZE == "small" else 5
times = {name: [] for name in ways}
for r in range(rounds):
    order = list(ways)[r % 3:] + list(ways)[:r % 3]        # take turns: no way always runs first or last
    for name in order:
        times[name].append(cpu_seconds_per_call(ways[name]))

print(f"CPU time per convolution over {rounds} rounds (this process only):")
print(f"{'':16s} {'median':>10s} {'fastest':>10s} {'slowest':>10s} {'GFLOP/s':>8s}")
for name, ts in times.items():
    med = np.median(ts)
    print(f"{name:16s} {med * 1e3:8.2f}ms {min(ts) * 1e3:8.2f}ms {max(ts) * 1e3:8.2f}ms {2 * macs / med / 1e9:8.3f}")
per_round = np.array(times["python loops"]) / np.array(times["im2col + matmul"])
print("python loops / im2col + matmul, round by round:", np.round(per_round, 1))

med = [np.median(ts) * 1e3 for ts in times.values()]
lo = [m - min(ts) * 1e3 for m, ts in zip(med, times.values())]
hi = [max(ts) * 1e3 - m for m, ts in zip(med, times.values())]
plt.figure(figsize=(5.5, 2.5))
plt.barh(list(times), med, xerr=[lo, hi], capsize=4)
plt.xscale("log")
plt.xlabel("CPU milliseconds per convolution (log scale)")
plt.title(f"median of {rounds} rounds, bars: fastest to slowest round")
plt.show()

# %% [markdown]
# Read the counts first: the Python loops execute a few Python lines **per output value** (their count grows with
# the image), each line handing only C_in·kH·kW multiply-adds to compiled code; the other two execute the same few
# hundred lines whatever the image size. That interpreter work is what makes the loops slow, on any machine, and
# the times agree. The loop over taps and im2col pay the interpreter about equally; im2col spends memory (its
# column matrix, 9 values per input value) to do all the arithmetic in one BLAS call, which is usually the faster
# of the two, though that order is a matter of BLAS against `einsum` and can change with the machine and its load:
# see the spread.
