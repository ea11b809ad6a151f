"""The lecture's "missing details": at the same budget, U-Net's skips raise its boundary accuracy.

Slow (a minute): run with `make test-slow`; `python examples/skip_connections.py` prints the numbers.
"""
import importlib.util
import pathlib

import pytest

EXAMPLE = pathlib.Path(__file__).parent.parent / "examples" / "skip_connections.py"


@pytest.mark.slow
def test_skips_beat_no_skips_at_object_boundaries():
    spec = importlib.util.spec_from_file_location("skip_connections", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    results = example.compare(size=48, n_train=768, epochs=6)
    assert results["skips"]["boundary_accuracy"] > results["no_skips"]["boundary_accuracy"], results
    assert results["skips"]["miou"] > results["no_skips"]["miou"], results
