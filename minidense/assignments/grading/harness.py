"""The calls a graded case makes: ``FUNCTIONS[case["fn"]](inputs, params) -> {name: array}``.

The same file runs in three places: in the grader's child process against the student's kit, in the
grader's scoring process against the library's reference code (to make the expected outputs), and in
the kit's public tests. It holds no answer: each function calls the public ``minidense`` API on the
inputs and returns plain NumPy arrays (outputs and gradients). Every public function here is a case's
``fn`` (``FUNCTIONS``); one section per assignment.
"""
import os
import traceback

import numpy as np


def describe_error(exc):
    """What an exception raised by the student's code says, and where: its last three frames."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = "; ".join(f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in frames)
    return f"{type(exc).__name__}: {exc}"[:1500] + (f" (at {where})" if where else "")


#: the flags ``call`` adds to the outputs (0-d True), each followed by the input's or the output's name
CHANGED = "contract-changed:"
VIEW = "contract-view:"

#: the functions whose float inputs keep their dtype (no float32 twin); none today: ``unet_forward`` builds its
#: network in its input's dtype, so its float32 twin checks the dtype contract too
FLOAT64_ONLY = ()

_INPUTS = []   # (name, Tensor) made of the current call's inputs: checked for changes after it


def call(fn, inputs, params):
    """``FUNCTIONS[fn](inputs, params)``, then the flags of the contract it broke (none: the outputs alone)."""
    before = {name: np.array(value, copy=True) for name, value in inputs.items()}
    del _INPUTS[:]
    try:
        outputs = FUNCTIONS[fn](inputs, params)
        made = [(name, getattr(t, "data", None)) for name, t in _INPUTS]
    finally:
        del _INPUTS[:]
    watched = list(inputs.items()) + made
    flags = {CHANGED + name: np.array(True) for name, value in watched if not _unchanged(value, before[name])}
    for key, out in outputs.items():
        if not key.startswith("grad") and isinstance(out, np.ndarray) and any(
                isinstance(v, np.ndarray) and np.may_share_memory(out, v) for _, v in watched):
            flags[VIEW + key] = np.array(True)
    return {**outputs, **flags}


def _unchanged(value, before):
    if isinstance(value, np.generic):   # a NumPy scalar (a 0-d input): cannot change
        value = np.asarray(value)
    if not isinstance(value, np.ndarray) or value.shape != before.shape or value.dtype != before.dtype:
        return False
    same = value == before
    if value.dtype.kind == "f":
        same |= np.isnan(value) & np.isnan(before)
    return bool(np.all(same))


def _input(a, name, requires_grad=False):
    """A Tensor of the case's input ``name`` (a copy), watched by ``call`` for changes in place."""
    md, _ = _md()
    tensor = md.tensor(a[name], requires_grad=requires_grad)
    _INPUTS.append((name, tensor))
    return tensor


def _md():
    import minidense as md
    import minidense.functional as F
    return md, F


def _plain(value, name):
    """A plain NumPy array of numbers out of a Tensor / array the student's code returned."""
    data = getattr(value, "data", value)
    if not isinstance(data, np.ndarray) and not np.isscalar(data):
        raise TypeError(f"{name}: expected an array, got {type(data).__name__}")
    out = np.asarray(data)
    if out.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers, got dtype {out.dtype}")
    return out


def _geo(p):
    return {k: tuple(p[k]) for k in ("stride", "padding", "dilation")}


def _grad(tensor, name):
    if tensor.grad is None:
        raise ValueError(f"{name}: no gradient reached this input (grad is None)")
    return _plain(tensor.grad, name)


def _value_and_grad(md, x, y, a, name, key="out"):
    """y's value, then backward with the upstream ``grad``: {key: value, "grad_input": x's gradient}."""
    value = _plain(y, name)
    y.backward(_input(a, "grad"))
    return {key: value, "grad_input": _grad(x, "input")}


