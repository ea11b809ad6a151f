"""The host-memory setting (minidense/_malloc.py): freed arrays' memory is kept for the next ones (glibc on Linux),
where the work is (``md.tune_memory()``, ``fit``, the command line), never by ``import minidense``."""
import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="the malloc setting applies to glibc on Linux only")

# A training step's pattern: ~80 MB in 8 MiB arrays, all freed, then asked for again.
# The first argument says what the process does before the pattern: "tune" calls md.tune_memory(), "import"
# imports the package and every sub-package (nothing else), "fit" runs a one-step fit, "cli" runs `minidense info`.
_STEP_PATTERN = """
import json, resource, sys
import numpy as np
import minidense as md
from minidense import _malloc
if sys.argv[1] == "tune":
    md.tune_memory()
elif sys.argv[1] == "import":
    import minidense.assignments, minidense.cli, minidense.train
    for name in md._LAZY_SUBMODULES:
        getattr(md, name)
elif sys.argv[1] == "fit":
    from minidense.models import FCN
    from minidense.tasks import get_task
    from minidense.train import fit
    task = get_task("segmentation")
    fit(FCN(task.in_channels, task.out_channels, base_channels=4), task, task.dataset(2, size=16, seed=0),
        epochs=1, batch_size=2, progress=False, log=lambda *a: None)
elif sys.argv[1] == "cli":
    from minidense import cli
    cli.main(["info"])
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


def _run(before="tune", **env):
    full_env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k == "MINIDENSE_MALLOC")}
    full_env.update(env)
    out = subprocess.run([sys.executable, "-c", _STEP_PATTERN, before], env=full_env, capture_output=True,
                         text=True, check=True)
    return dict(json.loads(out.stdout.splitlines()[-1]), stderr=out.stderr)


def _refaults(result):
    """Whether each step faulted its memory in again, as under glibc's defaults (a quarter of the 4 KiB pages:
    the kernel may map several pages per fault)."""
    return result["faults_per_step"] > 0.1 * _PAGES_PER_STEP


def test_freed_memory_is_reused_without_page_faults():
    tuned = _run()
    assert tuned["tuned"] is True
    assert tuned["faults_per_step"] < 0.01 * _PAGES_PER_STEP, tuned


def test_system_malloc_refaults_the_same_pattern():
    # the counterpart that shows the pattern measures something: glibc's defaults give the memory back
    untouched = _run(MINIDENSE_MALLOC="system")
    assert untouched["tuned"] is False
    assert _refaults(untouched), untouched


def test_importing_minidense_changes_nothing_process_wide():
    """The package and every sub-package imported, nothing called: malloc keeps glibc's defaults (the pattern
    re-faults its memory every step, as with MINIDENSE_MALLOC=system) and the tuning never ran."""
    imported = _run("import")
    assert imported["tuned"] is False
    assert _refaults(imported), imported


@pytest.mark.parametrize("where", ["fit", "cli"])
def test_fit_and_the_command_line_tune_memory(where):
    """fit and the `minidense` command make the setting themselves; MINIDENSE_MALLOC=system still leaves it."""
    tuned = _run(where)
    assert tuned["tuned"] is True
    assert tuned["faults_per_step"] < 0.01 * _PAGES_PER_STEP, tuned
    untouched = _run(where, MINIDENSE_MALLOC="system")
    assert untouched["tuned"] is False and _refaults(untouched), untouched


def test_a_malloc_setting_in_the_environment_is_left_alone():
    assert _run(MALLOC_TRIM_THRESHOLD_="131072")["tuned"] is False


def test_an_unknown_choice_is_named_in_a_warning_and_leaves_malloc_alone():
    out = _run(MINIDENSE_MALLOC="sytem")
    assert out["tuned"] is False
    assert "MINIDENSE_MALLOC must be 'keep' or 'system', got 'sytem'" in out["stderr"]
    assert _run(MINIDENSE_MALLOC="keep")["tuned"] is True
