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
# # 12. Running on a GPU with CuPy
#
# minidense never imports NumPy in its ops: each op asks `backend.get_array_module(x)` for the array module of its
# inputs, which is NumPy for CPU arrays and CuPy for GPU arrays. So the same code runs on both devices; moving the
# tensors (and a model's parameters) is all it takes.
#
# Install CuPy with `pip install 'minidense[gpu]'` (CUDA 12) or `cupy-cuda13x`. Where there is no usable GPU, every
# cell below says so and skips its work. The test suite runs this notebook on a strict CuPy stand-in too
# (`tests/standin`, NumPy underneath): there every cell runs, but its timings are the CPU's.

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
import time

import numpy as np

import minidense as md
import minidense.functional as F
from minidense import backend
from minidense.models import UNet
from minidense.tasks import get_task
from minidense.train import fit

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
GPU = md.gpu_available()
REASON = backend.gpu_unavailable_reason()
STANDIN = GPU and getattr(backend.xp_for("cuda"), "_standin", False)
print("GPU usable:", GPU, "" if GPU else f"\nskipping the GPU cells: {REASON}")
if STANDIN:
    print("cupy is the test suite's stand-in (NumPy underneath): the numbers below are right, the timings are not")

# %% [markdown]
# ## The array module follows the data

# %%
x_cpu = md.randn(2, 3)
print("CPU tensor:", x_cpu.device, type(x_cpu.data).__module__, "->", backend.get_array_module(x_cpu.data).__name__)
if GPU:
    x_gpu = x_cpu.to("cuda")
    print("GPU tensor:", x_gpu.device, type(x_gpu.data).__module__, "->",
          backend.get_array_module(x_gpu.data).__name__)
    assert np.allclose(x_gpu.numpy(), x_cpu.numpy())
else:
    print(f"skipped (no GPU): {REASON}")

# %% [markdown]
# ## One GPU, and moves that keep the gradient
#
# minidense runs on one GPU, CuPy's current device: `"cuda"`, also called `"cuda:0"` unless the program chose
# another with `cupy.cuda.Device(n).use()` (or `CUDA_VISIBLE_DEVICES`). Naming any other device is an error, never
# a silent run elsewhere. A move between devices is part of the graph, as in PyTorch: the gradient comes back.

# %%
if GPU:
    try:
        md.zeros(2, device="cuda:7")
    except ValueError as err:
        print("ValueError:", err)
    a = md.tensor([1.0, 2.0, 3.0], requires_grad=True)      # a leaf on the CPU
    loss = (a.to("cuda") ** 2).sum()                         # squared on the GPU
    loss.backward()
    print("gradient back on", backend.device_of(a.grad), ":", a.grad)
    assert np.allclose(a.grad, [2.0, 4.0, 6.0])
else:
    print(f"skipped (no GPU): {REASON}")

# %% [markdown]
# ## Same op, same numbers, both devices
#
# A convolution and its gradients on the CPU and on the GPU agree to float32 rounding.

# %%
if GPU:
    x = md.randn(4, 8, 32, 32)
    w = md.randn(16, 8, 3, 3)
    outs = {}
    for dev in ("cpu", "cuda"):
        xd = md.tensor(x.numpy(), device=dev, requires_grad=True)
        wd = md.tensor(w.numpy(), device=dev, requires_grad=True)
        y = F.conv2d(xd, wd, padding=1)
        (y * y).mean().backward()
        outs[dev] = (y.numpy(), backend.to_numpy(xd.grad), backend.to_numpy(wd.grad))
    for name, a, b in zip(("output", "input grad", "weight grad"), outs["cpu"], outs["cuda"]):
        print(f"{name:12s} max |cpu - gpu| = {np.abs(a - b).max():.2e}")
        assert np.allclose(a, b, rtol=1e-3, atol=1e-4)
else:
    print(f"skipped (no GPU): {REASON}")

# %% [markdown]
# ## Speed
#
# A batch of 3×3 convolutions, timed on each device (the GPU is synchronized before the clock stops).

# %%
if GPU:
    import cupy

    side, batch = (64, 8) if SIZE == "small" else (256, 16)
    x = md.randn(batch, 32, side, side)
    w = md.randn(32, 32, 3, 3)
    times = {}
    for dev in ("cpu", "cuda"):
        xd, wd = x.to(dev), w.to(dev)
        F.conv2d(xd, wd, padding=1)                      # warm-up (CuPy compiles its kernels once)
        cupy.cuda.Device().synchronize()
        t0 = time.perf_counter()
        for _ in range(3):
            F.conv2d(xd, wd, padding=1)
        cupy.cuda.Device().synchronize()
        times[dev] = (time.perf_counter() - t0) / 3
    print(f"conv2d {tuple(x.shape)}: cpu {times['cpu'] * 1e3:.1f} ms, gpu {times['cuda'] * 1e3:.1f} ms, "
          f"speed-up {times['cpu'] / times['cuda']:.1f}×" + (" (the stand-in: CPU timings)" if STANDIN else ""))
else:
    print(f"skipped (no GPU): {REASON}")

# %% [markdown]
# ## Training on the GPU
#
# `fit(..., device="cuda")` moves the model and each batch. A data set may hold NumPy or CuPy arrays: batches are
# assembled on the host and moved. Dropout's draws on the GPU come from (seed, epoch, step), so a resumed run
# draws what an uninterrupted one would have.

# %%
if GPU:
    task = get_task("segmentation")
    img, n, epochs = (16, 32, 1) if SIZE == "small" else (64, 256, 5)
    md.manual_seed(0)
    model = UNet(3, task.out_channels, base_channels=8, depth=3)
    history = fit(model, task, task.dataset(n, size=img, seed=1), task.dataset(16, size=img, seed=2),
                  epochs=epochs, device="cuda", progress=False, log=lambda *a: None)
    print("parameters on:", next(model.parameters()).device, "  last epoch:",
          {k: round(v, 3) for k, v in history[-1].items() if isinstance(v, float)})
    assert np.isfinite(history[-1]["train_loss"])
else:
    print(f"skipped (no GPU): {REASON}")

# %% [markdown]
# Without a GPU, asking for one fails at once with the reason, never half-way through a run:

# %%
if not GPU:
    try:
        md.zeros(2, device="cuda")
        raise AssertionError("a GPU tensor was made without a GPU")
    except RuntimeError as err:
        print("RuntimeError:", err)
else:
    print("a GPU is usable here: nothing to show")
