"""Case generators: the inputs each graded part runs on, drawn from a random generator.

``make_cases(spec, part, rng, public)`` returns a list of cases, each a dict

    {"id": "stride2-pad1-dil2", "part": "im2col", "fn": "im2col", "params": {...},
     "inputs": {name: array}, "rtol": 1e-7, "atol": 1e-9}

``fn`` names a function of ``grading/harness.py``; run on ``inputs`` and ``params`` it returns the
outputs that are compared. Optional keys: ``hints`` (see below); ``check`` (a training run judged by
``compare.check_<check>(expected, got, params)`` instead of element by element); ``expected`` (the
expected outputs themselves, e.g. held-out labels, instead of running the reference); ``requires``
(cases of the parts this one builds on, each with its ``part``: the case runs only when the student's
code passes them, ``compare.verdict``). ``make_cases`` adds to every part compared element by element a
float32 twin of its first case (the dtype contract), and a training case's inputs hold the course's
initial weights (``course_weights``).

The kit's public cases come from a fixed generator (``PUBLIC_SEED``); the
grader's hidden cases from ``case_rng(term seed, student id, part)``, so two students get different
cases and a term's cases cannot be handed down. Generators use NumPy only (the library where a case needs its
reference network or data); expected outputs come from running the harness with the library's reference code
(grading/score.py), never from a file.

Each assignment's generators live in its spec, ``course/<name>/spec.py``, one on each part
(``Part.cases``, ``(rng, public) -> [case, ...]``); the helpers they share are here. A case may
carry ``hints``, tiers of sentences that the failure message adds (``hinted``: each spec declares
``HINTS = {key: (tier 1, tier 2, ...)}``), e.g. "the gradient of a tied maximum goes to one switch";
tier 1 names the contract the case checks, later tiers come closer to a formula. The grader's
feedback.md shows tier 1; the kit's own grader shows the next tier after a part failed again.
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
    cases = spec.part(part).cases(rng, public)
    twin = float32_twin(cases)
    if twin is not None:
        cases.append(twin)
    for c in cases:
        for pre in c.get("requires", ()):
            for k, v in TOL.items():
                pre.setdefault(k, v)
        c.setdefault("part", part)
        for k, v in TOL.items():
            c.setdefault(k, v)
    ids = [c["id"] for c in cases]
    if len(set(ids)) != len(ids):   # keep ids unique: a repeated geometry gets a number
        for i, c in enumerate(cases):
            c["id"] = f"{c['id']}-{i}"
    return cases


def float32_twin(cases):
    """The dtype contract (float32 in, float32 out) on every part: the first case compared element by element,
    its floating-point inputs in float32 (tolerance ``TOL32``); None when a case of the part has float32 inputs
    already, or none is compared element by element."""
    from .grading.harness import FLOAT64_ONLY

    def floats(c):
        return [v for v in c["inputs"].values() if v.dtype.kind == "f"] if c["fn"] not in FLOAT64_ONLY else []
    if any(v.dtype == np.float32 for c in cases for v in floats(c)):
        return None
    for c in cases:
        if floats(c) and not {"check", "expected", "requires"} & set(c):
            inputs = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in c["inputs"].items()}
            hint = "float32 in, float32 out: make new arrays with the input's dtype (dtype=x.dtype)"
            hints = list(c.get("hints") or ())
            return {**c, "id": c["id"] + "-float32", "inputs": inputs, **TOL32,
                    "hints": [f"{hints[0]}; {hint}"] + hints[1:] if hints else [hint]}
    return None


def course_weights(build, seed):
    """The course's initial weights of a training case: the state dict of ``build()`` (the reference network)
    made right after ``md.manual_seed(seed)``, as {harness.INITIAL + key: array}; the harness loads them into
    the student's network by name."""
    import minidense as md  # the parent builds the reference network

    from .grading.harness import INITIAL
    md.manual_seed(seed)
    return {INITIAL + key: np.array(getattr(value, "data", value)) for key, value in build().state_dict().items()}


def normal(rng, shape, scale=1.0):
    return rng.standard_normal(shape) * scale


def hinted(case, table, *keys):
    """``case`` with its tiered hints, ``case["hints"]`` = [tier 1, tier 2, ...]: tier k joins, with "; ", tier k
    of each entry ``keys`` names in ``table`` ({key: (tier 1, tier 2, ...)}, a spec's ``HINTS``), in that order.
    Feedback shows tier 1 first and the later ones only after the part failed again (``compare.explain``)."""
    tiers = [table[k] for k in keys]
    case["hints"] = ["; ".join(t[i] for t in tiers if i < len(t)) for i in range(max(map(len, tiers)))]
    return case


