"""Bad input to every public function: a clear ValueError / TypeError, or (legitimate input) the right answer.

A registry describes the public surface (``minidense.functional``, the ``nn`` layers, ``metrics``,
the DataLoader and transforms: fuzz_registry.py, by family; the command line has its own test,
tests/cli/test_fuzz_cli.py). This module holds the rest: the bad values, the checks of the outcome, and
``register``, which makes one hypothesis test per (function, argument, kind) in a family's test file
(tests/*/test_fuzz_*.py). Each entry has a builder of
a valid call and the role of each argument; a role says which bad-input kinds apply to it:

    not_array  a list or a string where a tensor belongs    int bool complex object   wrong dtypes
    float16    every floating argument in half precision     mixed     one float argument float64
    nan inf    non-finite values                             empty     a zero-size dimension
    ndim nhwc  wrong number of dimensions, channels last     channels  mismatched channels
    noncontig readonly  legitimate arrays                    range shape length  labels, switches, vectors
    plus per-function kinds: negative or zero stride, kernel larger than the padded input, pooling
    padding over half the kernel, switches outside their plane, NumPy + CuPy mixed (a GPU test)

Each example draws one (function, argument, kind) case with hypothesis and checks:

- error kinds: a ValueError or TypeError whose message names the function, the argument and what
  it got (the dtype, the shape, the type or the value);
- legitimate kinds (non-contiguous, read-only, all-float16): the same result, and the same gradient,
  as on a contiguous, writable copy (float16: the float32 result within half precision);
- nan: a clear error, or the NaN shows in the result (never silently swallowed); inf, empty where
  allowed: a clear error or a result, never an unclear exception.

``make test`` runs a few examples per case; ``make fuzz`` runs many (MINIDENSE_FUZZ_EXAMPLES). The
number of examples tried per kind is printed after each test file.
"""
import collections
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minidense as md
from minidense import backend

EXAMPLES = int(os.environ.get("MINIDENSE_FUZZ_EXAMPLES", "3"))
TRIED = collections.Counter()      # kind -> examples tried
ERRORS = collections.Counter()     # kind -> examples answered with a clear error
GPU = backend.gpu_available()


@pytest.fixture(scope="module", autouse=True)
def _summary():
    """Prints, after a test file, how many bad inputs of each kind it tried."""
    tried, errors = TRIED.copy(), ERRORS.copy()
    yield
    tried, errors = TRIED - tried, ERRORS - errors
    if tried:
        total = sum(tried.values())
        lines = [f"fuzz: {total} bad inputs of {len(tried)} kinds tried "
                 f"({sum(errors.values())} answered by a clear error, the rest by the right result):"]
        lines += [f"  {kind:12s} {n:6d}" for kind, n in sorted(tried.items())]
        print("\n" + "\n".join(lines))


# ------------------------------------------------------------------ values
def _values(draw, shape, dtype=np.float32, low=-2.0, high=2.0):
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def _positive(draw, shape):
    return _values(draw, shape, low=0.5, high=3.0)


def _labels(draw, shape, classes):
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).integers(0, classes, shape).astype(np.int64)


def _mask(draw, shape):
    m = _values(draw, shape) > -1.0
    m.reshape(-1)[0] = True
    return m


def _nchw(draw, c=None, lo=4, hi=7):
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(lo, hi)), draw(st.integers(lo, hi))
    return (n, c if c is not None else draw(st.integers(1, 3)), h, w)


# ------------------------------------------------------------------ the registry
class Entry:
    """fn(**build(draw)) is a valid call; roles: argument -> role; extra: kind -> maker(draw, kw) -> (kw, words)."""

    def __init__(self, name, fn, build, roles, extra=None, names=None, empty="error", nan_may_vanish=(),
                 labels=None, compare=True, half="same"):
        self.name, self.fn, self.build, self.roles = name, fn, build, roles
        self.extra = extra or {}
        self.names = names or (name,)
        self.empty = empty                    # "error": a zero-size dimension must be refused; "ok": any clear outcome
        self.nan_may_vanish = set(nan_may_vanish)   # arguments whose NaN may legitimately not reach the result
        self.labels = labels or {}            # argument -> how the message calls it
        self.compare = compare                # legitimate kinds: compare with the result on a clean copy
        self.half = half                      # "same": float16 in, the float32 answer in float16 out; "error"


