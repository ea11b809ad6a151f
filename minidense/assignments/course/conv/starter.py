# The starter notebook of the conv kit, in jupytext's percent format (see docs/assignments.md).

# %%
import os
import sys

sys.path.insert(0, os.path.abspath("."))  # the kit's minidense, not an installed one

import matplotlib.pyplot as plt
import numpy as np

import minidense as md
import minidense.functional as F

np.set_printoptions(precision=4, suppress=True)
md.manual_seed(0)

# %% [markdown]
# ## 1. im2col on a tiny image
#
# A 1×1×3×3 image of 0..8 and a 2×2 kernel: 4 rows (the kernel taps `(c, kh, kw)`), 4 columns (the output pixels `(n,
# h_out, w_out)`). Column `q` is window `q` read row by row.

# %%
x = md.tensor(np.arange(9.0).reshape(1, 1, 3, 3))
print(x.data[0, 0])
cols = F.im2col(x, 2)
print('im2col:', cols.shape, '= (C·kH·kW, N·H_out·W_out)')
print(cols.data)

# %% [markdown]
# ## 2. The column matrix as a picture
#
# A batch of two images with two channels, each pixel holding its own flat index in `x`, so every entry says where it
# came from. Rows: channel, then tap; columns: sample, then output pixel. Read one column top to bottom: one window of
# one sample, both channels.

# %%
x = md.tensor(np.arange(36.0).reshape(2, 2, 3, 3))   # (N, C, H, W); value = flat index in x
cols = F.im2col(x, 2).data                              # (2·2·2, 2·2·2)
rows = [f'c{c} tap({i},{j})' for c in range(2) for i in range(2) for j in range(2)]
outs = [f'n{n} out({r},{q})' for n in range(2) for r in range(2) for q in range(2)]
fig, ax = plt.subplots(figsize=(7, 5))
ax.imshow(cols, cmap='viridis')
for (a, b), v in np.ndenumerate(cols):
    ax.text(b, a, int(v), ha='center', va='center', color='w', fontsize=9)
ax.set_yticks(range(len(rows)), rows)
ax.set_xticks(range(len(outs)), outs, rotation=60)
ax.set_ylabel('rows (c, kh, kw)')
ax.set_xlabel('columns (n, h_out, w_out)')
ax.set_title('im2col: a column per window, a row per kernel tap')
print(cols[:, 4])   # sample 1's first window: x[1, :, 0:2, 0:2]

# %% [markdown]
# ## 3. Stride, padding, dilation
#
# The stride moves the window, the padding adds zeros around the image, the dilation spaces the taps. Watch the
# shapes, and the zeros that padding puts in the columns.

# %%
x = md.tensor(np.arange(1.0, 26.0).reshape(1, 1, 5, 5))
for kw in (dict(), dict(stride=2), dict(padding=1), dict(dilation=2), dict(stride=2, padding=1)):
    print(f'{str(kw):32s}', F.im2col(x, 3, **kw).shape)
print(F.im2col(x, 3, stride=2, padding=1).data)

# %% [markdown]
# ## 4. col2im: overlapping patches add
#
# `col2im` of a column matrix of ones counts, for each pixel, the windows that read it (3×3 kernel, stride 1, padding
# 1 on a 5×5 image): 9 inside, 6 on the edges, 4 in the corners.

# %%
ones = md.tensor(np.ones((9, 25)))                       # (C·kH·kW, N·H_out·W_out) for a 1×1×5×5 image
counts = F.col2im(ones, (1, 1, 5, 5), 3, stride=1, padding=1).data[0, 0]
print(counts)
fig, ax = plt.subplots(figsize=(3.5, 3))
im = ax.imshow(counts, cmap='magma', vmin=0)
fig.colorbar(im)
ax.set_title('col2im(ones): windows per pixel')

# %% [markdown]
# ## 5. col2im is im2col's adjoint
#
# For any `x` and any column matrix `c` of the right shape, `<im2col(x), c> = <x, col2im(c)>` (the dot product of all
# entries). The two numbers agree to about 1e-12.

# %%
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 6, 5))
geo = dict(kernel_size=(3, 2), stride=2, padding=1, dilation=(1, 2))
cols = F.im2col(md.tensor(x), **geo).data
c = rng.standard_normal(cols.shape)
back = F.col2im(md.tensor(c), x.shape, **geo).data
print(f'<im2col(x), c> = {np.sum(cols * c):.8f}')
print(f'<x, col2im(c)> = {np.sum(x * back):.8f}')

# %% [markdown]
# ## 6. conv2d against a direct loop
#
# The lecture's convolution, one dot product per output pixel, against your one matrix product; then one sample alone
# against the same sample in the batch (a batch axis in the wrong place fails here).

# %%
rng = np.random.default_rng(1)
x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
s, p = 2, 1
out = F.conv2d(md.tensor(x), md.tensor(w), md.tensor(b), stride=s, padding=p).data
x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
loop = np.zeros_like(out)
for n in range(out.shape[0]):
    for o in range(out.shape[1]):
        for r in range(out.shape[2]):
            for q in range(out.shape[3]):
                loop[n, o, r, q] = np.sum(x_padded[n, :, r*s:r*s + 3, q*s:q*s + 3] * w[o]) + b[o]
print('out:', out.shape, ' equal to the loop:', np.allclose(out, loop))
alone = F.conv2d(md.tensor(x[1:]), md.tensor(w), md.tensor(b), stride=s, padding=p).data
print('sample 1 alone equals sample 1 of the batch:', np.allclose(alone[0], out[1]))

# %% [markdown]
# ## 7. Check your gradients
#
# `md.gradcheck` compares your backward (input, weight and bias gradients) with central differences in float64. It
# prints `True`, or raises naming the input and the worst element.

# %%
rng = np.random.default_rng(2)
x = md.tensor(rng.standard_normal((2, 2, 5, 6)))
w = md.tensor(rng.standard_normal((3, 2, 3, 2)))
b = md.tensor(rng.standard_normal(3))
print(md.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2)), (x, w, b)))

# %% [markdown]
# ## 8. What one multiply costs in memory
#
# The column matrix copies every pixel once per kernel tap that reads it (question 2; for the slide's 400×400
# layer there, take the same geometry as here: a 3×3 kernel, stride 1, padding 1, so H_out·W_out = 400·400).

# %%
x = md.randn(1, 64, 96, 96)                               # float32
cols = F.im2col(x, 3, padding=1)
print(f'x: {x.data.nbytes / 2**20:.2f} MiB, im2col(x): {cols.data.nbytes / 2**20:.2f} MiB, '
      f'{cols.data.nbytes / x.data.nbytes:.0f}x')
