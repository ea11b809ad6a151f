"""Case generators: the inputs each graded part runs on, drawn from a random generator.

``make_cases(spec, part, rng, public)`` returns a list of cases, each a dict

    {"id": "stride2-pad1-dil2", "part": "im2col", "fn": "im2col", "params": {...},
     "inputs": {name: array}, "rtol": 1e-7, "atol": 1e-9}

``fn`` names a function of ``grading/harness.py``; run on ``inputs`` and ``params`` it returns the
outputs that are compared. The kit's public cases come from a fixed generator (``PUBLIC_SEED``); the
grader's hidden cases from ``case_rng(term seed, student id, part)``, so two students get different
cases and a term's cases cannot be handed down. Generators use NumPy only; expected outputs come from
running the harness with the library's reference code (grading/score.py), never from a file.

To add an assignment: a spec in specs.py and an entry ``GENERATORS[name] = {part: generator}`` here,
each generator ``(rng, public) -> [case, ...]``.
"""
import hashlib

import numpy as np

PUBLIC_SEED = 20240917
TOL = {"rtol": 1e-7, "atol": 1e-9}
TOL32 = {"rtol": 1e-4, "atol": 1e-4}


def case_rng(seed, student, part_index):
    """The generator of one student's hidden cases of one part: from (term seed, student id, part)."""
    digest = hashlib.sha256(f"{int(seed)}\0{student}".encode()).digest()
    return np.random.default_rng([int.from_bytes(digest[:8], "little"), int(part_index)])


def public_rng(part_index):
    return np.random.default_rng([PUBLIC_SEED, int(part_index)])


def make_cases(spec, part, rng, public):
    cases = GENERATORS[spec.name][part](rng, public)
    for c in cases:
        c.setdefault("part", part)
        for k, v in TOL.items():
            c.setdefault(k, v)
    ids = [c["id"] for c in cases]
    if len(set(ids)) != len(ids):   # keep ids unique: a repeated geometry gets a number
        for i, c in enumerate(cases):
            c["id"] = f"{c['id']}-{i}"
    return cases


