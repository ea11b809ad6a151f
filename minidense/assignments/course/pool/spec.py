"""Assignment 3: transposed convolution, max pooling with switches, unpooling."""
import numpy as np

from ...cases import conv_case, conv_inputs, geo_id, normal, pair_id
from ...specs import Assignment, Mistake, Part, read_handout, read_starter

HINTS = {
    "transposed_forward": "the forward IS convolution's input gradient: _conv_input_grad(x, weight, geo, "
                          "(N, C_out, *out_size)) with the weight as it is, (C_in, C_out, kH, kW), a convolution from "
                          "C_out to C_in channels; col2im must ADD overlapping entries (they overlap whenever the "
                          "stride is smaller than the kernel)",
    "outpad": "output_padding ≥ stride (allowed when dilation > stride): the convolution of an out_size image has "
              "more windows than x has pixels, so extend x with zeros first, "
              "_zero_extended(x, columns.output_size(out_size, geo))",
    "transposed_backward": "grad_input is convolution's FORWARD of grad, _conv_forward(grad, weight, geo), cropped to "
                           "x's H×W; grad_weight is convolution's weight gradient with the roles swapped, "
                           "_conv_weight_grad(x, grad, geo) → (C_in, C_out, kH, kW) (x in the place of the output "
                           "gradient, grad in the place of the input); grad_bias is grad.sum(axis=(0, 2, 3))",
    "conv2d": "conv2d's input gradient is your _conv_input_grad: col2im(Wᵀ·G) with "
              "G = g.transpose(1, 0, 2, 3).reshape(C_out, -1) (a plain reshape mixes samples and channels when "
              "N ≥ 2), and col2im adds overlapping entries",
    "switches": "ties go to the FIRST maximum in the window, taps scanned in order (kh, kw) (np.argmax does that; "
                "replace only on a strictly greater value); a switch is the flat index row·W + col in the input's "
                "UNPADDED H×W plane, dtype int64",
    "pad": "with padding, a tap (i, j) of window (r, q) reads input row r·sH − pH + i·dH and column "
           "q·sW − pW + j·dW: subtract the padding, and use the input's own width W in row·W + col",
    "all-equal": "every window holds its maximum at every tap: the switch is the window's FIRST position",
    "maxpool_backward": "the gradient of a window goes to its ONE switch, not to every entry equal to the "
                        "maximum (the gradient of a tied maximum goes to one switch)",
    "overlap": "windows overlap (stride < kernel): two windows can share a switch, and their gradients ADD there "
               "(_scatter with accumulate=True, backend.scatter_add; a plain out[flat] = g keeps only one)",
    "unpool": "forward: each value at its switch, zeros elsewhere (not in the window's corner as bed-of-nails "
              "does); backward: gather the gradient at the same switches, _gather(grad, self.flat)",
}


def _hinted(case, *keys):
    case["hint"] = "; ".join(HINTS[k] for k in keys)
    return case


def _transposed_inputs(rng, public, backward):
    while True:
        k = [int(v) for v in rng.integers(1, 4, 2)]
        s = [int(v) for v in rng.integers(1, 3 if public else 4, 2)]
        p = [int(v) for v in rng.integers(0, 2, 2)]
        d = [int(v) for v in rng.integers(1, 3, 2)]
        op = [int(rng.integers(0, max(s[a], d[a]))) for a in range(2)]
        x = [int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(2, 6))]
        if min(_transposed_size(x, k, s, p, d, op)) >= 1:
            break
    return _transposed_case(rng, x, int(rng.integers(1, 4)), k, s, p, d, op, backward)


