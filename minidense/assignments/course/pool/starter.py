# The starter notebook of the pool kit, in jupytext's percent format (see docs/assignments.md).

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
# ## 1. Switches on a tiny image
#
# Max pooling 2×2, stride 2. The switches are flat indices `row·W + col` in the 4×4 input (int64). The top-left window
# holds 3 twice and the top-right 2 three times: ties go to the FIRST maximum, read row by row. Red rings: the
# switches; blue: the windows.

# %%
def draw_switches(ax, image, switches, k, s, title):
    """The input's values, each window's outline, and a red ring around each switch."""
    h, w = image.shape
    ax.imshow(image, cmap='Greys', alpha=0.35)
    for (r, c), v in np.ndenumerate(image):
        ax.text(c, r, f'{v:g}', ha='center', va='center', fontsize=11)
    for r in range(0, h - k + 1, s):
        for c in range(0, w - k + 1, s):
            ax.add_patch(plt.Rectangle((c - 0.45, r - 0.45), k - 0.1, k - 0.1, fill=False, color='tab:blue'))
    for flat in np.asarray(switches).ravel():
        r, c = divmod(int(flat), w)
        ax.add_patch(plt.Circle((c, r), 0.4, fill=False, color='red', lw=2))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)

x = md.tensor(np.array([[[[1., 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], [0, 1, 5, 0]]]]))
y, idx = F.max_pool2d(x, 2, return_indices=True)
print('pooled:\n', y.data[0, 0])
print('switches:\n', idx.data[0, 0], idx.data.dtype)
fig, ax = plt.subplots(figsize=(3.5, 3.5))
draw_switches(ax, x.data[0, 0], idx.data[0, 0], 2, 2, 'max pooling 2×2: switches')

# %% [markdown]
# ## 2. The gradient goes to the switches only
#
# Backward of the sum of the pooled values: every window sends 1 to its one switch, not to every entry equal to its
# maximum. With stride 1 the 2×2 windows overlap: a switch that several windows share gets the SUM of their gradients
# (the 4 in the middle).

# %%
x = md.tensor(np.array([[[[1., 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], [0, 1, 5, 0]]]]), requires_grad=True)
F.max_pool2d(x, 2).sum().backward()
print('stride 2:\n', x.grad[0, 0])
peak = np.array([[[[0., 1, 0, 1], [1, 9, 0, 0], [0, 0, 1, 0], [2, 0, 0, 3.]]]])
peak = md.tensor(peak, requires_grad=True)
y, idx = F.max_pool2d(peak, 2, stride=1, return_indices=True)
y.sum().backward()
print('stride 1 (overlapping windows):\n', peak.grad[0, 0])
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
draw_switches(axes[0], peak.data[0, 0], idx.data[0, 0], 2, 1, '2×2, stride 1: switches')
axes[1].imshow(np.asarray(peak.grad)[0, 0], cmap='Reds')
axes[1].set_title('gradient: windows per switch')

# %% [markdown]
# ## 3. Three unpoolings
#
# The lecture's unpoolings of the same pooled 2×2 values: max-unpooling puts each value back at its switch (yours),
# bed of nails in the window's top-left corner, nearest neighbour in the whole window.

# %%
x = md.tensor(np.array([[[[1., 3, 2, 2], [3, 0, 2, 1], [0, 0, 5, 5], [0, 1, 5, 0]]]]))
y, idx = F.max_pool2d(x, 2, return_indices=True)
pictures = {'max_unpool2d (switches)': F.max_unpool2d(y, idx, 2),
            'bed of nails': F.bed_of_nails(y, 2),
            'nearest': F.interpolate(y, scale_factor=2, mode='nearest')}
print(pictures['max_unpool2d (switches)'].data[0, 0])
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, (name, t) in zip(axes, pictures.items()):
    ax.imshow(t.data[0, 0], cmap='viridis', vmin=0, vmax=5)
    ax.set_title(name)
    ax.set_xticks([])
    ax.set_yticks([])

# %% [markdown]
# ## 4. Transposed convolution: the kernel's footprint
#
# Slide "Transpose Conv.: filter: tiles used to make image". A 1-hot input stamps the kernel (here 1..9) once into the
# output; two 1-hots stamp it twice, stride 2 apart, and where the stamps overlap they ADD (the middle column).

# %%
w = md.tensor(np.arange(1.0, 10.0).reshape(1, 1, 3, 3))    # (C_in, C_out, kH, kW)
one = np.zeros((1, 1, 3, 3))
one[0, 0, 1, 1] = 1
two = np.zeros((1, 1, 3, 3))
two[0, 0, 1, 0] = two[0, 0, 1, 1] = 1
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
for ax, x, title in zip(axes, (one, two), ('one 1-hot', 'two 1-hots, overlapping')):
    out = F.conv_transpose2d(md.tensor(x), w, stride=2).data[0, 0]
    print(title, out.shape)
    print(out)
    ax.imshow(out, cmap='viridis')
    ax.set_title(f'{title}: stride 2, 3×3')

# %% [markdown]
# ## 5. Checkerboard
#
# The lecture's "3x3 Transpose Convolution, Stride 2, Pad 1" of a CONSTANT image with a kernel of ones: the output is
# not constant. Each output pixel sums the stamps that cover it, 1, 2 or 4 of them (question 3). A 4×4 kernel with
# stride 2 covers every pixel away from the border equally often (4 stamps); only the outermost rows and columns,
# where padding 1 crops the stamps, get fewer.

# %%
x = md.ones(1, 1, 5, 5, dtype=np.float64)
k3 = F.conv_transpose2d(x, md.ones(1, 1, 3, 3, dtype=np.float64), stride=2, padding=1).data[0, 0]
k4 = F.conv_transpose2d(x, md.ones(1, 1, 4, 4, dtype=np.float64), stride=2, padding=1).data[0, 0]
print(k3)
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
for ax, out, title in zip(axes, (k3, k4), ('3×3, stride 2, pad 1', '4×4, stride 2, pad 1')):
    ax.imshow(out, cmap='magma', vmin=0, vmax=4)
    ax.set_title(title)

# %% [markdown]
# ## 6. The transpose is the adjoint
#
# Slide "Transpose convolution is convolution transposed": with the same weight, `<conv2d(x, w), y> = <x,
# conv_transpose2d(y, w)>`. The two numbers agree to about 1e-12.

# %%
rng = np.random.default_rng(0)
x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3))
y = rng.standard_normal((2, 4, 4, 3))
conv = F.conv2d(md.tensor(x), md.tensor(w), stride=2, padding=1).data            # (2, 4, 4, 3)
back = F.conv_transpose2d(md.tensor(y), md.tensor(w), stride=2, padding=1, output_padding=(0, 1)).data
print(conv.shape, back.shape)
print(f'<conv2d(x, w), y>           = {np.sum(conv * y):.8f}')
print(f'<x, conv_transpose2d(y, w)> = {np.sum(x * back):.8f}')

# %% [markdown]
# ## 7. The transposed convolution's gradients
#
# Shapes first (the weight gradient is `(C_in, C_out, kH, kW)`, like the weight), then `md.gradcheck` on input, weight
# and bias with stride 2, padding 1, output_padding 1.

# %%
rng = np.random.default_rng(1)
x = md.tensor(rng.standard_normal((2, 3, 3, 4)), requires_grad=True)
w = md.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
b = md.tensor(rng.standard_normal(2), requires_grad=True)
out = F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)
out.sum().backward()
print('out', out.shape, ' x.grad', x.grad.shape, ' w.grad', w.grad.shape, ' b.grad', b.grad.shape)
print(md.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                   (x, w, b)))
