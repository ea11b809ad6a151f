"""Assignment 3: transposed convolution, max pooling with switches, unpooling."""
import numpy as np

from ...cases import (
    EQUIVALENT_LARGER_BUFFER,
    EQUIVALENT_RESHAPE,
    EQUIVALENT_SWAPAXES,
    conv_case,
    conv_inputs,
    geo_id,
    hinted,
    normal,
    pair_id,
)
from ...specs import Assignment, Mistake, Part, read_handout, read_starter

#: tiered hints (see cases.hinted): tier 1 names the contract a case checks, tier 2 comes closer to the code
HINTS = {
    "transposed_forward": ("the forward IS a convolution's input gradient: the weight as it is, (C_in, C_out, kH, "
                           "kW), is a convolution from C_out to C_in channels; overlapping stamps ADD (they overlap "
                           "whenever the stride is smaller than the kernel)",
                           "_conv_input_grad(x, weight, geo, (N, C_out, *out_size)), then the bias"),
    "outpad": ("output_padding ≥ stride (allowed when dilation > stride): the convolution of an out_size image has "
               "more windows than x has pixels, so extend x with zeros first",
               "_zero_extended(x, columns.output_size(out_size, geo))"),
    "transposed_backward": ("the input gradient is that convolution's FORWARD of grad, cropped to x's H×W; the "
                            "weight gradient is convolution's weight gradient with the roles of the input and the "
                            "output gradient swapped, (C_in, C_out, kH, kW); the bias gradient sums grad over N, H, W",
                            "_conv_forward(grad, weight, geo) cropped, _conv_weight_grad(x, grad, geo) (x in the "
                            "place of the output gradient, grad in the place of the input)"),
    "conv2d": ("conv2d's input gradient is your _conv_input_grad: col2im of Wᵀ times the upstream gradient laid out "
               "like the columns, channel first (a plain reshape mixes samples and channels when N ≥ 2); col2im adds "
               "overlapping entries",
               "G = g.transpose(1, 0, 2, 3).reshape(C_out, -1), then col2im(Wᵀ·G)"),
    "switches": ("ties go to the FIRST maximum in the window, taps scanned in order (kh, kw); a switch is the flat "
                 "index row·W + col in the input's UNPADDED H×W plane, dtype int64",
                 "np.argmax returns the first maximum; in a loop, replace only on a strictly greater value"),
    "pad": ("with padding, a tap (i, j) of window (r, q) reads input row r·sH − pH + i·dH and column "
            "q·sW − pW + j·dW: subtract the padding, and use the input's own width W in row·W + col",),
    "nan": ("a NaN in a window is its maximum: the switch is the window's FIRST NaN and the pooled value NaN (as "
            "np.argmax)",),
    "needs": ("only some inputs require a gradient here: `self.needs_input_grad[i]` (0, 1, 2 for x, weight, bias) "
              "says which; the others' gradients may be None",),
    "all-equal": ("every window holds its maximum at every tap: the switch is the window's FIRST position",),
    "maxpool_backward": ("the gradient of a window goes to its ONE switch, not to every entry equal to the maximum "
                         "(the gradient of a tied maximum goes to one switch)",),
    "overlap": ("windows overlap (stride < kernel): two windows can share a switch, and their gradients ADD there "
                "(a plain out[flat] = g keeps only one)",
                "_scatter with accumulate=True, backend.scatter_add"),
    "unpool": ("forward: each value at its switch, zeros elsewhere (not in the window's corner as bed-of-nails "
               "does); backward: the gradient read at the same switches",
               "_gather(grad, self.flat)"),
}


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
    return hinted({"id": ident, "fn": "conv_transpose2d_backward" if backward else "conv_transpose2d",
                   "params": params, "inputs": inputs}, HINTS, *keys, *(("outpad",) if beyond else ()))


def _fixed_transposed(rng, backward):
    """The lecture's "3x3 Transpose Convolution, Stride 2, Pad 1" on a batch of two (C_in 2 -> C_out 3), and an
    output_padding past the stride (dilation 2, stride 1)."""
    return [_transposed_case(rng, [2, 2, 3, 4], 3, [3, 3], [2, 2], [1, 1], [1, 1], [1, 1], backward, "batch2-cout3"),
            _transposed_case(rng, [1, 2, 3, 3], 2, [2, 2], [1, 1], [0, 0], [2, 2], [1, 0], backward,
                             "outpad-past-stride")]


