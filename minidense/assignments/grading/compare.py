"""Compare a case's outputs with the expected ones and say what is wrong in words (NumPy only).

Used by the grader's scoring process and by the kit's public tests; the verdict is made here, never in
the process that ran the student's code.
"""
import base64

import numpy as np

#: the prefix of a veiled hint (a kit's cases.json stores the tiers after the first this way)
VEILED = "veiled:"


def _where(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def compare_arrays(name, expected, got, rtol, atol):
    """None when ``got`` matches ``expected``; else one sentence: the shape, or the worst element."""
    if not isinstance(got, np.ndarray):
        return f"`{name}`: expected an array, got {type(got).__name__}"
    if got.dtype.kind not in "biuf":
        return f"`{name}`: expected numbers, got dtype {got.dtype}"
    if got.shape != expected.shape:
        return f"`{name}`: shape {got.shape}, expected {expected.shape}"
    if expected.dtype.kind == "f" and got.dtype != expected.dtype:
        return (f"`{name}`: dtype {got.dtype}, expected {expected.dtype}"
                + (" (the contract: float32 in, float32 out)" if expected.dtype == np.float32 else ""))
    if expected.dtype.kind in "biu":
        if got.dtype != expected.dtype:
            return f"`{name}`: dtype {got.dtype}, expected {expected.dtype} (the contract's integer type)"
        wrong = np.argwhere(got != expected)
        if len(wrong):
            i = tuple(wrong[0])
            return (f"`{name}`: {len(wrong)} of {got.size} entries differ; first at {_where(i)}: "
                    f"expected {expected[i]}, got {got[i]}")
        return None
    if got.size == 0:
        return None
    e, g = expected.astype(np.float64), got.astype(np.float64)
    if not np.isfinite(g).all() and np.isfinite(e).all():
        i = tuple(np.argwhere(~np.isfinite(g))[0])
        return f"`{name}`: not finite{f' at {_where(i)}' if e.ndim else ''} (got {g[i]}, expected {e[i]})"
    excess = np.abs(g - e) - (atol + rtol * np.abs(e))
    excess = np.where(np.isnan(excess), np.inf, excess)
    if (excess <= 0).all():
        return None
    i = np.unravel_index(int(np.argmax(excess)), e.shape)
    bad = int((excess > 0).sum())
    where = f" at {_where(i)}" if e.ndim else ""
    return (f"`{name}`: {bad} of {e.size} entries off; worst{where}: expected {e[i]:.6g}, got {g[i]:.6g} "
            f"(tolerance rtol={rtol:g}, atol={atol:g})")


def compare_outputs(expected, got, rtol, atol):
    """None when every expected output matches; else the problems, one sentence each, joined."""
    if not isinstance(got, dict):
        return f"expected outputs {sorted(expected)}, got {type(got).__name__}"
    problems = []
    for name, e in expected.items():
        if name not in got:
            problems.append(f"`{name}`: missing")
            continue
        msg = compare_arrays(name, e, got[name], rtol, atol)
        if msg:
            problems.append(msg)
    return "; ".join(problems) or None


def check_case(case, expected, got, tier=1):
    """The verdict on one case: None (passed) or what was wrong, with the case's hints up to ``tier``.

    A case with ``"check": NAME`` is judged by ``training_checks.check_NAME(expected, got, params)`` (a
    training run against a target); any other compares every expected output with ``compare_outputs``."""
    broken = contract_problems(got)
    if "check" in case:
        problem = getattr(_training_checks(), "check_" + case["check"])(expected, got, case["params"])
    else:
        problem = compare_outputs(expected, got, case["rtol"], case["atol"])
    return explain(case, "; ".join(p for p in (broken, problem) if p) or None, tier)


def contract_problems(got):
    """What the flags of ``harness.call`` say the code broke (inputs changed in place, a view returned where the
    contract asks for a new array), one sentence each, joined; None when it broke nothing."""
    if not isinstance(got, dict):
        return None
    flags = _harness()
    changed, problems = [], []
    for key in got:
        if key.startswith(flags.CHANGED):
            changed.append(key[len(flags.CHANGED):])
        elif key.startswith(flags.VIEW):
            problems.append(f"`{key[len(flags.VIEW):]}` is a view of an input (the contract: a new array, so that "
                            "changing the input later cannot change it)")
    if changed:
        what = ", ".join(("the upstream gradient " if n == "grad" else "the input ") + f"`{n}`" for n in changed)
        problems.insert(0, f"the call changed {what} in place (the contract: inputs and the upstream gradient are "
                           "left unchanged)")
    return "; ".join(problems) or None


def verdict(case, expected_of, run, tier=1):
    """The verdict on a case and its prerequisites: ``run(case) -> (outputs, error)`` runs the student's code on a
    case, ``expected_of(case)`` gives its expected outputs. A case with ``"requires"`` (cases of the parts it
    builds on, e.g. the forward of the network a training part trains) runs only when every one of them passes:
    else it fails, naming the prerequisite that failed and why."""
    for pre in case.get("requires", ()):
        got, error = run(pre)
        problem = explain(pre, error, tier) if error else check_case(pre, expected_of(pre), got, tier)
        if problem:
            return (f"not run: it builds on `{pre['part']}`, and your code fails its prerequisite case {pre['id']} "
                    f"({problem})")
    got, error = run(case)
    return explain(case, error, tier) if error else check_case(case, expected_of(case), got, tier)


def _training_checks():
    """The verdicts on training runs: the module ``training_checks`` beside this file. Only the kits with a training
    part ship it: its mean IoU and depth errors are an earlier assignment's answers."""
    try:
        from . import training_checks  # in the library (the grader's scoring process)
    except ImportError:
        import training_checks  # in a kit's grader/ folder
    return training_checks


def _harness():
    """``harness.py`` beside this file (its flag names), in the library or in a kit's grader/ folder."""
    try:
        from . import harness
    except ImportError:
        import harness
    return harness


def veil(hint):
    """``hint`` as a kit's cases.json stores its tiers after the first: not plain text, so that reading the file does
    not show a student the next tier before a failing run does (a courtesy, not a secret: ``unveil`` reads it)."""
    return VEILED + base64.b64encode(hint.encode("utf-8")).decode("ascii")


def unveil(hint):
    return base64.b64decode(hint[len(VEILED):]).decode("utf-8") if hint.startswith(VEILED) else hint


def explain(case, problem, tier=1):
    """``problem`` (None, or what went wrong: a comparison or an error the code raised) with the case's hints
    (``case["hints"]``, tier 1 first) up to ``tier``, and a word that a further one exists."""
    hints = [unveil(h) for h in case.get("hints") or ()]
    if problem and hints:
        shown = hints[:max(1, tier)]
        problem += f". Hint: {shown[0]}" + "".join(f". Hint {k}: {h}" for k, h in enumerate(shown[1:], 2))
        if len(hints) > len(shown):
            problem += (f" (hint {len(shown)} of {len(hints)}: the next after another failing run, or with "
                        f"`python grader/run.py --hint {len(shown) + 1}`)")
    return problem
