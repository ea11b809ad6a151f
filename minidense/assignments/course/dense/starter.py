# The starter notebook of the dense kit, in jupytext's percent format (see docs/assignments.md).

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
# ## 1. Masked L1 on a tiny depth map
#
# A depth of 0 means *no measurement*: the mask leaves those pixels out of the mean and out of the gradient.

# %%
depth = md.tensor(np.array([[[[2., 4, 0], [3, 0, 5]]]]))          # (1, 1, 2, 3); 0 = a hole
pred = md.tensor(np.array([[[[2.5, 3, 1], [3, 2, 4]]]]), requires_grad=True)
valid = depth.data > 0
loss = F.l1_loss(pred, depth, mask=valid)
loss.backward()
print('loss', loss.item(), 'over', int(valid.sum()), 'valid pixels')
print('grad', pred.grad)
print('every pixel masked:', F.l1_loss(pred, depth, mask=np.zeros_like(valid)).item())

# %% [markdown]
# ## 2. A depth map, a prediction and the error
#
# A blurred copy of a scene's depth, 10 % too far, stands in for a network's prediction. Truth and prediction share
# one colour scale.

# %%
scene = md.data.scenes.generate(1, 32, seed=3)
depth = scene['depth'].astype(np.float64)                    # (1, 1, 32, 32), all > 0
padded = np.pad(depth, ((0, 0), (0, 0), (1, 1), (1, 1)), mode='edge')
blurred = sum(padded[:, :, i:i + 32, j:j + 32] for i in range(3) for j in range(3)) / 9   # 3x3 mean
pred = 1.1 * blurred
fig, axes = plt.subplots(1, 4, figsize=(10, 2.4))
axes[0].imshow(scene['image'][0].transpose(1, 2, 0))
for ax, d in zip(axes[1:3], (depth, pred)):
    shown = ax.imshow(d[0, 0], cmap='viridis', vmin=depth.min(), vmax=pred.max())
fig.colorbar(shown, ax=list(axes[1:3]))
fig.colorbar(axes[3].imshow(np.abs(pred - depth)[0, 0], cmap='inferno'), ax=axes[3])
for ax, title in zip(axes, ('input', 'depth', 'prediction', '|prediction - depth|')):
    ax.set_title(title)
    ax.axis('off')
t, p = md.tensor(depth), md.tensor(pred)
print(f'masked L1          {F.l1_loss(p, t, mask=depth > 0).item():.6f}')
print(f'scale-inv., lam=1  {F.scale_invariant_log_loss(p, t, mask=depth > 0, lam=1.0).item():.6f}')
print(f"abs rel            {md.metrics.depth_metrics(pred, depth)['abs_rel']:.6f}")

# %% [markdown]
# ## 3. The scale-invariant loss does not see a global scale
#
# Scale the prediction: with `lam = 1` the loss stays put, with `lam = 0` (plain log MSE) it does not.

# %%
for s in (0.5, 1.0, 2.0, 10.0):
    p = md.tensor(s * blurred)
    row = [F.scale_invariant_log_loss(p, t, lam=lam).item() for lam in (1.0, 0.5, 0.0)]
    print(f'scale {s:4}:  lam=1 {row[0]:.6f}   lam=0.5 {row[1]:.6f}   lam=0 {row[2]:.6f}')

# %% [markdown]
# ## 4. Check your gradients
#
# `md.gradcheck` compares backward with central differences in float64; the mask and a non-positive prediction
# (floored at eps) included.

# %%
rng = np.random.default_rng(0)
target = md.tensor(rng.uniform(1, 5, (2, 1, 3, 3)))
p = md.tensor(rng.uniform(1, 5, (2, 1, 3, 3)), requires_grad=True)
mask = rng.random((2, 3, 3)) > 0.3
print(md.gradcheck(lambda p: F.l1_loss(p, target, mask=mask), (p,)))
print(md.gradcheck(lambda p: F.scale_invariant_log_loss(p, target, mask=mask), (p,)))
n = md.tensor(rng.normal(size=(2, 3, 2, 2)), requires_grad=True)
unit = md.tensor(rng.normal(size=(2, 3, 2, 2)))
print(md.gradcheck(lambda n: F.cosine_normal_loss(n, unit, mask=mask[:, :2, :2]), (n,)))

# %% [markdown]
# ## 5. Normals as colours
#
# A normal `n` is drawn as the colour `(n + 1) / 2`: x red, y green, z blue (facing the camera). The prediction here
# is the true normal plus noise, not unit length; the error map is the angle between the two, 0 to 90 degrees.

# %%
normals = scene['normals'].astype(np.float64)                # (1, 3, 32, 32), unit
noisy = 2.5 * (normals + 0.2 * np.random.default_rng(1).normal(size=normals.shape))
pictures = (md.viz.normals_to_rgb(normals[0]), md.viz.normals_to_rgb(noisy[0]),
            md.tasks.Normals().error_picture(normals[0], noisy[0]))
fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.4))
for ax, picture, title in zip(axes, pictures, ('normals', 'prediction', 'angle error')):
    ax.imshow(picture)
    ax.set_title(title)
    ax.axis('off')
print(f'1 - cos (mean)     {F.cosine_normal_loss(md.tensor(noisy), md.tensor(normals)).item():.6f}')
print(f"mean angle error   {md.metrics.normal_metrics(noisy, normals)['mean']:.4f} degrees")

# %% [markdown]
# ## 6. 1 − cos is the slide's ‖n − n̂‖², halved, for unit vectors
#
# On random unit vectors the two agree; scale the prediction and 1 − cos stays, the squared distance does not.

# %%
rng = np.random.default_rng(2)
n = rng.normal(size=(4, 3, 1, 1))
n /= np.linalg.norm(n, axis=1, keepdims=True)
m = rng.normal(size=(4, 3, 1, 1))
m /= np.linalg.norm(m, axis=1, keepdims=True)
cos_loss = F.cosine_normal_loss(md.tensor(m), md.tensor(n), reduction='none').data.ravel()
half_sq = 0.5 * ((n - m) ** 2).sum(axis=1).ravel()
for a, b in zip(cos_loss, half_sq):
    print(f'1 - cos = {a:.6f}    |n - n_hat|^2 / 2 = {b:.6f}')
print('pred scaled by 3: 1 - cos =',
      F.cosine_normal_loss(md.tensor(3 * m), md.tensor(n), reduction='none').data.ravel())

# %% [markdown]
# ## 7. The gradient of normalisation is perpendicular to the output
#
# `y = x / ‖x‖` does not change when `x` moves along itself, so `x.grad` has no component along `y`.

# %%
x = md.tensor(np.random.default_rng(3).normal(size=(2, 3, 1, 1)), requires_grad=True)
y = F.normalize(x, dim=1)
y.backward(md.tensor(np.random.default_rng(4).normal(size=(2, 3, 1, 1))))
print('<x.grad, y> per vector:', (np.asarray(x.grad) * y.data).sum(axis=1).ravel())