def _needs_only(case, needs):
    """The case with only the inputs flagged in ``needs`` ([x, weight, bias]) requiring a gradient."""
    names = [n for n, r in zip(("input", "weight", "bias"), needs) if r]
    case["id"] = f"only-{'-'.join(names)}-needs-grad-{case['id']}"
    case["params"]["needs"] = needs
    return hinted(case, HINTS, "needs")


def _transposed_forward(rng, public):
    return [_transposed_inputs(rng, public, False) for _ in range(2 if public else 5)] + _fixed_transposed(rng, False)


#: conv2d's input gradient on a batch of two with three output channels (stride 1: windows overlap)
CONV_BATCH = {"kernel_size": [3, 2], "stride": [1, 1], "padding": [1, 0], "dilation": [1, 1]}


def _transposed_backward(rng, public):
    # convolution's input gradient is a transposed convolution: this assignment writes it too
    cases = [_transposed_inputs(rng, public, True) for _ in range(2 if public else 4)] + _fixed_transposed(rng, True)
    for needs in ([True, False, False],) if public else ([True, False, False], [False, True, False]):
        case = _transposed_inputs(rng, public, True)
        cases.append(_needs_only(case, needs))
    conv = [conv_inputs(rng, public, True), conv_case(rng, [2, 2, 4, 4], CONV_BATCH, 3, False, True, "batch2-cout3")]
    for c in conv:
        c["id"] = "conv2d-" + c["id"]
    return cases + [hinted(c, HINTS, "conv2d") for c in conv]


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
    return ((name,) if name in ("all-equal", "nan") else ()) + (("overlap",) if overlap else ()) + \
        (("pad",) if geo["padding"] else ()) + (part_key,)


#: fixed pooling cases every student gets: (name, input shape, geometry, input kind); the NaN one in switches only
FIXED_POOLS = (("all-equal", [1, 2, 4, 6], {"kernel_size": 2, "stride": 2, "padding": 0}, "equal"),
               ("batch2", [2, 2, 5, 5], {"kernel_size": 3, "stride": 2, "padding": 1}, "tied"),
               ("shared-switch", [2, 1, 5, 5], {"kernel_size": 2, "stride": 1, "padding": 0}, "peaks"),
               ("nan", [1, 2, 4, 6], {"kernel_size": 2, "stride": 2, "padding": 0}, "nan"))


def _pool_input(rng, shape, kind):
    if kind == "nan":   # NaN at a later tap of two windows, and twice in a third (the first NaN wins)
        x = _tied(rng, shape)
        x[0, 0, 1, 1] = x[0, 0, 0, 3] = x[0, 0, 2, 5] = x[0, 0, 3, 5] = np.nan
        return x
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
        cases.append(hinted({"id": _pool_id(geo, name), "fn": fn, "params": geo, "inputs": data},
                            HINTS, *_pool_hints(geo, name, part_key)))
    return cases


def _switches(rng, public):
    return _pool_cases(rng, public, "max_pool2d", "switches", False, FIXED_POOLS[:2] + FIXED_POOLS[3:])


def _maxpool_backward(rng, public):
    return _pool_cases(rng, public, "max_pool2d_backward", "maxpool_backward", True, FIXED_POOLS[:3])


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
        cases.append(hinted({"id": _pool_id(geo, extra), "fn": "max_unpool2d",
                             "params": {**geo, "output_size": x[2:]},
                             "inputs": {"x": normal(rng, (x[0], x[1], *out)), "indices": idx,
                                        "grad": normal(rng, x)}}, HINTS, "unpool"))
    return cases


