"""Reading the PyTorch golden files of tests/support/golden/ (written by the make_golden_*.py scripts there)."""
import os

import numpy as np
import paths

GOLDEN = str(paths.GOLDEN)
#: float64 goldens are compared this tightly
TOL = dict(rtol=1e-9, atol=1e-12)


def load_cases(filename):
    """{case: {field: array}} from an npz whose keys are "<case>__<field>" (loaded without pickle)."""
    with np.load(os.path.join(GOLDEN, filename), allow_pickle=False) as f:
        cases = {}
        for key in f.files:
            case, field = key.split("__")
            cases.setdefault(case, {})[field] = f[key]
    return cases
