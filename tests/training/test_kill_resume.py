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

EPOCHS = 20   # more than 5 kills x 3 epochs, so that every start can be killed
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


def _checkpoint_id(path):
    """Changes every time a checkpoint is renamed into place (None before the first)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def test_killed_runs_resume_to_the_uninterrupted_weights(tmp_path):
    began = time.monotonic()
    reference = _flat(_run_to_end(tmp_path / "uninterrupted"))
    epoch_seconds = (time.monotonic() - began) / EPOCHS   # an upper bound: it includes start-up

    out = tmp_path / "killed"
    last = out / "last.npz"
    draw = random.Random(20240509)
    kills, epochs_seen = 0, []
    # Each start is killed at a random moment: after 0, 1 or 2 more checkpoints have landed, then a
    # random fraction of an epoch later (so kills also hit start-up, training and checkpoint writes).
    # The moments are random, but no verdict depends on them: every kill must leave a whole checkpoint.
    while kills < KILLS:
        seen = _checkpoint_id(last)
        proc = subprocess.Popen(_command(out, resume=last.exists()), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=_env())
        wait_for, landed = draw.randint(0, 2), 0
        while proc.poll() is None and landed < wait_for:
            time.sleep(0.005)
            now = _checkpoint_id(last)
            if now != seen:
                seen, landed = now, landed + 1
        deadline = time.monotonic() + draw.uniform(0.0, epoch_seconds)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished before it could be killed: raise EPOCHS"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
        kills += 1
        # whatever moment the kill hit, the last checkpoint is whole (or was never written)
        if last.exists():
            state = checkpoint.load(str(last))
            assert 1 <= state["epoch"] <= EPOCHS
            assert state["config"]["model"] == "unet" and state["config"]["size"] == 16
            assert [row["epoch"] for row in state["history"]] == list(range(1, state["epoch"] + 1))
            epochs_seen.append(state["epoch"])
        assert epochs_seen == sorted(epochs_seen), "a resumed run went back in time"

    print(f"\nkill-and-resume: {kills} SIGKILLs; last.npz epoch after each kill: {epochs_seen}")
    final = _flat(_run_to_end(out, resume=last.exists()))
    assert not [p for p in os.listdir(out) if p.startswith(".tmp-")], "a killed write's temporary file was left"
    assert kills >= KILLS
    assert final.keys() == reference.keys()
    for key, value in reference.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(final[key], value, err_msg=key)   # bit for bit
        else:
            assert final[key] == value, key
    state = checkpoint.load(str(last))
    assert state["epoch"] == EPOCHS and len(state["history"]) == EPOCHS