QUESTIONS = (
    "Slide \"Why 'Transpose Convolution'?\": a convolution is a matrix C (out = C·x). Why is the forward of the "
    "transposed convolution the convolution's input gradient (Cᵀ·y), and why is its input gradient the "
    "convolution's forward? Why does the identity of the notebook's section \"6. The "
    "transpose is the adjoint\" hold for every x and y, and what would it catch in "
    "your code?",
    "Unpooling with switches against bed of nails (slides \"Now: Unpooling\"): what does max-unpooling need from "
    "the encoder that bed of nails does not, and what does it give the decoder in return? Where do the values of "
    "the notebook's section \"3. Three unpoolings\" land in each?",
    "Checkerboard artifacts: in the notebook's section \"5. Checkerboard\", why do the output pixels of the "
    "stride-2, 3×3 transposed convolution of a constant image take the values 1, 2 and 4 in a checkerboard? Why "
    "does a 4×4 kernel (a multiple of the stride) avoid it, and what else could a decoder do instead (the "
    "lecture's other unpoolings, or resize then convolve)?",
    "Ties: max(a, b) has no derivative where a = b. Why does the gradient of a tied maximum go to ONE switch rather "
    "than being split among, or copied to, every maximum, and what does that mean for a gradcheck on an input with "
    "ties?",
)

