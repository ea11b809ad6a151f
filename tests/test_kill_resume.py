"""A training process killed at random moments (SIGKILL, a real subprocess) always leaves a loadable
``last.npz``, and ``--resume`` reaches the same final weights as a run that was never interrupted.

The command is ``python -m minidense.cli train`` (the console script's module) on a tiny U-Net:
16×16 scenes, a few epochs, a few seconds in all.
"""
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minidense import checkpoint

EPOCHS = 8
KILLS = 5
ARGS = ["train", "--task", "segmentation", "--model", "unet", "--epochs", str(EPOCHS), "--size", "16",
        "--n-train", "16", "--n-val", "4", "--base-channels", "4", "--depth", "2", "--batch-size", "8",
        "--seed", "3", "--no-progress"]

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _command(out, resume=False):
    return [sys.executable, "-m", "minidense.cli", *ARGS, "--out", str(out)] + (["--resume"] if resume else [])


def _env():
    return {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _run_to_end(out, resume=False):
    result = subprocess.run(_command(out, resume), capture_output=True, text=True, timeout=300, env=_env())
    assert result.returncode == 0, result.stderr
    return checkpoint.load(os.path.join(out, "last.npz"))


def _flat(state):
    """Every array of a checkpoint's model and optimizer, by a path name."""
    out = {}

    def walk(obj, prefix):
        if isinstance(obj, np.ndarray):
            out[prefix] = obj
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{prefix}/{k}")
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                walk(v, f"{prefix}/{i}")
        else:
            out[prefix] = obj
    walk(state["model"], "model")
    walk(state["optimizer"], "optimizer")
    return out


def test_killed_runs_resume_to_the_uninterrupted_weights(tmp_path):
    reference = _flat(_run_to_end(tmp_path / "uninterrupted"))

    out = tmp_path / "killed"
    last = out / "last.npz"
    draw = random.Random(20240509)
    kills, epochs_seen, starts = 0, [], 0
    # at least KILLS kills, and at least two of them of a run that had already written a checkpoint
    while kills < KILLS or len(epochs_seen) < 2:
        proc = subprocess.Popen(_command(out, resume=last.exists()), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=_env())
        starts += 1
        deadline = time.monotonic() + draw.uniform(0.3, 3.0)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills += 1
        else:
            err = proc.stderr.read().decode()
            assert proc.returncode == 0, err
            if kills < KILLS or len(epochs_seen) < 2:
                # it finished before the kill came: start again from nothing, to get every kill
                for name in os.listdir(out):
                    os.remove(out / name)
                epochs_seen.clear()
                kills = 0
                continue
        proc.stderr.close()
        # whatever moment the kill hit, the last checkpoint is whole (or was never written)
        if last.exists():
            state = checkpoint.load(str(last))
            assert 1 <= state["epoch"] <= EPOCHS
            assert state["config"]["model"] == "unet" and state["config"]["size"] == 16
            assert [row["epoch"] for row in state["history"]] == list(range(1, state["epoch"] + 1))
            epochs_seen.append(state["epoch"])
        assert epochs_seen == sorted(epochs_seen), "a resumed run went back in time"
        assert starts < 50, "the run never got going"

    print(f"\nkill-and-resume: {kills} SIGKILLs over {starts} starts; last.npz epoch after each kill: {epochs_seen}")
    final = _flat(_run_to_end(out, resume=last.exists()))
    assert kills >= KILLS
    assert final.keys() == reference.keys()
    for key, value in reference.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(final[key], value, err_msg=key)   # bit for bit
        else:
            assert final[key] == value, key
    state = checkpoint.load(str(last))
    assert state["epoch"] == EPOCHS and len(state["history"]) == EPOCHS
