"""Every check of every differentiable public op, generated from its declaration in minidense/opinfo/.

Per op, on each of its samples (and a non-contiguous copy of the first): the float64 gradient against
central differences under a random upstream gradient; the forward against the NumPy reference; the
engine's promises (inputs and upstream gradient left alone, no aliasing, graph freed, a second backward's
clear error, the same answer on contiguous copies); float32 in, float32 out; the same answers on the GPU
(or the CuPy stand-in); each declared bad input's clear error; the ONNX round trip of the exportable ops;
the API reference's entry. A known failure is an Exclusion in the declaration: a strict expected failure.
Last, the coverage: a public op or a Function without a declaration fails, naming what to add.
"""
import gc
import importlib
import importlib.util
import inspect
import pkgutil
import zlib

import numpy as np
import pytest
from paths import ROOT
from threads import split_everything

import minidense as md
import minidense.functional as F
from minidense import backend, nn, ops
from minidense.gradcheck import GradcheckError
from minidense.opinfo import OPS, core
from minidense.ops import loss_fast
from minidense.tensor import Function, Tensor


# ---------------------------------------------------------------- running a sample
def samples_of(info):
    """The declared samples (float64), plus the first one with its tensor inputs non-contiguous."""
    found = list(info.samples(np.random.default_rng(zlib.crc32(info.name.encode()))))
    first = found[0]
    strided = {k: core.strided(v) if k in info.inputs and isinstance(v, np.ndarray) and v.dtype.kind == "f"
               and v.ndim and v.shape[-1] > 1 else v for k, v in first.kwargs.items()}
    if any(v is not first.kwargs[k] for k, v in strided.items()):
        found.append(core.Sample(first.note + ", non-contiguous", grad=first.grad, **strided))
    return found


def _array(v, dtype, device):
    if not isinstance(v, np.ndarray):
        return v
    a = v.astype(dtype, copy=False) if v.dtype.kind == "f" else v
    return backend.to_device(a, device) if device != "cpu" else a


def arguments(info, sample, dtype="float64", device="cpu", grad=True):
    """(kwargs for ``info.call``, {name: Tensor} of the inputs that take a gradient)."""
    wanted = set(info.grad_names(sample)) if grad else set()
    kwargs, leaves = {}, {}
    for name, value in sample.kwargs.items():
        value = _array(value, dtype, device)
        if name in info.inputs and backend.is_array(value):
            value = Tensor(value, requires_grad=name in wanted)
            if name in wanted:
                leaves[name] = value
        kwargs[name] = value
    return kwargs, leaves


def run(info, sample, dtype="float64", device="cpu", upstream_seed=1):
    """Forward and backward (random upstream gradient): (output, {name: gradient as NumPy}, the upstream)."""
    kwargs, leaves = arguments(info, sample, dtype, device, grad=sample.grad)
    out = info.call(**kwargs)
    upstream = None
    if leaves:
        upstream = np.random.default_rng(upstream_seed).standard_normal(out.shape).astype(dtype)
        out.backward(backend.to_device(upstream, out.device) if device != "cpu" else upstream)
    return out, {k: backend.to_numpy(t.grad) for k, t in leaves.items()}, upstream


def params(test, dtype="float64", device="cpu", only=lambda info: True):
    """One pytest param per op, a strict expected failure where the declaration excludes it."""
    found = []
    for info in OPS:
        if not only(info):
            continue
        reason = info.excluded(test, dtype, device)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        found.append(pytest.param(info, id=info.name, marks=marks))
    return found


def _graph(out):
    seen, stack = [], [out]
    while stack:
        t = stack.pop()
        if t._ctx is not None and t._ctx not in seen:
            seen.append(t._ctx)
            stack.extend(p for p in t._ctx.parents if isinstance(p, Tensor))
    return seen