FLOAT_KINDS = ("not_array", "int", "bool", "complex", "object", "nan", "inf", "noncontig", "readonly")
ROLE_KINDS = {
    "float": FLOAT_KINDS + ("empty", "mixed"),
    "nchw": FLOAT_KINDS + ("empty", "ndim", "mixed"),
    "nchw_c": FLOAT_KINDS + ("empty", "ndim", "nhwc", "mixed"),      # the channel count is checked
    "weight": FLOAT_KINDS + ("empty", "ndim", "channels", "mixed"),
    "vector": FLOAT_KINDS + ("length", "mixed"),
    "state": ("not_array", "int", "complex", "object", "noncontig", "length", "mixed"),  # running statistics
    "any": ("not_array", "complex", "object", "nan", "inf", "noncontig", "readonly"),
    "labels": ("not_array", "float", "bool", "complex", "object", "shape", "range", "noncontig", "readonly"),
    "mask": ("not_array", "int", "float", "shape", "noncontig", "readonly"),
    "indices": ("not_array", "float", "shape", "range", "noncontig", "readonly"),
    # metrics compute in float64 on the CPU: any real dtype is fine there
    "m_labels": ("not_array", "float", "complex", "object", "shape", "range", "noncontig", "readonly"),
    "m_float": ("not_array", "complex", "object", "nan", "inf", "shape", "noncontig", "readonly"),
    "m_mask": ("not_array", "int", "shape", "noncontig", "readonly"),
    "m_maps": ("not_array", "float", "complex", "object", "shape", "noncontig", "readonly"),   # no class count
    "m_counts": ("complex", "object", "range", "noncontig", "readonly"),
    "t_image": ("not_array", "noncontig", "readonly"),   # transforms move pixels of any dtype
    "any4": ("not_array", "complex", "object", "nan", "inf", "noncontig", "readonly", "empty", "ndim"),
}
FLOATING = {"float", "nchw", "nchw_c", "weight", "vector", "state"}



def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a



# ------------------------------------------------------------------ making bad input
def _bad_value(kind, role, value, draw, transposed=False):
    """The bad replacement of one argument and the words its error message must hold (None: legitimate)."""
    a = np.asarray(value)
    if kind == "not_array":
        bad = draw(st.sampled_from(["list", "str", "none-like"]))
        if bad == "list":
            return a.tolist(), ("list",)
        if bad == "str":
            return "abc", ("str",)
        return {"data": a}, ("dict",)
    if kind in ("int", "bool", "float", "complex", "object"):
        dtype = {"int": np.int32, "bool": np.bool_, "float": np.float32, "complex": np.complex64,
                 "object": object}[kind]
        return a.astype(dtype), (np.dtype(dtype).name,)
    if kind == "mixed":
        return a.astype(np.float64), ("float64",)
    if kind in ("nan", "inf"):
        fill = np.nan if kind == "nan" else draw(st.sampled_from([np.inf, -np.inf]))
        return np.full_like(a, fill), None
    if kind == "noncontig":
        b = np.zeros(a.shape + (2,), dtype=a.dtype)
        b[..., 1] = a
        return b[..., 1], None
    if kind == "readonly":
        return _readonly(a), None
    if kind == "empty":
        axis = a.ndim - 1 if a.ndim else 0
        b = np.take(a, [], axis=axis)
        return b, (str(b.shape),)
    if kind == "ndim":
        b = a[0] if draw(st.booleans()) else a[None]
        return b, (str(b.shape),)
    if kind == "nhwc":
        b = a.transpose(0, 2, 3, 1)
        if b.shape[1] == a.shape[1]:      # H happens to equal C: add a column so channels differ
            b = np.concatenate([b, b[:, :1]], axis=1)
        return b, (str(b.shape),)
    if kind == "channels":   # the input-channel axis: 1 for a conv weight, 0 for a transposed one
        b = np.concatenate([a, a], axis=0 if transposed else 1)
        return b, (str(b.shape),)
    if kind == "length":
        b = np.concatenate([a, a[:1]])
        return b, (str(b.shape),)
    if kind == "shape":
        b = a[..., :-1] if a.shape[-1] > 1 else np.concatenate([a, a], axis=-1)
        return b, (str(b.shape),)
    if kind == "range":
        b = a.copy()
        bad = -1 if role != "indices" else int(a.max()) + 10**5
        b.reshape(-1)[draw(st.integers(0, b.size - 1))] = bad
        return b, (str(bad),)
    raise AssertionError(kind)



