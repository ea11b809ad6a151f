"""Assignment 6: depth and normals: the masked L1 loss, the scale-invariant log loss, the cosine normal loss."""
import numpy as np

from ..cases import course_weights, normal
from ..specs import Assignment, Cell, Mistake, Part

#: the training part, every hyper-parameter pinned (the harness passes each one to the model and to fit; the
#: output bias starts at the training targets' mean, set by the harness itself). The grader draws the training
#: seed and the held-out scenes from (term seed, student id). Calibration (docs/assignments.md, "### 6. dense"):
#: the reference's worst of each run over training seeds 0-39 and 1339938661 and term seeds 1-10 is REFERENCE_WORST;
#: each target sits MARGIN above it (errors: lower is better). CONSTANT: what one constant prediction (the training
#: targets' mean) scores on held-out scenes.
REFERENCE_WORST = {"l1": 0.032, "silog": 0.052, "cosine": 8.1}
MARGIN = {"l1": 0.018, "silog": 0.018, "cosine": 1.9}
CONSTANT = {"abs_rel": 0.12, "angle": 18.0}
TRAINING = {"model": "UNet", "base_channels": 8, "depth": 2, "up": "transpose", "batch_norm": True,
            "optimizer": "Adam", "lr": 1e-2, "betas": (0.9, 0.999), "adam_eps": 1e-8, "weight_decay": 0.0,
            "schedule": "constant", "augment": False, "epochs": 10, "batch_size": 8,
            "size": 16, "n_train": 256, "n_val": 128, "holes": 0.1, "seed": 0,
            **{f"target_{run}": round(REFERENCE_WORST[run] + MARGIN[run], 3) for run in REFERENCE_WORST}}

