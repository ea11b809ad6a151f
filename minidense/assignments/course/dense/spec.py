"""Assignment 6: depth and normals: the masked L1 loss, the scale-invariant log loss, the cosine normal loss."""
import numpy as np

from ...cases import (
    EQUIVALENT_RESHAPE,
    course_weights,
    depth_pair,
    float32_twin,
    held_out_scenes,
    hinted,
    image_shape,
    normal,
    shape_id,
)
from ...specs import Assignment, Mistake, Part, read_handout, read_starter

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


#: tiered hints (see cases.hinted): tier 1 names the contract a case checks, tier 2 comes closer to the code
HINTS = {
    "valid": ("the mean divides by the number of VALID elements (`_valid_count`), not by every pixel; an invalid "
              "element adds 0 and gets a gradient of exactly 0 (slide 'Other Tasks – Depth Prediction': the "
              "regression is over the pixels that have a label)",),
    "all_masked": ("with every element masked the mean is 0 with a zero gradient: `_reduce` and `_reduce_backward` "
                   "(given) handle count 0; dividing yourself gives 0/0 = NaN",),
    "nan": ("a masked target may be NaN or inf, and 0·NaN and 0·inf are NaN: a product with the mask does not mask "
            "them",
            "mask with `xp.where(mask, d, 0)`, not `d * mask`"),
    "no_channel": ("a mask without the channel axis counts each valid pixel once per channel "
                   "(`d.size // mask.size`)",),
    "silog": ("D = mean(g²) − lam·mean(g)² per image with a MINUS (Eigen et al. 2014), g = log p − log t",
              "its gradient at pixel j is 2(g_j − lam·mean(g))/n, then ×1/p through the log"),
    "empty_image": ("an image without a valid pixel is left out: average D over the images that have one",),
    "floor": ("log of a non-positive depth: floor pred and target at eps (xp.maximum) before the log; where the "
              "floor is in use the gradient is 0",),
    "normalise": ("normalise the prediction (and the target) along the channel axis before the dot product: the "
                  "slide's normals have ‖n‖ = 1, a network's output does not, and 1 − cos must not change when pred "
                  "is scaled",),
    "projection": ("y = x/‖x‖ does not depend on the length of x: its gradient has no component along y (a "
                   "projection term), or it would also push on the length",
                   "the gradient is (grad − y·⟨grad, y⟩)/‖x‖"),
    "upstream": ("the gradient is the upstream gradient times the loss's derivative: with reduction \"none\" grad "
                 "holds one value per pixel, and a mean's or a sum's grad need not be 1",),
    "zero_vector": ("a vector shorter than eps is divided by eps (a zero vector stays 0, its gradient is "
                    "grad / eps): where the floor is in use, ‖x‖ ≤ eps, there is no projection term",),
}


# ---------------------------------------------------------------- case helpers
def _mask(rng, shape, fraction=0.5, channel=False):
    """A random boolean mask (N, H, W), or (N, 1, H, W) with ``channel``, with at least one valid pixel."""
    m = rng.random([shape[0], *shape[2:]]) >= fraction
    m.flat[int(rng.integers(0, m.size))] = True
    return m[:, None] if channel else m


def _upstream(rng, reduction, shape):
    return normal(rng, shape) if reduction == "none" else np.array(rng.uniform(0.5, 2.0))


# ---------------------------------------------------------------- part 1: masked L1
def _l1_case(rng, name, reduction, channels=1, mask="half", hint=None, channel=None):
    """``channel``: whether a half mask has the channel axis (None: drawn, when there is one channel)."""
    shape = image_shape(rng, (1, 4), (2, 6), channels)
    pred, target = depth_pair(rng, shape, 0.3, image_spread=0.3)
    inputs = {"pred": pred, "target": target}
    if mask == "half":
        if channel is None:
            channel = bool(rng.integers(0, 2)) and channels == 1
        inputs["mask"] = _mask(rng, shape, channel=channel)
    elif mask == "none-valid":
        inputs["mask"] = np.zeros([shape[0], *shape[2:]], dtype=bool)
    elif mask in ("nan", "inf"):   # no measurement there: the target holds NaN (or inf)
        inputs["mask"] = _mask(rng, shape)
        target[~np.broadcast_to(inputs["mask"][:, None], shape)] = np.nan if mask == "nan" else np.inf
    inputs["grad"] = _upstream(rng, reduction, shape)
    case = {"id": f"{name}-{reduction}-{shape_id(shape)}", "fn": "l1_loss", "params": {"reduction": reduction},
            "inputs": inputs}
    return hinted(case, HINTS, hint) if hint else case


