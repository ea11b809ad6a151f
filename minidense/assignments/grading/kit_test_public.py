"""The kit's public cases: a few published inputs, the course's reference outputs, your code's outputs.

Each case runs ``harness.call(fn, ...)`` with this kit's minidense (your code) and compares in
``compare.py`` (a case that builds on another part runs only when your code passes its prerequisite
cases); a failing case shows its first hint, the next ones after its part failed again (``hint_tiers.py``).
The hidden cases that grade you are of the same kinds, with other shapes and values.
"""
import json
from pathlib import Path

import compare
import harness
import hint_tiers
import numpy as np
import pytest

GRADER = Path(__file__).resolve().parent
CASES = json.loads((GRADER / "cases.json").read_text(encoding="utf-8"))
DATA = np.load(GRADER / "public.npz")


def arrays(where, kind):
    prefix = f"{where}/{kind}/"
    return {k[len(prefix):]: DATA[k] for k in DATA.files if k.startswith(prefix)}


def run(case):
    """(outputs, None) of your code on a case, or (None, the error it raised and where)."""
    try:
        return harness.call(case["fn"], arrays(case["where"], "in"), case["params"]), None
    except Exception as exc:
        return None, harness.describe_error(exc)


@pytest.mark.parametrize("i", [pytest.param(i, id=f"{c['part']}-{c['id']}", marks=getattr(pytest.mark, c["part"]))
                               for i, c in enumerate(CASES)])
def test_public_case(i):
    case = CASES[i]
    tier = hint_tiers.tier(case["part"])
    problem = compare.verdict(case, lambda c: arrays(c["where"], "out"), run, tier)
    # a stub (NotImplementedError) or a part not run for its prerequisites was not tried: its hint tier stays
    if problem is not None and not problem.startswith(("NotImplementedError", "not run:")):
        hint_tiers.tried(case["part"])
    if problem is not None:
        pytest.fail(f"case {case['id']}: {problem}", pytrace=False)