DENSE_HANDOUT = """
The lecture's other pixel-labelling tasks (slides "Other Tasks – Depth Prediction" and "Other Tasks –
Surface Normals"): a network outputs a depth per pixel, `(N, 1, H, W)`, or a surface normal per pixel,
`(N, 3, H, W)`, and is trained by regression at every pixel. You write the three losses that train them
and their gradients, then train a small U-Net for each on the built-in scenes. The U-Net, the training loop
and the metrics are given (released code of the earlier assignments).

Everything here is NumPy arrays inside `Function`s (`forward` and `backward` side by side, as in the
earlier assignments): `forward` receives arrays, returns ONE array and saves on `self` what `backward` needs;
`backward(grad)` receives the upstream gradient (an array of the output's shape: 0-d for a scalar loss) and
returns one gradient per array input, in order, as a tuple when there are two. Never change an input array
in place. `get_array_module(x)` gives the array module (`xp`, NumPy here). Given in `minidense/ops/loss.py`:
`_reduce(loss, reduction, count)` and `_reduce_backward(grad, reduction, count)` (the reductions of
assignment 4: `"mean"` divides by `count`, and when `count` is 0 the mean is 0 with a zero gradient).

## 1. Masked L1 (`masked_l1`)

`F.l1_loss(input, target, mask=None, reduction="mean")` is `|input − target|` per element. `mask` (boolean,
True = valid) marks the pixels that have a measurement: a real depth sensor leaves holes (the scenes here are
given holes in training: 10 % of the training depths are 0 = no measurement). The public function checks
the arguments and calls `L1Loss.apply(input, target, mask=m, reduction=reduction)`, where `m` is None or a
boolean array of input's shape, or of input's shape with the channel axis of size 1 (a mask `(N, H, W)` for
`(N, C, H, W)` arrives as `(N, 1, H, W)`: it broadcasts against the input).

- `_valid_count(d, mask)` → how many elements count: `d.size` without a mask, else the number of True
  entries times `d.size // mask.size` (a mask without the channel axis counts each valid pixel once per
  channel). A number (0 when nothing is valid).
- `_PointwiseLoss.forward(self, pred, target, *, mask, reduction, beta=1.0)`: `d = pred − target`, set to
  0 at invalid elements with `xp.where(mask, d, 0)` (**not** `d * mask`: a masked target may be NaN or
  inf, and 0·NaN and 0·inf are NaN); save `self.d`, `self.beta`, `self.reduction`,
  `self.count = _valid_count(d, mask)`; return `_reduce(self.value(d), reduction, self.count)`. Every
  masked element then has `d = 0`, where the value and the slope are 0: it adds nothing and gets a gradient
  of exactly 0. (`MSELoss` and `SmoothL1Loss` share this class: they only define `value` and `slope`.)
- `_PointwiseLoss.backward(self, grad)` → the pair `(gradient of pred, gradient of target)` = `(g, −g)`,
  `g = _reduce_backward(grad, self.reduction, self.count) * self.slope(self.d)`.
- `L1Loss.value(self, d)` → `|d|`; `L1Loss.slope(self, d)` → `sign(d)` (0 at `d = 0`, as PyTorch).
- `"mean"` divides by the number of **valid** elements, `"sum"` sums, `"none"` returns the per-element loss
  (zeros at invalid elements). Every pixel masked: the mean is 0 with a zero gradient (PyTorch gives NaN).

## 2. The scale-invariant log loss (`scale_invariant`)

One image cannot tell a small room near the camera from a large one far away: the global scale of depth is
ambiguous. Eigen, Puhrsch and Fergus (2014) measure depth errors in log space, `g = log p − log t` per
pixel, and take out part of their mean:

    D = mean(g²) − lam · mean(g)²        (per image, means over its valid pixels)

`lam = 1` ignores a global scale of the prediction entirely (`p → s·p` adds `log s` to every `g`, which
the variance does not see); `lam = 0` is the plain mean squared log error; the default `lam = 0.5` is
between. Mind the **minus**.

`F.scale_invariant_log_loss(pred, target, mask=None, lam=0.5, *, eps=1e-6)` checks its arguments and calls
`ScaleInvariantLogLoss.apply(pred, target, mask=m, lam=lam, eps=eps)`; `pred`, `target`: `(N, ...)`
(depth: `(N, 1, H, W)`); `m`: None or boolean, broadcastable to pred's shape (as above).

- `ScaleInvariantLogLoss.forward(self, pred, target, *, mask, lam, eps)` → a 0-d array: per image `i`,
  `g = log max(pred, eps) − log max(target, eps)` at its valid pixels (floor both at `eps` before the log:
  a depth of 0 or below must never reach `log`), `n_i` its number of valid pixels,
  `D_i = Σ g² / n_i − lam · (Σ g / n_i)²`; the loss is the **mean of `D_i` over the images that have at
  least one valid pixel** (an image without one is left out), and 0 when no image has one.
- `ScaleInvariantLogLoss.backward(self, grad)` → `(gradient of pred, gradient of target)`, each of pred's
  shape. The loss is `(1/M) Σ_i D_i` with `M` the number of images that count, and
  `dD_i/dg_j = 2 (g_j − lam · mean_i(g)) / n_i` at a valid pixel `j` of image `i` (the lam term reaches
  every pixel of the image). So at that pixel the gradient of pred is
  `grad / M · 2 (g_j − lam · mean_i(g)) / n_i · 1 / max(pred_j, eps)` where `pred_j > eps`, and **0** where
  the floor is in use (`max(pred, eps)` is flat there); the gradient of target is the same with
  `−1 / max(target_j, eps)`. Both are 0 at invalid pixels, and all 0 when `M = 0`.

## 3. The cosine normal loss (`cosine_normal`)

The slide minimises `‖n − n̂‖` with `‖n‖ = 1`. A network's output is not unit length, so it is normalised
first, and the loss is `1 − cos`: for unit vectors `‖n − n̂‖² = 2 (1 − cos)`, the slide's loss up to a
factor, and blind to the length the network happens to output. Three pieces:

- `Normalize.forward(self, x, *, axis, eps)` (`minidense/ops/norm.py`, behind `F.normalize(x, dim=1)`) →
  ONE array `x / max(‖x‖, eps)`, the norm along `axis` (keep the axis so it broadcasts). A vector shorter
  than `eps` is divided by `eps` (a zero vector stays zero), as PyTorch.
- `Normalize.backward(self, grad)` → ONE array: with `y = x / ‖x‖`, `(grad − y · ⟨grad, y⟩) / ‖x‖`
  (`⟨grad, y⟩` summed along `axis`): the gradient loses its component along `y`, because moving `x` along
  itself does not change `y`. Where the floor is in use (`‖x‖ ≤ eps`) there is no such term: `grad / eps`.
- `MaskedReduce.forward(self, loss, *, mask, reduction)` (`ops/loss.py`): `loss` a per-pixel array `(N, ...)`,
  `mask` None or boolean of the same shape → masked entries set to 0 (with `where`), `self.count =
  _valid_count(...)`, `_reduce(...)` as in part 1. `MaskedReduce.backward(self, grad)` → ONE array of the
  loss's shape: `_reduce_backward(...)` spread over it (`xp.broadcast_to`, then a **copy**: return a writable
  array, never a broadcast view), 0 at masked entries.
- `_one_minus_cos(pred, target, mask, reduction)` (`ops/loss.py`): `pred`, `target` **Tensors** `(N, 3, ...)`,
  `mask` None or a boolean array `(N, ...)` → `MaskedReduce.apply(1 − cos, mask=mask, reduction=reduction)`,
  with `cos` the sum over axis 1 of `normalize(pred, dim=1) * normalize(target, dim=1)`. Build it from the
  Tensor operations imported at the top of `loss.py` (`normalize`, `mul`, `sub`, `_sum`): autograd gives its
  gradient. `F.cosine_normal_loss(pred, target, mask=None, reduction="mean")` checks the arguments and calls it.

## 4. Training (`training`)

The grader trains `UNet(3, C, base_channels={base_channels}, depth={depth}, up="{up}",
batch_norm={batch_norm}, skips=True)` three times with your losses, each started from the course's initial
weights (loaded by state-dict name) and trained on {n_train} scenes of {size}×{size}
pixels with `minidense.train.fit`: {epochs} epochs, batch {batch_size}, `Adam(lr={lr}, betas={betas},
eps={adam_eps}, weight_decay={weight_decay})`, schedule
"{schedule}", no augmentation, the model's output bias started at the training targets' mean (see
`grader/harness.py`, `train_dense`):

| run | the task's loss (your code) | graded on {n_val} held-out scenes | target | a constant scores |
|---|---|---|---|---|
| `depth-l1` | `F.l1_loss(out, depth, mask=depth > 0)` | abs rel | <= {target_l1} | {c_abs_rel} |
| `depth-silog` | `F.scale_invariant_log_loss(out, depth, mask=depth>0)` | abs rel | <= {target_silog} | {c_abs_rel} |
| `normals-cosine` | `F.cosine_normal_loss(out, normals)` | mean angle (degrees) | <= {target_cosine} | {c_angle} |

abs rel is `mean(|p − t| / t)` over the held-out pixels (`p` floored at 0.001); the angle error is between the
normalised output and the true normal. "A constant" is the training targets' mean predicted everywhere.
The training depths have holes (a random {holes_pct} % of pixels set to 0, "no measurement"), so the mask
matters. The public cases use seed {seed}; graded runs draw the training seed and the held-out scenes anew.
The reference code's worst over 51 seeds (41 training seeds, 10 term seeds) was abs rel {w_l1} (L1) and
{w_silog} (scale-invariant: with lam = 0.5 the loss pins the global scale only in part, and abs rel sees the
scale) and {w_cosine} degrees; each target sits {m_l1}, {m_silog} and {m_cosine} degrees above. A run takes a
few seconds. This part builds on the three others: a wrong loss or gradient there can also cost the training
runs; with them right, the runs measure that your losses' gradients flow into the network and that it learns.

## Hints

- Masked mean: divide by the number of **valid** pixels (`_valid_count`), not by all of them: with 10 %
  holes, dividing by all would quietly shrink the loss, and with every pixel masked it must stay 0, not 0/0.
- Per image, then over images: the scale-invariant means are over each image's own valid pixels.
- `log` of a non-positive depth is `-inf` or NaN: floor at `eps` first (`xp.maximum`).
- Check a gradient yourself: `md.gradcheck(lambda p: F.scale_invariant_log_loss(p, t), (p,))` in float64
  (the starter notebook does it).
""".format(**TRAINING, holes_pct=int(100 * TRAINING["holes"]), c_abs_rel=CONSTANT["abs_rel"],
           c_angle=CONSTANT["angle"], **{f"w_{k}": v for k, v in REFERENCE_WORST.items()},
           **{f"m_{k}": v for k, v in MARGIN.items()})