# ------------------------------------------------------------------ assignment 1: the autograd engine
#: the graphs of ``graph_backward``: ops whose backward the engine's kit gives (so only the order is tested)
_GRAPH_OPS = {"tanh": lambda t: t.tanh(), "sigmoid": lambda t: t.sigmoid(), "neg": lambda t: -t,
              "square": lambda t: t ** 2, "add": lambda t, u: t + u, "sub": lambda t, u: t - u}


def _order_checks(order, root, leaves, nodes, program):
    """Four checks of ``topological_order``'s list, each a 0-d 0/1 array, named for what they check."""
    if not isinstance(order, (list, tuple)):
        raise TypeError(f"topological_order: expected a list of tensors, got {type(order).__name__}")
    position = {}
    for k, t in enumerate(order):
        position.setdefault(id(t), k)
    used = [False] * len(nodes)   # which nodes the root was computed from (the program, walked backwards)
    used[-1] = True
    for k in range(len(nodes) - 1, len(leaves) - 1, -1):
        if used[k]:
            for i in program[k - len(leaves)][1:]:
                used[i] = True
    included = all(id(t) in position for t, u in zip(nodes, used) if u and t.requires_grad)
    after_users = included and all(position[id(nodes[i])] > position[id(nodes[k])]
                                   for k in range(len(leaves), len(nodes)) if used[k]
                                   for i in program[k - len(leaves)][1:] if nodes[i].requires_grad)
    checks = {"order_holds_every_tensor": included, "order_has_no_duplicates": len(position) == len(order),
              "order_starts_at_root": bool(order) and order[0] is root, "order_puts_each_after_its_users": after_users,
              "order_holds_only_tensors_that_require_grad": all(t.requires_grad for t in order)}
    return {name: np.array(float(ok)) for name, ok in checks.items()}


def graph_backward(a, p):
    """A graph from ``program`` ([op, i] or [op, i, j], indices into the leaves x0, x1, ... then the ops'
    outputs; the leaves listed in ``constants`` do not require grad); backward from its last node with the
    upstream ``grad``: the gradient of each leaf that requires grad, and the checks of ``topological_order``'s
    list."""
    md, _ = _md()
    from minidense.tensor import topological_order
    constants = set(p.get("constants", ()))
    leaves = [_input(a, f"x{i}", requires_grad=i not in constants) for i in range(p["leaves"])]
    nodes = list(leaves)
    for op, *args in p["program"]:
        nodes.append(_GRAPH_OPS[op](*(nodes[i] for i in args)))
    root = nodes[-1]
    checks = _order_checks(topological_order(root), root, leaves, nodes, p["program"])
    root.backward(_input(a, "grad"))
    out = {f"grad_x{i}": _grad(x, f"x{i}") for i, x in enumerate(leaves) if x.requires_grad}
    out.update(checks)
    return out


def unbroadcast(a, p):
    """``minidense.tensor.unbroadcast(grad, shape)``, whether it returned an array (a NumPy scalar is not one)
    and whether ``grad`` was left as it was (1 or 0)."""
    _md()
    from minidense.tensor import unbroadcast as undo
    grad = a["grad"].copy()
    result = undo(grad, tuple(p["shape"]))
    return {"grad": _plain(result, "unbroadcast"), "returns_an_array": np.array(float(not np.isscalar(result))),
            "grad_unchanged": np.array(float(np.array_equal(grad, a["grad"])))}


_OPS = {"mul": lambda t, u, p: t * u, "div": lambda t, u, p: t / u, "matmul": lambda t, u, p: t @ u,
        "sum": lambda t, p: t.sum(axis=_axis(p), keepdims=p["keepdims"]),
        "mean": lambda t, p: t.mean(axis=_axis(p), keepdims=p["keepdims"]),
        "exp": lambda t, p: t.exp(), "log": lambda t, p: t.log(), "relu": lambda t, p: t.relu()}


def _axis(p):
    axis = p.get("axis")
    return tuple(axis) if isinstance(axis, list) else axis