#: the planted mistakes: each must lose points in the parts it names (see specs.Mistake)
MISTAKES = (
    Mistake("gradient sent to every tied maximum",
            loses={"maxpool_backward"},
            replace=(
                ("ops/pool.py", "GatherSwitches.forward", '''
def forward(self, x, *, indices, overlapping):
    self.flat, self.shape, self.overlapping = _flat_index(indices, x.shape[2:]), x.shape, overlapping
    self.x = x
    return _gather(x, self.flat)
'''),
                ("ops/pool.py", "GatherSwitches.backward", '''
def backward(self, grad):
    # overlapping windows can share a switch: their gradients add up there
    xp = get_array_module(grad)
    kh, kw = self.shape[2] // grad.shape[2], self.shape[3] // grad.shape[3]
    maxima = _gather(self.x, self.flat).repeat(kh, axis=2).repeat(kw, axis=3)
    return xp.where(self.x == maxima, grad.repeat(kh, axis=2).repeat(kw, axis=3), 0)
'''),
            )),
    Mistake("switches counted without the padding (the corner of window (r, q) taken as r·sH, q·sW)",
            loses={"maxpool_backward", "switches"},
            replace=(
                ("ops/pool.py", "_switches", '''
def _switches(x, geo):
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    ho, wo = columns.output_size((h, w), geo)
    # padding with -inf never wins the max, so the switch always lies in the unpadded input
    cols = columns.im2col(x, geo, pad_value=-xp.inf).reshape(c, kh * kw, n, ho, wo)
    # cols.argmax(axis=1), one pass per tap: an argmax along a middle axis copies the array to put that
    # axis last and then scans rows of only kH·kW values (see bench/README.md)
    best = cols[:, 0].copy()                          # (C, N, H_out, W_out): the running maximum
    tap = xp.zeros(best.shape, dtype=xp.int32)        # and the tap where it was found
    for t in range(1, kh * kw):
        value = cols[:, t]
        # strictly greater: ties go to the first maximum; a NaN wins once, as in argmax
        better = (value > best) | ((value != value) & (best == best))
        xp.maximum(best, value, out=best)
        xp.maximum(tap, better * xp.int32(t), out=tap)   # taps come in order: the last winner is the largest
    # tap (i, j) of window (r, q) reads input row r·sh − ph + i·dh, column q·sw − pw + j·dw: its flat index
    # in the H·W plane is the window's corner plus the tap's offset
    corner = (xp.arange(ho).reshape(ho, 1) * sh) * w + xp.arange(wo) * sw
    offset = (xp.arange(kh).reshape(kh, 1) * (dh * w) + xp.arange(kw) * dw).reshape(-1)
    return (offset[tap] + corner).transpose(1, 0, 2, 3)
'''),
            )),
    Mistake("the transposed convolution's weight gradient with input and gradient in each other's roles",
            loses={"transposed_backward"},
            replace=(
                ("ops/conv.py", "ConvTranspose2d.backward", '''
def backward(self, grad):
    kernels, (h, w) = _kernels(keep_columns=self.needs_input_grad[1]), self.x.shape[2:]
    gx = kernels.forward(grad, self.weight, self.geo)[:, :, :h, :w] if self.needs_input_grad[0] else None
    gw = kernels.weight_grad(grad, self.x_full, self.geo) if self.needs_input_grad[1] else None
    return (gx, gw, _bias_grad(grad, self)) if self.has_bias else (gx, gw)
'''),
            )),
    Mistake("col2im writes (=) each window's entries instead of adding them (+=): overlapping windows lose all "
            "but the last",
            loses={"transposed_forward", "transposed_backward"},
            replace=(
                ("ops/im2col.py", "col2im", '''
def col2im(cols, geo, x_shape):
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    ho, wo = output_size((h, w), geo)
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            padded[:, :, top:top + sh * (ho - 1) + 1:sh, left:left + sw * (wo - 1) + 1:sw] = cols[:, i, j]
    return padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
'''),
            )),
    Mistake("col2im crops the padding on one side only (the image taken from the padded buffer's top-left "
            "corner)",
            loses={"transposed_forward", "transposed_backward"},
            replace=(
                ("ops/im2col.py", "col2im", '''
def col2im(cols, geo, x_shape):
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    ho, wo = output_size((h, w), geo)
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            padded[:, :, top:top + sh * (ho - 1) + 1:sh, left:left + sw * (wo - 1) + 1:sw] += cols[:, i, j]
    return padded[:, :, :h, :w].transpose(1, 0, 2, 3)
'''),
            )),
    Mistake("G made with a plain reshape of the upstream gradient (samples and channels mixed when N ≥ 2)",
            loses={"transposed_forward", "transposed_backward"},
            replace=(
                ("ops/conv.py", "_conv_input_grad", '''
def _conv_input_grad(g, w, geo, x_shape):
    c_out = w.shape[0]
    g_mat = g.reshape(c_out, -1)
    return columns.col2im(w.reshape(c_out, -1).T @ g_mat, geo, x_shape)
'''),
            )),
    Mistake("the transposed convolution's bias forgotten",
            loses={"transposed_forward"},
            replace=(
                ("ops/conv.py", "ConvTranspose2d.forward", '''
def forward(self, x, weight, bias=None, *, geo, out_size):
    self.x, self.weight, self.geo, self.has_bias = x, weight, geo, bias is not None
    self.x_full = _zero_extended(x, columns.output_size(out_size, geo))
    out_shape = (x.shape[0], weight.shape[1]) + tuple(out_size)
    return _kernels().input_grad(self.x_full, weight, geo, out_shape)
'''),
            )),
    Mistake("the transposed convolution's input gradient not cropped to x's size (wrong with output_padding)",
            loses={"transposed_backward"},
            replace=(
                ("ops/conv.py", "ConvTranspose2d.backward", '''
def backward(self, grad):
    kernels = _kernels(keep_columns=self.needs_input_grad[1])
    gx = kernels.forward(grad, self.weight, self.geo) if self.needs_input_grad[0] else None
    gw = kernels.weight_grad(self.x_full, grad, self.geo) if self.needs_input_grad[1] else None
    return (gx, gw, _bias_grad(grad, self)) if self.has_bias else (gx, gw)
'''),
            )),
    Mistake("ties go to the last maximum of the window (>= instead of >)",
            loses={"switches", "maxpool_backward"},
            replace=(
                ("ops/pool.py", "_switches", '''
def _switches(x, geo):
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    ho, wo = columns.output_size((h, w), geo)
    cols = columns.im2col(x, geo, pad_value=-xp.inf).reshape(c, kh * kw, n, ho, wo)
    best = cols[:, 0].copy()
    tap = xp.zeros(best.shape, dtype=xp.int32)
    for t in range(1, kh * kw):
        value = cols[:, t]
        better = (value >= best) | ((value != value) & (best == best))
        xp.maximum(best, value, out=best)
        xp.maximum(tap, better * xp.int32(t), out=tap)
    corner = (xp.arange(ho).reshape(ho, 1) * sh - ph) * w + xp.arange(wo) * sw - pw
    offset = (xp.arange(kh).reshape(kh, 1) * (dh * w) + xp.arange(kw) * dw).reshape(-1)
    return (offset[tap] + corner).transpose(1, 0, 2, 3)
'''),
            )),
    Mistake("unpooling uses each switch as an index into the whole array, not into its own (n, c) plane (every "
            "channel's values land in the first plane)",
            loses={"unpool"},
            replace=(
                ("ops/pool.py", "ScatterSwitches.forward", '''
def forward(self, x, *, indices, plane_size):
    self.flat = indices
    return _scatter(x, self.flat, x.shape[:2] + tuple(plane_size), accumulate=False)
'''),
            )),
    Mistake("overlapping windows' gradients written (=) at a shared switch instead of added",
            loses={"maxpool_backward"},
            replace=(
                ("ops/pool.py", "GatherSwitches.backward", '''
def backward(self, grad):
    # overlapping windows can share a switch: their gradients add up there
    return _scatter(grad, self.flat, self.shape, accumulate=False)
'''),
            )),
)



