"""What one op's declaration holds (PyTorch's ``OpInfo``, smaller), and the helpers the declarations share.

A declaration is data: nothing here runs a check. The tests that read it (tests/ops/test_opdb.py) generate,
for every declared op, the gradient check, the comparison with the NumPy reference, the engine's
promises, the dtype, device, error-input, export and documentation checks.
"""
import numpy as np

#: the generated tests an exclusion can name
TESTS = ("gradcheck", "reference", "invariants", "dtype", "gpu", "errors", "export")


class Sample:
    """One call: ``kwargs`` by the declaration's argument names (arrays for the tensor inputs, anything else
    as given), a ``note`` for the test id, ``grad=False`` for an edge case checked forward only (e.g. a
    kink or a huge value, where central differences mean nothing)."""

    def __init__(self, note, grad=True, **kwargs):
        self.note, self.grad, self.kwargs = note, grad, kwargs

    def __repr__(self):
        return f"Sample({self.note!r})"


class ErrorInput:
    """A bad call made from a good one: ``change(kwargs) -> (bad kwargs, words)``; the call must raise a
    ValueError or TypeError whose message names the op and contains each of ``words`` (what it got).
    The fuzz suite (tests/*/test_fuzz_*.py) applies the same changes to the calls it draws."""

    def __init__(self, kind, change):
        self.kind, self.change = kind, change


def error(kind, **changes):
    """An ErrorInput that sets arguments to fixed values; the message must name each and show its value."""
    words = tuple(w for name, value in changes.items() for w in (name, repr(value)))
    return ErrorInput(kind, lambda kw: ({**kw, **changes}, words))


class Exclusion:
    """A known failure: ``test`` (one of TESTS) fails for ``dtype`` on ``device`` ("cpu", "gpu"; None: any)
    for ``reason``. The generated test is then a strict expected failure: one that starts passing fails."""

    def __init__(self, test, reason, dtype=None, device=None):
        if test not in TESTS:
            raise ValueError(f"Exclusion: test must be one of {TESTS}, got {test!r}")
        self.test, self.reason, self.dtype, self.device = test, reason, dtype, device

    def applies(self, test, dtype, device):
        return self.test == test and self.dtype in (None, dtype) and self.device in (None, device)


class OpInfo:
    """One differentiable public op.

    name: the public name (``F.name``, or the Tensor operator's); op: the public function;
    call: how a sample is called, ``call(**sample.kwargs)`` (default: ``op``); inputs: the argument names
    that are tensors; grads: those it is differentiable in (default: the floating ones of ``inputs``);
    functions: the ``Function`` classes its samples build (each must appear in their graphs);
    samples(rng): the Samples, in float64 (the tests make the float32 copies);
    reference(**kwargs): the same math in plain NumPy (None where there is none);
    dtypes: the floating dtypes it takes; method / layer: its Tensor method and ``nn`` layer names;
    export: the ONNX operator it becomes (None: not exported); errors: ErrorInputs;
    exclusions: Exclusions; doc: the name the API reference lists it under; error_names: the names its
    error messages may go by (an alias's are its target's); exported: the notes of the samples the export
    test takes (default all: e.g. batch norm exports only in evaluation).
    """

    def __init__(self, name, op, *, inputs, functions, samples, reference=None, call=None, grads=None,
                 dtypes=("float32", "float64"), method=None, layer=None, export=None, errors=(), exclusions=(),
                 doc=None, error_names=None, exported=None):
        self.name, self.op, self.call = name, op, call or op
        self.inputs, self.grads = tuple(inputs), tuple(grads) if grads is not None else None
        self.functions, self.samples, self.reference = tuple(functions), samples, reference
        self.dtypes, self.method, self.layer, self.export = tuple(dtypes), method, layer, export
        self.errors, self.exclusions = tuple(errors), tuple(exclusions)
        self.doc = doc or f"minidense.functional.{name}"
        self.error_names, self.exported = tuple(error_names or (name,)), exported

    def export_samples(self, samples):
        """The samples the ONNX round trip takes (never the forward's edge cases: they test numerics)."""
        return [s for s in samples if s.grad and (self.exported is None or s.note in self.exported)]

    def excluded(self, test, dtype="float64", device="cpu"):
        """The reason ``test`` is known to fail here, or None."""
        return next((e.reason for e in self.exclusions if e.applies(test, dtype, device)), None)

    def grad_names(self, sample):
        """The tensor inputs of ``sample`` that gradients are checked for."""
        names = self.grads if self.grads is not None else self.inputs
        return [n for n in names if n in sample.kwargs and np.asarray(sample.kwargs[n]).dtype.kind == "f"]

    def __repr__(self):
        return f"OpInfo({self.name!r})"


# ---------------------------------------------------------------- values the samples share
def normal(rng, *shape, low=None, avoid=None):
    """Standard normal values; ``low``: |values| + low (positive, away from 0); ``avoid``: nudged away from 0
    (a kink) by at least that much."""
    a = np.asarray(rng.standard_normal(shape))
    if low is not None:
        return np.asarray(np.abs(a) + low)
    if avoid is not None:
        a = np.where(np.abs(a) < avoid, np.copysign(avoid, a) + a, a)
    return a


def labels(rng, shape, classes, ignore=None):
    """Class labels in [0, classes), about a third set to ``ignore`` when given."""
    t = rng.integers(0, classes, shape)
    if ignore is not None:
        t[rng.random(shape) < 0.3] = ignore
    return t


def strided(a):
    """``a``'s values in a non-contiguous array (every other element of a wider one)."""
    if a.ndim == 0:
        return a
    wide = np.repeat(a, 2, axis=-1)[..., ::2]
    assert not wide.flags.c_contiguous or a.shape[-1] == 1
    return wide