def op_backward(a, p):
    """One op on inputs ``a`` (and ``b``), then its Function's ``backward`` called directly with ``grad`` (as the
    engine calls it, before the engine sums broadcast gradients back): what it returned for each input that
    requires a gradient (``needs``), and whether ``grad`` was left as it was (1 or 0)."""
    md, _ = _md()
    names = [n for n in ("a", "b") if n in a]
    needs = p.get("needs", [True] * len(names))
    tensors = [_input(a, n, requires_grad=bool(r)) for n, r in zip(names, needs)]
    fn = _OPS[p["op"]](*tensors, p)._ctx
    grad = a["grad"].copy()
    got = fn.backward(grad)
    who = f"{type(fn).__name__}.backward"
    got = got if isinstance(got, tuple) else (got,)
    if len(got) != len(names):
        raise ValueError(f"{who} returned {len(got)} gradients for {len(names)} inputs (a tuple, one per input)")
    out = {}
    for n, t, g in zip(names, tensors, got):
        if t.requires_grad:
            if g is None:
                raise ValueError(f"{who} returned None for input {n}, which requires a gradient")
            out[f"grad_{n}"] = _plain(g, f"{who}: gradient of {n}")
    out["grad_unchanged"] = np.array(float(np.array_equal(grad, a["grad"])))
    return out


def _leaves(md, a, names):
    return {n: _input(a, n, requires_grad=True) for n in names}


def mlp_backward(a, p):
    """A two-layer perceptron's loss (``cross_entropy`` or ``squared``) on a batch, and every gradient."""
    md, _ = _md()
    t = _leaves(md, a, ("x", "w1", "b1", "w2", "b2"))
    y = (t["x"] @ t["w1"] + t["b1"]).relu() @ t["w2"] + t["b2"]
    target = _input(a, "target")
    if p["loss"] == "cross_entropy":   # log-sum-exp minus the target's score, per row, averaged
        loss = (y.exp().sum(axis=1).log() - (y * target).sum(axis=1)).mean()
    else:
        loss = ((y - target) ** 2).mean() / 2
    loss.backward()
    return {"loss": _plain(loss, "loss"), **{f"grad_{n}": _grad(v, n) for n, v in t.items()}}


def expression_backward(a, p):
    """A small expression in a, b, c with broadcasting, tensors used several times, every op of the assignment."""
    md, _ = _md()
    t = _leaves(md, a, ("a", "b", "c"))
    x, y, z = t["a"], t["b"], t["c"]
    v = (x * y + x / (y * y + 1)).relu()
    loss = (v @ z).mean() + (x.exp().sum(axis=-1, keepdims=True) * y).sum() + (y * y + 1).log().sum()
    loss.backward()
    return {"loss": _plain(loss, "loss"), **{f"grad_{n}": _grad(v, n) for n, v in t.items()}}


# ------------------------------------------------------------------ assignments 2 and 3: convolution, pooling
def im2col(a, p):
    md, F = _md()
    return {"cols": _plain(F.im2col(_input(a, "x"), tuple(p["kernel_size"]), **_geo(p)), "im2col")}


def col2im(a, p):
    md, F = _md()
    out = F.col2im(_input(a, "cols"), tuple(p["input_shape"]), tuple(p["kernel_size"]), **_geo(p))
    return {"x": _plain(out, "col2im")}


def _conv_call(a, p, grad):
    md, F = _md()
    x, w = _input(a, "x", requires_grad=grad), _input(a, "weight", requires_grad=grad)
    b = _input(a, "bias", requires_grad=grad) if "bias" in a else None
    return md, x, w, b, F.conv2d(x, w, b, **_geo(p))


def conv2d(a, p):
    return {"out": _plain(_conv_call(a, p, False)[-1], "conv2d")}


def conv2d_backward(a, p):
    md, x, w, b, y = _conv_call(a, p, True)
    y.backward(_input(a, "grad"))
    out = {"grad_input": _grad(x, "input"), "grad_weight": _grad(w, "weight")}
    if b is not None:
        out["grad_bias"] = _grad(b, "bias")
    return out


def _tconv_call(a, p, grad):
    """``grad``: whether the inputs require grad; ``p["needs"]`` ([x, weight, bias]) picks which of them do."""
    md, F = _md()
    needs = p.get("needs", [True] * 3) if grad else [False] * 3
    x, w, b = (_input(a, k, requires_grad=bool(r)) for k, r in zip(("x", "weight", "bias"), needs))
    y = F.conv_transpose2d(x, w, b, output_padding=tuple(p["output_padding"]), **_geo(p))
    return md, x, w, b, y