def _n(rng, shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def _pair_id(name, pair, default):
    pair = tuple(pair)
    if pair == (default, default):
        return ""
    return f"{name}{pair[0]}" if pair[0] == pair[1] else f"{name}{pair[0]}x{pair[1]}"


def _geo_id(p, extra=""):
    parts = [f"k{p['kernel_size'][0]}x{p['kernel_size'][1]}", _pair_id("stride", p["stride"], 1),
             _pair_id("pad", p["padding"], 0), _pair_id("dil", p["dilation"], 1), extra]
    return "-".join(s for s in parts if s)


def _conv_geometry(rng, public):
    """A random valid convolution geometry and input shape (at least one output pixel)."""
    while True:
        k = [int(v) for v in rng.integers(1, 4, 2)]
        s = [int(v) for v in rng.integers(1, 3 if public else 4, 2)]
        p = [int(v) for v in rng.integers(0, 3, 2)]
        d = [int(v) for v in rng.integers(1, 3, 2)]
        x = [int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(3, 9)), int(rng.integers(3, 9))]
        out = [(x[2 + a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) // s[a] + 1 for a in range(2)]
        if min(out) >= 1:
            return x, {"kernel_size": k, "stride": s, "padding": p, "dilation": d}, out


# ------------------------------------------------------------------ conv
def _im2col(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, _ = _conv_geometry(rng, public)
        cases.append({"id": _geo_id(geo), "fn": "im2col", "params": geo, "inputs": {"x": _n(rng, x)}})
    return cases


def _col2im(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, out = _conv_geometry(rng, public)
        rows, cols = x[1] * geo["kernel_size"][0] * geo["kernel_size"][1], x[0] * out[0] * out[1]
        cases.append({"id": _geo_id(geo), "fn": "col2im", "params": {**geo, "input_shape": x},
                      "inputs": {"cols": _n(rng, (rows, cols))}})
    return cases


def _conv_inputs(rng, public, backward):
    x, geo, out = _conv_geometry(rng, public)
    c_out = int(rng.integers(1, 4))
    inputs = {"x": _n(rng, x), "weight": _n(rng, (c_out, x[1], *geo["kernel_size"]))}
    bias = bool(rng.integers(0, 2))
    if bias:
        inputs["bias"] = _n(rng, c_out)
    if backward:
        inputs["grad"] = _n(rng, (x[0], c_out, *out))
    return {"id": _geo_id(geo, "bias" if bias else ""), "fn": "conv2d_backward" if backward else "conv2d",
            "params": geo, "inputs": inputs}


def _conv_forward(rng, public):
    cases = [_conv_inputs(rng, public, False) for _ in range(2 if public else 5)]
    c32 = _conv_inputs(rng, public, False)
    c32.update(id=c32["id"] + "-float32", inputs={k: v.astype(np.float32) for k, v in c32["inputs"].items()},
               **TOL32)
    return cases + [c32]


def _conv_backward(rng, public):
    return [_conv_inputs(rng, public, True) for _ in range(2 if public else 5)]


# ------------------------------------------------------------------ pool
def _transposed_inputs(rng, public, backward):
    while True:
        k = [int(v) for v in rng.integers(1, 4, 2)]
        s = [int(v) for v in rng.integers(1, 3 if public else 4, 2)]
        p = [int(v) for v in rng.integers(0, 2, 2)]
        d = [int(v) for v in rng.integers(1, 3, 2)]
        op = [int(rng.integers(0, max(s[a], d[a]))) for a in range(2)]
        x = [int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 6))]
        out = [(x[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a in range(2)]
        if min(out) >= 1:
            break
    c_out = int(rng.integers(1, 4))
    params = {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "output_padding": op}
    inputs = {"x": _n(rng, x), "weight": _n(rng, (x[1], c_out, *k)), "bias": _n(rng, c_out)}
    if backward:
        inputs["grad"] = _n(rng, (x[0], c_out, *out))
    extra = _pair_id("outpad", op, 0)
    return {"id": _geo_id(params, extra), "fn": "conv_transpose2d_backward" if backward else "conv_transpose2d",
            "params": params, "inputs": inputs}


def _transposed_forward(rng, public):
    return [_transposed_inputs(rng, public, False) for _ in range(2 if public else 5)]


def _transposed_backward(rng, public):
    # convolution's input gradient is a transposed convolution: this assignment writes it too
    return [_transposed_inputs(rng, public, True) for _ in range(2 if public else 4)] + \
        [_conv_inputs(rng, public, True)]


def _pool_geometry(rng, public):
    k = int(rng.integers(2, 4))
    s = int(rng.integers(1, k + 1))
    p = int(rng.integers(0, k // 2 + 1))
    x = [int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(k, 9)), int(rng.integers(k, 9))]
    out = [(x[2 + a] + 2 * p - k) // s + 1 for a in range(2)]
    return x, {"kernel_size": k, "stride": s, "padding": p}, out


def _pool_id(p, extra=""):
    parts = [f"k{p['kernel_size']}", f"stride{p['stride']}", f"pad{p['padding']}" if p["padding"] else "", extra]
    return "-".join(s for s in parts if s)


def _tied(rng, shape):
    """Small integers: many windows hold their maximum twice or more."""
    return rng.integers(0, 4, shape).astype(np.float64)


def _switches(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, _ = _pool_geometry(rng, public)
        cases.append({"id": _pool_id(geo, "ties"), "fn": "max_pool2d", "params": geo, "inputs": {"x": _tied(rng, x)}})
    return cases


def _maxpool_backward(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, out = _pool_geometry(rng, public)
        cases.append({"id": _pool_id(geo, "ties"), "fn": "max_pool2d_backward", "params": geo,
                      "inputs": {"x": _tied(rng, x), "grad": _n(rng, (x[0], x[1], *out))}})
    return cases


def _random_switches(rng, x, geo, out):
    """Valid switches: for each window, the flat index of one input position inside it."""
    k, s, p = geo["kernel_size"], geo["stride"], geo["padding"]
    idx = np.empty((x[0], x[1], *out), dtype=np.int64)
    for r in range(out[0]):
        rows = np.arange(max(r * s - p, 0), min(r * s - p + k, x[2]))
        for q in range(out[1]):
            cols = np.arange(max(q * s - p, 0), min(q * s - p + k, x[3]))
            idx[:, :, r, q] = rng.choice(rows, (x[0], x[1])) * x[3] + rng.choice(cols, (x[0], x[1]))
    return idx


def _unpool(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, out = _pool_geometry(rng, public)
        if geo["stride"] < geo["kernel_size"]:   # unpooling needs one switch per window: no overlap
            geo["stride"] = geo["kernel_size"]
            out = [(x[2 + a] + 2 * geo["padding"] - geo["kernel_size"]) // geo["stride"] + 1 for a in range(2)]
        idx = _random_switches(rng, x, geo, out)
        cases.append({"id": _pool_id(geo), "fn": "max_unpool2d", "params": {**geo, "output_size": x[2:]},
                      "inputs": {"x": _n(rng, (x[0], x[1], *out)), "indices": idx, "grad": _n(rng, x)}})
    return cases


# ------------------------------------------------------------------ segmentation
def _scores_and_target(rng, ignored=0.0):
    shape = [[int(rng.integers(2, 7)), int(rng.integers(2, 6))],
             [int(rng.integers(1, 3)), int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))]
             ][int(rng.integers(0, 2))]
    c = shape[1]
    x = _n(rng, shape, 2.0)
    t = rng.integers(0, c, [shape[0], *shape[2:]])
    if ignored:
        t[rng.random(t.shape) < ignored] = 255
        t.flat[0] = 255
    return x, t


def _log_softmax(rng, public):
    cases = []
    for i in range(2 if public else 4):
        shape = [int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        dim = int(rng.integers(0, 4)) if i else 1
        x = _n(rng, shape, 3.0)
        cases.append({"id": f"shape{'x'.join(map(str, shape))}-dim{dim}", "fn": "log_softmax",
                      "params": {"dim": dim}, "inputs": {"x": x, "grad": _n(rng, shape)}})
    big = _n(rng, (2, int(rng.integers(3, 6))), 1.0) * 1e4
    cases.append({"id": "scores-1e4", "fn": "log_softmax", "params": {"dim": 1},
                  "inputs": {"x": big, "grad": _n(rng, big.shape)}})
    return cases


def _loss_case(rng, name, x, t, weighted, reduction, ignore=False):
    inputs = {"x": x, "target": t}
    if weighted:
        inputs["weight"] = rng.uniform(0.5, 2.0, x.shape[1])
    inputs["grad"] = _n(rng, t.shape) if reduction == "none" else np.array(rng.uniform(0.5, 2.0))
    params = {"reduction": reduction}
    if ignore:
        params["ignore_index"] = 255
    shape = "x".join(map(str, x.shape))
    return {"id": f"{name}-{shape}-{reduction}{'-weighted' if weighted else ''}", "fn": "cross_entropy",
            "params": params, "inputs": inputs}


def _cross_entropy(rng, public):
    combos = [("mean", False), ("sum", True)] if public else \
        [("mean", False), ("sum", False), ("none", False), ("mean", True), ("none", True)]
    return [_loss_case(rng, "ce", *_scores_and_target(rng), weighted, red) for red, weighted in combos]


def _unknown_label(rng, public):
    combos = [("mean", False)] if public else [("mean", False), ("sum", False), ("mean", True), ("none", True)]
    cases = [_loss_case(rng, "ignored", *_scores_and_target(rng, 0.35), weighted, red, ignore=True)
             for red, weighted in combos]
    x, t = _scores_and_target(rng)
    cases.append(_loss_case(rng, "all-ignored", x, np.full_like(t, 255), bool(rng.integers(0, 2)), "mean", True))
    return cases


def _training(rng, public):
    """One case: the student's training run predicts held-out scenes the parent made."""
    from ..data import scenes  # the parent draws the held-out scenes with the library's generator
    from .specs import SEGMENTATION
    cfg = dict(SEGMENTATION.training)
    seed = cfg["seed"] if public else int(rng.integers(1, 2 ** 31))
    val = scenes.SceneDataset(cfg["n_val"], size=cfg["size"], seed=seed + 10_000)
    params = {k: cfg[k] for k in ("size", "n_train", "epochs", "batch_size", "lr", "base_channels", "depth")}
    params.update(seed=seed, num_classes=scenes.NUM_CLASSES, target_miou=cfg["target_miou"])
    return [{"id": f"unet-seed{seed}", "fn": "train_segmentation", "params": params,
             "inputs": {"images": val.arrays["image"].astype(np.float32)},
             "labels": val.arrays["labels"]}]


GENERATORS = {
    "conv": {"im2col": _im2col, "col2im": _col2im, "conv_forward": _conv_forward, "conv_backward": _conv_backward},
    "pool": {"transposed_forward": _transposed_forward, "transposed_backward": _transposed_backward,
             "switches": _switches, "maxpool_backward": _maxpool_backward, "unpool": _unpool},
    "segmentation": {"log_softmax": _log_softmax, "cross_entropy": _cross_entropy, "unknown_label": _unknown_label,
                     "training": _training},
}