# ---------------------------------------------------------------- gradients and forward
def check_gradients(info):
    """md.gradcheck (float64, random upstream gradient, central differences) on every sample that has a gradient."""
    checked = 0
    for sample in samples_of(info):
        names = info.grad_names(sample)
        if not sample.grad or not names:
            continue
        kwargs, _ = arguments(info, sample, grad=False)

        def fn(*tensors, kwargs=kwargs, names=names):
            return info.call(**{**kwargs, **dict(zip(names, tensors))})
        try:
            md.gradcheck(fn, [sample.kwargs[n] for n in names])
        except GradcheckError as exc:
            raise AssertionError(f"{info.name}, sample {sample.note!r}: {exc}") from None
        checked += 1
    assert checked, f"{info.name}: no sample has a gradient to check"


@pytest.mark.parametrize("info", params("gradcheck"))
def test_gradients_match_central_differences(info):
    check_gradients(info)


@pytest.mark.parametrize("info", params("reference", only=lambda info: info.reference is not None))
def test_forward_matches_the_numpy_reference(info):
    compared = 0
    for sample in samples_of(info):
        want = info.reference(**{k: v for k, v in sample.kwargs.items()})
        if want is None:        # no reference for this sample's settings (e.g. bilinear interpolation)
            continue
        out, _, _ = run(info, sample)
        np.testing.assert_allclose(out.numpy(), want, rtol=1e-10, atol=1e-12,
                                   err_msg=f"{info.name}, sample {sample.note!r}")
        compared += 1
    assert compared, f"{info.name}: the reference answered none of the samples"


# ---------------------------------------------------------------- the engine's promises
def check_promises(info):
    """Inputs and upstream gradient left alone, the declared Functions in the graph, the graph freed, no
    gradient aliasing another array, a second backward refused, and contiguous copies giving the same."""
    for sample in samples_of(info):
        # the tensor inputs: batch norm's running statistics are the one argument an op changes, by contract
        before = {k: v.copy() for k, v in sample.kwargs.items() if k in info.inputs and isinstance(v, np.ndarray)}
        kwargs, leaves = arguments(info, sample, grad=sample.grad)
        out = info.call(**kwargs)
        if not sample.grad:     # an edge case of the forward (a huge value, a kink): nothing to backpropagate
            for k, v in before.items():
                np.testing.assert_array_equal(sample.kwargs[k], v, err_msg=f"{info.name}: forward changed {k}")
            continue
        functions = _graph(out)
        names = {type(f).__name__ for f in functions}
        assert set(info.functions) <= names, f"{info.name} {sample.note!r} builds {sorted(names)}"
        upstream = np.random.default_rng(1).standard_normal(out.shape)
        kept = upstream.copy()
        out.backward(upstream)
        where = f"{info.name}, sample {sample.note!r}"
        np.testing.assert_array_equal(upstream, kept, err_msg=f"{where}: backward changed the upstream gradient")
        for k, v in before.items():
            np.testing.assert_array_equal(sample.kwargs[k], v, err_msg=f"{where}: {k} was changed")
        assert all(f.freed for f in functions), f"{where}: the graph was not freed after backward"
        grads = [t.grad for t in leaves.values()]
        assert all(g is not None for g in grads), f"{where}: an input got no gradient"
        others = [v for v in sample.kwargs.values() if isinstance(v, np.ndarray)] + [upstream]
        for i, g in enumerate(grads):
            assert g.dtype == np.float64, f"{where}: a float64 input got a {g.dtype} gradient"
            for other in grads[i + 1:] + others:
                assert not np.shares_memory(g, other), f"{where}: a leaf gradient aliases another array"
        with pytest.raises(RuntimeError, match="second time"):
            out.backward(upstream)
        if any(isinstance(v, np.ndarray) and not v.flags.c_contiguous for v in sample.kwargs.values()):
            plain = core.Sample(sample.note, **{k: np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v
                                                for k, v in sample.kwargs.items()})
            want, want_grads, _ = run(info, plain)
            np.testing.assert_array_equal(out.numpy(), want.numpy(), err_msg=f"{where}: non-contiguous input")
            for k, t in leaves.items():
                np.testing.assert_allclose(t.grad, want_grads[k], rtol=1e-12, atol=1e-14, err_msg=f"{where}: {k}")