def conv_transpose2d(a, p):
    return {"out": _plain(_tconv_call(a, p, False)[-1], "conv_transpose2d")}


def conv_transpose2d_backward(a, p):
    md, x, w, b, y = _tconv_call(a, p, True)
    y.backward(_input(a, "grad"))
    named = {"grad_input": (x, "input"), "grad_weight": (w, "weight"), "grad_bias": (b, "bias")}
    return {key: _grad(t, name) for key, (t, name) in named.items() if t.requires_grad}


def max_pool2d(a, p):
    """The pooled values with 0 where they are NaN and ``out_is_nan`` saying where (NaN never equals NaN), and
    the switches."""
    md, F = _md()
    y, idx = F.max_pool2d(_input(a, "x"), p["kernel_size"], p["stride"], p["padding"], return_indices=True)
    out = _plain(y, "max_pool2d")
    nan = np.isnan(out)
    return {"out": np.where(nan, 0.0, out).astype(out.dtype), "out_is_nan": nan, "indices": _plain(idx, "indices")}


def max_pool2d_backward(a, p):
    md, F = _md()
    x = _input(a, "x", requires_grad=True)
    F.max_pool2d(x, p["kernel_size"], p["stride"], p["padding"]).backward(_input(a, "grad"))
    return {"grad_input": _grad(x, "input")}


def max_unpool2d(a, p):
    md, F = _md()
    x = _input(a, "x", requires_grad=True)
    y = F.max_unpool2d(x, _input(a, "indices"), p["kernel_size"], p["stride"], p["padding"],
                       output_size=tuple(p["output_size"]))
    return _value_and_grad(md, x, y, a, "max_unpool2d")


# ------------------------------------------------------------------ assignment 4: losses and metrics
def log_softmax(a, p):
    md, F = _md()
    x = _input(a, "x", requires_grad=True)
    return _value_and_grad(md, x, F.log_softmax(x, dim=p["dim"]), a, "log_softmax")


def cross_entropy(a, p):
    md, F = _md()
    x = _input(a, "x", requires_grad=True)
    weight = _input(a, "weight") if "weight" in a else None
    loss = F.cross_entropy(x, _input(a, "target"), weight=weight, reduction=p["reduction"],
                           ignore_index=p.get("ignore_index", -100))
    return _value_and_grad(md, x, loss, a, "cross_entropy", key="loss")


def _entries(scores, keys, name):
    """{key: plain array} of the dict a metric returned, each key required."""
    if not isinstance(scores, dict):
        raise TypeError(f"{name}: expected a dict with keys {', '.join(keys)}, got {type(scores).__name__}")
    missing = [k for k in keys if k not in scores]
    if missing:
        raise KeyError(f"{name}: the dict lacks {', '.join(missing)} (it has {', '.join(map(str, scores))})")
    return {k: _plain(scores[k], f"{name}['{k}']") for k in keys}


def confusion_matrix(a, p):
    md, _ = _md()
    cm = md.metrics.confusion_matrix(a["pred"], a["target"], p["num_classes"], ignore_index=p["ignore_index"])
    return {"cm": _plain(cm, "confusion_matrix")}


def segmentation_scores(a, p):
    """The scores; ``iou`` with 0 where it is NaN and ``iou_is_nan`` saying where (NaN never equals NaN)."""
    md, _ = _md()
    s = md.metrics.segmentation_scores(a["pred"], a["target"], p["num_classes"], ignore_index=p["ignore_index"])
    out = _entries(s, ("pixel_accuracy", "mean_accuracy", "iou", "miou", "fwiou"), "segmentation_scores")
    out["iou_is_nan"] = np.isnan(out["iou"])
    out["iou"] = np.where(out["iou_is_nan"], 0.0, out["iou"])
    return out


