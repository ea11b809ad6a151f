# The starter notebook of the engine kit, in jupytext's percent format (see docs/assignments.md).

# %%
import os
import sys

sys.path.insert(0, os.path.abspath("."))  # the kit's minidense, not an installed one

import matplotlib.pyplot as plt
import numpy as np

import minidense as md

np.set_printoptions(precision=4, suppress=True)
md.manual_seed(0)

# %% [markdown]
# ## The order backward visits
#
# A diamond: `x` feeds `a` and `b`, both feed `c`, and `a` is used again by `y`. Any order in which every arrow points
# right is correct; yours may differ from the one shown. (This cell needs only `topological_order`.)

# %%
from minidense.tensor import topological_order

x = md.tensor([0.5, -1.0], requires_grad=True, dtype="float64")
a = x.tanh()
b = x.sigmoid()
c = a - b
y = c ** 2 + a          # a is used twice: by c and by y
names = {id(x): "x", id(a): "a = tanh(x)", id(b): "b = sigmoid(x)", id(c): "c = a - b", id(y): "y = c**2 + a"}
order = topological_order(y)
print([names.get(id(t), "c**2") for t in order])

# every arrow goes from a tensor to one of its inputs: in a correct order each arrow points to the right
pos = {id(t): k for k, t in enumerate(order)}
fig, ax = plt.subplots(figsize=(8, 2.4))
for t in order:
    ax.text(pos[id(t)], 0, names.get(id(t), "c**2"), ha="center", va="center", fontsize=9,
            bbox=dict(boxstyle="round", fc="lightyellow"))
    for p in (t._ctx.parents if t._ctx is not None else ()):
        if id(p) in pos:
            ax.annotate("", xy=(pos[id(p)], 0.08), xytext=(pos[id(t)], 0.08),
                        arrowprops=dict(arrowstyle="->", connectionstyle="arc3,rad=-0.5",
                                        color="green" if pos[id(p)] > pos[id(t)] else "red"))
ax.set_xlim(-0.7, len(order) - 0.3)
ax.set_ylim(-0.3, 1.2)
ax.axis("off")
ax.set_title("backward visits left to right; every arrow (user -> input) must point right")

# %% [markdown]
# ## A chain 10,000 ops deep
#
# The ops here (`+`, `tanh`) have their backward given, and the shapes are equal: this cell needs only your
# `topological_order`. With recursion it stops with a `RecursionError`.

# %%
x = md.tensor([0.3], requires_grad=True, dtype="float64")
h = x
for _ in range(5_000):        # 10,000 ops in a row: tanh(h + x), x used 5,000 times
    h = (h + x).tanh()
h.backward(np.ones(1))        # the upstream gradient of h itself: no reduction's backward needed
print("h =", h.item(), " dh/dx =", x.grad)

# %% [markdown]
# ## unbroadcast on shapes
#
# The gradient `0..23` of shape `(2, 3, 4)` summed back to operands of several shapes.

# %%
from minidense.tensor import unbroadcast

g = np.arange(24.0).reshape(2, 3, 4)       # a gradient of the broadcast shape (2, 3, 4)
for shape in [(2, 3, 4), (3, 4), (3, 1), (1, 4), (4,), ()]:
    out = unbroadcast(g, shape)
    print(f"{str(shape):10} -> shape {out.shape}, values {out.ravel()[:4]}{' ...' if out.size > 4 else ''}")

# %% [markdown]
# ## A tensor used three times: the gradients add
#
# Needs `Mul.backward`, `Exp.backward` and `Sum.backward` (with `_expand`) too.

# %%
x = md.tensor([1.5, -0.5], requires_grad=True, dtype="float64")
y = x * x + x.exp()          # x is used three times
y.sum().backward()
print("engine:", x.grad)
print("by hand (2x + exp x):", 2 * x.numpy() + np.exp(x.numpy()))

# %% [markdown]
# ## A tiny graph with every piece
#
# A matrix product, a broadcast bias, ReLU, a product, a division, exp and two reductions.

# %%
x = md.tensor([[1.0, -2.0, 3.0]], requires_grad=True, dtype="float64")    # (1, 3)
w = md.tensor([[0.5], [-1.0], [2.0]], requires_grad=True, dtype="float64")   # (3, 1)
b = md.tensor([0.25], requires_grad=True, dtype="float64")                  # (1,): broadcast
y = (x @ w + b).relu()                                                      # (1, 1)
loss = (y * y).sum() + (x / 2).exp().mean()
loss.backward()
print("loss", loss.item())
print("dloss/dx", x.grad)
print("dloss/dw", w.grad.ravel())
print("dloss/db", b.grad)

# %% [markdown]
# ## Check each backward against finite differences
#
# `md.gradcheck` compares your gradients with central differences in float64 and names the worst element when they
# differ.

# %%
checks = {
    "mul (broadcast)": (lambda a, b: a * b, (md.randn(3, 4, dtype=np.float64), md.randn(4, dtype=np.float64))),
    "div": (lambda a, b: a / (b * b + 1), (md.randn(3, 1, dtype=np.float64), md.randn(1, 4, dtype=np.float64))),
    "matmul (batched)": (lambda a, b: a @ b, (md.randn(2, 3, 4, dtype=np.float64), md.randn(4, 5, dtype=np.float64))),
    "matmul (vector)": (lambda a, b: a @ b, (md.randn(4, dtype=np.float64), md.randn(4, 2, dtype=np.float64))),
    "sum, mean": (lambda a: a.sum(axis=1, keepdims=True) * a.mean(axis=0), (md.randn(2, 3, 4, dtype=np.float64),)),
    "exp, log": (lambda a: (a.exp() + 1).log(), (md.randn(3, 3, dtype=np.float64),)),
}
for name, (fn, inputs) in checks.items():
    print(f"{name:18}", md.gradcheck(fn, inputs))