@pytest.mark.parametrize("info", params("invariants"))
def test_the_engines_promises_hold(info):
    check_promises(info)


@pytest.mark.parametrize("name", ["conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("budget", [None, 600, 150])   # one block; groups of images; bands of output rows
@pytest.mark.parametrize("fast", [True, False])
def test_convolution_keeps_them_on_every_path(name, budget, fast):
    info = next(i for i in OPS if i.name == name)
    with md.fast_paths(fast, column_block_bytes=budget):
        check_promises(info)


def test_cross_entropy_keeps_them_split_between_threads(monkeypatch):
    """ops/loss_fast.py, on every sample (a batch of one is not split: the reference runs there)."""
    info = next(i for i in OPS if i.name == "cross_entropy")
    forward, calls = loss_fast.CrossEntropy.forward, []

    def counted(self, *args, **kwargs):
        calls.append(1)
        return forward(self, *args, **kwargs)
    monkeypatch.setattr(loss_fast.CrossEntropy, "forward", counted)
    with md.fast_paths(True), split_everything(3):
        check_promises(info)
    assert calls, "no sample reached the split cross-entropy"


# ---------------------------------------------------------------- dtypes and devices
@pytest.mark.parametrize("info", params("dtype", dtype="float32", only=lambda info: "float32" in info.dtypes))
def test_float32_in_float32_out(info):
    """float32 in, float32 out (gradients too), within float32's rounding of the float64 answer (samples
    whose values float32 cannot hold, such as 1e300, are float64's alone)."""
    biggest = np.finfo(np.float32).max
    for sample in samples_of(info):
        if any(isinstance(v, np.ndarray) and v.dtype.kind == "f" and np.abs(v).max(initial=0) > biggest
               for v in sample.kwargs.values()):
            continue
        out, grads, _ = run(info, sample, dtype="float32")
        want, _, _ = run(info, sample)
        where = f"{info.name}, sample {sample.note!r}"
        assert out.dtype == np.float32, f"{where}: float32 in, {out.dtype} out"
        assert all(g.dtype == np.float32 for g in grads.values()), f"{where}: a gradient is not float32"
        scale = max(float(np.abs(want.numpy()).max(initial=0)), 1.0)
        np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-4, atol=1e-5 * scale, err_msg=where)


@pytest.mark.gpu
@pytest.mark.parametrize("info", params("gpu", device="gpu"))
def test_the_gpu_gives_the_cpus_answers(info):
    for sample in samples_of(info):
        where = f"{info.name}, sample {sample.note!r}"
        want, want_grads, _ = run(info, sample)
        got, grads, _ = run(info, sample, device="cuda")
        assert got.device == "cuda", where
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-9, atol=1e-12, err_msg=where)
        for k, g in want_grads.items():
            np.testing.assert_allclose(grads[k], g, rtol=1e-9, atol=1e-12, err_msg=f"{where}: gradient of {k}")


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("info", params("errors", only=lambda info: info.errors))
def test_declared_bad_inputs_get_a_clear_error(info):
    """Each ErrorInput, made from the first sample (float32), raises a ValueError or TypeError naming the op
    and what it got; tests/*/test_fuzz_*.py apply the same ErrorInputs to the calls it draws."""
    sample = samples_of(info)[0]
    for bad in info.errors:
        kwargs, words = bad.change({k: _array(v, "float32", "cpu") for k, v in sample.kwargs.items()})
        with pytest.raises((ValueError, TypeError)) as caught:
            info.call(**kwargs)
        message = str(caught.value)
        assert any(n in message for n in info.error_names), f"{info.name} {bad.kind}: the op is not named: {message}"
        missing = [w for w in words if w not in message]
        assert not missing, f"{info.name} {bad.kind}: the message lacks {missing}: {message}"