def depth_metrics(a, p):
    md, _ = _md()
    m = md.metrics.depth_metrics(a["pred"], a["target"], mask=a.get("mask"))
    return _entries(m, ("abs_rel", "sq_rel", "rmse", "rmse_log", "silog", "delta1", "delta2", "delta3"),
                    "depth_metrics")


# ------------------------------------------------------------------ assignment 5: a U-Net, trained
def _unet(args):
    """A UNet with every constructor argument given (no default of the library is used)."""
    from minidense.models import UNet
    return UNet(args["in_channels"], args["out_channels"], base_channels=args["base_channels"], depth=args["depth"],
                up=args["up"], batch_norm=args["batch_norm"], skips=args["skips"])


def unet_architecture(a, p):
    """The constructor's result: each state-dict entry's shape, the counts, the stored arguments."""
    model = _unet(p["args"])
    state = model.state_dict()
    out = {f"{key}.shape": np.array(tuple(value.shape), dtype=np.int64) for key, value in state.items()}
    out["state_dict_entries"] = np.array(len(state), dtype=np.int64)
    out["parameters"] = np.array(sum(int(np.prod(t.shape)) for t in model.parameters()), dtype=np.int64)
    out["size_multiple"] = np.array(model.size_multiple, dtype=np.int64)
    for name, value in p["args"].items():   # stored as self.<name> (checkpoint.describe_model reads them back)
        got = getattr(model, name, None)
        out[f"self.{name}"] = np.array(type(got) is type(value) and got == value)
    return out


def unet_forward(a, p):
    """The course's weights loaded into the network, in eval mode: its scores for ``x``. The network is made in
    ``x``'s dtype (float64, or float32 for the dtype contract: float32 in, float32 out)."""
    md, _ = _md()
    model = _unet(p["args"])
    model = model.double() if a["x"].dtype == np.float64 else model.float()
    model.load_state_dict({k: v for k, v in a.items() if k != "x"})
    model.eval()
    with md.no_grad():
        return {"out": _plain(model(_input(a, "x")), "UNet output")}


#: the inputs of a training case named INITIAL + a state-dict key hold the course's initial weights
INITIAL = "initial:"


def _start_from_course_weights(model, a):
    """Load the course's initial weights into ``model`` by state-dict name: the training parts measure the
    network's forward and backward, not the order its constructor drew its random weights in."""
    state = {key[len(INITIAL):]: value for key, value in a.items() if key.startswith(INITIAL)}
    try:
        model.load_state_dict(state)
    except Exception as exc:
        raise ValueError("the network's state dict is not the contract's, so the course's initial weights do not "
                         f"load into it and it is not trained ({exc})") from None


def _train_unet(a, p, skips):
    """Train the pinned U-Net with the kit's code from the course's initial weights, every hyper-parameter passed;
    its labels for the held-out images."""
    md, _ = _md()
    from minidense.data import scenes
    from minidense.optim import Adam
    from minidense.train import fit
    if p["optimizer"] != "Adam":
        raise ValueError(f"unknown optimizer {p['optimizer']!r}")
    md.manual_seed(p["seed"])
    model = _unet({"in_channels": p["in_channels"], "out_channels": p["num_classes"], "base_channels":
                   p["base_channels"], "depth": p["depth"], "up": p["up"], "batch_norm": p["batch_norm"],
                   "skips": skips})
    _start_from_course_weights(model, a)
    train = scenes.SceneDataset(p["n_train"], size=p["size"], seed=p["seed"])
    fit(model, "segmentation", train, None, epochs=p["epochs"], batch_size=p["batch_size"],
        optimizer=Adam(model.parameters(), lr=p["lr"]), lr=p["lr"], schedule=p["schedule"], augment=p["augment"],
        seed=p["seed"], device="cpu", out=None, resume=False, on_nan="stop", progress=False,
        log=lambda *args, **kw: None)
    model.eval()
    with md.no_grad():
        scores = _plain(model(_input(a, "images")), "model output")
    return scores.argmax(axis=1)


def train_unet(a, p):
    return {"pred": _train_unet(a, p, skips=True)}