def shape_id(shape):
    """A shape as a case id writes it: ``2x3x4``, or ``scalar`` for ``()``."""
    return "x".join(map(str, shape)) if len(shape) else "scalar"


def image_shape(rng, batch, size, channels):
    """``[N, channels, H, W]`` with N drawn from ``range(*batch)`` and H, W from ``range(*size)``."""
    return [int(rng.integers(*batch)), channels, int(rng.integers(*size)), int(rng.integers(*size))]


def depth_pair(rng, shape, spread, image_spread=0.0):
    """(prediction, target): a target depth in [1, 10] and a prediction off by a factor exp(N(0, spread²)) per
    pixel, and with ``image_spread`` also by one exp(N(0, image_spread²)) per image (axis 0)."""
    target = rng.uniform(1.0, 10.0, shape)
    per_image = np.exp(rng.normal(0, image_spread, (shape[0],) + (1,) * (len(shape) - 1))) if image_spread else 1.0
    return target * per_image * np.exp(rng.normal(0, spread, shape)), target


def held_out_scenes(rng, public, training):
    """(training seed, held-out scenes) of a training case: the pinned ``training["seed"]`` in the kit, else one
    drawn from ``rng``; ``training["n_val"]`` scenes of ``training["size"]`` from another seed (never the
    training set), as ``scenes.generate`` returns them."""
    from ..data import scenes  # the parent draws the held-out scenes with the library's generator
    seed = training["seed"] if public else int(rng.integers(1, 2 ** 31))
    return seed, scenes.generate(training["n_val"], training["size"], seed + 10_000)


def pair_id(name, pair, default):
    pair = tuple(pair)
    if pair == (default, default):
        return ""
    return f"{name}{pair[0]}" if pair[0] == pair[1] else f"{name}{pair[0]}x{pair[1]}"


def geo_id(p, extra=""):
    parts = [f"k{p['kernel_size'][0]}x{p['kernel_size'][1]}", pair_id("stride", p["stride"], 1),
             pair_id("pad", p["padding"], 0), pair_id("dil", p["dilation"], 1), extra]
    return "-".join(s for s in parts if s)


def conv_geometry(rng, public):
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


def conv_inputs(rng, public, backward):
    """A conv2d case (with a bias half of the time): forward, or backward with an upstream gradient."""
    x, geo, out = conv_geometry(rng, public)
    c_out = int(rng.integers(1, 4))
    inputs = {"x": normal(rng, x), "weight": normal(rng, (c_out, x[1], *geo["kernel_size"]))}
    bias = bool(rng.integers(0, 2))
    if bias:
        inputs["bias"] = normal(rng, c_out)
    if backward:
        inputs["grad"] = normal(rng, (x[0], c_out, *out))
    return {"id": geo_id(geo, "bias" if bias else ""), "fn": "conv2d_backward" if backward else "conv2d",
            "params": geo, "inputs": inputs}


def conv_case(rng, x, geo, c_out, bias, backward, name=""):
    """A conv2d case on a chosen input shape ``x`` and geometry (e.g. N ≥ 2 and C_out ≥ 2, so that a batch
    axis left in place shows); its id is ``name`` followed by the geometry."""
    out = [(x[2 + a] + 2 * geo["padding"][a] - geo["dilation"][a] * (geo["kernel_size"][a] - 1) - 1)
           // geo["stride"][a] + 1 for a in range(2)]
    inputs = {"x": normal(rng, x), "weight": normal(rng, (c_out, x[1], *geo["kernel_size"]))}
    if bias:
        inputs["bias"] = normal(rng, c_out)
    if backward:
        inputs["grad"] = normal(rng, (x[0], c_out, *out))
    ident = "-".join(s for s in (name, geo_id(geo, "bias" if bias else "")) if s)
    return {"id": ident, "fn": "conv2d_backward" if backward else "conv2d", "params": geo, "inputs": inputs}


# Why an automatic mutant (mutants.py) is equivalent, for the reasons several specs give.
#: NumPy reads a negative size other than -1 in reshape like -1 (the size is inferred)
EQUIVALENT_RESHAPE = "NumPy infers the size of an axis given as -2 in reshape as it does for -1"
#: swapaxes(1, 0) for swapaxes(0, 1): the same two axes exchanged
EQUIVALENT_SWAPAXES = "swapaxes(1, 0) and swapaxes(0, 1) exchange the same two axes"
#: col2im's zero buffer made larger than the padded image: the extra part is cropped away
EQUIVALENT_LARGER_BUFFER = ("a larger zero buffer: the extra rows or columns past the bottom or right are never "
                            "written and are cropped away")
