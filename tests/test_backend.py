"""The host-memory setting (minidense/_malloc.py): freed arrays' memory is kept for the next ones (glibc on Linux)."""
import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="the malloc setting applies to glibc on Linux only")

# A training step's pattern: ~80 MB in 8 MiB arrays, all freed, then asked for again.
_STEP_PATTERN = """
import json, resource
import numpy as np
from minidense import _malloc
def step():
    arrays = [np.ones(2 * 2**20, dtype=np.float32) for _ in range(10)]
    del arrays
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5
print(json.dumps({"tuned": _malloc.tuned, "faults_per_step": faults}))
"""
_PAGES_PER_STEP = 80 * 2**20 // 4096


def _run(**env):
    full_env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k == "MINIDENSE_MALLOC")}
    full_env.update(env)
    out = subprocess.run([sys.executable, "-c", _STEP_PATTERN], env=full_env, capture_output=True, text=True,
                         check=True)
    return dict(json.loads(out.stdout), stderr=out.stderr)


def test_freed_memory_is_reused_without_page_faults():
    tuned = _run()
    assert tuned["tuned"] is True
    assert tuned["faults_per_step"] < 0.01 * _PAGES_PER_STEP, tuned


def test_system_malloc_refaults_the_same_pattern():
    # the counterpart that shows the pattern measures something: glibc's defaults give the memory back
    untouched = _run(MINIDENSE_MALLOC="system")
    assert untouched["tuned"] is False
    # (a quarter of the 4 KiB pages on this machine: the kernel may map several pages per fault)
    assert untouched["faults_per_step"] > 0.1 * _PAGES_PER_STEP, untouched


def test_a_malloc_setting_in_the_environment_is_left_alone():
    assert _run(MALLOC_TRIM_THRESHOLD_="131072")["tuned"] is False


def test_an_unknown_choice_is_named_in_a_warning_and_leaves_malloc_alone():
    out = _run(MINIDENSE_MALLOC="sytem")
    assert out["tuned"] is False
    assert "MINIDENSE_MALLOC must be 'keep' or 'system', got 'sytem'" in out["stderr"]
    assert _run(MINIDENSE_MALLOC="keep")["tuned"] is True