# ---------------------------------------------------------------- export
@pytest.mark.parametrize("info", params("export", only=lambda info: info.export))
def test_exported_ops_round_trip_through_onnx(info, tmp_path):
    """Each sample as a one-input model (its first float input; the others constants), exported and run by
    onnxruntime: the declared ONNX operator is in the graph and the output is minidense's."""
    import onnxruntime as ort

    from minidense.export import to_onnx
    exported = 0
    for i, sample in enumerate(info.export_samples(samples_of(info))):
        kwargs, _ = arguments(info, sample, dtype="float32", grad=False)
        first = next(n for n in info.inputs if n in kwargs and kwargs[n].dtype.kind == "f")
        x = kwargs[first].numpy()
        if not x.ndim:          # a graph's input has at least one axis
            continue

        def model(t, kwargs=kwargs, first=first):
            return info.call(**{**kwargs, first: t})
        path = tmp_path / f"{i}.onnx"
        with np.errstate(divide="ignore", invalid="ignore"):     # the trace runs on zeros: log 0 is fine there
            proto = to_onnx(model, path, x.shape)
        ops_used = {node.op_type for node in proto.graph.node}
        assert info.export in ops_used, f"{info.name} {sample.note!r} exported as {sorted(ops_used)}"
        with md.no_grad():
            want = model(Tensor(x)).numpy()
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{info.name} {sample.note!r}")
        exported += 1
    assert exported, f"{info.name}: no sample was exported"


