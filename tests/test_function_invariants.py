"""The engine's promises, for every Function in the package (MyGrad's factory idea, as one table).

For each op: forward and backward leave their inputs and the upstream gradient alone, leaf gradients
never alias another array, backward frees the graph, and a second backward raises the clear error.
The in-place tricks (col2im's overwrite_cols, exp(..., out=...), out += bias) live in these ops, so
each is run on the path the dispatch picks, and convolution on its blocked and banded paths too.
A Function subclass without an entry fails the last test: a new op must join the table.
"""
import importlib
import pkgutil

import numpy as np
import pytest

import minidense as md
import minidense.functional as F
from minidense.tensor import Function

GEN = np.random.default_rng(0)


def _r(*shape, low=None):
    a = GEN.standard_normal(shape)
    return np.abs(a) + low if low is not None else a


def _labels(shape, classes, ignore=False):
    t = GEN.integers(0, classes, shape)
    if ignore:
        t[GEN.random(shape) < 0.3] = md.IGNORE_INDEX
    return t


def _pooled(x):
    return F.max_pool2d(x, 2, return_indices=True)


# name -> (fn of tensors, float inputs (tensors with requires_grad), extra context); the first input's op
# at the top of the graph is the one named
TABLE = {
    "Add": (lambda a, b: a + b, [_r(2, 3), _r(3)]),
    "Sub": (lambda a, b: a - b, [_r(2, 3), _r(2, 1)]),
    "Mul": (lambda a, b: a * b, [_r(2, 3), _r(2, 3)]),
    "Div": (lambda a, b: a / b, [_r(2, 3), _r(2, 3, low=0.5)]),
    "Neg": (lambda a: -a, [_r(2, 3)]),
    "Pow": (lambda a, b: a ** b, [_r(2, 3, low=0.5), _r(2, 3)]),
    "MatMul": (lambda a, b: a @ b, [_r(2, 3), _r(3, 4)]),
    "Exp": (lambda a: a.exp(), [_r(2, 3)]),
    "Log": (lambda a: a.log(), [_r(2, 3, low=0.5)]),
    "Sqrt": (lambda a: a.sqrt(), [_r(2, 3, low=0.5)]),
    "Abs": (lambda a: abs(a), [_r(2, 3)]),
    "ReLU": (F.relu, [_r(2, 3)]),
    "LeakyReLU": (F.leaky_relu, [_r(2, 3)]),
    "Sigmoid": (F.sigmoid, [_r(2, 3)]),
    "Tanh": (F.tanh, [_r(2, 3)]),
    "Clip": (lambda a: F.clip(a, -0.5, 0.5), [_r(2, 3)]),
    "Where": (lambda a, b: F.where(md.tensor(_r(2, 3) > 0), a, b), [_r(2, 3), _r(2, 3)]),
    "Sum": (lambda a: a.sum(axis=1), [_r(2, 3)]),
    "Mean": (lambda a: a.mean(axis=0, keepdims=True), [_r(2, 3)]),
    "Max": (lambda a: a.max(axis=1), [_r(2, 3)]),
    "Min": (lambda a: a.min(axis=0), [_r(2, 3)]),
    "Reshape": (lambda a: a.reshape(3, 2), [_r(2, 3)]),
    "Permute": (lambda a: a.permute(1, 0, 2), [_r(2, 3, 4)]),
    "GetItem": (lambda a: a[np.array([0, 1, 1])], [_r(2, 3)]),
    "Concat": (lambda a, b: md.concat([a, b], axis=1), [_r(2, 3), _r(2, 2)]),
    "Stack": (lambda a, b: md.stack([a, b], axis=0), [_r(2, 3), _r(2, 3)]),
    "Pad": (lambda a: md.ops.pad(a, ((1, 0), (0, 2))), [_r(2, 3)]),
    "Conv2d": (lambda x, w, b: F.conv2d(x, w, b, padding=1), [_r(2, 3, 6, 6), _r(4, 3, 3, 3), _r(4)]),
    "ConvTranspose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                        [_r(2, 3, 4, 4), _r(3, 2, 3, 3), _r(2)]),
    "Im2col": (lambda x: F.im2col(x, 3, padding=1), [_r(2, 2, 5, 5)]),
    "Col2im": (lambda c: F.col2im(c, (2, 2, 5, 5), 3, padding=1), [_r(18, 50)]),
    "ConvMatrix": (lambda w: F.conv2d_matrix(w, (4, 4), padding=1), [_r(2, 1, 3, 3)]),
    "GatherSwitches": (lambda x: _pooled(x)[0], [_r(2, 2, 4, 4)]),
    "ScatterSwitches": (lambda y: F.max_unpool2d(y, _pooled(md.tensor(_r(2, 2, 4, 4)))[1], 2), [_r(2, 2, 2, 2)]),
    "AvgPool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [_r(2, 2, 5, 5)]),
    "Interpolate": (lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), [_r(1, 2, 3, 4)]),
    "BedOfNails": (lambda x: F.bed_of_nails(x, 2), [_r(1, 2, 3, 3)]),
    "LogSoftmax": (lambda x: F.log_softmax(x, dim=1), [_r(2, 4, 3)]),
    "Softmax": (lambda x: F.softmax(x, dim=1), [_r(2, 4, 3)]),
    "CrossEntropy": (lambda x: F.cross_entropy(x, md.tensor(_labels((2, 3, 3), 4, ignore=True)),
                                               weight=md.tensor(_r(4, low=0.5)), ignore_index=md.IGNORE_INDEX),
                     [_r(2, 4, 3, 3)]),
    "NLLLoss": (lambda x: F.nll_loss(x, md.tensor(_labels((2, 3), 4)), reduction="sum"), [_r(2, 4, 3)]),
    "L1Loss": (lambda p, t: F.l1_loss(p, t, mask=md.tensor(_r(2, 3) > 0)), [_r(2, 3), _r(2, 3)]),
    "MSELoss": (lambda p, t: F.mse_loss(p, t, reduction="none"), [_r(2, 3), _r(2, 3)]),
    "SmoothL1Loss": (lambda p, t: F.smooth_l1_loss(p, t, beta=0.5), [_r(2, 3), _r(2, 3)]),
    "ScaleInvariantLogLoss": (F.scale_invariant_log_loss, [_r(2, 1, 3, 3, low=0.5), _r(2, 1, 3, 3, low=0.5)]),
    "MaskedReduce": (lambda p, t: F.cosine_normal_loss(p, t), [_r(2, 3, 2, 2), _r(2, 3, 2, 2)]),
    "BCEWithLogits": (lambda x: F.binary_cross_entropy_with_logits(x, md.tensor((_r(2, 3) > 0) * 1.0),
                                                                   pos_weight=md.tensor(_r(3, low=0.5))), [_r(2, 3)]),
    "Normalize": (lambda x: F.normalize(x, dim=1), [_r(2, 3, 2)]),
    "BatchNorm": (lambda x, w, b: F.batch_norm(x, md.zeros(3, dtype="float64"), md.ones(3, dtype="float64"), w, b,
                                               training=True), [_r(4, 3, 2, 2), _r(3), _r(3)]),
    "Dropout": (lambda x: F.dropout(x, 0.3), [_r(4, 5)]),
}
# bases whose subclasses carry the entries
ABSTRACT = {"_ClassLoss": ("CrossEntropy", "NLLLoss"), "_PointwiseLoss": ("L1Loss", "MSELoss", "SmoothL1Loss")}


