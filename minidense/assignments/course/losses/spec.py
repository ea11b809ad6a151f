"""Assignment 4: per-pixel losses and metrics: softmax cross-entropy with the unknown label, the confusion
matrix and IoU, depth metrics."""
import numpy as np

from ...cases import EQUIVALENT_RESHAPE, depth_pair, hinted, image_shape, normal
from ...specs import Assignment, Mistake, Part, read_handout, read_starter

IGNORE = 255   # md.IGNORE_INDEX, the unknown label


def _scores_and_target(rng, ignored=0.0):
    shape = [[int(rng.integers(2, 7)), int(rng.integers(2, 6))],
             [int(rng.integers(1, 3)), int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))]
             ][int(rng.integers(0, 2))]
    c = shape[1]
    x = normal(rng, shape, 2.0)
    t = rng.integers(0, c, [shape[0], *shape[2:]])
    if ignored:
        t[rng.random(t.shape) < ignored] = IGNORE
        t.flat[0] = IGNORE
    return x, t


#: tiered hints (see cases.hinted): tier 1 names the contract a case checks, tier 2 comes closer to the code
HINTS = {
    "log_softmax": ("log softmax's gradient involves the sum of the upstream gradient g along dim, not only g",
                    "the gradient is g − softmax(x) · Σ g along dim, with softmax(x) = exp(output)"),
    "stable": ("exp(1e4) is inf, and inf − inf is NaN: log softmax does not change when a constant is subtracted "
               "along dim",
               "subtract the maximum along dim before exp"),
    "cross_entropy": ("the gradient is (softmax(x) − onehot(target)) times the pixel's weight and the reduction's "
                      "factor; with class weights the mean divides by the summed weights of the pixels, not their "
                      "number",),
    "ignored": ("a pixel labelled 255 adds nothing to the loss, is not counted in the mean's denominator "
                "(self.count) and gets exactly zero gradient",),
    "all-ignored": ("when every pixel is ignored the mean is 0 with a zero gradient: _reduce and _reduce_backward "
                    "handle count 0",),
    "confusion": ("cm[i, j] counts the pixels whose TARGET is i (rows: ground truth) and whose PREDICTION is j; "
                  "pixels whose target is 255 are counted nowhere, whatever was predicted there",),
    "absent": ("a class absent from both maps (union 0) has IoU NaN and is left out of the mean IoU; a class only "
               "the prediction has has IoU 0 and counts",),
    "rows": ("the rows of cm[true, pred] are the ground truth: mean_accuracy averages tp / (row sum) over the "
             "classes in the ground truth, fwiou weighs each IoU by its row sum / all pixels",),
    "background": ("background everywhere: pixel accuracy is high, mean IoU low",),
    "uint8": ("labels may be uint8: 17 · 16 overflows uint8",
              "cast the labels to int64 before multiplying"),
    "mask": ("only pixels where the mask is true and the target is finite and > 0 count, in every sum and in n",),
    "holes": ("a target of 0, NaN or inf is missing depth: leave the pixel out",
              "np.isfinite(target) & (target > 0)"),
    "near": ("a target in (0, 1] is a valid depth (under one meter): only 0, NaN and inf are missing",),
    "thresholds": ("δ counts the pixels with r < 1.25^k STRICTLY: a ratio of exactly 1.25 is not in delta1",),
    "depth": ("abs rel divides |p − t| by the TARGET t; rmse is the square root of the mean squared error; "
              "δ counts max(p/t, t/p) < 1.25^k",),
}


