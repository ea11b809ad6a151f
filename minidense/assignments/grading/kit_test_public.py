"""The kit's public cases: a few published inputs, the course's reference outputs, your code's outputs.

Each case runs ``harness.FUNCTIONS[fn]`` with this kit's minidense (your code) and compares in
``compare.py``; a failing case shows its first hint, the next ones after its part failed again
(``hint_tiers.py``). The hidden cases that grade you are of the same kinds, with other shapes and values.
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


def arrays(i, kind):
    prefix = f"{i}/{kind}/"
    return {k[len(prefix):]: DATA[k] for k in DATA.files if k.startswith(prefix)}


@pytest.mark.parametrize("i", [pytest.param(i, id=f"{c['part']}-{c['id']}", marks=getattr(pytest.mark, c["part"]))
                               for i, c in enumerate(CASES)])
def test_public_case(i):
    case = CASES[i]
    tier = hint_tiers.tier(case["part"])
    try:
        got = harness.FUNCTIONS[case["fn"]](arrays(i, "in"), case["params"])
    except Exception as exc:   # your code raised: say what and where, with the case's hint
        problem = compare.explain(case, harness.describe_error(exc), tier)
    else:
        problem = compare.check_case(case, arrays(i, "out"), got, tier)
    if problem is not None:
        pytest.fail(f"case {case['id']}: {problem}", pytrace=False)
