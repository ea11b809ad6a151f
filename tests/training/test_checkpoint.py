"""Checkpoints: round trip without pickle, atomic writes, clear errors for foreign or truncated files."""
import os

import numpy as np
import pytest

from minidense import checkpoint


def _state():
    return dict(model={"0.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "0.bias": np.zeros(2)},
                optimizer={"state": [{"step": 3, "exp_avg": np.ones(4)}], "lr": 0.01},
                epoch=2, config={"task": "segmentation"}, history=[{"epoch": 1, "train_loss": 0.5}])


def test_round_trip(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, **_state())
    got = checkpoint.load(path)
    np.testing.assert_array_equal(got["model"]["0.weight"], _state()["model"]["0.weight"])
    assert got["model"]["0.weight"].dtype == np.float32
    assert got["optimizer"]["state"][0]["step"] == 3 and got["optimizer"]["lr"] == 0.01
    np.testing.assert_array_equal(got["optimizer"]["state"][0]["exp_avg"], np.ones(4))
    assert got["epoch"] == 2 and got["config"] == {"task": "segmentation"}
    with np.load(path, allow_pickle=False) as f:     # plain arrays only: loadable without pickle
        assert "__meta__" in f.files


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.npz"
    checkpoint.save(path, **_state())
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt   # as if the process were stopped in the middle of writing

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, epoch=3)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.npz"]   # no temporary file left behind


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", None])
def test_truncated_or_foreign_files_are_clear_errors(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content is None:   # a real checkpoint, cut in half
        checkpoint.save(path, **_state())
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(content)
    with pytest.raises(checkpoint.CheckpointError, match="not a readable minidense checkpoint"):
        checkpoint.load(path)


def test_other_npz_and_newer_versions_are_refused(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.ones(3))
    with pytest.raises(checkpoint.CheckpointError, match="not a minidense checkpoint"):
        checkpoint.load(other)
    newer = tmp_path / "newer.npz"
    checkpoint.save(newer, epoch=1)
    monkey_version = checkpoint.FORMAT_VERSION
    try:
        checkpoint.FORMAT_VERSION = monkey_version + 1
        checkpoint.save(newer, epoch=1)
    finally:
        checkpoint.FORMAT_VERSION = monkey_version
    with pytest.raises(checkpoint.CheckpointError, match="newer than this minidense reads"):
        checkpoint.load(newer)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __meta__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.load(pickled)
    with pytest.raises(checkpoint.CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "missing.npz")
    assert not os.path.exists(tmp_path / "missing.npz")
