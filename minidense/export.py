"""A way out: any model built from minidense's ops, saved as ONNX for other runtimes.

    from minidense.export import to_onnx
    to_onnx(model, "unet.onnx", (1, 3, 64, 64))       # needs the ``export`` extra (pip install onnx)

    import onnxruntime                                 # elsewhere, without minidense
    y = onnxruntime.InferenceSession("unet.onnx").run(None, {"input": x})[0]

How it works: tracing. The model runs once, in eval mode, on an input of ``input_shape`` while every
``Function.apply`` is written down (the op's class, its inputs, its keyword parameters, its output),
so the record is the graph the lecture draws, in the order it ran. Each op becomes one or a few ONNX
nodes (``_TRANSLATORS``, keyed by the Function's class name); the model's parameters and buffers
become initializers named by their ``state_dict`` keys; any other constant (a Python number in
``x * 2``, zeros made inside ``forward``) becomes an initializer as well. An op without a translation
stops the export with its name. What the trace cannot see is frozen: the shapes are those of
``input_shape`` (batch size included) and a Python ``if`` on the values takes the branch it took.

Max pooling is the one op whose settings live outside its Function (the switches are found before
the gather that carries the gradient), so ``functional.max_pool2d`` is watched as well: its kernel,
stride, padding and dilation make ONNX's MaxPool, whose second output (the switches, as flat indices
into the whole N·C·H·W array) feeds MaxUnpool.
"""
import contextlib
import inspect
import numbers

import numpy as np

from . import __version__, backend, creation
from . import functional as F
from ._extras import require
from .ops import fastpaths
from .tensor import Function, Tensor, no_grad

__all__ = ["to_onnx", "OPSET"]

#: the ONNX operator set the exported graphs use (ReduceMean and friends still take ``axes`` as an attribute)
OPSET = 17


def _onnx():
    return require("onnx", "export", "ONNX export (to_onnx)")


# ------------------------------------------------------------------ recording

class _Record:
    """One op as it ran: ``kind`` (the Function's class name), ``inputs`` (Tensors, arrays or numbers, as
    passed to apply), ``params`` (its keyword arguments) and the output Tensor."""

    def __init__(self, kind, inputs, params, out):
        self.kind, self.inputs, self.params, self.out = kind, inputs, params, out


