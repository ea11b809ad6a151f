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
# # 2. Gradient checking and property-based tests
#
# A backward that is *almost* right trains *almost* fine, which is the worst kind of bug. This notebook shows the
# two tools the package uses against it:
#
# 1. **gradient checking**: compare `backward` against central finite differences, in float64;
# 2. **property-based tests** (hypothesis): let the computer search for an input that breaks the check, then
#    *shrink* it to the smallest such input.
#
# It needs `hypothesis`, which the `notebooks` extra installs (`pip install 'minidense[notebooks]'`; the install cell
# below asks for it where minidense is missing, as in Colab).

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
from hypothesis import find, given, settings
from hypothesis.errors import NoSuchExample

import minidense as md
import minidense.functional as F
from minidense import testing as mt

SIZE = os.environ.get("MINIDENSE_NB_SIZE", "full")
EXAMPLES = 20 if SIZE == "small" else 200
md.manual_seed(0)

# %% [markdown]
# ## Finite differences
#
# $f'(x) \approx \dfrac{f(x+\varepsilon) - f(x-\varepsilon)}{2\varepsilon}$ has error $O(\varepsilon^2)$, but the
# subtraction of two nearly equal numbers loses digits: rounding error grows like $\text{machine eps} / \varepsilon$.
# The best $\varepsilon$ balances the two. In float32 (about 7 digits) the best achievable error is far worse than
# in float64 (about 16 digits), which is why every gradcheck in minidense runs in float64.

# %%
epsilons = 10.0 ** np.arange(-12, 0, 0.25)
x0 = 1.0
exact = np.cos(x0)
errors = {}
for dtype in (np.float32, np.float64):
    xs = np.asarray(x0, dtype)
    errs = []
    for eps in epsilons:
        e = dtype(eps)
        num = (np.sin(xs + e) - np.sin(xs - e)) / (2 * e)
        errs.append(max(abs(float(num) - exact), 1e-17))
    errors[dtype.__name__] = np.array(errs)
    best = epsilons[np.argmin(errs)]
    print(f"{dtype.__name__}: best eps {best:.1e}, error there {min(errs):.1e}")

plt.figure(figsize=(5, 3.5))
for name, errs in errors.items():
    plt.loglog(epsilons, errs, label=name)
plt.xlabel("eps")
plt.ylabel("|numerical - exact|")
plt.title("central difference of sin at x=1")
plt.legend()
plt.show()
assert errors["float64"].min() < 1e-3 * errors["float32"].min()

# %% [markdown]
# `md.numerical_grad` does this for every element of an array; `md.gradcheck` contracts the output with a random
# upstream gradient and compares the engine's gradient against the numerical one.

# %%
x = md.randn(3, 4, dtype="float64")
analytic_x = md.tensor(x.numpy(), requires_grad=True)
upstream = np.random.default_rng(0).standard_normal((3, 4))
F.softmax(analytic_x, dim=1).backward(upstream)
numeric = md.numerical_grad(lambda a: F.softmax(md.tensor(a), dim=1), x.numpy().copy(), upstream=upstream)
print("max |analytic - numerical| for softmax:", np.abs(analytic_x.grad - numeric).max())
print("gradcheck(softmax):", md.gradcheck(lambda a: F.softmax(a, dim=1), x))

# %% [markdown]
# ## A wrong backward, caught
#
# A sigmoid whose backward forgot one factor: $\sigma'(x) = \sigma(1-\sigma)$ but this one returns $\sigma$.
# It still runs, it still produces gradients of the right shape and sign, and a network would still learn something.
# Gradient checking catches it immediately and says where.

# %%
class WrongSigmoid(md.Function):
    def forward(self, x):
        self.s = 1 / (1 + np.exp(-x))
        return self.s

    def backward(self, grad_output):
        return self.s * grad_output          # BUG: should be self.s * (1 - self.s) * grad_output


try:
    md.gradcheck(WrongSigmoid.apply, md.randn(2, 3, dtype="float64"))
    raise AssertionError("the wrong backward was not caught")
except md.GradcheckError as err:
    print("caught:", err)

# %% [markdown]
# Why the random upstream gradient? Because the output of a softmax always sums to 1, so the gradient of
# `softmax(x).sum()` is zero **whatever backward returns**. A backward returning zeros passes a plain-sum check:

# %%
class ZeroSoftmax(md.Function):
    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, grad_output):
        return np.zeros_like(grad_output)    # BUG: no gradient at all


xs = md.randn(2, 3, dtype="float64")
plain = md.numerical_grad(lambda a: ZeroSoftmax.apply(md.tensor(a)), xs.numpy().copy())
print("numerical gradient of softmax(x).sum():", np.abs(plain).max(), "(zero: a plain sum cannot see the bug)")
print("gradcheck with a random upstream gradient:", md.gradcheck(ZeroSoftmax.apply, xs, raise_exception=False))

# %% [markdown]
# ## A planted bug that only some inputs reveal
#
# The mean of an array: the gradient is `1 / size` everywhere. The buggy version divides by the length of the
# **first** axis, which is the same thing for a 1-D array. A test on vectors passes; a test on matrices with more
# than one column fails. Hand-written tests tend to use the shapes their author thought of; hypothesis does not.

# %%
class BuggyMean(md.Function):
    def forward(self, x):
        self.shape = x.shape
        return np.asarray(x.mean())

    def backward(self, grad_output):
        n = self.shape[0] if self.shape else 1   # BUG: should be the total number of elements
        return np.full(self.shape, grad_output / n)


print("a hand-written test on a vector passes:", md.gradcheck(BuggyMean.apply, md.randn(5, dtype="float64")))

# %% [markdown]
# `@given` runs the property on many drawn inputs (shapes of 1 to 4 dimensions, values in [-2, 2]). When it finds a
# failure it **shrinks** it: it tries simpler shapes and values until no simpler input still fails, and reports
# that one.

# %%
@settings(max_examples=EXAMPLES, derandomize=True, database=None)
@given(mt.arrays(mt.shapes(max_dims=3)))
def test_buggy_mean(x):
    md.gradcheck(BuggyMean.apply, x)


try:
    test_buggy_mean()
    raise AssertionError("hypothesis did not find the planted bug")
except md.GradcheckError as err:
    print("hypothesis found the bug:\n ", err)

# %% [markdown]
# `hypothesis.find` returns the shrunk input itself: the *smallest* array on which the check fails.

# %%
def fails(x):
    return not md.gradcheck(BuggyMean.apply, x, raise_exception=False)


minimal = find(mt.arrays(mt.shapes(max_dims=3)), fails, settings=settings(derandomize=True, database=None))
print("smallest failing input: shape", minimal.shape)
assert minimal.size == 2 and minimal.shape[0] == 1   # one row, two columns: the bug needs exactly this

# %% [markdown]
# The correct mean passes the same search: `find` raises `NoSuchExample` when no input fails.

# %%
try:
    find(mt.arrays(mt.shapes(max_dims=3)), lambda x: not md.gradcheck(lambda t: t.mean(), x, raise_exception=False),
         settings=settings(max_examples=EXAMPLES, derandomize=True, database=None))
    raise AssertionError("the correct mean failed")
except NoSuchExample:
    print(f"no failing input for the real mean in {EXAMPLES} examples")