HINT_VALID = ("the mean divides by the number of VALID elements (`_valid_count`), not by every pixel; an invalid "
              "element adds 0 and gets a gradient of exactly 0 (slide 'Other Tasks – Depth Prediction': the "
              "regression is over the pixels that have a label)")
HINT_ALL_MASKED = ("with every element masked the mean is 0 with a zero gradient: `_reduce` and `_reduce_backward` "
                   "(given) handle count 0; dividing yourself gives 0/0 = NaN")
HINT_NAN = ("mask with `xp.where(mask, d, 0)`, not `d * mask`: a masked target may be NaN or inf, and 0·NaN and "
            "0·inf are NaN")
HINT_NO_CHANNEL = "a mask without the channel axis counts each valid pixel once per channel (`d.size // mask.size`)"
HINT_SILOG = ("D = mean(g²) − lam·mean(g)² per image with a MINUS (Eigen et al. 2014); its gradient at pixel j is "
              "2(g_j − lam·mean(g))/n, then ×1/p through the log")
HINT_EMPTY_IMAGE = "an image without a valid pixel is left out: average D over the images that have one"
HINT_FLOOR = ("log of a non-positive depth: floor pred and target at eps (xp.maximum) before the log; where the floor "
              "is in use the gradient is 0")
HINT_NORMALISE = ("normalise the prediction (and the target) along the channel axis before the dot product: the "
                  "slide's normals have ‖n‖ = 1, a network's output does not, and 1 − cos must not change when pred "
                  "is scaled")