def cases(entries, devices=True):
    """(entry, argument, kind) for every bad-input kind that applies to each entry; ``devices``: also NumPy and
    CuPy arrays mixed in one call (a GPU test; metrics read every argument to the host, where mixing is fine)."""
    found = []
    for entry in entries:
        for arg, role in entry.roles.items():
            for kind in ROLE_KINDS[role]:
                if kind == "mixed" and sum(r in FLOATING for r in entry.roles.values()) < 2:
                    continue   # one floating argument: nothing to mix it with
                found.append((entry, arg, kind))
        if any(r in FLOATING for r in entry.roles.values()):
            found.append((entry, None, "float16"))
        if devices and len(entry.roles) >= 2:
            found.append((entry, next(iter(entry.roles)), "numpy+cupy"))
        for kind in entry.extra:
            found.append((entry, None, kind))
    return found


def _case_id(case):
    entry, arg, kind = case
    return f"{entry.name}-{arg}-{kind}" if arg else f"{entry.name}-{kind}"


# ------------------------------------------------------------------ checking the outcome
def _plain(x):
    """Results as NumPy arrays / floats / nested containers, for comparison."""
    if isinstance(x, md.Tensor):
        return backend.to_numpy(x.data)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _assert_same(got, want, rtol=1e-5, atol=1e-6):
    """Equal up to float rounding (a strided operand can take BLAS through another summation order)."""
    got, want = _plain(got), _plain(want)
    if isinstance(want, dict):
        assert got.keys() == want.keys()
        for k in want:
            _assert_same(got[k], want[k], rtol, atol)
    elif isinstance(want, list):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same(g, w, rtol, atol)
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64),
                                   rtol=rtol, atol=atol, equal_nan=True)


def _has_nan(x):
    x = _plain(x)
    if isinstance(x, dict):
        return any(_has_nan(v) for v in x.values())
    if isinstance(x, list):
        return any(_has_nan(v) for v in x)
    a = np.asarray(x)
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def _call(entry, kw, grad_arg=None):
    """Run an entry; with grad_arg, the gradient of the output's sum with respect to that argument too."""
    md.manual_seed(0)
    kw = dict(kw)
    if "_ctor" in kw:
        kw.pop("_ctor")()
    if grad_arg is not None:
        kw[grad_arg] = md.Tensor(kw[grad_arg], requires_grad=True)
    out = entry.fn(**kw)
    if grad_arg is None:
        return out, None
    first = out[0] if isinstance(out, tuple) else out
    if not first.requires_grad:
        return out, None
    first.sum().backward()
    return out, kw[grad_arg].grad


def _clear_error(exc, entry, arg, words):
    msg = str(exc)
    assert isinstance(exc, (ValueError, TypeError)), f"{type(exc).__name__} is not a clear error: {msg}"
    assert any(name in msg for name in entry.names), f"the message does not name {entry.names}: {msg}"
    if arg is not None:
        label = entry.labels.get(arg, arg)
        assert label in msg, f"the message does not name the argument {label!r}: {msg}"
    for word in words or ():
        assert word in msg, f"the message does not say what it got ({word!r}): {msg}"


def _expect_error(entry, kw, arg, words):
    with pytest.raises(Exception) as info:
        _call(entry, kw)
    _clear_error(info.value, entry, arg, words)