@contextlib.contextmanager
def _recording():
    """Within: every Function.apply appends a _Record to ``records``; every functional.max_pool2d call puts its
    geometry in ``pools`` under id() of its output. Both are restored on the way out, whatever happens."""
    records, pools = [], {}
    apply = Function.__dict__["apply"]
    max_pool2d = F.max_pool2d
    signature = inspect.signature(max_pool2d)

    def recording_apply(cls, *inputs, **params):
        out = apply.__func__(cls, *inputs, **params)
        records.append(_Record(cls.__name__, inputs, params, out))
        return out

    def recording_max_pool2d(*args, **kwargs):
        result = max_pool2d(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        kernel = _pair(a["kernel_size"])
        pools[id(result[0] if a["return_indices"] else result)] = dict(
            kernel_shape=kernel, strides=kernel if a["stride"] is None else _pair(a["stride"]),
            pads=_pair(a["padding"]) * 2, dilations=_pair(a["dilation"]))
        return result

    Function.apply = classmethod(recording_apply)
    F.max_pool2d = recording_max_pool2d
    try:
        yield records, pools
    finally:
        Function.apply = apply
        F.max_pool2d = max_pool2d


def _pair(v):
    return (int(v), int(v)) if isinstance(v, numbers.Integral) else tuple(int(n) for n in v)


# ------------------------------------------------------------------ the graph being built

class _Graph:
    """ONNX nodes and initializers, and the ONNX name of every value the trace met."""

    def __init__(self, onnx, x, leaf_names, pools, records):
        self.helper = onnx.helper
        self.producers = {id(r.out): r for r in records}   # id(Tensor) -> the record that made it
        self.nodes, self.initializers = [], {}
        self.names = {id(x): "input"}          # id(Tensor) of op outputs and the input -> ONNX name
        self.leaf_names = leaf_names             # id(array) of parameters and buffers -> state_dict key
        self.pools = pools
        self.switches = {}                       # id(switches array) -> (ONNX name of MaxPool's indices, geometry)
        self.counter = 0

    def fresh(self, hint):
        self.counter += 1
        return f"{hint}_{self.counter}"

    def const(self, value, hint="const", dtype=None):
        """An initializer holding ``value`` (array or number); returns its name."""
        array = np.asarray(backend.to_numpy(value) if backend.is_array(value) else value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers[name] = array
        return name

    def name(self, value, dtype):
        """The ONNX name of an op's input: an earlier op's output, the input, a parameter, or a new constant."""
        if isinstance(value, Tensor):
            if id(value) not in self.names:    # a parameter, or a constant tensor (stored once however often used)
                self.names[id(value)] = self.name(value.data, dtype)
            return self.names[id(value)]
        if backend.is_array(value) and id(value) in self.leaf_names:
            key = self.leaf_names[id(value)]
            self.initializers[key] = backend.to_numpy(value)
            return key
        if isinstance(value, numbers.Number) and not isinstance(value, bool):   # as _as_tensors: the op's dtype
            return self.const(value, dtype=dtype)
        return self.const(value)

    def inputs(self, rec):
        return [self.name(v, rec.out.dtype) for v in rec.inputs]

    def node(self, op_type, inputs, rec=None, outputs=None, **attrs):
        """Add a node; by default its one output is rec's output. Returns the first output's name."""
        if outputs is None:
            outputs = [self.fresh(op_type) if rec is None else self.output(rec, op_type)]
        self.nodes.append(self.helper.make_node(op_type, inputs, outputs, **attrs))
        return outputs[0]

    def output(self, rec, hint):
        name = self.fresh(hint)
        self.names[id(rec.out)] = name
        return name

    def ints(self, values, hint="shape"):
        return self.const(np.asarray(values, dtype=np.int64), hint)


# ------------------------------------------------------------------ one translator per Function

def _simple(op_type):
    """Ops whose ONNX node takes the same inputs in the same order and no attribute."""
    return lambda g, rec: g.node(op_type, g.inputs(rec), rec)


def _matmul(g, rec):
    """A Linear layer's ``x @ weight.T`` becomes Gemm(x, weight, transB=1); other products stay MatMul."""
    a, b = rec.inputs
    producer = g.producers.get(id(b))
    if (isinstance(a, Tensor) and a.ndim == 2 and producer is not None and producer.kind == "Permute"
            and producer.params["axes"] == (1, 0)):
        return g.node("Gemm", [g.name(a, a.dtype), g.name(producer.inputs[0], a.dtype)], rec, transB=1)
    return g.node("MatMul", g.inputs(rec), rec)


def _conv(g, rec):
    geo = rec.params["geo"]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    return g.node("Conv", g.inputs(rec), rec, kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                  dilations=[dh, dw])


def _conv_transpose(g, rec):
    """output_padding settles the size, as in PyTorch: out = (in − 1)·s − 2p + d·(k − 1) + 1 + output_padding."""
    geo, out_size = rec.params["geo"], rec.params["out_size"]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo
    size_in = rec.inputs[0].shape[2:]
    output_padding = [o - ((n - 1) * s - 2 * p + d * (k - 1) + 1)
                      for o, n, s, p, d, k in zip(out_size, size_in, (sh, sw), (ph, pw), (dh, dw), (kh, kw))]
    return g.node("ConvTranspose", g.inputs(rec), rec, kernel_shape=[kh, kw], strides=[sh, sw],
                  pads=[ph, pw, ph, pw], dilations=[dh, dw], output_padding=output_padding)


def _max_pool(g, rec):
    geometry = g.pools.get(id(rec.out))
    if geometry is None:
        raise NotImplementedError("to_onnx: a max pooling (GatherSwitches) whose geometry was not seen: call it "
                                  "as F.max_pool2d(...) or nn.MaxPool2d (a max_pool2d imported by name before "
                                  "the export is not watched)")
    x = rec.inputs[0]
    values, indices = g.output(rec, "MaxPool"), g.fresh("MaxPool_indices")
    g.node("MaxPool", [g.name(x, x.dtype)], outputs=[values, indices], **{k: list(v) for k, v in geometry.items()})
    g.switches[id(rec.params["indices"])] = (indices, geometry)
    return values


def _max_unpool(g, rec):
    switches = rec.params["indices"]
    if id(switches) not in g.switches:
        raise NotImplementedError("to_onnx: max_unpool2d's indices must come from a max_pool2d in the same "
                                  "forward (the switches are exported as MaxPool's second output)")
    indices, geometry = g.switches[id(switches)]
    x = rec.inputs[0]
    shape = g.ints(tuple(x.shape[:2]) + tuple(rec.params["plane_size"]))
    return g.node("MaxUnpool", [g.name(x, x.dtype), indices, shape], rec,
                  kernel_shape=list(geometry["kernel_shape"]), strides=list(geometry["strides"]),
                  pads=list(geometry["pads"]))


def _avg_pool(g, rec):
    (kh, kw), (sh, sw), (ph, pw), dilation = rec.params["geo"]
    if tuple(dilation) != (1, 1):
        raise NotImplementedError(f"to_onnx: average pooling with dilation {tuple(dilation)} cannot be exported")
    return g.node("AveragePool", g.inputs(rec), rec, kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                  count_include_pad=int(rec.params.get("count_include_pad", True)))


def _resize(g, rec):
    """PyTorch's interpolate as ONNX's Resize: nearest is floor(dst / scale) ("asymmetric", "floor"); bilinear
    lines up pixel centres ("pytorch_half_pixel", clamped at 0 as PyTorch) or corners ("align_corners")."""
    p, x = rec.params, rec.inputs[0]
    factors = tuple(p.get("scale_factor") or (None, None))
    if None not in factors:     # the user's factor, which PyTorch uses for the mapping, as ONNX does with scales
        sizes = ["", g.const(np.asarray((1.0, 1.0) + factors, dtype=np.float32), "scales")]
    else:
        sizes = ["", "", g.ints(tuple(rec.out.shape), "sizes")]
    if p["mode"] == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attrs = dict(mode="linear",
                     coordinate_transformation_mode="align_corners" if p["align_corners"] else "pytorch_half_pixel")
    return g.node("Resize", [g.name(x, x.dtype)] + sizes, rec, **attrs)


def _batch_norm(g, rec):
    p = rec.params
    if p.get("training"):
        raise NotImplementedError("to_onnx: batch norm that uses the batch's statistics cannot be exported (a "
                                  "BatchNorm2d with track_running_stats=False); eval mode needs running statistics")
    x, weight, bias = rec.inputs
    dtype = rec.out.dtype
    names = [g.name(x, dtype), g.name(weight, dtype), g.name(bias, dtype),
             g.name(p["running_mean"], dtype), g.name(p["running_var"], dtype)]
    return g.node("BatchNormalization", names, rec, epsilon=float(p.get("eps", 1e-5)))


def _reshape(g, rec):
    return g.node("Reshape", [g.inputs(rec)[0], g.ints(rec.out.shape)], rec)


def _permute(g, rec):
    return g.node("Transpose", g.inputs(rec), rec, perm=list(rec.params["axes"]))


def _concat(g, rec):
    return g.node("Concat", g.inputs(rec), rec, axis=int(rec.params.get("axis", 0)))


def _stack(g, rec):
    axis = int(rec.params.get("axis", 0))
    unsqueezed = [g.node("Unsqueeze", [name, g.ints([axis], "axes")]) for name in g.inputs(rec)]
    return g.node("Concat", unsqueezed, rec, axis=axis)


def _pad(g, rec):
    pad_width = rec.params["pad_width"]
    pads = [b for b, _ in pad_width] + [e for _, e in pad_width]
    value = g.const(rec.params.get("value", 0.0), "pad_value", dtype=rec.out.dtype)
    return g.node("Pad", [g.inputs(rec)[0], g.ints(pads, "pads"), value], rec, mode="constant")


def _clip(g, rec):
    bounds = [g.const(rec.params[k], k, dtype=rec.out.dtype) if rec.params.get(k) is not None else ""
              for k in ("min", "max")]
    return g.node("Clip", g.inputs(rec) + bounds, rec)


def _leaky_relu(g, rec):
    return g.node("LeakyRelu", g.inputs(rec), rec, alpha=float(rec.params.get("negative_slope", 0.01)))


def _softmax(op_type):
    return lambda g, rec: g.node(op_type, g.inputs(rec), rec, axis=int(rec.params["axis"]))


def _reduce(op_type):
    """Sum, mean, max, min over ``axis`` (None: all axes) with keepdims."""
    def translate(g, rec):
        x = rec.inputs[0]
        axis = rec.params.get("axis")
        axes = list(range(x.ndim)) if axis is None else [int(a) for a in np.atleast_1d(axis)]
        keepdims = int(bool(rec.params.get("keepdims", False)))
        if op_type == "ReduceSum":      # since opset 13 ReduceSum takes its axes as an input
            return g.node(op_type, [g.name(x, x.dtype), g.ints(axes, "axes")], rec, keepdims=keepdims)
        return g.node(op_type, [g.name(x, x.dtype)], rec, axes=axes, keepdims=keepdims)
    return translate


def _normalize(g, rec):
    """x / max(‖x‖₂ along axis, eps)."""
    x = rec.inputs[0]
    norm = g.node("ReduceL2", [g.name(x, x.dtype)], axes=[int(rec.params.get("axis", 1))], keepdims=1)
    floor = g.node("Max", [norm, g.const(rec.params.get("eps", 1e-12), "eps", dtype=x.dtype)])
    return g.node("Div", [g.name(x, x.dtype), floor], rec)


def _not_in_eval(what):
    def translate(g, rec):
        raise NotImplementedError(f"to_onnx: {what} ran while tracing in eval mode; it has no ONNX translation")
    return translate


#: Function class name -> translator(graph, record) that adds the ONNX nodes and returns the output's name
_TRANSLATORS = {
    "Add": _simple("Add"), "Sub": _simple("Sub"), "Mul": _simple("Mul"), "Div": _simple("Div"),
    "Pow": _simple("Pow"), "Neg": _simple("Neg"), "MatMul": _matmul,
    "Exp": _simple("Exp"), "Log": _simple("Log"), "Sqrt": _simple("Sqrt"), "Abs": _simple("Abs"),
    "ReLU": _simple("Relu"), "Sigmoid": _simple("Sigmoid"), "Tanh": _simple("Tanh"), "LeakyReLU": _leaky_relu,
    "Clip": _clip, "Where": _simple("Where"),
    "Sum": _reduce("ReduceSum"), "Mean": _reduce("ReduceMean"), "Max": _reduce("ReduceMax"),
    "Min": _reduce("ReduceMin"),
    "Reshape": _reshape, "Permute": _permute, "Concat": _concat, "Stack": _stack, "Pad": _pad,
    "Conv2d": _conv, "ConvTranspose2d": _conv_transpose,
    "GatherSwitches": _max_pool, "ScatterSwitches": _max_unpool, "AvgPool2d": _avg_pool, "Interpolate": _resize,
    "BatchNorm": _batch_norm, "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Normalize": _normalize, "Dropout": _not_in_eval("dropout"),
}


# ------------------------------------------------------------------ the export

def _check_shape(input_shape):
    if not isinstance(input_shape, (tuple, list)) or not input_shape or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in input_shape):
        raise ValueError(f"to_onnx: input_shape must be a tuple of positive ints such as (1, 3, 64, 64), "
                         f"got {input_shape!r}")
    return tuple(int(n) for n in input_shape)


def _needed(records, output):
    """The records that the output depends on, in the order they ran (what a model computed and dropped is left out)."""
    producers = {id(r.out): r for r in records}
    keep, stack = set(), [output]
    while stack:
        rec = producers.get(id(stack.pop()))
        if rec is None or id(rec) in keep:
            continue
        keep.add(id(rec))
        stack.extend(v for v in rec.inputs if isinstance(v, Tensor))
        if rec.kind == "ScatterSwitches":     # MaxUnpool needs the MaxPool that found its switches
            stack.extend(r.out for r in records if r.kind == "GatherSwitches"
                         and r.params.get("indices") is rec.params.get("indices"))
    return [r for r in records if id(r) in keep]


def _value_info(onnx, name, array_like):
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(array_like.dtype))
    return onnx.helper.make_tensor_value_info(name, elem, list(array_like.shape))