HINT_PROJECTION = ("the gradient of y = x/‖x‖ is (grad − y·⟨grad, y⟩)/‖x‖: without the projection term it would "
                   "also push on the length, which y does not depend on")
HINT_ZERO_VECTOR = "a vector shorter than eps is divided by eps (a zero vector stays 0, its gradient is grad / eps)"


# ---------------------------------------------------------------- case helpers
def _depth_shape(rng, channels=1):
    return [int(rng.integers(1, 4)), channels, int(rng.integers(2, 6)), int(rng.integers(2, 6))]


def _depths(rng, shape, spread=0.3):
    """Positive target depths and a prediction off by a per-image scale and per-pixel noise (log space)."""
    target = rng.uniform(1.0, 10.0, shape)
    scale = np.exp(rng.normal(0, 0.3, (shape[0],) + (1,) * (len(shape) - 1)))
    return target * scale * np.exp(rng.normal(0, spread, shape)), target


def _mask(rng, shape, fraction=0.5, channel=False):
    """A random boolean mask (N, H, W), or (N, 1, H, W) with ``channel``, with at least one valid pixel."""
    m = rng.random([shape[0], *shape[2:]]) >= fraction
    m.flat[int(rng.integers(0, m.size))] = True
    return m[:, None] if channel else m


def _shape_id(shape):
    return "x".join(map(str, shape))


def _upstream(rng, reduction, shape):
    return normal(rng, shape) if reduction == "none" else np.array(rng.uniform(0.5, 2.0))


# ---------------------------------------------------------------- part 1: masked L1
def _l1_case(rng, name, reduction, channels=1, mask="half", hint=None):
    shape = _depth_shape(rng, channels)
    pred, target = _depths(rng, shape)
    inputs = {"pred": pred, "target": target}
    if mask == "half":
        inputs["mask"] = _mask(rng, shape, channel=bool(rng.integers(0, 2)) and channels == 1)
    elif mask == "none-valid":
        inputs["mask"] = np.zeros([shape[0], *shape[2:]], dtype=bool)
    elif mask in ("nan", "inf"):   # no measurement there: the target holds NaN (or inf)
        inputs["mask"] = _mask(rng, shape)
        target[~np.broadcast_to(inputs["mask"][:, None], shape)] = np.nan if mask == "nan" else np.inf
    inputs["grad"] = _upstream(rng, reduction, shape)
    case = {"id": f"{name}-{reduction}-{_shape_id(shape)}", "fn": "l1_loss", "params": {"reduction": reduction},
            "inputs": inputs}
    if hint:
        case["hint"] = hint
    return case


def _masked_l1(rng, public):
    cases = [_l1_case(rng, "masked-half", "mean", hint=HINT_VALID),
             _l1_case(rng, "all-masked", "mean", mask="none-valid", hint=HINT_ALL_MASKED),
             _l1_case(rng, "inf-under-mask" if public else "nan-under-mask", "mean", mask="inf" if public else "nan",
                      hint=HINT_NAN)]
    if public:   # (the public cases are stored, and a stored NaN never equals itself: the public one holds inf)
        return cases
    return cases + [_l1_case(rng, "no-mask", "mean", mask=None),
                    _l1_case(rng, "masked-half", "sum", hint=HINT_VALID),
                    _l1_case(rng, "masked-half", "none", hint=HINT_VALID),
                    _l1_case(rng, "mask-without-channel-3ch", "mean", channels=3, hint=HINT_NO_CHANNEL)]


