"""The calls a graded case makes: ``FUNCTIONS[case["fn"]](inputs, params) -> {name: array}``.

The same file runs in three places: in the grader's child process against the student's kit, in the
grader's scoring process against the library's reference code (to make the expected outputs), and in
the kit's public tests. It holds no answer: each function calls the public ``minidense`` API on the
inputs and returns plain NumPy arrays (outputs and gradients). Every public function here is a case's
``fn`` (``FUNCTIONS``); one section per assignment.
"""
import numpy as np


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


def _value_and_grad(md, x, y, grad, name, key="out"):
    """y's value, then backward with the upstream ``grad``: {key: value, "grad_input": x's gradient}."""
    value = _plain(y, name)
    y.backward(md.tensor(grad))
    return {key: value, "grad_input": _grad(x, "input")}


# ------------------------------------------------------------------ assignment 1: the autograd engine


# ------------------------------------------------------------------ assignments 2 and 3: convolution, pooling
def im2col(a, p):
    md, F = _md()
    return {"cols": _plain(F.im2col(md.tensor(a["x"]), tuple(p["kernel_size"]), **_geo(p)), "im2col")}


def col2im(a, p):
    md, F = _md()
    out = F.col2im(md.tensor(a["cols"]), tuple(p["input_shape"]), tuple(p["kernel_size"]), **_geo(p))
    return {"x": _plain(out, "col2im")}


def _conv_call(a, p, grad):
    md, F = _md()
    x, w = md.tensor(a["x"], requires_grad=grad), md.tensor(a["weight"], requires_grad=grad)
    b = md.tensor(a["bias"], requires_grad=grad) if "bias" in a else None
    return md, x, w, b, F.conv2d(x, w, b, **_geo(p))


def conv2d(a, p):
    return {"out": _plain(_conv_call(a, p, False)[-1], "conv2d")}


def conv2d_backward(a, p):
    md, x, w, b, y = _conv_call(a, p, True)
    y.backward(md.tensor(a["grad"]))
    out = {"grad_input": _grad(x, "input"), "grad_weight": _grad(w, "weight")}
    if b is not None:
        out["grad_bias"] = _grad(b, "bias")
    return out


def _tconv_call(a, p, grad):
    md, F = _md()
    x, w, b = (md.tensor(a[k], requires_grad=grad) for k in ("x", "weight", "bias"))
    y = F.conv_transpose2d(x, w, b, output_padding=tuple(p["output_padding"]), **_geo(p))
    return md, x, w, b, y


def conv_transpose2d(a, p):
    return {"out": _plain(_tconv_call(a, p, False)[-1], "conv_transpose2d")}


def conv_transpose2d_backward(a, p):
    md, x, w, b, y = _tconv_call(a, p, True)
    y.backward(md.tensor(a["grad"]))
    return {"grad_input": _grad(x, "input"), "grad_weight": _grad(w, "weight"), "grad_bias": _grad(b, "bias")}


def max_pool2d(a, p):
    md, F = _md()
    y, idx = F.max_pool2d(md.tensor(a["x"]), p["kernel_size"], p["stride"], p["padding"], return_indices=True)
    return {"out": _plain(y, "max_pool2d"), "indices": _plain(idx, "indices")}


def max_pool2d_backward(a, p):
    md, F = _md()
    x = md.tensor(a["x"], requires_grad=True)
    F.max_pool2d(x, p["kernel_size"], p["stride"], p["padding"]).backward(md.tensor(a["grad"]))
    return {"grad_input": _grad(x, "input")}


def max_unpool2d(a, p):
    md, F = _md()
    x = md.tensor(a["x"], requires_grad=True)
    y = F.max_unpool2d(x, md.tensor(a["indices"]), p["kernel_size"], p["stride"], p["padding"],
                       output_size=tuple(p["output_size"]))
    return _value_and_grad(md, x, y, a["grad"], "max_unpool2d")


# ------------------------------------------------------------------ assignment 4: losses and metrics
def log_softmax(a, p):
    md, F = _md()
    x = md.tensor(a["x"], requires_grad=True)
    return _value_and_grad(md, x, F.log_softmax(x, dim=p["dim"]), a["grad"], "log_softmax")


def cross_entropy(a, p):
    md, F = _md()
    x = md.tensor(a["x"], requires_grad=True)
    weight = md.tensor(a["weight"]) if "weight" in a else None
    loss = F.cross_entropy(x, md.tensor(a["target"]), weight=weight, reduction=p["reduction"],
                           ignore_index=p.get("ignore_index", -100))
    return _value_and_grad(md, x, loss, a["grad"], "cross_entropy", key="loss")


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
    """The course's weights (float64) loaded into the network, in eval mode: its scores for ``x``."""
    md, _ = _md()
    model = _unet(p["args"]).double()
    model.load_state_dict({k: v for k, v in a.items() if k != "x"})
    model.eval()
    with md.no_grad():
        return {"out": _plain(model(md.tensor(a["x"])), "UNet output")}


def _train_unet(a, p, skips):
    """Train the pinned U-Net with the kit's code, every hyper-parameter passed; its labels for the held-out images."""
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
    train = scenes.SceneDataset(p["n_train"], size=p["size"], seed=p["seed"])
    fit(model, "segmentation", train, None, epochs=p["epochs"], batch_size=p["batch_size"],
        optimizer=Adam(model.parameters(), lr=p["lr"]), lr=p["lr"], schedule=p["schedule"], augment=p["augment"],
        seed=p["seed"], device="cpu", out=None, resume=False, on_nan="stop", progress=False,
        log=lambda *args, **kw: None)
    model.eval()
    with md.no_grad():
        scores = _plain(model(md.tensor(a["images"])), "model output")
    return scores.argmax(axis=1)


def train_unet(a, p):
    return {"pred": _train_unet(a, p, skips=True)}


def unet_skip_ablation(a, p):
    """The same run with and without skips (same seed: same data, same initial weights)."""
    return {"pred_skips": _train_unet(a, p, skips=True), "pred_no_skips": _train_unet(a, p, skips=False)}


# ------------------------------------------------------------------ assignment 6: depth and normals


#: every public function of this file, by name (a case's ``fn``)
FUNCTIONS = {name: f for name, f in list(globals().items())
             if callable(f) and not name.startswith("_") and getattr(f, "__module__", None) == __name__}