def to_onnx(model, path, input_shape):
    """Write ``model`` (a Module, or any callable on one Tensor) to ``path`` as an ONNX file; returns the ModelProto.

    input_shape: the input's full shape, e.g. (1, 3, H, W); the graph is fixed to it. The graph's input is
    called "input" (the dtype of the model's parameters, float32 unless changed) and its output "output".
    Parameters and buffers are stored under their state_dict keys. The model is traced in eval mode, on the
    reference kernels (an nn.DataParallel as the module it wraps), and each of its modules put back in the mode
    it was in. An op without an ONNX translation raises
    NotImplementedError naming it.
    """
    onnx = _onnx()
    shape = _check_shape(input_shape)
    if not callable(model):
        raise TypeError(f"to_onnx: model must be a Module (or a callable on a Tensor), got {type(model).__name__}")
    named = dict(model.named_parameters()) if hasattr(model, "named_parameters") else {}
    named.update(model.named_buffers() if hasattr(model, "named_buffers") else {})
    first = next(iter(named.values()), None)
    dtype = first.dtype if first is not None and first.dtype.kind == "f" else backend.default_dtype
    device = first.device if first is not None else "cpu"
    x = creation.zeros(shape, dtype=dtype, device=device)

    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    if hasattr(model, "eval"):
        model.eval()
    try:
        # the fast paths off: one graph to write down (nn.DataParallel calls its module whole, not in slices)
        with no_grad(), fastpaths.fast_paths(False), _recording() as (records, pools):
            y = model(x)
    finally:
        for m, training in modes:      # each module's own mode back, mixed modes included
            m.training = training
    if not isinstance(y, Tensor):
        raise TypeError(f"to_onnx: the model must return one Tensor, got {type(y).__name__}")

    records = _needed(records, y)
    unknown = sorted({r.kind for r in records} - set(_TRANSLATORS))
    if unknown:
        raise NotImplementedError(f"to_onnx: the model uses {', '.join(unknown)}, which has no ONNX translation "
                                  f"(supported: {', '.join(sorted(_TRANSLATORS))})")
    g = _Graph(onnx, x, {id(t.data): name for name, t in named.items()}, pools, records)
    for rec in records:
        _TRANSLATORS[rec.kind](g, rec)
    out_name = g.name(y, y.dtype)
    g.nodes.append(onnx.helper.make_node("Identity", [out_name], ["output"]))
    nodes = _prune(g.nodes, "output")
    used = {name for node in nodes for name in node.input}
    initializers = [onnx.numpy_helper.from_array(np.ascontiguousarray(a), name)
                    for name, a in g.initializers.items() if name in used]
    graph = onnx.helper.make_graph(nodes, type(model).__name__, [_value_info(onnx, "input", x)],
                                   [_value_info(onnx, "output", y)], initializers)
    proto = onnx.helper.make_model(graph, producer_name="minidense", producer_version=__version__,
                                   opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    proto.ir_version = min(proto.ir_version, 8)    # readable by onnxruntime releases older than this onnx
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return proto


def _prune(nodes, output):
    """The nodes the output needs (a Linear's transposed weight that Gemm reads directly is dropped)."""
    needed, kept = {output}, []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    return kept[::-1]