def _masked_l1(rng, public):
    cases = [_l1_case(rng, "masked-half", "mean", hint="valid"),
             _l1_case(rng, "all-masked", "mean", mask="none-valid", hint="all_masked"),
             _l1_case(rng, "inf-under-mask" if public else "nan-under-mask", "mean", mask="inf" if public else "nan",
                      hint="nan"),
             _l1_case(rng, "mask-without-channel-3ch", "mean", channels=3, hint="no_channel")]
    if public:   # (the public cases are stored, and a stored NaN never equals itself: the public one holds inf)
        return cases
    return cases + [_l1_case(rng, "no-mask", "mean", mask=None),
                    _l1_case(rng, "masked-half", "sum", hint="valid"),
                    _l1_case(rng, "masked-half", "none", hint="valid")]


# ---------------------------------------------------------------- part 2: the scale-invariant log loss
def _silog_case(rng, name, lam, mask="half", nonpositive=None, hint="silog", channel=None, channels=1):
    """``nonpositive``: "pred" or "target", the one that holds depths <= 0 (the floor at eps); ``mask``: "half",
    "no", "empty-image" (image 0 has no valid pixel), "one-valid" (image 0 has exactly one) or "none-valid";
    ``channel``: whether the mask has the channel axis (None: drawn; a mask of several channels never has)."""
    shape = image_shape(rng, (1, 4), (2, 6), channels)
    if mask in ("empty-image", "none-valid", "one-valid"):
        shape[0] = max(shape[0], 2)
    pred, target = depth_pair(rng, shape, 0.3, image_spread=0.3)
    inputs = {"pred": pred, "target": target}
    if nonpositive:   # a network's raw output (or a sensor's hole) can be 0 or negative: the floor at eps catches it
        low = inputs[nonpositive]
        low.flat[rng.choice(low.size, max(1, low.size // 4), replace=False)] = rng.uniform(-2.0, 0.0)
        low.flat[0] = 0.0
    if mask != "no":
        if channel is None:
            channel = bool(rng.integers(0, 2)) and channels == 1
        m = _mask(rng, shape, channel=channel)
        if mask == "empty-image":
            m[0] = False
        elif mask == "one-valid":
            m[0] = False
            m[0].flat[int(rng.integers(0, m[0].size))] = True
        elif mask == "none-valid":
            m[...] = False
        inputs["mask"] = m
    inputs["grad"] = np.array(rng.uniform(0.5, 2.0))
    return hinted({"id": f"{name}-lam{lam:g}-{shape_id(shape)}", "fn": "scale_invariant_log_loss",
                   "params": {"lam": lam}, "inputs": inputs}, HINTS, hint)


def _scale_invariant(rng, public):
    cases = [_silog_case(rng, "masked-half", 0.5), _silog_case(rng, "no-mask", 1.0)]
    if public:
        return cases + [_silog_case(rng, "nonpositive-pred", 0.5, nonpositive="pred", hint="floor"),
                        _silog_case(rng, "image-all-masked", 0.5, mask="empty-image", hint="empty_image")]
    return cases + [_silog_case(rng, "no-mask", 0.0),
                    _silog_case(rng, "masked-half", float(rng.choice([0.25, 0.75, 1.0]))),
                    _silog_case(rng, "nonpositive-pred", 0.5, nonpositive="pred", hint="floor"),
                    _silog_case(rng, "image-all-masked", 0.5, mask="empty-image", hint="empty_image"),
                    _silog_case(rng, "all-masked", 0.5, mask="none-valid", hint="empty_image"),
                    _silog_case(rng, "nonpositive-target", 0.5, mask="no", nonpositive="target", hint="floor"),
                    _silog_case(rng, "image-one-valid", 0.5, mask="one-valid"),
                    _silog_case(rng, "mask-without-channel-3ch", float(rng.choice([0.5, 1.0])), channels=3,
                                hint="no_channel")]


# ---------------------------------------------------------------- part 3: the cosine normal loss
def _normals_shape(rng):
    return [int(rng.integers(1, 3)), 3, int(rng.integers(1, 5)), int(rng.integers(1, 5))]


def _cosine_case(rng, name, reduction, mask=None, hint="normalise"):
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
    keys = (hint, "upstream") if reduction == "none" else (hint,)
    return hinted({"id": f"{name}-{reduction}-{shape_id(shape)}", "fn": "cosine_normal_loss",
                   "params": {"reduction": reduction}, "inputs": inputs}, HINTS, *keys)


def _normalize_case(rng, name, zero=False, hint="projection"):
    """``zero``: x[0, :, 0, 0] is the zero vector (True), or a vector whose norm is exactly eps = 1e-12 ("eps":
    the floor is in use there too, so its gradient is grad / eps, with no projection term)."""
    shape = _normals_shape(rng)
    spatial = [a for a in (0, 2, 3) if shape[a] > 1]   # an axis of length 1 would only give ±1 and a zero gradient
    dim = 1 if name == "dim1" or zero or not spatial else int(rng.choice(spatial))
    x = normal(rng, shape, float(rng.uniform(0.2, 5.0)))
    if zero:
        x[0, :, 0, 0] = rng.permutation([6e-13, -8e-13, 0.0]) if zero == "eps" else 0.0   # sqrt(6² + 8²) = 10
    return hinted({"id": f"{name}-{shape_id(shape)}", "fn": "normalize", "params": {"dim": dim},
                   "inputs": {"x": x, "grad": normal(rng, shape)}}, HINTS, hint)


def _cosine_normal(rng, public):
    """With a float32 twin of its normalize case and of its cosine case (make_cases adds one twin per part only)."""
    cases = [_normalize_case(rng, "dim1"), _cosine_case(rng, "unnormalised-pred", "mean"),
             _cosine_case(rng, "masked-half", "mean", mask="half", hint="valid"),
             _normalize_case(rng, "zero-vector", zero=True, hint="zero_vector")]
    cases += [float32_twin(cases[:1]), float32_twin([_cosine_case(rng, "masked-half", "none", mask="half")])]
    if public:
        return cases
    return cases + [_normalize_case(rng, "any-dim"),
                    _cosine_case(rng, "unnormalised-pred", "sum"),
                    _cosine_case(rng, "unnormalised-pred", "none", hint="projection"),
                    _cosine_case(rng, "all-masked", "mean", mask="none-valid", hint="all_masked"),
                    _normalize_case(rng, "norm-equal-to-eps", zero="eps", hint="zero_vector")]


# ---------------------------------------------------------------- part 4: training
RUNS = (("depth", "l1"), ("depth", "silog"), ("normals", "cosine"))


def _prerequisites(rng, loss):
    """The cases of the loss a training run uses, as the run calls it (float32, a mask with the channel axis for
    depth, mean): a run whose loss or gradient does not match the reference's is not trained (it would cost a
    training run for a verdict that only repeats the loss part's)."""
    if loss == "l1":
        case = _l1_case(rng, "trained-with", "mean", channel=True)
    elif loss == "silog":
        case = _silog_case(rng, "trained-with", 0.5, channel=True)
    else:
        case = _cosine_case(rng, "trained-with", "mean")
    part = {"l1": "masked_l1", "silog": "scale_invariant", "cosine": "cosine_normal"}[loss]
    return [{**float32_twin([case]), "part": part}]


def _training(rng, public):
    """Three cases, one per run: each trains with the student's code and predicts held-out scenes the parent made."""
    cfg = dict(TRAINING)
    seed, val = held_out_scenes(rng, public, cfg)
    params = {k: v for k, v in cfg.items() if not k.startswith("target_")}
    params["seed"] = seed
    cases = []
    for task, loss in RUNS:
        weights = course_weights(lambda: _trained_unet(task), seed)   # loaded by name (grading/harness.py)
        cases.append({"id": f"{task}-{loss}-seed{seed}", "fn": "train_dense",
                      "check": "depth_abs_rel" if task == "depth" else "normals_angle",
                      "params": {**params, "task": task, "loss": loss, "target": cfg[f"target_{loss}"],
                                 "constant": CONSTANT["abs_rel" if task == "depth" else "angle"]},
                      "inputs": {"images": val["image"], **weights}, "expected": {task: val[task]},
                      "requires": _prerequisites(rng, loss)})
    return cases


def _trained_unet(task):
    """The course's reference network of a training run: its state dict is the run's initial weights."""
    from .... import models
    return getattr(models, TRAINING["model"])(3, 1 if task == "depth" else 3, base_channels=TRAINING["base_channels"],
                                              depth=TRAINING["depth"], up=TRAINING["up"],
                                              batch_norm=TRAINING["batch_norm"], skips=True)


def _silog_forward(floor="self.p, self.t = xp.maximum(pred, eps), xp.maximum(target, eps)",
                   count="n = valid.sum(axis=axes, dtype=pred.dtype)",
                   images="self.images = float((n > 0).sum())",
                   per_image="per_image = (g * g).sum(axis=axes) / self.n - lam * self.mean_g ** 2"):
    """ScaleInvariantLogLoss.forward as a student writes it: the reference's, with the floor, the count of valid
    pixels, the count of images or the per-image loss written otherwise."""
    return f"""
def forward(self, pred, target, *, mask, lam, eps):
    xp = get_array_module(pred)
    valid = xp.ones(pred.shape, dtype=bool) if mask is None else xp.broadcast_to(mask, pred.shape)
    {floor}
    g = xp.where(valid, xp.log(self.p) - xp.log(self.t), pred.dtype.type(0))
    axes = tuple(range(1, pred.ndim))
    {count}
    self.n = xp.maximum(n, 1)
    {images}
    self.mean_g = g.sum(axis=axes) / self.n
    {per_image}
    self.g, self.valid, self.lam, self.eps = g, valid, lam, eps
    return per_image.sum() / self.images if self.images else per_image.sum()
"""


#: the planted mistakes: each must lose points in the parts it names (see specs.Mistake)
MISTAKES = (
    Mistake("the masked mean divided by every pixel instead of the valid ones",
            loses={"masked_l1"},
            replace=(
                ("ops/loss.py", "_PointwiseLoss.forward", '''
def forward(self, pred, target, *, mask, reduction, beta=1.0):
    xp = get_array_module(pred)
    d = pred - target
    if mask is not None:
        d = xp.where(mask, d, d.dtype.type(0))
    self.d, self.beta, self.reduction = d, beta, reduction
    self.count = d.size
    return _reduce(self.value(d), reduction, self.count)
'''),
            )),
    Mistake("the scale-invariant loss with + instead of − before the lam term",
            loses={"scale_invariant"},
            replace=(
                ("ops/loss.py", "ScaleInvariantLogLoss.forward",
                 _silog_forward(per_image="per_image = (g * g).sum(axis=axes) / self.n + lam * self.mean_g ** 2")),
            )),
    Mistake("the cosine without normalising the prediction",
            loses={"cosine_normal"},
            replace=(
                ("ops/loss.py", "_one_minus_cos", '''
def _one_minus_cos(pred, target, mask, reduction):
    cos = _sum(mul(pred, normalize(target, dim=1)), axis=1)
    return MaskedReduce.apply(sub(1, cos), mask=mask, reduction=reduction)
'''),
            )),
    Mistake("the gradient of the normalisation without the projection term",
            loses={"cosine_normal"},
            replace=(
                ("ops/norm.py", "Normalize.backward", '''
def backward(self, grad):
    xp = _xp(grad)
    # remove the gradient's component along the output (it cannot change a unit vector's length)
    along = xp.sum(grad * self.out, axis=self.axis, keepdims=True)
    return grad / self.denom
'''),
            )),
    Mistake("the scale-invariant gradient without the lam term",
            loses={"scale_invariant"},
            replace=(
                ("ops/loss.py", "ScaleInvariantLogLoss.backward", '''
def backward(self, grad):
    xp = get_array_module(grad)
    if not self.images:
        return xp.zeros_like(self.g), xp.zeros_like(self.g)
    shape = (-1,) + (1,) * (self.g.ndim - 1)
    n, mean_g = self.n.reshape(shape), self.mean_g.reshape(shape)
    dg = (2 * grad / self.images) * self.g / n
    zero = dg.dtype.type(0)
    gp = xp.where(self.valid & (self.p > self.eps), dg / self.p, zero)
    gt = xp.where(self.valid & (self.t > self.eps), -dg / self.t, zero)
    return gp, gt
'''),
            )),
    Mistake("masking by multiplication, d * mask: a NaN or inf target under the mask leaks (0 * NaN is NaN)",
            loses={"masked_l1"},
            replace=(
                ("ops/loss.py", "_PointwiseLoss.forward", '''
def forward(self, pred, target, *, mask, reduction, beta=1.0):
    d = pred - target
    if mask is not None:
        d = d * mask
    self.d, self.beta, self.reduction = d, beta, reduction
    self.count = _valid_count(d, mask)
    return _reduce(self.value(d), reduction, self.count)
'''),
            )),
    Mistake("the unknown targets overwritten in place (target[~mask] = 0): the caller's target changes",
            loses={"masked_l1"},
            replace=(
                ("ops/loss.py", "_PointwiseLoss.forward", '''
def forward(self, pred, target, *, mask, reduction, beta=1.0):
    xp = get_array_module(pred)
    d = pred - target
    if mask is not None:
        target[~xp.broadcast_to(mask, target.shape)] = 0     # no NaN left where there is no measurement
        d = xp.where(mask, pred - target, d.dtype.type(0))
    self.d, self.beta, self.reduction = d, beta, reduction
    self.count = _valid_count(d, mask)
    return _reduce(self.value(d), reduction, self.count)
'''),
            )),
    Mistake("a mask without the channel axis counted once per pixel, not once per channel",
            loses={"masked_l1"},
            replace=(
                ("ops/loss.py", "_valid_count", '''
def _valid_count(d, mask):
    return d.size if mask is None else float(mask.sum())
'''),
            )),
    Mistake("the mean divided by the count itself: 0/0 = NaN when every element is masked",
            loses={"masked_l1"},
            replace=(
                ("ops/loss.py", "_PointwiseLoss.forward", '''
def forward(self, pred, target, *, mask, reduction, beta=1.0):
    xp = get_array_module(pred)
    d = pred - target
    if mask is not None:
        d = xp.where(mask, d, d.dtype.type(0))
    self.d, self.beta, self.reduction = d, beta, reduction
    self.count = _valid_count(d, mask)
    if reduction == "mean":
        return self.value(d).sum() / self.count
    return _reduce(self.value(d), reduction, self.count)
'''),
            )),
    Mistake("the valid pixels counted as integers: float32 / int64 is float64 (float32 in, float64 out)",
            loses={"scale_invariant"},
            replace=(
                ("ops/loss.py", "ScaleInvariantLogLoss.forward", _silog_forward(count="n = valid.sum(axis=axes)")),
            )),
    Mistake("no floor at eps before the log: log of a depth <= 0 is -inf or NaN",
            loses={"scale_invariant"},
            replace=(
                ("ops/loss.py", "ScaleInvariantLogLoss.forward", _silog_forward(floor="self.p, self.t = pred, target")),
            )),
    Mistake("an image without a valid pixel counted in the average (divided by N, not by the images that have one)",
            loses={"scale_invariant"},
            replace=(
                ("ops/loss.py", "ScaleInvariantLogLoss.forward",
                 _silog_forward(images="self.images = float(pred.shape[0]) if (n > 0).any() else 0.0")),
            )),
    Mistake("a zero vector divided by its norm 0 (no floor at eps): 0/0 = NaN",
            loses={"cosine_normal"},
            replace=(
                ("ops/norm.py", "Normalize.forward", '''
def forward(self, x, *, axis, eps):
    xp = _xp(x)
    norm = xp.sqrt(xp.sum(x * x, axis=axis, keepdims=True))
    self.active = norm > eps
    self.denom = norm
    self.out = x / self.denom
    self.axis = axis
    return self.out
'''),
            )),
    Mistake("the prediction normalised in place (x /= norm): the caller's tensor changes",
            loses={"cosine_normal"},
            replace=(
                ("ops/norm.py", "Normalize.forward", '''
def forward(self, x, *, axis, eps):
    xp = _xp(x)
    norm = xp.sqrt(xp.sum(x * x, axis=axis, keepdims=True))
    self.active = norm > eps
    self.denom = xp.maximum(norm, x.dtype.type(eps))
    x /= self.denom
    self.out = x
    self.axis = axis
    return self.out
'''),
            )),
    Mistake("the upstream gradient ignored: the masked mean's backward as if grad were 1",
            loses={"cosine_normal"},
            replace=(
                ("ops/loss.py", "MaskedReduce.backward", '''
def backward(self, grad):
    xp = get_array_module(grad)
    g = xp.broadcast_to(_reduce_backward(xp.ones_like(grad), self), self.shape)
    return g.copy() if self.mask is None else xp.where(self.mask, g, g.dtype.type(0))
'''),
            )),
    Mistake("the backward returns a list of gradients where the contract asks for a tuple",
            loses={"scale_invariant"},
            replace=(
                ("ops/loss.py", "ScaleInvariantLogLoss.backward", '''
def backward(self, grad):
    xp = get_array_module(grad)
    if not self.images:
        return [xp.zeros_like(self.g), xp.zeros_like(self.g)]
    shape = (-1,) + (1,) * (self.g.ndim - 1)
    n, mean_g = self.n.reshape(shape), self.mean_g.reshape(shape)
    dg = (2 * grad / self.images) * (self.g - self.lam * mean_g) / n
    zero = dg.dtype.type(0)
    gp = xp.where(self.valid & (self.p > self.eps), dg / self.p, zero)
    gt = xp.where(self.valid & (self.t > self.eps), -dg / self.t, zero)
    return [gp, gt]
'''),
            )),
)


#: mutants (mutants.py) that compute what the reference computes on every valid input, with the reason
_MAXIMUM = "the maximum of two numbers does not depend on their order (eps, a Python float, keeps the dtype)"
_NO_IMAGE = ("without the early return, M = 0 gives 2·grad/0 · (g − lam·mean(g)) = inf · 0 = NaN, but M = 0 means "
             "no pixel is valid, so both xp.where pick their 0 everywhere: the same zeros")
EQUIVALENT_MUTANTS = {
    "_valid_count:3: …(mask.sum()) * (d.size // mask.size) -> …(mask.sum()) * (d.size / mask.size)":
        "the mask broadcasts against d, so d.size is a whole multiple of mask.size: / gives the same whole number",
    "ScaleInvariantLogLoss.forward:8: self.n = xp.maximum(n, 1) -> self.n = xp.maximum(1, n)": _MAXIMUM,
    "ScaleInvariantLogLoss.forward:4: self.p, self.t = (xp.maximum(pred, eps), xp.maximum(target, eps)) -> "
    "self.p, self.t = (xp.maximum(eps, pred), xp.maximum(target, eps))": _MAXIMUM,
    "ScaleInvariantLogLoss.forward:4: self.p, self.t = (xp.maximum(pred, eps), xp.maximum(target, eps)) -> "
    "self.p, self.t = (xp.maximum(pred, eps), xp.maximum(eps, target))": _MAXIMUM,
    "Normalize.forward:5: self.denom = xp.maximum(norm, x.dtype.type(eps)) -> "
    "self.denom = xp.maximum(x.dtype.type(eps), norm)": _MAXIMUM,
    "_one_minus_cos:8: …os = _sum(mul(normalize(pred, dim=1), normalize(target, dim=1)), axis=1) -> "
    "…os = _sum(mul(normalize(target, dim=1), normalize(pred, dim=1)), axis=1)":
        "a product does not depend on the order of its factors, nor does its gradient (each factor gets the other "
        "times grad)",
    "ScaleInvariantLogLoss.backward:3: if not self.images: return (xp.zeros_like(self.g), xp.zeros_like(self.g)) "
    "-> pass": _NO_IMAGE,
    "ScaleInvariantLogLoss.backward:4: return (xp.zeros_like(self.g), xp.zeros_like(self.g)) -> pass": _NO_IMAGE,
    "ScaleInvariantLogLoss.backward:5: shape = (-1,) + (1,) * (self.g.ndim - 1) -> "
    "shape = (-2,) + (1,) * (self.g.ndim - 1)": EQUIVALENT_RESHAPE,
}


SPEC = Assignment(
    name="dense",
    title="Assignment 6: depth and normals: masked L1, the scale-invariant log loss, the cosine normal loss",
    stubs={"ops/loss.py": ["_valid_count", "_PointwiseLoss.forward", "_PointwiseLoss.backward", "L1Loss.value",
                           "L1Loss.slope", "ScaleInvariantLogLoss.forward", "ScaleInvariantLogLoss.backward",
                           "MaskedReduce.forward", "MaskedReduce.backward", "_one_minus_cos"],
           "ops/norm.py": ["Normalize.forward", "Normalize.backward"]},
    reveal={},
    parts=(Part("masked_l1", 15, "F.l1_loss with a mask: mean over valid pixels, all masked, NaN under the mask, "
                                 "gradients", cases=_masked_l1),
           Part("scale_invariant", 25, "F.scale_invariant_log_loss: lam, masks, images without valid pixels, the "
                                       "floor at eps, gradients", cases=_scale_invariant),
           Part("cosine_normal", 20, "F.normalize and F.cosine_normal_loss: unnormalised predictions, masks, "
                                     "gradients", cases=_cosine_normal),
           Part("training", 40, f"U-Nets trained with your losses: depth abs rel <= {TRAINING['target_l1']} (L1) and "
                                f"<= {TRAINING['target_silog']} (scale-invariant), normals mean angle <= "
                                f"{TRAINING['target_cosine']} degrees",
                builds_on=("masked_l1", "scale_invariant", "cosine_normal"), cases=_training)),
    handout=read_handout(__file__, **TRAINING, holes_pct=int(100 * TRAINING["holes"]), c_abs_rel=CONSTANT["abs_rel"],
                         c_angle=CONSTANT["angle"], **{f"w_{k}": v for k, v in REFERENCE_WORST.items()},
                         **{f"m_{k}": v for k, v in MARGIN.items()}),
    target=("ops/loss.py", "ScaleInvariantLogLoss.forward"),
    mistakes=MISTAKES,
    equivalent_mutants=EQUIVALENT_MUTANTS,
    training=TRAINING,
    starter=read_starter(__file__),
    questions=(
        "Why train depth with a scale-invariant loss? What can one image not tell about depth, and what do "
        "lam = 1, lam = 0.5 and lam = 0 each ask of the network?",
        "The slide trains normals by minimising ‖n − n̂‖. Why does this assignment use 1 − cos of the normalised "
        "prediction instead of the L2 distance of the raw output, and how are the two related for unit vectors?",
        "Why mask invalid pixels rather than use their depth of 0? What would the L1 and the scale-invariant loss "
        "teach the network at a hole, and why must the mean divide by the number of valid pixels?",
    ),
)
