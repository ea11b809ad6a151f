# The starter notebook of the unet kit, in jupytext's percent format (see docs/assignments.md).

# %%
import os
import sys

# one BLAS thread, as the grader runs (set before NumPy loads): the training cells then compute what the
# grader computes, and small matrices run fastest so
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, os.path.abspath("."))  # the kit's minidense, not an installed one

import matplotlib.pyplot as plt
import numpy as np

import minidense as md

np.set_printoptions(precision=4, suppress=True)
md.manual_seed(0)
# every op in its reference form, as in the kit (which ships without the library's fast paths): the course's full
# library, which recorded the Expected outputs below, then computes the kit's numbers too (a training run's last
# digits, and after 20 epochs its labels, depend on the form)
md.fast_paths(False)

# %% [markdown]
# ## The network, level by level
#
# `md.nn.summary` runs one forward pass and prints each layer's output shape, its parameters and the receptive field
# so far. Three levels: 16×16, 8×8, 4×4 (the bottleneck); the channels double at each level.

# %%
net = md.models.UNet(3, 5, base_channels=4, depth=3, batch_norm=False)
rows = md.nn.summary(net, (3, 16, 16))

# %% [markdown]
# ## The state dict the grader loads into your network

# %%
for key, value in md.models.UNet(3, 5, base_channels=4, depth=2, batch_norm=False).state_dict().items():
    print(f'{key:22s} {tuple(value.shape)}')

# %% [markdown]
# ## Skips on and off: the same parameters, different outputs
#
# With the same seed both networks start from the same weights; only the copies differ (zeros without skips).

# %%
md.manual_seed(0)
with_skips = md.models.UNet(3, 5, base_channels=4, depth=3, batch_norm=False)
md.manual_seed(0)
without = md.models.UNet(3, 5, base_channels=4, depth=3, batch_norm=False, skips=False)
same = all(np.array_equal(a, b) for a, b in zip(with_skips.state_dict().values(), without.state_dict().values()))
x = md.randn(2, 3, 16, 8)
y1, y2 = with_skips(x), without(x)
print('same parameters:', same, ' output shape:', y1.shape)
print('the outputs differ:', bool(np.abs(y1.data - y2.data).max() > 0))

# %% [markdown]
# ## Where boundary accuracy looks
#
# `md.metrics.boundary_mask(labels, width=1)` marks the pixels within one pixel of a class change: the ablation's
# boundary accuracy is the accuracy on those.

# %%
from minidense.data import scenes

scene = scenes.SceneDataset(1, size=32, seed=10)
labels = scene.arrays['labels'][0]
mask = md.metrics.boundary_mask(labels, width=1)
print('classes:', sorted(set(np.unique(labels).tolist()) - {255}),
      ' boundary pixels:', int(mask.sum()), 'of', mask.size)
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
axes[0].imshow(scene.arrays['image'][0].transpose(1, 2, 0))
axes[1].imshow(np.ma.masked_equal(labels, 255), vmin=0, vmax=4, interpolation='nearest')
axes[2].imshow(mask, cmap='gray', interpolation='nearest')
for ax, title in zip(axes, ['image', 'labels (ignored band blank)', 'boundary mask, width 1']):
    ax.set_title(title)
    ax.axis('off')

# %% [markdown]
# ## The ablation, as the grader runs it (two runs: 30 s or more)
#
# The pinned run with and without skips on the public seed; the pictures show the predictions on held-out scenes and,
# in the last rows, where each is wrong at the boundaries.

# %% expected=recorded
from minidense.data import scenes
from minidense.optim import Adam
from minidense.train import fit

T = {'in_channels': 3, 'base_channels': 8, 'depth': 3, 'up': 'transpose', 'batch_norm': False, 'optimizer': 'Adam',
     'lr': 0.01, 'schedule': 'cosine', 'augment': False, 'epochs': 20, 'batch_size': 4, 'size': 16, 'n_train': 256}
seed = 0
val = scenes.SceneDataset(32, size=T['size'], seed=seed + 10_000)
preds = {}
for skips in (True, False):
    md.manual_seed(seed)
    net = md.models.UNet(T['in_channels'], 5, base_channels=T['base_channels'], depth=T['depth'],
                         up=T['up'], batch_norm=T['batch_norm'], skips=skips)
    fit(net, 'segmentation', scenes.SceneDataset(T['n_train'], size=T['size'], seed=seed), None,
        epochs=T['epochs'], batch_size=T['batch_size'], optimizer=Adam(net.parameters(), lr=T['lr']),
        lr=T['lr'], schedule=T['schedule'], augment=T['augment'], seed=seed, progress=False,
        log=lambda *a, **k: None)
    net.eval()
    with md.no_grad():
        preds[skips] = net(md.tensor(val.arrays['image'])).data.argmax(axis=1)
labels = val.arrays['labels']
for skips, pred in preds.items():
    scores = md.metrics.segmentation_scores(pred, labels, 5)
    print(f"skips={skips}: mean IoU {scores['miou']:.3f}, boundary accuracy "
          f"{md.metrics.boundary_accuracy(pred, labels, width=1):.3f}")
fig, axes = plt.subplots(5, 6, figsize=(9, 7.5))
edge = md.metrics.boundary_mask(labels, width=1) & (labels != 255)
for i in range(6):
    rows = [val.arrays['image'][i].transpose(1, 2, 0), np.ma.masked_equal(labels[i], 255),
            preds[True][i], preds[False][i],
            edge[i] & (preds[False][i] != labels[i])]
    for r, (img, title) in enumerate(zip(rows, ['image', 'labels', 'skips', 'no skips',
                                             'no-skip errors at edges'])):
        axes[r, i].imshow(img, interpolation='nearest', vmin=0 if 0 < r < 4 else None,
                          vmax=4 if 0 < r < 4 else None)
        axes[r, i].axis('off')
        if i == 0:
            axes[r, i].set_title(title, fontsize=8, loc='left')
# Expected output, recorded with the course's reference code:
# skips=True: mean IoU 0.702, boundary accuracy 0.899
# skips=False: mean IoU 0.355, boundary accuracy 0.772
