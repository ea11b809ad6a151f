"""Assignment 2: convolution forward and backward via im2col / col2im."""
import numpy as np

from ...cases import (
    EQUIVALENT_LARGER_BUFFER,
    EQUIVALENT_RESHAPE,
    EQUIVALENT_SWAPAXES,
    TOL32,
    conv_case,
    conv_geometry,
    conv_inputs,
    geo_id,
    hinted,
    normal,
)
from ...specs import Assignment, Mistake, Part, read_handout, read_starter

#: tiered hints (see cases.hinted): tier 1 names the contract a case checks, tier 2 comes closer to the code
HINTS = {
    "im2col": ("rows are ordered (c, kh, kw) and columns (n, h_out, w_out); the stride moves the window, the "
               "dilation spaces its taps, the padding holds pad_value",
               "entry [(c, i, j), (n, r, q)] is x_padded[n, c, r·sH + i·dH, q·sW + j·dW]"),
    "im2col-batch": ("with N ≥ 2 and C ≥ 2 a swapped axis shows: rows are (c, kh, kw), columns (n, h_out, w_out)",
                     "write each tap into cols of shape (C, kH, kW, N, H_out, W_out), then reshape"),
    "col2im": ("where windows overlap their entries ADD up (a plain = keeps only the last); entries that fall on "
               "the padding are dropped",
               "col2im is im2col's loop over the taps with +=, into a zero padded image cropped at the end"),
    "conv_forward": ("the product of the weight matrix and im2col(x) is laid out channel first, (C_out, "
                     "N·H_out·W_out), the output batch first, (N, C_out, H_out, W_out): a batch axis in the wrong "
                     "place shows only when N ≥ 2 and C_out ≥ 2",
                     "reshape the product to (C_out, N, H_out, W_out), then move the batch axis first"),
    "float32": ("float32 in, float32 out (the tolerance here is 1e-4)", "build new arrays with dtype=x.dtype"),
    "conv_backward": ("the upstream gradient is NCHW; laid out like the columns it is (C_out, N·H_out·W_out), "
                      "channel first: a plain reshape has the right shape and the wrong entries when N ≥ 2; a pixel "
                      "read by several windows gets the SUM of their gradients",
                      "G = g.transpose(1, 0, 2, 3).reshape(C_out, -1); the input gradient is col2im(Wᵀ·G), the "
                      "weight gradient G·im2col(x)ᵀ reshaped to (C_out, C_in, kH, kW)"),
}


def _named(case, extra):
    """``case`` with ``extra`` put before its id."""
    case["id"] = f"{extra}-{case['id']}"
    return case