def _transposed_size(x, k, s, p, d, op):
    return [(x[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a in range(2)]


def _transposed_case(rng, x, c_out, k, s, p, d, op, backward, name=""):
    out = _transposed_size(x, k, s, p, d, op)
    params = {"kernel_size": k, "stride": s, "padding": p, "dilation": d, "output_padding": op}
    inputs = {"x": normal(rng, x), "weight": normal(rng, (x[1], c_out, *k)), "bias": normal(rng, c_out)}
    if backward:
        inputs["grad"] = normal(rng, (x[0], c_out, *out))
    ident = "-".join(t for t in (name, geo_id(params, pair_id("outpad", op, 0))) if t)
    beyond = any(op[a] >= s[a] for a in range(2))
    keys = ("transposed_backward",) if backward else ("transposed_forward",)
    return _hinted({"id": ident, "fn": "conv_transpose2d_backward" if backward else "conv_transpose2d",
                    "params": params, "inputs": inputs}, *keys, *(("outpad",) if beyond else ()))


def _fixed_transposed(rng, backward):
    """The lecture's "3x3 Transpose Convolution, Stride 2, Pad 1" on a batch of two (C_in 2 -> C_out 3), and an
    output_padding past the stride (dilation 2, stride 1)."""
    return [_transposed_case(rng, [2, 2, 3, 4], 3, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], backward, "batch2-cout3"),
            _transposed_case(rng, [1, 2, 3, 3], 2, [2, 2], [1, 1], [0, 0], [2, 2], [1, 0], backward,
                             "outpad-past-stride")]


def _transposed_forward(rng, public):
    return [_transposed_inputs(rng, public, False) for _ in range(2 if public else 5)] + _fixed_transposed(rng, False)


#: conv2d's input gradient on a batch of two with three output channels (stride 1: windows overlap)
CONV_BATCH = {"kernel_size": [3, 2], "stride": [1, 1], "padding": [1, 0], "dilation": [1, 1]}


def _transposed_backward(rng, public):
    # convolution's input gradient is a transposed convolution: this assignment writes it too
    cases = [_transposed_inputs(rng, public, True) for _ in range(2 if public else 4)] + _fixed_transposed(rng, True)
    conv = [conv_inputs(rng, public, True), conv_case(rng, [2, 2, 4, 4], CONV_BATCH, 3, False, True, "batch2-cout3")]
    for c in conv:
        c["id"] = "conv2d-" + c["id"]
    return cases + [_hinted(c, "conv2d") for c in conv]


def _pool_geometry(rng, public):
    k = int(rng.integers(2, 4))
    s = int(rng.integers(1, k + 1))
    p = int(rng.integers(0, k // 2 + 1))
    x = [int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(k, 9)), int(rng.integers(k, 9))]
    return x, {"kernel_size": k, "stride": s, "padding": p}, _pool_size(x, k, s, p)


def _pool_size(x, k, s, p):
    return [(x[2 + a] + 2 * p - k) // s + 1 for a in range(2)]


def _pool_id(p, extra=""):
    parts = [f"k{p['kernel_size']}", f"stride{p['stride']}", f"pad{p['padding']}" if p["padding"] else "",
             "overlap" if p["stride"] < p["kernel_size"] else "", extra]
    return "-".join(s for s in parts if s)


def _tied(rng, shape):
    """Small integers: many windows hold their maximum twice or more."""
    return rng.integers(0, 4, shape).astype(np.float64)


def _pool_hints(geo, name, part_key):
    """The case's own mistakes first (ties everywhere, overlapping windows, padding), the part's last."""
    overlap = part_key == "maxpool_backward" and geo["stride"] < geo["kernel_size"]
    return (("all-equal",) if name == "all-equal" else ()) + (("overlap",) if overlap else ()) + \
        (("pad",) if geo["padding"] else ()) + (part_key,)


#: fixed pooling cases every student gets: (name, input shape, geometry, input kind)
FIXED_POOLS = (("all-equal", [1, 2, 4, 6], {"kernel_size": 2, "stride": 2, "padding": 0}, "equal"),
               ("batch2", [2, 2, 5, 5], {"kernel_size": 3, "stride": 2, "padding": 1}, "tied"),
               ("shared-switch", [2, 1, 5, 5], {"kernel_size": 2, "stride": 1, "padding": 0}, "peaks"))


def _pool_input(rng, shape, kind):
    if kind == "equal":   # one value everywhere (its own in each case: a hidden case never repeats a public one)
        return np.full(shape, rng.standard_normal())
    x = _tied(rng, shape)
    if kind == "peaks":   # one maximum inside four overlapping 2×2 windows: they share its switch
        x[:, :, 1, 1] = x[:, :, 3, 3] = 9.0
    return x


def _pool_cases(rng, public, fn, part_key, with_grad, fixed):
    cases = []
    draws = [_pool_geometry(rng, public) for _ in range(2 if public else 5)]
    inputs = [(x, geo, out, _tied(rng, x), "ties") for x, geo, out in draws]
    for name, x, geo, kind in fixed:
        inputs.append((x, geo, _pool_size(x, geo["kernel_size"], geo["stride"], geo["padding"]),
                       _pool_input(rng, x, kind), name))
    for x, geo, out, values, name in inputs:
        data = {"x": values, "grad": normal(rng, (x[0], x[1], *out))} if with_grad else {"x": values}
        cases.append(_hinted({"id": _pool_id(geo, name), "fn": fn, "params": geo, "inputs": data},
                             *_pool_hints(geo, name, part_key)))
    return cases


def _switches(rng, public):
    return _pool_cases(rng, public, "max_pool2d", "switches", False, FIXED_POOLS[:2])


def _maxpool_backward(rng, public):
    return _pool_cases(rng, public, "max_pool2d_backward", "maxpool_backward", True, FIXED_POOLS)


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
    draws = [_pool_geometry(rng, public) for _ in range(2 if public else 5)]
    draws.append(([2, 2, 6, 5], {"kernel_size": 2, "stride": 2, "padding": 0}, None))
    for i, (x, geo, _) in enumerate(draws):
        geo["stride"] = geo["kernel_size"]   # unpooling needs one switch per window: no overlap
        out = _pool_size(x, geo["kernel_size"], geo["stride"], geo["padding"])
        idx = _random_switches(rng, x, geo, out)
        size = "x".join(map(str, x[2:]))
        extra = f"to{size}" + ("-batch2" if i == len(draws) - 1 else "")
        cases.append(_hinted({"id": _pool_id(geo, extra), "fn": "max_unpool2d",
                              "params": {**geo, "output_size": x[2:]},
                              "inputs": {"x": normal(rng, (x[0], x[1], *out)), "indices": idx,
                                         "grad": normal(rng, x)}}, "unpool"))
    return cases


# every position equal to its window's maximum gets the gradient (kernel == stride): a planted mistake
_TIED_MAXIMA_BACKWARD = """        xp = get_array_module(grad)
        kh, kw = self.shape[2] // grad.shape[2], self.shape[3] // grad.shape[3]
        maxima = _gather(self.x, self.flat).repeat(kh, axis=2).repeat(kw, axis=3)
        return xp.where(self.x == maxima, grad.repeat(kh, axis=2).repeat(kw, axis=3), 0)
"""


QUESTIONS = (
    "Slide \"Why 'Transpose Convolution'?\": a convolution is a matrix C (out = C·x). Why is the forward of the "
    "transposed convolution the convolution's input gradient (Cᵀ·y), and why is its input gradient the "
    "convolution's forward? Why does the identity of cell 6 hold for every x and y, and what would it catch in "
    "your code?",
    "Unpooling with switches against bed of nails (slides \"Now: Unpooling\"): what does max-unpooling need from "
    "the encoder that bed of nails does not, and what does it give the decoder in return? Where do the values of "
    "cell 3 land in each?",
    "Checkerboard artifacts: in cell 5, why do the output pixels of the stride-2, 3×3 transposed convolution of a "
    "constant image take the values 1, 2 and 4 in a checkerboard? Why does a 4×4 kernel (a multiple of the "
    "stride) avoid it, and what else could a decoder do instead (the lecture's other unpoolings, or resize then "
    "convolve)?",
    "Ties: max(a, b) has no derivative where a = b. Why does the gradient of a tied maximum go to ONE switch rather "
    "than being split among, or copied to, every maximum, and what does that mean for a gradcheck on an input with "
    "ties?",
)

SPEC = Assignment(
    name="pool",
    title="Assignment 3: transposed convolution, max pooling and unpooling with switches",
    stubs={"ops/im2col.py": ["col2im"],
           "ops/conv.py": ["_conv_input_grad", "ConvTranspose2d.forward", "ConvTranspose2d.backward"],
           "ops/pool.py": ["_switches", "_gather", "_scatter", "GatherSwitches.forward", "GatherSwitches.backward",
                           "ScatterSwitches.forward", "ScatterSwitches.backward"]},
    reveal={"ops/conv_matrix.py": ["ConvMatrix.forward", "ConvMatrix.backward"]},
    parts=(Part("transposed_forward", 25, "F.conv_transpose2d's output (stride, padding, output_padding, dilation, "
                                          "a batch)", cases=_transposed_forward),
           Part("transposed_backward", 20, "gradients of conv_transpose2d (input, weight, bias), and conv2d's "
                                           "input gradient", cases=_transposed_backward),
           Part("switches", 20, "max_pool2d's values and int64 switches, first maximum on ties, padding",
                cases=_switches),
           Part("maxpool_backward", 20, "max_pool2d's gradient goes to the switches only (ties, overlapping "
                                        "windows)", builds_on=("switches",), cases=_maxpool_backward),
           Part("unpool", 15, "max_unpool2d: values at the switches, zeros elsewhere; its gradient", cases=_unpool)),
    handout=read_handout(__file__),
    target=("ops/pool.py", "_switches"),
    mistakes=(
        Mistake("gradient sent to every tied maximum",
                (("ops/pool.py", "        return _gather(x, self.flat)\n",
                  "        self.x = x\n        return _gather(x, self.flat)\n"),
                 ("ops/pool.py", "        return _scatter(grad, self.flat, self.shape, accumulate=self.overlapping)\n",
                  _TIED_MAXIMA_BACKWARD)),
                frozenset({"maxpool_backward"})),
        Mistake("switches counted without the padding (the corner of window (r, q) taken as r·sH, q·sW)",
                (("ops/pool.py", "corner = (xp.arange(ho).reshape(ho, 1) * sh - ph) * w + xp.arange(wo) * sw - pw",
                  "corner = (xp.arange(ho).reshape(ho, 1) * sh) * w + xp.arange(wo) * sw"),),
                frozenset({"switches", "maxpool_backward"})),
        Mistake("the transposed convolution's weight gradient with input and gradient in each other's roles",
                (("ops/conv.py", "gw = kernels.weight_grad(self.x_full, grad, self.geo)",
                  "gw = kernels.weight_grad(grad, self.x_full, self.geo)"),),
                frozenset({"transposed_backward"})),
        Mistake("overlapping windows' gradients written (=) at a shared switch instead of added",
                (("ops/pool.py", "        return _scatter(grad, self.flat, self.shape, accumulate=self.overlapping)\n",
                  "        return _scatter(grad, self.flat, self.shape, accumulate=False)\n"),),
                frozenset({"maxpool_backward"})),
    ),
    starter=read_starter(__file__),
    questions=QUESTIONS,
)
