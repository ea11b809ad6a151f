"""Assignment 2: convolution forward and backward via im2col / col2im."""
import numpy as np

from ...cases import TOL32, conv_case, conv_geometry, conv_inputs, geo_id, normal
from ...specs import Assignment, Mistake, Part, read_handout, read_starter

HINTS = {
    "im2col": "rows are ordered (c, kh, kw) and columns (n, h_out, w_out): entry [(c, i, j), (n, r, q)] is "
              "x_padded[n, c, r·sH + i·dH, q·sW + j·dW] (the stride moves the window, the dilation spaces its taps)",
    "im2col-batch": "with N ≥ 2 and C ≥ 2 a swapped axis shows: rows are (c, kh, kw), columns (n, h_out, w_out); "
                    "write each tap into cols of shape (C, kH, kW, N, H_out, W_out), then reshape",
    "col2im": "col2im is im2col's loop with +=: where windows overlap their entries ADD up (a plain = keeps only "
              "the last); entries that fall on the padding are dropped (crop the padded image at the end)",
    "conv_forward": "W·im2col(x) is (C_out, N·H_out·W_out): reshape it to (C_out, N, H_out, W_out) and move the "
                    "batch axis first, .transpose(1, 0, 2, 3); a reshape straight to (N, C_out, ...) mixes samples "
                    "and channels (it shows only when N ≥ 2 and C_out ≥ 2)",
    "float32": "float32 in, float32 out (build new arrays with dtype=x.dtype; the tolerance here is 1e-4)",
    "conv_backward": "move the upstream gradient from NCHW to the columns' layout first, "
                     "G = g.transpose(1, 0, 2, 3).reshape(C_out, -1), (C_out, N·H_out·W_out); a plain reshape mixes "
                     "samples and channels when N ≥ 2. Input gradient col2im(Wᵀ·G) (overlaps add), weight gradient "
                     "G·im2col(x)ᵀ reshaped to (C_out, C_in, kH, kW)",
}


def _case(case, hint, extra=""):
    case.update(hint=hint)
    if extra:
        case["id"] = f"{extra}-{case['id']}"
    return case


def _im2col(rng, public):
    cases = []
    for _ in range(2 if public else 5):
        x, geo, _ = conv_geometry(rng, public)
        cases.append({"id": geo_id(geo), "fn": "im2col", "params": geo, "inputs": {"x": normal(rng, x)},
                      "hint": HINTS["im2col"]})
    # a batch of two with two channels: rows (c, kh, kw) against columns (n, h_out, w_out) cannot hide
    geo = {"kernel_size": [2, 3], "stride": [1, 2], "padding": [1, 0], "dilation": [2, 1]}
    cases.append({"id": "batch2-channels2-" + geo_id(geo), "fn": "im2col", "params": geo,
                  "inputs": {"x": normal(rng, (2, 2, 4, 5))}, "hint": HINTS["im2col-batch"]})
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
    return _case({"id": geo_id(geo), "fn": "col2im", "params": {**geo, "input_shape": x},
                  "inputs": {"cols": normal(rng, (rows, cols))}}, HINTS["col2im"], extra)


#: a batch of two, three output channels, overlapping windows: the case that isolates the batch axis
BATCH = {"kernel_size": [3, 3], "stride": [1, 1], "padding": [1, 2], "dilation": [1, 2]}
DILATED = {"kernel_size": [2, 3], "stride": [2, 1], "padding": [1, 2], "dilation": [2, 2]}


def _conv_forward(rng, public):
    cases = [_case(conv_inputs(rng, public, False), HINTS["conv_forward"]) for _ in range(2 if public else 5)]
    c32 = conv_inputs(rng, public, False)
    c32.update(id=c32["id"] + "-float32", inputs={k: v.astype(np.float32) for k, v in c32["inputs"].items()},
               hint=HINTS["conv_forward"] + "; " + HINTS["float32"], **TOL32)
    batch = conv_case(rng, [2, 2, 4, 5], BATCH, 3, True, False, "batch2-cout3")
    return cases + [c32, _case(batch, HINTS["conv_forward"])]


def _conv_backward(rng, public):
    cases = [_case(conv_inputs(rng, public, True), HINTS["conv_backward"]) for _ in range(2 if public else 5)]
    cases.append(_case(conv_case(rng, [2, 2, 4, 5], BATCH, 3, True, True, "batch2-cout3"), HINTS["conv_backward"]))
    cases.append(_case(conv_case(rng, [2, 1, 7, 6], DILATED, 2, False, True, "batch2"), HINTS["conv_backward"]))
    return cases


QUESTIONS = (
    "The slide \"Why 'Transpose Convolution'? Can write convolution as matrix-multiply\" writes a 1-D convolution "
    "as a sparse matrix times the input. im2col writes it as the dense weight matrix `W` (C_out × C_in·kH·kW) "
    "times the column matrix. Give the shapes of both factors for x of shape (N, C_in, H, W), and say why one "
    "large matrix product is faster than the lecture's loop of dot products, although it does the same "
    "multiplications.",
    "What im2col costs: by what factor is `im2col(x)` larger than `x` for a 3×3 kernel, stride 1, padding 1 "
    "(cell 8), and for a 2×2 kernel with stride 2? Using the slide \"Why Not Stack Convolutions?\" (200 channels, "
    "400×400 images, float32), how many bytes is the column matrix of one image for one 3×3 layer?",
    "Why do overlapping patches ADD in col2im, and why is the input gradient `col2im(Wᵀ·G)`? Use the chain rule "
    "for a pixel that three windows read, and the adjoint identity of cell 5.",
)

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
    mistakes=(
        Mistake("the upstream gradient reshaped to (C_out, N·H_out·W_out) without moving its channel axis first "
                "(weight gradient)",
                (("ops/conv.py", "    return (g_mat @ columns.im2col(x, geo).T)",
                  "    g_mat = g.reshape(c_out, -1)\n    return (g_mat @ columns.im2col(x, geo).T)"),),
                frozenset({"conv_backward"})),
        Mistake("col2im writes (=) where overlapping patches must add (+=)",
                (("ops/im2col.py", "left:left + sw * (wo - 1) + 1:sw] += cols[:, i, j]",
                  "left:left + sw * (wo - 1) + 1:sw] = cols[:, i, j]"),),
                frozenset({"col2im", "conv_backward"})),
        Mistake("the output reshaped to (N, C_out, ...) without moving the batch axis",
                (("ops/conv.py", "out.reshape(c_out, n, *columns.output_size(x.shape[2:], geo)).transpose(1, 0, 2, 3)",
                  "out.reshape(n, c_out, *columns.output_size(x.shape[2:], geo))"),),
                frozenset({"conv_forward"})),
        Mistake("im2col ignores the dilation (taps next to each other)",
                (("ops/im2col.py", "            top, left = i * dh, j * dw\n            cols[:, i, j]",
                  "            top, left = i, j\n            cols[:, i, j]"),),
                frozenset({"im2col", "conv_forward", "conv_backward"})),
    ),
    starter=read_starter(__file__),
    questions=QUESTIONS,
)