def _log_softmax(rng, public):
    cases = []
    for i in range(2 if public else 4):
        shape = [int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        dim = int(rng.integers(0, 4)) if i else 1
        x = normal(rng, shape, 3.0)
        cases.append(hinted({"id": f"shape{'x'.join(map(str, shape))}-dim{dim}", "fn": "log_softmax",
                             "params": {"dim": dim}, "inputs": {"x": x, "grad": normal(rng, shape)}},
                            HINTS, "log_softmax"))
    big = normal(rng, (2, int(rng.integers(3, 6))), 1.0) * 1e4
    cases.append(hinted({"id": "scores-1e4", "fn": "log_softmax", "params": {"dim": 1},
                         "inputs": {"x": big, "grad": normal(rng, big.shape)}}, HINTS, "stable"))
    return cases


def _loss_case(rng, name, x, t, weighted, reduction, ignore, hint):
    inputs = {"x": x, "target": t}
    if weighted:
        inputs["weight"] = rng.uniform(0.5, 2.0, x.shape[1])
    inputs["grad"] = normal(rng, t.shape) if reduction == "none" else np.array(rng.uniform(0.5, 2.0))
    params = {"reduction": reduction}
    if ignore:
        params["ignore_index"] = IGNORE
    shape = "x".join(map(str, x.shape))
    return hinted({"id": f"{name}-{shape}-{reduction}{'-weighted' if weighted else ''}", "fn": "cross_entropy",
                   "params": params, "inputs": inputs}, HINTS, hint)


def _cross_entropy(rng, public):
    combos = [("mean", False), ("sum", True), ("mean", True)] if public else \
        [("mean", False), ("sum", False), ("none", False), ("mean", True), ("none", True)]
    cases = [_loss_case(rng, "ce", *_scores_and_target(rng), weighted, red, False, "cross_entropy")
             for red, weighted in combos]
    x, t = _scores_and_target(rng)   # scores of size 1e4: exp overflows unless the maximum is subtracted first
    cases.append(_loss_case(rng, "ce-scores-1e4", x * 5e3, t, False, "mean", False, "stable"))
    return cases


def _unknown_label(rng, public):
    combos = [("mean", False)] if public else [("mean", False), ("sum", False), ("mean", True), ("none", True)]
    cases = [_loss_case(rng, "ignored", *_scores_and_target(rng, 0.35), weighted, red, True, "ignored")
             for red, weighted in combos]
    x, t = _scores_and_target(rng)
    cases.append(_loss_case(rng, "all-ignored", x, np.full_like(t, IGNORE), bool(rng.integers(0, 2)), "mean", True,
                            "all-ignored"))
    if not public:   # a single class (the loss is 0) and the LAST pixel ignored: it reads no score but its own
        x = normal(rng, (int(rng.integers(2, 5)), 1))
        t = np.zeros(len(x), dtype=np.int64)
        t[-1] = IGNORE
        cases.append(_loss_case(rng, "one-class-last-ignored", x, t, False, "mean", True, "ignored"))
    return cases


# ------------------------------------------------------------------ part 4: the confusion matrix and IoU
def _label_maps(rng, k, shape, ignored=0.15, agree=0.6, dtype=np.int64):
    """A target with ignored pixels and a prediction that agrees with it at about ``agree`` of the pixels
    (anything at the ignored ones)."""
    target = rng.integers(0, k, shape)
    pred = np.where(rng.random(shape) < agree, target, rng.integers(0, k, shape))
    if ignored:
        target[rng.random(shape) < ignored] = IGNORE
        target.flat[0] = IGNORE
    return pred.astype(dtype), target.astype(dtype)


def _map_shape(rng):
    return [int(rng.integers(1, 3)), int(rng.integers(4, 9)), int(rng.integers(4, 9))]


def _seg_case(case_id, fn, pred, target, k, *hints):
    return hinted({"id": case_id, "fn": fn, "params": {"num_classes": k, "ignore_index": IGNORE},
                   "inputs": {"pred": pred, "target": target}}, HINTS, *hints)


def _absent_from_both(rng, k):
    """Label maps in which one class (not 0) appears in neither map."""
    pred, target = _label_maps(rng, k, _map_shape(rng))
    gone = int(rng.integers(1, k))
    pred[pred == gone] = 0
    target[target == gone] = 0
    return pred, target


def _only_in_prediction(rng, k):
    """Label maps in which one class appears in the prediction only."""
    pred, target = _label_maps(rng, k, _map_shape(rng))
    only = int(rng.integers(1, k))
    target[target == only] = 0
    labelled = np.flatnonzero(target != IGNORE)
    pred.flat[labelled[:3]] = only
    return pred, target


def _at_one_pixel(rng, k):
    """Label maps in which one class (not 0) is the target of ONE pixel and predicted nowhere: its IoU and its
    accuracy are 0, and both count in the means."""
    pred, target = _label_maps(rng, k, _map_shape(rng))
    one = int(rng.integers(1, k))
    pred[pred == one] = 0
    target[target == one] = 0
    labelled = np.flatnonzero(target != IGNORE)
    target.flat[labelled[-1]] = one
    return pred, target


def _all_background(rng, k):
    """The lecture's point: mostly background, and a prediction of background everywhere."""
    shape = _map_shape(rng)
    target = np.where(rng.random(shape) < 0.75, 0, rng.integers(1, k, shape))
    target.flat[0] = IGNORE
    return np.zeros(shape, dtype=np.int64), target


def _past_uint8(rng):
    """uint8 label maps of 17 classes in which some codes 17·target + pred pass 255 (target 16, pred ≥ 1), at
    whatever size the map is drawn: in uint8 arithmetic those codes wrap around."""
    pred, target = _label_maps(rng, 17, _map_shape(rng), agree=0.3, dtype=np.uint8)
    high = rng.choice(np.arange(1, target.size), size=3, replace=False)   # pixel 0 stays ignored
    target.flat[high] = 16
    pred.flat[high] = rng.integers(1, 17, size=3)
    return pred, target


def _confusion_iou(rng, public):
    k = 5 if public else int(rng.integers(3, 8))
    cases = [_seg_case(f"{k}-classes-ignored-pixels", "confusion_matrix", *_label_maps(rng, k, _map_shape(rng)), k,
                       "confusion"),
             _seg_case("class-absent-from-both", "segmentation_scores", *_absent_from_both(rng, 5 if public else k),
                       5 if public else k, "absent", "rows"),
             _seg_case("all-background-prediction", "segmentation_scores", *_all_background(rng, 5), 5,
                       "background", "absent", "rows"),
             _seg_case("uint8-labels-17-classes", "confusion_matrix", *_past_uint8(rng), 17, "uint8")]
    if not public:
        k2 = int(rng.integers(2, 8))
        cases += [_seg_case(f"scores-{k2}-classes-ignored-pixels", "segmentation_scores",
                            *_label_maps(rng, k2, _map_shape(rng)), k2, "rows", "confusion"),
                  _seg_case("class-only-in-prediction", "segmentation_scores", *_only_in_prediction(rng, k), k,
                            "absent"),
                  _seg_case("class-at-one-pixel", "segmentation_scores", *_at_one_pixel(rng, k), k, "absent", "rows")]
    return cases


# ------------------------------------------------------------------ part 5: depth metrics
def _depth_shape(rng):
    shape = image_shape(rng, (1, 3), (4, 8), 1)
    return shape if rng.integers(0, 2) else [shape[0], *shape[2:]]


def _depth_case(case_id, pred, target, mask, *hints):
    inputs = {"pred": pred, "target": target}
    if mask is not None:
        inputs["mask"] = mask
    return hinted({"id": case_id, "fn": "depth_metrics", "params": {}, "inputs": inputs}, HINTS, *hints, "depth")


def _masked(rng, shape):
    """Depth with a mask: where it is false the prediction is far off (and the target is a valid depth)."""
    pred, target = depth_pair(rng, shape, 0.4)
    mask = rng.random(shape) < 0.7
    mask.flat[0] = False
    pred[~mask] = 3.0 * target[~mask]
    return pred, target, mask


def _holes(rng, shape):
    """Missing depth in the target: 0, NaN and inf (no mask)."""
    pred, target = depth_pair(rng, shape, 0.4)
    flat = target.reshape(-1)
    flat[rng.permutation(flat.size)[:3]] = [0.0, np.nan, np.inf]
    return pred, target


def _near(rng, shape):
    """Depths under one meter: a target in (0, 1] is valid depth (only 0, NaN and inf are missing)."""
    pred, target = depth_pair(rng, shape, 0.4)
    return pred / 10.0, target / 10.0


def _at_thresholds(rng, shape):
    """Ratios max(p/t, t/p) of exactly 1.25, 1.25² and 1.25³ (5/4, 25/16, 125/64, either way round) among
    others: δ counts r < 1.25^k strictly."""
    pred, target = depth_pair(rng, shape, 0.4)
    exact = [(5.0, 4.0), (4.0, 5.0), (25.0, 16.0), (16.0, 25.0), (125.0, 64.0), (64.0, 125.0)]
    where = rng.permutation(target.size)[:len(exact)]
    pred.reshape(-1)[where], target.reshape(-1)[where] = zip(*exact)
    return pred, target


def _depth_metrics(rng, public):
    cases = [_depth_case("masked-depth", *_masked(rng, _depth_shape(rng)), "mask"),
             _depth_case("holes-in-target", *_holes(rng, _depth_shape(rng)), None, "holes")]
    if not public:
        pred, target, mask = _masked(rng, _depth_shape(rng))
        target.reshape(-1)[int(rng.integers(1, target.size))] = 0.0
        cases += [_depth_case("masked-depth-with-holes", pred, target, mask, "mask"),
                  _depth_case("no-mask", *depth_pair(rng, _depth_shape(rng), 0.4), None),
                  _depth_case("far-off-prediction", *depth_pair(rng, _depth_shape(rng), 1.0), None),
                  _depth_case("depth-under-one-meter", *_near(rng, _depth_shape(rng)), None, "near"),
                  _depth_case("ratios-at-the-thresholds", *_at_thresholds(rng, _depth_shape(rng)), None,
                              "thresholds")]
    return cases


#: the planted mistakes: each must lose points in the parts it names (see specs.Mistake)
MISTAKES = (
    Mistake("ignored pixels counted in the mean's denominator",
            loses={"unknown_label"},
            replace=(
                ("ops/loss.py", "_ClassLoss._weights", '''
def _weights(self, x, target, weight, ignore_index):
    xp = get_array_module(x)
    valid = target != ignore_index
    self.safe_target = xp.where(valid, target, 0)     # ignored pixels read class 0, weighted 0
    self.index = _target_index(x.shape, self.safe_target)
    if weight is None:
        self.w = valid.astype(x.dtype)
    else:
        self.w = xp.where(valid, weight[self.safe_target], x.dtype.type(0))
    self.count = float(self.w.sum() + (~valid).sum())
'''),
            )),
    Mistake("log-softmax without subtracting the maximum",
            loses={"log_softmax"},
            replace=(
                ("ops/loss.py", "LogSoftmax.forward", '''
def forward(self, x, *, axis):
    xp = get_array_module(x)
    shifted = x
    self.out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    self.axis = axis
    return self.out
'''),
            )),
    Mistake("log-softmax's gradient without the sum of the upstream gradient",
            loses={"log_softmax"},
            replace=(
                ("ops/loss.py", "LogSoftmax.backward", '''
def backward(self, grad):
    xp = get_array_module(grad)
    return grad - xp.exp(self.out)
'''),
            )),
    Mistake("the confusion matrix transposed (rows: prediction)",
            loses={"confusion_iou"},
            replace=(
                ("metrics.py", "_count_confusion", '''
def _count_confusion(pred, target, num_classes, ignore_index):
    valid = target != ignore_index
    codes = num_classes * pred[valid].astype(np.int64) + target[valid].astype(np.int64)
    return np.bincount(codes, minlength=num_classes ** 2).reshape(num_classes, num_classes)
'''),
            )),
    Mistake("mean IoU averaged over every class, an absent one counting as 0",
            loses={"confusion_iou"},
            replace=(
                ("metrics.py", "_scores_from_counts", '''
def _scores_from_counts(cm):
    total = cm.sum()
    tp, truth, predicted = np.diag(cm), cm.sum(1), cm.sum(0)
    union = truth + predicted - tp
    present = union > 0                      # in the ground truth or in the prediction
    in_truth = truth > 0
    iou = np.full(len(cm), np.nan)
    iou[present] = tp[present] / union[present]
    class_acc = tp[in_truth] / truth[in_truth]
    return {
        "pixel_accuracy": float(tp.sum() / total),
        "mean_accuracy": float(class_acc.mean()),
        "iou": iou,
        "miou": float(np.nan_to_num(iou).mean()),
        "fwiou": float((truth[present] / total * iou[present]).sum()),
    }
'''),
            )),
    Mistake("abs rel divided by the prediction instead of the target",
            loses={"depth_metrics"},
            replace=(
                ("metrics.py", "_sums_of_depth", '''
def _sums_of_depth(p, t):
    g = np.log(p) - np.log(t)
    ratio = np.maximum(p / t, t / p)
    return np.array([len(t), (np.abs(p - t) / p).sum(), ((p - t) ** 2 / t).sum(), ((p - t) ** 2).sum(),
                     (g ** 2).sum(), g.sum(), (ratio < 1.25).sum(), (ratio < 1.25 ** 2).sum(),
                     (ratio < 1.25 ** 3).sum()])
'''),
            )),
    Mistake("the unknown label treated as background: ignored pixels weighted 1 at class 0",
            loses={"unknown_label"},
            replace=(
                ("ops/loss.py", "_ClassLoss._weights", '''
def _weights(self, x, target, weight, ignore_index):
    xp = get_array_module(x)
    valid = target != ignore_index
    self.safe_target = xp.where(valid, target, 0)
    self.index = _target_index(x.shape, self.safe_target)
    if weight is None:
        self.w = xp.ones(target.shape, dtype=x.dtype)
    else:
        self.w = weight[self.safe_target]
    self.count = float(self.w.sum())
'''),
            )),
    Mistake("the class-weighted mean divided by the number of pixels instead of the sum of their weights",
            loses={"cross_entropy"},
            replace=(
                ("ops/loss.py", "_ClassLoss._weights", '''
def _weights(self, x, target, weight, ignore_index):
    xp = get_array_module(x)
    valid = target != ignore_index
    self.safe_target = xp.where(valid, target, 0)
    self.index = _target_index(x.shape, self.safe_target)
    if weight is None:
        self.w = valid.astype(x.dtype)
    else:
        self.w = xp.where(valid, weight[self.safe_target], x.dtype.type(0))
    self.count = float(valid.sum())
'''),
            )),
    Mistake("cross-entropy without subtracting the maximum (exp overflows for scores of size 1e4)",
            loses={"cross_entropy"},
            replace=(
                ("ops/loss.py", "CrossEntropy.forward", '''
def forward(self, x, target, *, weight, ignore_index, reduction):
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    self._weights(x, target, weight, ignore_index)
    picked = x.reshape(-1)[self.index]
    self.e = xp.exp(x)
    self.sum_e = self.e.sum(axis=1)
    self.reduction = reduction
    return _reduce((xp.log(self.sum_e) - picked) * self.w, reduction, self.count)
'''),
            )),
    Mistake("cross-entropy's gradient not multiplied by the upstream gradient",
            loses={"cross_entropy", "unknown_label"},
            replace=(
                ("ops/loss.py", "CrossEntropy.backward", '''
def backward(self, grad):
    xp = get_array_module(grad)
    coef = _reduce_backward(xp.ones_like(grad), self.reduction, self.count) * self.w
    gx = self.e * xp.expand_dims(coef / self.sum_e, 1)
    gx.reshape(-1)[self.index] -= coef
    return gx, None
'''),
            )),
    Mistake("the confusion matrix's codes computed in the labels' own dtype (uint8 overflows: 17 · 16)",
            loses={"confusion_iou"},
            replace=(
                ("metrics.py", "_count_confusion", '''
def _count_confusion(pred, target, num_classes, ignore_index):
    valid = target != ignore_index
    codes = (num_classes * target[valid] + pred[valid]).astype(np.int64)
    return np.bincount(codes, minlength=num_classes ** 2).reshape(num_classes, num_classes)
'''),
            )),
    Mistake("depth holes of NaN and inf kept (only target > 0 checked)",
            loses={"depth_metrics"},
            replace=(
                ("metrics.py", "_valid_depth", '''
def _valid_depth(target, mask):
    with np.errstate(invalid="ignore"):
        return mask & (target > 0)
'''),
            )),
    Mistake("log-softmax subtracts the maximum from its input in place (x -= max): the caller's scores change",
            loses={"log_softmax"},
            replace=(
                ("ops/loss.py", "LogSoftmax.forward", '''
def forward(self, x, *, axis):
    xp = get_array_module(x)
    x -= x.max(axis=axis, keepdims=True)
    self.out = x - xp.log(xp.exp(x).sum(axis=axis, keepdims=True))
    self.axis = axis
    return self.out
'''),
            )),
    Mistake("the depth mask ignored",
            loses={"depth_metrics"},
            replace=(
                ("metrics.py", "_valid_depth", '''
def _valid_depth(target, mask):
    with np.errstate(invalid="ignore"):
        return np.isfinite(target) & (target > 0)
'''),
            )),
)



#: mutants (mutants.py) that compute what the reference computes on every valid input, with the reason
EQUIVALENT_MUTANTS = {
    "CrossEntropy.forward:3: x = xp.ascontiguousarray(x) -> pass":
        "forward never writes into x: shifted = x - max is a new C-ordered array, and the flat indices read that",
    "CrossEntropy.forward:6: picked = shifted.reshape(-1)[self.index] -> "
    "picked = shifted.reshape(-2)[self.index]": EQUIVALENT_RESHAPE,
    "CrossEntropy.backward:5: gx.reshape(-1)[self.index] -= coef -> gx.reshape(-2)[self.index] -= coef":
        EQUIVALENT_RESHAPE,
    "_sums_of_depth:11: ratio = np.maximum(p / t, t / p) -> ratio = np.maximum(t / p, p / t)":
        "the maximum of two numbers does not depend on their order (p and t are finite and > 0: no NaN)",
    "_depth_from_sums:9: …log': 100 * np.sqrt(max(mean_g2 - mean_g ** 2, 0.0)), 'delta1': s[6] / n, … -> "
    "…log': 100 * np.sqrt(max(0.0, mean_g2 - mean_g ** 2)), 'delta1': s[6] / n, …":
        "the maximum of two numbers does not depend on their order (n > 0: the difference is never NaN)",
}


SPEC = Assignment(
    name="losses",
    title="Assignment 4: per-pixel losses and metrics: cross-entropy with the unknown label, IoU, depth metrics",
    stubs={"ops/loss.py": ["LogSoftmax.forward", "LogSoftmax.backward", "_ClassLoss._weights",
                           "CrossEntropy.forward", "CrossEntropy.backward"],
           "metrics.py": ["_count_confusion", "_scores_from_counts", "_valid_depth", "_sums_of_depth",
                          "_depth_from_sums"]},
    reveal={"ops/loss.py": ["Softmax.forward", "Softmax.backward", "NLLLoss.forward", "NLLLoss.backward"]},
    parts=(Part("log_softmax", 15, "log_softmax: values, stability for scores of size 1e4, gradient",
                cases=_log_softmax),
           Part("cross_entropy", 20, "cross_entropy: values with reductions and class weights, gradient",
                cases=_cross_entropy),
           Part("unknown_label", 20, "ignored pixels: not in the mean, zero gradient, all-ignored gives 0",
                builds_on=("cross_entropy",), cases=_unknown_label),
           Part("confusion_iou", 25, "confusion matrix cm[true, pred] without ignored pixels; IoU per class (NaN "
                                     "when absent from both), mean IoU, pixel and mean accuracy, fwIoU",
                cases=_confusion_iou),
           Part("depth_metrics", 20, "abs rel, sq rel, RMSE, RMSE log, silog, δ < 1.25^k over the valid pixels "
                                     "(mask true, target finite and > 0)", cases=_depth_metrics)),
    handout=read_handout(__file__),
    target=("ops/loss.py", "LogSoftmax.forward"),
    mistakes=MISTAKES,
    equivalent_mutants=EQUIVALENT_MUTANTS,
    starter=read_starter(__file__),
    questions=(
        "Predicting background everywhere on the scene of the notebook's section \"5. Accuracy "
        "versus IoU\" scores a high pixel accuracy and a low mean IoU. "
        "Why, and which of the two would you report for scenes whose objects cover 10% of the pixels? Why is a "
        "class absent from both maps left out of the mean IoU rather than counted as 0 (or as 1)?",
        "Why must a pixel with the unknown label get exactly zero gradient, rather than being treated as "
        "background or given a small weight? Think of where the scenes put their unknown pixels (a band on object "
        "boundaries).",
        "What do abs rel and δ < 1.25 measure that RMSE does not? Give a prediction with a small RMSE and a poor "
        "abs rel, and say why the metrics skip pixels whose target is 0.",
    ),
)