def unet_skip_ablation(a, p):
    """The same run with and without skips (same seed: same data, same initial weights)."""
    return {"pred_skips": _train_unet(a, p, skips=True), "pred_no_skips": _train_unet(a, p, skips=False)}


# ------------------------------------------------------------------ assignment 6: depth and normals
def _loss_and_grads(md, loss, a, pred, target=None):
    """The loss's value, then backward with the upstream ``grad``: the gradients of pred (and target)."""
    out = {"loss": _plain(loss, "loss")}
    loss.backward(_input(a, "grad"))
    out["grad_input"] = _grad(pred, "pred")
    if target is not None:
        out["grad_target"] = _grad(target, "target")
    return out


def _pair(md, a):
    """pred and target as Tensors that take gradients, and the mask (None without one)."""
    pred, target = _input(a, "pred", requires_grad=True), _input(a, "target", requires_grad=True)
    return pred, target, _input(a, "mask") if "mask" in a else None


def l1_loss(a, p):
    md, F = _md()
    pred, target, mask = _pair(md, a)
    return _loss_and_grads(md, F.l1_loss(pred, target, mask=mask, reduction=p["reduction"]), a, pred, target)


def scale_invariant_log_loss(a, p):
    md, F = _md()
    pred, target, mask = _pair(md, a)
    return _loss_and_grads(md, F.scale_invariant_log_loss(pred, target, mask=mask, lam=p["lam"]), a,
                           pred, target)


def cosine_normal_loss(a, p):
    md, F = _md()
    pred, target, mask = _pair(md, a)
    return _loss_and_grads(md, F.cosine_normal_loss(pred, target, mask=mask, reduction=p["reduction"]), a,
                           pred)


def normalize(a, p):
    md, F = _md()
    x = _input(a, "x", requires_grad=True)
    return _value_and_grad(md, x, F.normalize(x, dim=p["dim"]), a, "normalize")


def train_dense(a, p):
    """Train the pinned U-Net for depth or normals with the kit's losses from the course's initial weights; its raw
    output on the held-out images.

    Every setting comes from ``p`` (the spec's ``training``); the output bias is set here, before fit, to the
    training targets' mean (depth: over the valid pixels), so fit's own start of the bias is never used."""
    md, _ = _md()
    from minidense import models, optim, tasks
    from minidense.data import scenes
    from minidense.train import fit
    md.manual_seed(p["seed"])
    task = tasks.Depth(loss=p["loss"]) if p["task"] == "depth" else tasks.Normals()
    model = getattr(models, p["model"])(3, task.out_channels, base_channels=p["base_channels"], depth=p["depth"],
                                        up=p["up"], batch_norm=p["batch_norm"], skips=True)
    _start_from_course_weights(model, a)
    train = scenes.SceneDataset(p["n_train"], size=p["size"], seed=p["seed"], task=p["task"])
    targets = train.arrays[p["task"]]
    if p["task"] == "depth":   # a depth sensor's holes: pixels without a measurement hold 0 (invalid)
        holes = np.random.default_rng(p["seed"]).random(targets.shape) < p["holes"]
        targets[holes] = 0
        start = np.array([targets[targets > 0].mean()])
    else:
        start = targets.mean(axis=(0, 2, 3))
    model.output_bias.data = start.astype(model.output_bias.data.dtype)
    optimizer = getattr(optim, p["optimizer"])(model.parameters(), lr=p["lr"], betas=tuple(p["betas"]),
                                               eps=p["adam_eps"], weight_decay=p["weight_decay"])
    fit(model, task, train, None, epochs=p["epochs"], batch_size=p["batch_size"], optimizer=optimizer, lr=p["lr"],
        schedule=p["schedule"], seed=p["seed"], augment=p["augment"], device="cpu", on_nan="stop", progress=False,
        log=lambda *args, **kw: None)
    model.eval()
    with md.no_grad():
        return {"pred": _plain(model(_input(a, "images")), "model output")}


#: every public function of this file, by name (a case's ``fn``)
FUNCTIONS = {name: f for name, f in list(globals().items())
             if callable(f) and not name.startswith("_") and getattr(f, "__module__", None) == __name__}
