import importlib.util
import os
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import minidense as md

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=25, **_common)
settings.register_profile("ci", max_examples=15, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=200, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

os.environ.setdefault("MPLBACKEND", "Agg")

STANDIN_DIR = pathlib.Path(__file__).resolve().parent / "standin"
# the tests live in folders by area; what they share (builders, golden files, paths) is in tests/support
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))


def standin_active():
    """True when ``import cupy`` finds the stand-in (tests/standin first on PYTHONPATH), found without importing it."""
    spec = importlib.util.find_spec("cupy")
    return spec is not None and spec.origin is not None and pathlib.Path(spec.origin).is_relative_to(STANDIN_DIR)


STANDIN = standin_active()


def pytest_report_header(config):
    if STANDIN:
        return "cupy: the CuPy stand-in (tests/standin): GPU-marked tests run on it"
    return None


def pytest_collection_modifyitems(config, items):
    """GPU tests run on a real GPU or on the stand-in; elsewhere they are reported as skipped, with the reason.

    Tests of the stand-in itself (marker ``standin``) run only where it is the cupy that imports.
    ``MINIDENSE_REQUIRE_GPU=1`` (make gpu-check) turns a missing GPU into an error instead of skips.
    """
    if STANDIN:
        if os.environ.get("MINIDENSE_REQUIRE_GPU") == "1":
            raise pytest.UsageError("MINIDENSE_REQUIRE_GPU=1 but cupy is the stand-in (tests/standin on PYTHONPATH)")
        return
    reason = md.backend.gpu_unavailable_reason()
    if reason is not None and os.environ.get("MINIDENSE_REQUIRE_GPU") == "1":
        raise pytest.UsageError(f"MINIDENSE_REQUIRE_GPU=1 but no usable GPU: {reason}")
    skip_gpu = pytest.mark.skip(reason=f"no usable GPU: {reason}")
    skip_standin = pytest.mark.skip(reason="tests the CuPy stand-in: runs where tests/standin is first on "
                                           "PYTHONPATH (make test's second pass)")
    for item in items:
        if "standin" in item.keywords:
            item.add_marker(skip_standin)
        elif "gpu" in item.keywords and reason is not None:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _seeded():
    # Each test finds CuPy afresh, as a new process would: nothing a test did teaches the backend about
    # CuPy for the next one, and the stand-in's sync counter and current device start clean.
    md.backend._cupy = None
    md.backend._cupy_error = None
    cupy = sys.modules.get("cupy")
    if getattr(cupy, "_standin", False):
        cupy._syncs.reset()
        cupy.cuda.runtime.setDevice(0)
    md.manual_seed(0)
    np.random.seed(0)
    yield