def _graph_ops(out):
    seen, stack = [], [out]
    while stack:
        t = stack.pop()
        if t._ctx is not None and t._ctx not in seen:
            seen.append(t._ctx)
            stack.extend(t._ctx.parents)
    return {type(fn).__name__ for fn in seen}, seen


def _check(name):
    fn, arrays = TABLE[name]
    before = [a.copy() for a in arrays]
    tensors = [md.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    names, functions = _graph_ops(out)
    assert name in names, f"the entry for {name} builds a graph of {sorted(names)}"
    upstream = np.random.default_rng(1).standard_normal(out.shape)
    kept = upstream.copy()
    out.backward(upstream)
    np.testing.assert_array_equal(upstream, kept, err_msg=f"{name}: backward changed the upstream gradient")
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: forward or backward changed an input")
    assert all(f.freed for f in functions), f"{name}: the graph was not freed after backward"
    grads = [t.grad for t in tensors]
    assert all(g is not None for g in grads), f"{name}: an input got no gradient"
    others = list(arrays) + [upstream]
    for i, g in enumerate(grads):
        for other in grads[i + 1:] + others:
            assert not np.shares_memory(g, other), f"{name}: a leaf gradient aliases another array"
    with pytest.raises(RuntimeError, match="second time"):
        out.backward(upstream)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_function_keeps_the_engines_promises(name):
    _check(name)


@pytest.mark.parametrize("name", ["Conv2d", "ConvTranspose2d"])
@pytest.mark.parametrize("budget", [None, 600, 150])   # one block; groups of images; bands of output rows
@pytest.mark.parametrize("fast", [True, False])
def test_convolution_keeps_them_on_every_path(name, budget, fast):
    with md.fast_paths(fast, column_block_bytes=budget):
        _check(name)


def _all_functions():
    for info in pkgutil.walk_packages(md.__path__, "minidense."):
        if ".assignments" not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, stack = {}, list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("minidense."):
            found[cls.__name__] = cls
    return found


def test_every_function_in_the_package_has_an_entry():
    functions = _all_functions()
    missing = sorted(set(functions) - set(TABLE) - set(ABSTRACT))
    assert not missing, f"Functions without an entry in TABLE: {missing}"
    for base, subs in ABSTRACT.items():
        assert all(issubclass(functions[s], functions[base]) for s in subs)