# ---------------------------------------------------------------- the declarations themselves
def api_modules():
    """The modules the documentation site gives an API page (docs/site_hooks.py's MODULES)."""
    spec = importlib.util.spec_from_file_location("site_hooks", ROOT / "docs" / "site_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return [name for name, _ in hooks.MODULES]


def documented_names():
    """``module.name`` for every public name of every module with an API page (mkdocstrings documents a module's
    ``__all__``, or its public names without one)."""
    names = set()
    for module_name in api_modules():
        module = importlib.import_module(module_name)
        public = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
        names.update(f"{module_name}.{n}" for n in public)
    return names


def test_the_api_reference_lists_every_declared_op():
    documented = documented_names()
    missing = sorted({info.doc for info in OPS} - documented)
    assert not missing, f"the API reference (docs/site_hooks.py's MODULES) lacks {missing}"


def test_declared_names_exist():
    """Each declaration's Tensor method, nn layer and Functions exist, and its dtypes are floating ones."""
    functions = all_functions()
    for info in OPS:
        assert info.method is None or hasattr(Tensor, info.method), f"{info.name}: Tensor has no {info.method}"
        assert info.layer is None or hasattr(nn, info.layer), f"{info.name}: minidense.nn has no {info.layer}"
        assert set(info.functions) <= set(functions), f"{info.name}: unknown Functions {info.functions}"
        assert set(info.dtypes) <= {"float16", "float32", "float64"}, info.name
    assert len({info.name for info in OPS}) == len(OPS), "two declarations share a name"


def all_functions():
    """Every Function subclass of the package, by class name: {name: [classes]} (a fast path's Function may
    share its reference's name, as ops/loss_fast.py's CrossEntropy does)."""
    for module in pkgutil.walk_packages(md.__path__, "minidense."):
        if ".assignments" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, stack = {}, list(Function.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("minidense."):
            found.setdefault(cls.__name__, []).append(cls)
    return found


#: bases that no op builds directly: their subclasses carry the declarations
ABSTRACT = {"_ClassLoss", "_PointwiseLoss"}
#: public functions of minidense.ops that take no gradient: the comparisons
NOT_DIFFERENTIABLE = {"eq", "ne", "lt", "le", "gt", "ge"}


def public_ops():
    """name -> function: minidense.functional's, and the Tensor operators' functions in minidense.ops."""
    found = {n: getattr(F, n) for n in F.__all__}
    found.update({n.rstrip("_"): getattr(ops, n) for n in ops.__all__
                  if inspect.isfunction(getattr(ops, n)) and n not in found})
    return {n: f for n, f in found.items() if n not in NOT_DIFFERENTIABLE}


def missing_declarations():
    """What to add: one line per public op or Function that no declaration covers (empty when none)."""
    declared = {info.op for info in OPS}
    where = ("add an OpInfo to the family's OPS list in minidense/opinfo/ (basic.py, spatial.py or losses.py; "
             "minidense/opinfo/core.py says what it holds)")
    lines = [f"F.{n} has no declaration: {where}, e.g. OpInfo({n!r}, F.{n}, inputs=(...), functions=(...), "
             f"samples=..., reference=...)" for n, f in sorted(public_ops().items()) if f not in declared]
    covered = {name for info in OPS for name in info.functions}
    lines += [f"the Function {name} is in no declaration's functions=(...): name it in the OpInfo of the op "
              f"that builds it ({where})" for name in sorted(set(all_functions()) - ABSTRACT - covered)]
    return lines


def test_every_public_op_and_function_has_a_declaration():
    missing = missing_declarations()
    assert not missing, "\n".join(missing)


def test_a_new_op_without_a_declaration_is_named_with_what_to_add(monkeypatch):
    """A new public op and its Function (here a made-up F.elu and Elu), not declared: both are named."""
    def elu(x):
        return x

    class Elu(Function):
        pass
    Elu.__module__ = "minidense.ops.elementwise"
    monkeypatch.setattr(F, "elu", elu, raising=False)
    monkeypatch.setattr(F, "__all__", F.__all__ + ["elu"])
    try:
        missing = missing_declarations()
    finally:
        del Elu
        gc.collect()     # the subclass list forgets Elu once it is collected: no later test sees it
    assert "Elu" not in all_functions()
    assert any(m.startswith("F.elu has no declaration: add an OpInfo") for m in missing), missing
    assert any("the Function Elu is in no declaration" in m for m in missing), missing
    assert len(missing) == 2, missing


def test_an_exclusion_is_a_strict_expected_failure_of_its_test_dtype_and_device(monkeypatch):
    info = OPS[0]
    monkeypatch.setattr(info, "exclusions", (core.Exclusion("dtype", "a reason", dtype="float32", device="cpu"),))
    marked = {(test, dtype, device): [m for p in params(test, dtype, device) if p.values[0] is info for m in p.marks]
              for test in ("dtype", "gradcheck") for dtype in ("float32", "float64") for device in ("cpu", "gpu")}
    hit = marked.pop(("dtype", "float32", "cpu"))
    assert len(hit) == 1 and hit[0].kwargs == {"strict": True, "reason": "a reason"}
    assert not any(marked.values()), "an exclusion reached beyond its (test, dtype, device)"
    with pytest.raises(ValueError, match="test must be one of"):
        core.Exclusion("gradient", "a typo")


@pytest.mark.slow
def test_a_wrong_backward_in_any_op_is_caught(monkeypatch):
    """Each op in turn gets a backward whose gradients are 1.01 times the right ones: the generated gradient
    check must fail for every op (printed: the op and the first line of the failure)."""
    caught, functions = {}, all_functions()
    for info in OPS:
        with monkeypatch.context() as patch:
            for name in info.functions:
                for cls in functions[name]:   # the fast path's Function too, where it has one
                    patch.setattr(cls, "backward", _scaled(cls.backward))
            try:
                check_gradients(info)
            except AssertionError as exc:
                caught[info.name] = str(exc).splitlines()[0][:100]
    for name, first in caught.items():
        print(f"{name:34s} caught: {first}")
    missed = [info.name for info in OPS if info.name not in caught]
    assert not missed, f"a backward scaled by 1.01 passed the gradient check of {missed}"


def _scaled(backward):
    def wrong(self, *grads):
        out = backward(self, *grads)
        return tuple(None if g is None else g * 1.01 for g in out) if isinstance(out, tuple) else out * 1.01
    return wrong