#: mutants (mutants.py) that compute what the reference computes on every valid input, with the reason
EQUIVALENT_MUTANTS = {
    "col2im:12: padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype) -> "
    "padded = xp.zeros((c, n, h + 3 * ph, w + 2 * pw), dtype=cols.dtype)": EQUIVALENT_LARGER_BUFFER,
    "col2im:12: padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype) -> "
    "padded = xp.zeros((c, n, h + 2 * ph, w + 3 * pw), dtype=cols.dtype)": EQUIVALENT_LARGER_BUFFER,
    "_conv_input_grad:7: g_mat = g.swapaxes(0, 1).reshape(c_out, -1) -> "
    "g_mat = g.swapaxes(0, 1).reshape(c_out, -2)": EQUIVALENT_RESHAPE,
    "_conv_input_grad:7: g_mat = g.swapaxes(0, 1).reshape(c_out, -1) -> "
    "g_mat = g.swapaxes(1, 0).reshape(c_out, -1)": EQUIVALENT_SWAPAXES,
    "_switches:14: …ange(kw) * dw).reshape(-1) -> …ange(kw) * dw).reshape(-2)": EQUIVALENT_RESHAPE,
    "_conv_input_grad:8: return columns.col2im(w.reshape(c_out, -1).T @ g_mat, geo, x_shape) -> "
    "return columns.col2im(w.reshape(c_out, -2).T @ g_mat, geo, x_shape)": EQUIVALENT_RESHAPE,
    "_gather:3: return get_array_module(x).take(x.reshape(-1), flat) -> "
    "return get_array_module(x).take(x.reshape(-2), flat)": EQUIVALENT_RESHAPE,
    "_scatter:8: out.reshape(-1)[flat.reshape(-1)] = values.reshape(-1) -> "
    "out.reshape(-1)[flat.reshape(-1)] = values.reshape(-2)": EQUIVALENT_RESHAPE,
    "_scatter:6: scatter_add(out.reshape(-1), flat.reshape(-1), values.reshape(-1)) -> "
    "scatter_add(out.reshape(-2), flat.reshape(-1), values.reshape(-1))": EQUIVALENT_RESHAPE,
    "_scatter:6: scatter_add(out.reshape(-1), flat.reshape(-1), values.reshape(-1)) -> "
    "scatter_add(out.reshape(-1), flat.reshape(-2), values.reshape(-1))": EQUIVALENT_RESHAPE,
    "_scatter:6: scatter_add(out.reshape(-1), flat.reshape(-1), values.reshape(-1)) -> "
    "scatter_add(out.reshape(-1), flat.reshape(-1), values.reshape(-2))": EQUIVALENT_RESHAPE,
    "_scatter:8: out.reshape(-1)[flat.reshape(-1)] = values.reshape(-1) -> "
    "out.reshape(-2)[flat.reshape(-1)] = values.reshape(-1)": EQUIVALENT_RESHAPE,
    "_scatter:8: out.reshape(-1)[flat.reshape(-1)] = values.reshape(-1) -> "
    "out.reshape(-1)[flat.reshape(-2)] = values.reshape(-1)": EQUIVALENT_RESHAPE,
}


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
    mistakes=MISTAKES,
    equivalent_mutants=EQUIVALENT_MUTANTS,
    starter=read_starter(__file__),
    questions=QUESTIONS,
)