def _im2col(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, _ = conv_geometry(rng, public)
        cases.append(hinted({"id": geo_id(geo), "fn": "im2col", "params": geo, "inputs": {"x": normal(rng, x)}},
                            HINTS, "im2col"))
    # a batch of two with two channels: rows (c, kh, kw) against columns (n, h_out, w_out) cannot hide
    geo = {"kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 0], "dilation": [2, 1]}
    cases.append(hinted({"id": "batch2-channels2-" + geo_id(geo), "fn": "im2col", "params": geo,
                         "inputs": {"x": normal(rng, (2, 2, 4, 5))}}, HINTS, "im2col-batch"))
    # no padding: pad() hands back x itself, so a write into the padded image would change the input
    geo = {"kernel_size": [2, 2], "stride": [1, 1], "padding": [0, 0], "dilation": [1, 1]}
    cases.append(hinted({"id": "nopad-" + geo_id(geo), "fn": "im2col", "params": geo,
                         "inputs": {"x": normal(rng, (1, 2, 3, 4))}}, HINTS, "im2col"))
    return cases


def _col2im(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, out = conv_geometry(rng, public)
        cases.append(_col2im_case(rng, x, geo, out))
    # windows that overlap (stride 1 under a 3×3 kernel): every inner pixel sums nine entries
    geo = {"kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 1], "dilation": [1, 1]}
    cases.append(_col2im_case(rng, [2, 2, 4, 5], geo, [4, 5], "overlap"))
    return cases


def _col2im_case(rng, x, geo, out, extra=""):
    rows, cols = x[1] * geo["kernel_size"][0] * geo["kernel_size"][1], x[0] * out[0] * out[1]
    case = hinted({"id": geo_id(geo), "fn": "col2im", "params": {**geo, "input_shape": x},
                   "inputs": {"cols": normal(rng, (rows, cols))}}, HINTS, "col2im")
    return _named(case, extra) if extra else case


#: a batch of two, three output channels, overlapping windows: the case that isolates the batch axis
BATCH = {"kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 2], "dilation": [1, 2]}
DILATED = {"kernel_size": [2, 3], "stride": [2, 1], "padding": [1, 2], "dilation": [2, 2]}


def _conv_forward(rng, public):
    cases = [hinted(conv_inputs(rng, public, False), HINTS, "conv_forward") for _ in range(2 if public else 5)]
    c32 = hinted(conv_inputs(rng, public, False), HINTS, "conv_forward", "float32")
    c32.update(id=c32["id"] + "-float32", inputs={k: v.astype(np.float32) for k, v in c32["inputs"].items()},
               **TOL32)
    batch = conv_case(rng, [2, 2, 4, 5], BATCH, 3, True, False, "batch2-cout3")
    return cases + [c32, hinted(batch, HINTS, "conv_forward")]


def _conv_backward(rng, public):
    cases = [hinted(conv_inputs(rng, public, True), HINTS, "conv_backward") for _ in range(2 if public else 5)]
    cases.append(hinted(conv_case(rng, [2, 2, 4, 5], BATCH, 3, True, True, "batch2-cout3"), HINTS, "conv_backward"))
    cases.append(hinted(conv_case(rng, [2, 1, 7, 6], DILATED, 2, False, True, "batch2"), HINTS, "conv_backward"))
    return cases


QUESTIONS = (
    "The slide \"Why 'Transpose Convolution'? Can write convolution as matrix-multiply\" writes a 1-D convolution "
    "as a sparse matrix times the input. im2col writes it as the dense weight matrix `W` (C_out × C_in·kH·kW) "
    "times the column matrix. Give the shapes of both factors for x of shape (N, C_in, H, W), and say why one "
    "large matrix product is faster than the lecture's loop of dot products, although it does the same "
    "multiplications.",
    "What im2col costs: by what factor is `im2col(x)` larger than `x` for a 3×3 kernel, stride 1, padding 1 "
    "(the notebook's section \"8. What one multiply costs in memory\"), and for a 2×2 kernel with stride 2? "
    "Using the slide \"Why Not Stack Convolutions?\" (200 channels, 400×400 images, float32), how many bytes is the "
    "column matrix of one image for one 3×3 layer?",
    "Why do overlapping patches ADD in col2im, and why is the input gradient `col2im(Wᵀ·G)`? Use the chain rule "
    "for a pixel that three windows read, and the adjoint identity of the notebook's section \"5. col2im is im2col's "
    "adjoint\".",
)

#: the planted mistakes: each must lose points in the parts it names (see specs.Mistake)
MISTAKES = (
    Mistake("the upstream gradient reshaped to (C_out, N·H_out·W_out) without moving its channel axis first (weight "
            "gradient)",
            loses={"conv_backward"},
            replace=(
                ("ops/conv.py", "_conv_weight_grad", '''
def _conv_weight_grad(g, x, geo):
    c_out = g.shape[1]
    g_mat = g.reshape(c_out, -1)
    return (g_mat @ columns.im2col(x, geo).T).reshape((c_out, x.shape[1]) + tuple(geo.kernel_size))
'''),
            )),
    Mistake("col2im writes (=) where overlapping patches must add (+=)",
            loses={"col2im", "conv_backward"},
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
    Mistake("the output reshaped to (N, C_out, ...) without moving the batch axis",
            loses={"conv_forward"},
            replace=(
                ("ops/conv.py", "_conv_forward", '''
def _conv_forward(x, w, geo):
    c_out, n = w.shape[0], x.shape[0]
    out = w.reshape(c_out, -1) @ columns.im2col(x, geo)                 # (C_out, N·H_out·W_out)
    return out.reshape(n, c_out, *columns.output_size(x.shape[2:], geo))
'''),
            )),
    Mistake("im2col ignores the dilation (taps next to each other)",
            loses={"conv_backward", "conv_forward", "im2col"},
            replace=(
                ("ops/im2col.py", "im2col", '''
def im2col(x, geo, pad_value=0):
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), _, (dh, dw) = geo
    ho, wo = output_size(x.shape[2:], geo)
    x = pad(x, geo.padding, pad_value).transpose(1, 0, 2, 3)   # (C, N, H + 2pH, W + 2pW)
    cols = xp.empty((c, kh, kw, n, ho, wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            # tap (i, j) of every window at once: rows i·dH, i·dH + sH, ...; columns j·dW, j·dW + sW, ...
            top, left = i, j
            cols[:, i, j] = x[:, :, top:top + sh * (ho - 1) + 1:sh, left:left + sw * (wo - 1) + 1:sw]
    return cols.reshape(c * kh * kw, n * ho * wo)
'''),
            )),
    Mistake("the column matrix built in float64 (an array made without dtype=): float32 in, float64 out",
            loses={"im2col"},
            replace=(
                ("ops/im2col.py", "im2col", '''
def im2col(x, geo, pad_value=0):
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), _, (dh, dw) = geo
    ho, wo = output_size(x.shape[2:], geo)
    x = pad(x, geo.padding, pad_value).transpose(1, 0, 2, 3)
    cols = xp.empty((c, kh, kw, n, ho, wo))
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            cols[:, i, j] = x[:, :, top:top + sh * (ho - 1) + 1:sh, left:left + sw * (wo - 1) + 1:sw]
    return cols.reshape(c * kh * kw, n * ho * wo)
'''),
            )),
    Mistake("the padding added on the top and left only",
            loses={"im2col"},
            replace=(
                ("ops/im2col.py", "im2col", '''
def im2col(x, geo, pad_value=0):
    xp = get_array_module(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    ho, wo = output_size(x.shape[2:], geo)
    x = xp.pad(x, ((0, 0), (0, 0), (ph, 0), (pw, 0)), constant_values=pad_value).transpose(1, 0, 2, 3)
    cols = xp.empty((c, kh, kw, n, ho, wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            cols[:, i, j] = x[:, :, top:top + sh * (ho - 1) + 1:sh, left:left + sw * (wo - 1) + 1:sw]
    return cols.reshape(c * kh * kw, n * ho * wo)
'''),
            )),
    Mistake("col2im clears each tap of the caller's columns once it is added (the input changes)",
            loses={"col2im"},
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
            cols[:, i, j] = 0
    return padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
'''),
            )),
    Mistake("col2im ignores the stride (windows one pixel apart)",
            loses={"col2im"},
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
            padded[:, :, top:top + ho, left:left + wo] += cols[:, i, j]
    return padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
'''),
            )),
    Mistake("the weight matrix reshaped to (C_in·kH·kW, C_out) instead of transposed in the input gradient",
            loses={"conv_backward"},
            replace=(
                ("ops/conv.py", "_conv_input_grad", '''
def _conv_input_grad(g, w, geo, x_shape):
    c_out = w.shape[0]
    g_mat = g.transpose(1, 0, 2, 3).reshape(c_out, -1)
    return columns.col2im(w.reshape(-1, c_out) @ g_mat, geo, x_shape)
'''),
            )),
    Mistake("the weight gradient's product in the wrong order, im2col(x)·Gᵀ, reshaped to the weight's shape",
            loses={"conv_backward"},
            replace=(
                ("ops/conv.py", "_conv_weight_grad", '''
def _conv_weight_grad(g, x, geo):
    c_out = g.shape[1]
    g_mat = g.transpose(1, 0, 2, 3).reshape(c_out, -1)
    return (columns.im2col(x, geo) @ g_mat.T).reshape((c_out, x.shape[1]) + tuple(geo.kernel_size))
'''),
            )),
)



#: mutants (mutants.py) that compute what the reference computes on every valid input, with the reason
EQUIVALENT_MUTANTS = {
    "col2im:12: padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype) -> "
    "padded = xp.zeros((c, n, h + 3 * ph, w + 2 * pw), dtype=cols.dtype)": EQUIVALENT_LARGER_BUFFER,
    "col2im:12: padded = xp.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype) -> "
    "padded = xp.zeros((c, n, h + 2 * ph, w + 3 * pw), dtype=cols.dtype)": EQUIVALENT_LARGER_BUFFER,
    "_conv_forward:4: out = w.reshape(c_out, -1) @ columns.im2col(x, geo) -> "
    "out = w.reshape(c_out, -2) @ columns.im2col(x, geo)": EQUIVALENT_RESHAPE,
    "_conv_input_grad:7: g_mat = g.swapaxes(0, 1).reshape(c_out, -1) -> "
    "g_mat = g.swapaxes(0, 1).reshape(c_out, -2)": EQUIVALENT_RESHAPE,
    "_conv_input_grad:7: g_mat = g.swapaxes(0, 1).reshape(c_out, -1) -> "
    "g_mat = g.swapaxes(1, 0).reshape(c_out, -1)": EQUIVALENT_SWAPAXES,
    "_conv_input_grad:8: return columns.col2im(w.reshape(c_out, -1).T @ g_mat, geo, x_shape) -> "
    "return columns.col2im(w.reshape(c_out, -2).T @ g_mat, geo, x_shape)": EQUIVALENT_RESHAPE,
    "_conv_weight_grad:7: g_mat = g.transpose(1, 0, 2, 3).reshape(c_out, -1) -> "
    "g_mat = g.transpose(1, 0, 2, 3).reshape(c_out, -2)": EQUIVALENT_RESHAPE,
}


SPEC = Assignment(
    name="conv",
    title="Assignment 2: convolution forward and backward via im2col / col2im",
    stubs={"ops/im2col.py": ["im2col", "col2im"],
           "ops/conv.py": ["_conv_forward", "_conv_input_grad", "_conv_weight_grad"]},
    reveal={"ops/conv.py": ["ConvTranspose2d.forward", "ConvTranspose2d.backward"],
            "ops/conv_matrix.py": ["ConvMatrix.forward", "ConvMatrix.backward"],
            "ops/pool.py": ["_switches", "_window_counts"]},
    parts=(Part("im2col", 20, "F.im2col: the column matrix, with stride, padding and dilation", cases=_im2col),
           Part("col2im", 20, "F.col2im: the adjoint of im2col (overlaps add up)", cases=_col2im),
           Part("conv_forward", 25, "F.conv2d's output (stride, padding, dilation, bias, float32, a batch)",
                builds_on=("im2col",), cases=_conv_forward),
           Part("conv_backward", 35, "F.conv2d's gradients for input, weight and bias",
                builds_on=("im2col", "col2im"), cases=_conv_backward)),
    handout=read_handout(__file__),
    target=("ops/im2col.py", "im2col"),
    mistakes=MISTAKES,
    starter=read_starter(__file__),
    questions=QUESTIONS,
    equivalent_mutants=EQUIVALENT_MUTANTS,
)