# ---------------------------------------------------------------- part 2: the scale-invariant log loss
def _silog_case(rng, name, lam, mask="half", nonpositive=False, hint=HINT_SILOG):
    shape = _depth_shape(rng)
    if mask in ("empty-image", "none-valid"):
        shape[0] = max(shape[0], 2)
    pred, target = _depths(rng, shape)
    inputs = {"pred": pred, "target": target}
    if nonpositive:   # a network's raw output can be 0 or negative: the floor at eps must catch it
        pred.flat[rng.choice(pred.size, max(1, pred.size // 4), replace=False)] = rng.uniform(-2.0, 0.0)
        pred.flat[0] = 0.0
    if mask != "no":
        m = _mask(rng, shape, channel=bool(rng.integers(0, 2)))
        if mask == "empty-image":
            m[0] = False
        elif mask == "none-valid":
            m[...] = False
        inputs["mask"] = m
    inputs["grad"] = np.array(rng.uniform(0.5, 2.0))
    return {"id": f"{name}-lam{lam:g}-{_shape_id(shape)}", "fn": "scale_invariant_log_loss", "params": {"lam": lam},
            "inputs": inputs, "hint": hint}


def _scale_invariant(rng, public):
    cases = [_silog_case(rng, "masked-half", 0.5), _silog_case(rng, "no-mask", 1.0)]
    if public:
        return cases + [_silog_case(rng, "nonpositive-pred", 0.5, nonpositive=True, hint=HINT_FLOOR)]
    return cases + [_silog_case(rng, "no-mask", 0.0),
                    _silog_case(rng, "masked-half", float(rng.choice([0.25, 0.75, 1.0]))),
                    _silog_case(rng, "nonpositive-pred", 0.5, nonpositive=True, hint=HINT_FLOOR),
                    _silog_case(rng, "image-all-masked", 0.5, mask="empty-image", hint=HINT_EMPTY_IMAGE),
                    _silog_case(rng, "all-masked", 0.5, mask="none-valid", hint=HINT_EMPTY_IMAGE)]


# ---------------------------------------------------------------- part 3: the cosine normal loss
def _normals_shape(rng):
    return [int(rng.integers(1, 3)), 3, int(rng.integers(1, 5)), int(rng.integers(1, 5))]


def _cosine_case(rng, name, reduction, mask=None, hint=HINT_NORMALISE):
    shape = _normals_shape(rng)
    pred = normal(rng, shape) * rng.uniform(0.2, 5.0, (shape[0], 1, *shape[2:]))   # not unit length
    target = normal(rng, shape)
    target /= np.linalg.norm(target, axis=1, keepdims=True)
    inputs = {"pred": pred, "target": target}
    if mask == "half":
        inputs["mask"] = _mask(rng, shape, channel=bool(rng.integers(0, 2)))
    elif mask == "none-valid":
        inputs["mask"] = np.zeros([shape[0], *shape[2:]], dtype=bool)
    inputs["grad"] = _upstream(rng, reduction, [shape[0], *shape[2:]])
    return {"id": f"{name}-{reduction}-{_shape_id(shape)}", "fn": "cosine_normal_loss",
            "params": {"reduction": reduction}, "inputs": inputs, "hint": hint}


def _normalize_case(rng, name, zero=False, hint=HINT_PROJECTION):
    shape = _normals_shape(rng)
    spatial = [a for a in (0, 2, 3) if shape[a] > 1]   # an axis of length 1 would only give ±1 and a zero gradient
    dim = 1 if name == "dim1" or zero or not spatial else int(rng.choice(spatial))
    x = normal(rng, shape, float(rng.uniform(0.2, 5.0)))
    if zero:
        x[0, :, 0, 0] = 0.0
    return {"id": f"{name}-{_shape_id(shape)}", "fn": "normalize", "params": {"dim": dim},
            "inputs": {"x": x, "grad": normal(rng, shape)}, "hint": hint}


def _cosine_normal(rng, public):
    cases = [_normalize_case(rng, "dim1"), _cosine_case(rng, "unnormalised-pred", "mean"),
             _cosine_case(rng, "masked-half", "mean", mask="half", hint=HINT_VALID)]
    if public:
        return cases
    return cases + [_normalize_case(rng, "any-dim"),
                    _normalize_case(rng, "zero-vector", zero=True, hint=HINT_ZERO_VECTOR),
                    _cosine_case(rng, "unnormalised-pred", "sum"),
                    _cosine_case(rng, "unnormalised-pred", "none", hint=HINT_PROJECTION),
                    _cosine_case(rng, "all-masked", "mean", mask="none-valid", hint=HINT_ALL_MASKED)]


# ---------------------------------------------------------------- part 4: training
RUNS = (("depth", "l1"), ("depth", "silog"), ("normals", "cosine"))


def _training(rng, public):
    """Three cases, one per run: each trains with the student's code and predicts held-out scenes the parent made."""
    from ...data import scenes  # the parent draws the held-out scenes with the library's generator
    cfg = dict(TRAINING)
    seed = cfg["seed"] if public else int(rng.integers(1, 2 ** 31))
    val = scenes.generate(cfg["n_val"], cfg["size"], seed + 10_000)
    params = {k: v for k, v in cfg.items() if not k.startswith("target_")}
    params["seed"] = seed
    cases = []
    for task, loss in RUNS:
        weights = course_weights(lambda: _trained_unet(task), seed)   # loaded by name (grading/harness.py)
        cases.append({"id": f"{task}-{loss}-seed{seed}", "fn": "train_dense",
                      "check": "depth_abs_rel" if task == "depth" else "normals_angle",
                      "params": {**params, "task": task, "loss": loss, "target": cfg[f"target_{loss}"],
                                 "constant": CONSTANT["abs_rel" if task == "depth" else "angle"]},
                      "inputs": {"images": val["image"], **weights}, "expected": {task: val[task]}})
    return cases


def _trained_unet(task):
    """The course's reference network of a training run: its state dict is the run's initial weights."""
    from ... import models
    return getattr(models, TRAINING["model"])(3, 1 if task == "depth" else 3, base_channels=TRAINING["base_channels"],
                                              depth=TRAINING["depth"], up=TRAINING["up"],
                                              batch_norm=TRAINING["batch_norm"], skips=True)


SPEC = Assignment(
    name="dense",
    title="Assignment 6: depth and normals: masked L1, the scale-invariant log loss, the cosine normal loss",
    stubs={"ops/loss.py": ["_valid_count", "_PointwiseLoss.forward", "_PointwiseLoss.backward", "L1Loss.value",
                           "L1Loss.slope", "ScaleInvariantLogLoss.forward", "ScaleInvariantLogLoss.backward",
                           "MaskedReduce.forward", "MaskedReduce.backward", "_one_minus_cos"],
           "ops/norm.py": ["Normalize.forward", "Normalize.backward"]},
    reveal={},
    parts=(Part("masked_l1", 15, "F.l1_loss with a mask: mean over valid pixels, all masked, NaN under the mask, "
                                 "gradients"),
           Part("scale_invariant", 25, "F.scale_invariant_log_loss: lam, masks, images without valid pixels, the "
                                       "floor at eps, gradients"),
           Part("cosine_normal", 20, "F.normalize and F.cosine_normal_loss: unnormalised predictions, masks, "
                                     "gradients"),
           Part("training", 40, f"U-Nets trained with your losses: depth abs rel <= {TRAINING['target_l1']} (L1) and "
                                f"<= {TRAINING['target_silog']} (scale-invariant), normals mean angle <= "
                                f"{TRAINING['target_cosine']} degrees",
                builds_on=("masked_l1", "scale_invariant", "cosine_normal"))),
    handout=DENSE_HANDOUT,
    generators={"masked_l1": _masked_l1, "scale_invariant": _scale_invariant, "cosine_normal": _cosine_normal,
                "training": _training},
    target=("ops/loss.py", "ScaleInvariantLogLoss.forward"),
    mistakes=(
        Mistake("the masked mean divided by every pixel instead of the valid ones",
                (("ops/loss.py", "        self.d, self.beta, self.reduction = d, beta, reduction\n"
                                 "        self.count = _valid_count(d, mask)\n",
                  "        self.d, self.beta, self.reduction = d, beta, reduction\n"
                  "        self.count = d.size\n"),),
                frozenset({"masked_l1"})),
        Mistake("the scale-invariant loss with + instead of − before the lam term",
                (("ops/loss.py", "per_image = (g * g).sum(axis=axes) / self.n - lam * self.mean_g ** 2",
                  "per_image = (g * g).sum(axis=axes) / self.n + lam * self.mean_g ** 2"),),
                frozenset({"scale_invariant"})),
        Mistake("the cosine without normalising the prediction",
                (("ops/loss.py", "cos = _sum(mul(normalize(pred, dim=1), normalize(target, dim=1)), axis=1)",
                  "cos = _sum(mul(pred, normalize(target, dim=1)), axis=1)"),),
                frozenset({"cosine_normal"})),
        Mistake("the gradient of the normalisation without the projection term",
                (("ops/norm.py", "        return (grad - self.out * xp.where(self.active, along, along.dtype.type(0)))"
                                 " / self.denom\n",
                  "        return grad / self.denom\n"),),
                frozenset({"cosine_normal"})),
        Mistake("the scale-invariant gradient without the lam term",
                (("ops/loss.py", "dg = (2 * grad / self.images) * (self.g - self.lam * mean_g) / n",
                  "dg = (2 * grad / self.images) * self.g / n"),),
                frozenset({"scale_invariant"})),
    ),
    training=TRAINING,
    starter_cells=(
        Cell("## 1. Masked L1 on a tiny depth map\n\nA depth of 0 means *no measurement*: the mask leaves those "
             "pixels out of the mean and out of the gradient.",
             "depth = md.tensor(np.array([[[[2., 4, 0], [3, 0, 5]]]]))          # (1, 1, 2, 3); 0 = a hole\n"
             "pred = md.tensor(np.array([[[[2.5, 3, 1], [3, 2, 4]]]]), requires_grad=True)\n"
             "valid = depth.data > 0\n"
             "loss = F.l1_loss(pred, depth, mask=valid)\n"
             "loss.backward()\n"
             "print('loss', loss.item(), 'over', int(valid.sum()), 'valid pixels')\n"
             "print('grad', pred.grad)\n"
             "print('every pixel masked:', F.l1_loss(pred, depth, mask=np.zeros_like(valid)).item())"),
        Cell("## 2. A depth map, a prediction and the error\n\nA blurred copy of a scene's depth, 10 % too far, "
             "stands in for a network's prediction. Truth and prediction share one colour scale.",
             "scene = md.data.scenes.generate(1, 32, seed=3)\n"
             "depth = scene['depth'].astype(np.float64)                    # (1, 1, 32, 32), all > 0\n"
             "padded = np.pad(depth, ((0, 0), (0, 0), (1, 1), (1, 1)), mode='edge')\n"
             "blurred = sum(padded[:, :, i:i + 32, j:j + 32] for i in range(3) for j in range(3)) / 9   # 3x3 mean\n"
             "pred = 1.1 * blurred\n"
             "fig, axes = plt.subplots(1, 4, figsize=(10, 2.4))\n"
             "axes[0].imshow(scene['image'][0].transpose(1, 2, 0))\n"
             "for ax, d in zip(axes[1:3], (depth, pred)):\n"
             "    shown = ax.imshow(d[0, 0], cmap='viridis', vmin=depth.min(), vmax=pred.max())\n"
             "fig.colorbar(shown, ax=list(axes[1:3]))\n"
             "fig.colorbar(axes[3].imshow(np.abs(pred - depth)[0, 0], cmap='inferno'), ax=axes[3])\n"
             "for ax, title in zip(axes, ('input', 'depth', 'prediction', '|prediction - depth|')):\n"
             "    ax.set_title(title)\n"
             "    ax.axis('off')\n"
             "t, p = md.tensor(depth), md.tensor(pred)\n"
             "print(f'masked L1          {F.l1_loss(p, t, mask=depth > 0).item():.6f}')\n"
             "print(f'scale-inv., lam=1  {F.scale_invariant_log_loss(p, t, mask=depth > 0, lam=1.0).item():.6f}')\n"
             "print(f\"abs rel            {md.metrics.depth_metrics(pred, depth)['abs_rel']:.6f}\")"),
        Cell("## 3. The scale-invariant loss does not see a global scale\n\nScale the prediction: with `lam = 1` "
             "the loss stays put, with `lam = 0` (plain log MSE) it does not.",
             "for s in (0.5, 1.0, 2.0, 10.0):\n"
             "    p = md.tensor(s * blurred)\n"
             "    row = [F.scale_invariant_log_loss(p, t, lam=lam).item() for lam in (1.0, 0.5, 0.0)]\n"
             "    print(f'scale {s:4}:  lam=1 {row[0]:.6f}   lam=0.5 {row[1]:.6f}   lam=0 {row[2]:.6f}')"),
        Cell("## 4. Check your gradients\n\n`md.gradcheck` compares backward with central differences in float64; "
             "the mask and a non-positive prediction (floored at eps) included.",
             "rng = np.random.default_rng(0)\n"
             "target = md.tensor(rng.uniform(1, 5, (2, 1, 3, 3)))\n"
             "p = md.tensor(rng.uniform(1, 5, (2, 1, 3, 3)), requires_grad=True)\n"
             "mask = rng.random((2, 3, 3)) > 0.3\n"
             "print(md.gradcheck(lambda p: F.l1_loss(p, target, mask=mask), (p,)))\n"
             "print(md.gradcheck(lambda p: F.scale_invariant_log_loss(p, target, mask=mask), (p,)))\n"
             "n = md.tensor(rng.normal(size=(2, 3, 2, 2)), requires_grad=True)\n"
             "unit = md.tensor(rng.normal(size=(2, 3, 2, 2)))\n"
             "print(md.gradcheck(lambda n: F.cosine_normal_loss(n, unit, mask=mask[:, :2, :2]), (n,)))"),
        Cell("## 5. Normals as colours\n\nA normal `n` is drawn as the colour `(n + 1) / 2`: x red, y green, z "
             "blue (facing the camera). The prediction here is the true normal plus noise, not unit length; the "
             "error map is the angle between the two, 0 to 90 degrees.",
             "normals = scene['normals'].astype(np.float64)                # (1, 3, 32, 32), unit\n"
             "noisy = 2.5 * (normals + 0.2 * np.random.default_rng(1).normal(size=normals.shape))\n"
             "pictures = (md.viz.normals_to_rgb(normals[0]), md.viz.normals_to_rgb(noisy[0]),\n"
             "            md.tasks.Normals().error_picture(normals[0], noisy[0]))\n"
             "fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.4))\n"
             "for ax, picture, title in zip(axes, pictures, ('normals', 'prediction', 'angle error')):\n"
             "    ax.imshow(picture)\n"
             "    ax.set_title(title)\n"
             "    ax.axis('off')\n"
             "print(f'1 - cos (mean)     {F.cosine_normal_loss(md.tensor(noisy), md.tensor(normals)).item():.6f}')\n"
             "print(f\"mean angle error   {md.metrics.normal_metrics(noisy, normals)['mean']:.4f} degrees\")"),
        Cell("## 6. 1 − cos is the slide's ‖n − n̂‖², halved, for unit vectors\n\nOn random unit vectors the two "
             "agree; scale the prediction and 1 − cos stays, the squared distance does not.",
             "rng = np.random.default_rng(2)\n"
             "n = rng.normal(size=(4, 3, 1, 1)); n /= np.linalg.norm(n, axis=1, keepdims=True)\n"
             "m = rng.normal(size=(4, 3, 1, 1)); m /= np.linalg.norm(m, axis=1, keepdims=True)\n"
             "cos_loss = F.cosine_normal_loss(md.tensor(m), md.tensor(n), reduction='none').data.ravel()\n"
             "half_sq = 0.5 * ((n - m) ** 2).sum(axis=1).ravel()\n"
             "for a, b in zip(cos_loss, half_sq):\n"
             "    print(f'1 - cos = {a:.6f}    |n - n_hat|^2 / 2 = {b:.6f}')\n"
             "print('pred scaled by 3: 1 - cos =',\n"
             "      F.cosine_normal_loss(md.tensor(3 * m), md.tensor(n), reduction='none').data.ravel())"),
        Cell("## 7. The gradient of normalisation is perpendicular to the output\n\n`y = x / ‖x‖` does not change "
             "when `x` moves along itself, so `x.grad` has no component along `y`.",
             "x = md.tensor(np.random.default_rng(3).normal(size=(2, 3, 1, 1)), requires_grad=True)\n"
             "y = F.normalize(x, dim=1)\n"
             "y.backward(md.tensor(np.random.default_rng(4).normal(size=(2, 3, 1, 1))))\n"
             "print('<x.grad, y> per vector:', (np.asarray(x.grad) * y.data).sum(axis=1).ravel())"),
    ),
    questions=(
        "Why train depth with a scale-invariant loss? What can one image not tell about depth, and what do "
        "lam = 1, lam = 0.5 and lam = 0 each ask of the network?",
        "The slide trains normals by minimising ‖n − n̂‖. Why does this assignment use 1 − cos of the normalised "
        "prediction instead of the L2 distance of the raw output, and how are the two related for unit vectors?",
        "Why mask invalid pixels rather than use their depth of 0? What would the L1 and the scale-invariant loss "
        "teach the network at a hole, and why must the mean divide by the number of valid pixels?",
    ),
)
