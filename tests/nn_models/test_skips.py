"""The lecture's "missing details": at the same budget, U-Net's skips raise its boundary accuracy.

`python examples/skip_connections.py` prints the numbers at the demo's scale (48x48, 768 scenes);
the suite runs it smaller (32x32, 512 scenes, 20 s) and `make test-slow` at the example's scale.
"""
import importlib.util

import pytest
from paths import ROOT

EXAMPLE = ROOT / "examples" / "skip_connections.py"


def _compare(**budget):
    spec = importlib.util.spec_from_file_location("skip_connections", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    results = example.compare(**budget)
    print(f"\nskips {results['skips']}\nno skips {results['no_skips']}")
    return results


def _check(results):
    assert results["skips"]["boundary_accuracy"] > results["no_skips"]["boundary_accuracy"], results
    assert results["skips"]["miou"] > results["no_skips"]["miou"], results


def test_skips_beat_no_skips_at_object_boundaries():
    _check(_compare(size=32, n_train=512, epochs=6))


@pytest.mark.slow
def test_skips_beat_no_skips_at_the_demo_scale():
    _check(_compare(size=48, n_train=768, epochs=6))