def _clear_or_result(entry, kw, arg):
    """A clear error, or a result: never an unclear exception. Returns the result (None after an error)."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _call(entry, kw)[0]
    except Exception as exc:   # noqa: BLE001 -- any exception is checked to be a clear one
        _clear_error(exc, entry, arg, ())
        ERRORS[kind_of_current[0]] += 1
        return None


kind_of_current = [None]


def _check_case(case, data):
    entry, arg, kind = case
    draw = data.draw
    kw = entry.build(draw)
    TRIED["option" if kind in entry.extra else kind] += 1   # option: stride, padding, kernel, switches, p...
    kind_of_current[0] = kind
    if kind in entry.extra:
        bad_kw, words = entry.extra[kind](draw, kw)
        _expect_error(entry, bad_kw, None, words)
        ERRORS[kind] += 1
        return
    if kind == "float16" and entry.half == "error":
        _expect_error(entry, {**kw, "input": kw["input"].astype(np.float16)}, None, ("float16",))
        ERRORS[kind] += 1
        return
    if kind == "float16":
        floats = [k for k, r in entry.roles.items() if r in FLOATING]
        half = {**kw, **{k: kw[k].astype(np.float16) for k in floats}}
        want = entry.fn(**{**kw, **{k: half[k].astype(np.float32) for k in floats}}) if entry.compare else None
        md.manual_seed(0)
        got = _call(entry, half)[0]
        first = got[0] if isinstance(got, tuple) else got
        if isinstance(first, md.Tensor) and first.dtype.kind == "f":
            assert first.dtype == np.float16, f"float16 in, {first.dtype} out"
        if entry.compare and "dropout" not in entry.names:
            _assert_same(got, want, rtol=2e-2, atol=2e-2)
        return
    if kind == "numpy+cupy":
        import cupy
        bad_kw = {**kw, arg: cupy.asarray(kw[arg])}
        _expect_error(entry, bad_kw, None, ("cuda", "cpu"))
        ERRORS[kind] += 1
        return
    role = entry.roles[arg]
    bad, words = _bad_value(kind, role, kw[arg], draw, transposed="transpose" in entry.name)
    bad_kw = {**kw, arg: bad}
    if kind in ("noncontig", "readonly"):
        grad_arg = arg if np.asarray(kw[arg]).dtype.kind == "f" and role in FLOATING | {"any"} and \
            entry.names[0] not in ("max", "min") else None
        want, want_grad = _call(entry, kw, grad_arg if entry.compare else None)
        got, got_grad = _call(entry, bad_kw, grad_arg if entry.compare else None)
        if entry.compare:
            _assert_same(got, want)
            if want_grad is not None:
                _assert_same(got_grad, want_grad)
        return
    if kind == "nan":
        out = _clear_or_result(entry, bad_kw, arg)
        if out is not None and arg not in entry.nan_may_vanish:
            assert _has_nan(out), f"{entry.name}: a NaN in {arg} vanished from the result {out!r}"
        return
    if kind == "inf" or (kind == "empty" and entry.empty == "ok"):
        _clear_or_result(entry, bad_kw, arg)
        return
    _expect_error(entry, bad_kw, arg, words)
    ERRORS[kind] += 1


def _make_test(case):
    # one hypothesis test per case (one parametrized test would share a settings object across hundreds of runs)
    @settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data())
    def test(data):
        _check_case(case, data)
    test.__doc__ = f"bad input: {_case_id(case)}"
    return test




def register(namespace, entries, devices=True):
    """One test per case of ``entries`` in a test module's ``namespace`` (its globals()), and the summary."""
    namespace["_summary"] = _summary
    for case in cases(entries, devices):
        name = "test_fuzz_" + "".join(ch if ch.isalnum() else "_" for ch in _case_id(case))
        while name in namespace:
            name += "_"
        namespace[name] = pytest.mark.gpu(_make_test(case)) if case[2] == "numpy+cupy" else _make_test(case)
