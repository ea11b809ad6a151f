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
# # 1. Autograd from scratch
#
# Every network in this course is trained by gradient descent, and every gradient is computed by the same
# small engine (`minidense/tensor.py`). This notebook builds a tiny graph, differentiates it **by hand** with the
# chain rule, and then lets the engine do it, so that you can see that the engine does nothing more than what you
# just did on paper.
#
# The size parameter `MINIDENSE_NB_SIZE` (`small` or `full`) is read by every notebook; this one is fast either way.

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

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
md.manual_seed(0)

# %% [markdown]
# ## A graph
#
# $L = \big(\sigma(w x + b) - t\big)^2$: one input $x$, one weight $w$, one bias $b$, a target $t$.
# Forward, one node at a time, keeping every intermediate value (backward will need them):

# %%
x, w, b, t = 1.5, -0.8, 0.3, 1.0

z = w * x + b                 # node 1: a linear function
s = 1 / (1 + np.exp(-z))      # node 2: the sigmoid
d = s - t                     # node 3: the error
L = d ** 2                    # node 4: squared error
print(f"z = {z:.4f}   s = {s:.4f}   d = {d:.4f}   L = {L:.4f}")

# %% [markdown]
# ## Backward by hand
#
# Walk the graph from the end. Each node multiplies the gradient that arrives from above (the *upstream* gradient)
# by its own local derivative:
#
# * $\partial L / \partial d = 2d$
# * $\partial L / \partial s = \partial L / \partial d \cdot 1$
# * $\partial L / \partial z = \partial L / \partial s \cdot \sigma(z)(1-\sigma(z))$
# * $\partial L / \partial w = \partial L / \partial z \cdot x$
# * $\partial L / \partial b = \partial L / \partial z$

# %%
dL_dd = 2 * d
dL_ds = dL_dd * 1.0
dL_dz = dL_ds * s * (1 - s)
dL_dw = dL_dz * x
dL_db = dL_dz * 1.0
dL_dx = dL_dz * w
print(f"by hand:   dL/dw = {dL_dw:.6f}   dL/db = {dL_db:.6f}   dL/dx = {dL_dx:.6f}")

# %% [markdown]
# ## Backward by the engine
#
# The same expression written with tensors. Each operation records the `Function` that produced its output
# (`y._ctx`); `backward()` visits the recorded graph in reverse topological order and calls each Function's
# `backward` with the upstream gradient, exactly as above.

# %%
tx = md.tensor(x, requires_grad=True, dtype="float64")
tw = md.tensor(w, requires_grad=True, dtype="float64")
tb = md.tensor(b, requires_grad=True, dtype="float64")
tL = ((tw * tx + tb).sigmoid() - t) ** 2
tL.backward()
print(f"by engine: dL/dw = {tw.grad.item():.6f}   dL/db = {tb.grad.item():.6f}   dL/dx = {tx.grad.item():.6f}")
assert np.allclose([tw.grad.item(), tb.grad.item(), tx.grad.item()], [dL_dw, dL_db, dL_dx])

# %% [markdown]
# The graph the engine recorded, walked from the loss back to the leaves:

# %%
def show_graph(t, depth=0):
    name = type(t._ctx).__name__ if t._ctx is not None else ("leaf" + (" (requires_grad)" if t.requires_grad else ""))
    print("    " * depth + f"{name}  shape={t.shape}")
    if t._ctx is not None:
        for p in t._ctx.parents:
            show_graph(p, depth + 1)


tL2 = ((tw * tx + tb).sigmoid() - t) ** 2
show_graph(tL2)

# %% [markdown]
# ## Writing a new op: forward and backward side by side
#
# A `Function` gets raw arrays in `forward`, keeps what backward needs on `self`, and returns one gradient per input
# in `backward`. Here is a cube op, written the way every op of the package is written:

# %%
class Cube(md.Function):
    def forward(self, x):
        self.x = x
        return x ** 3

    def backward(self, grad_output):
        return 3 * self.x ** 2 * grad_output


a = md.tensor([1.0, -2.0, 0.5], requires_grad=True, dtype="float64")
Cube.apply(a).sum().backward()
print("d/da sum(a^3) =", a.grad, " expected 3a^2 =", 3 * a.numpy() ** 2)
assert np.allclose(a.grad, 3 * a.numpy() ** 2)

# %% [markdown]
# ## Broadcasting is undone in one place
#
# When a bias of shape `(3,)` is added to a batch of shape `(4, 3)`, the bias is used 4 times, so its gradient is the
# sum of 4 upstream gradients. The engine does this sum (`tensor.unbroadcast`), so no op has to.

# %%
X = md.randn(4, 3, dtype="float64")
bias = md.zeros(3, dtype="float64", requires_grad=True)
(X + bias).sum().backward()
print("bias.grad =", bias.grad)
assert np.allclose(bias.grad, 4.0)

# %% [markdown]
# ## The engine trains something
#
# A logistic regression on two clouds of points, trained with the gradient the engine computes. The decision
# boundary and the falling loss are drawn below.

# %%
steps = 60 if SIZE == "small" else 300
gen = np.random.default_rng(0)
pts = np.concatenate([gen.normal([-1, -1], 0.7, (50, 2)), gen.normal([1, 1], 0.7, (50, 2))])
lab = np.concatenate([np.zeros(50), np.ones(50)])
P, Y = md.tensor(pts), md.tensor(lab)
W = md.zeros(2, requires_grad=True)
B = md.zeros(1, requires_grad=True)
losses = []
for step in range(steps):
    p = (P @ W + B).sigmoid()
    loss = -(Y * (p + 1e-7).log() + (1 - Y) * (1 - p + 1e-7).log()).mean()
    W.grad = B.grad = None
    loss.backward()
    W.data -= 0.5 * W.grad
    B.data -= 0.5 * B.grad
    losses.append(loss.item())
acc = (((P @ W + B).numpy() > 0) == (lab > 0.5)).mean()
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, training accuracy {acc:.2%}")
assert losses[-1] < losses[0]

fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
ax[0].plot(losses)
ax[0].set(xlabel="step", ylabel="loss", title="loss")
ax[1].scatter(*pts.T, c=lab, cmap="coolwarm", s=12)
xs = np.linspace(-3, 3, 10)
w0, w1 = W.numpy()
ax[1].plot(xs, -(w0 * xs + B.item()) / w1, "k--", label="decision boundary")
ax[1].set(xlim=(-3, 3), ylim=(-3, 3), title="trained classifier")
ax[1].legend()
plt.tight_layout()
plt.show()
