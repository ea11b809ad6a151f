"""fit's hooks: callbacks see each moment of the loop in order, may stop a run after any batch (the partial epoch
validated, recorded and checkpointed), EarlyStopping stops where it would have after a resume; a fresh run's
preparation never runs on resume."""
import json

import numpy as np
import pytest

import minidense as md
from minidense import checkpoint
from minidense.callbacks import Callback, EarlyStopping, LambdaCallback, RunFolder, TrainingState
from minidense.models import UNet
from minidense.tasks import Depth, get_task
from minidense.train import fit


class Recorder(Callback):
    def __init__(self):
        self.seen = []

    def on_epoch_end(self, run):
        assert isinstance(run, TrainingState) and run.history[-1]["epoch"] == run.epoch
        self.seen.append((run.epoch, len(run.history), run.is_best))


class CountingDepth(Depth):
    adapted = 0

    def typical_output(self, train_data, limit=256):
        CountingDepth.adapted += 1
        return super().typical_output(train_data, limit)


def _run(out, epochs, resume=False, callbacks=()):
    md.manual_seed(0)
    task = CountingDepth()
    data = task.dataset(8, size=16, seed=1)
    model = UNet(3, 1, base_channels=4, depth=2)
    history = fit(model, task, data, data, epochs=epochs, batch_size=8, out=out, progress=False, resume=resume,
                  callbacks=callbacks)
    return history, task


def test_callbacks_see_every_epoch_after_the_run_folder(tmp_path):
    recorder = Recorder()
    history, _ = _run(str(tmp_path), epochs=2, callbacks=[recorder])
    assert [s[:2] for s in recorder.seen] == [(1, 1), (2, 2)]
    assert recorder.seen[0][2]                       # the first epoch with a metric is the best so far
    assert (tmp_path / "last.npz").exists() and len(history) == 2


def test_a_resumed_run_takes_the_output_bias_from_its_checkpoint(tmp_path):
    from minidense import checkpoint
    CountingDepth.adapted = 0
    _run(str(tmp_path), epochs=1)
    assert CountingDepth.adapted == 1
    saved = checkpoint.load(str(tmp_path / "last.npz"))["model"]["output_bias"]
    assert saved[0] > 1                              # started at the typical depth, not at 0
    history, _ = _run(str(tmp_path), epochs=2, resume=True)
    assert CountingDepth.adapted == 1, "a resumed run prepared itself again instead of loading its state"
    assert [r["epoch"] for r in history] == [1, 2]


def test_run_folder_names_its_files(tmp_path):
    folder = RunFolder(str(tmp_path / "new"))
    assert (tmp_path / "new").is_dir() and folder.last_good() is None
    assert folder.file("last.npz") == str(tmp_path / "new" / "last.npz")


class Hooks(Callback):
    """Writes down every hook call: (hook, epoch finished, batch)."""

    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def on_train_begin(self, run):
        self.calls.append(("train_begin", run.epoch, None))

    def on_epoch_begin(self, run):
        self.calls.append(("epoch_begin", run.epoch, None))

    def on_batch_end(self, run, batch, logs):
        assert set(logs) == {"loss", "step"} and np.isfinite(logs["loss"])
        self.calls.append(("batch_end", run.epoch, batch))
        if (run.epoch, batch) == self.stop_at:
            run.stop_training = True          # Keras' flag; no reason given

    def on_epoch_end(self, run):
        self.calls.append(("epoch_end", run.epoch, None))

    def on_train_end(self, run):
        self.calls.append(("train_end", run.epoch, None))


def _seg_run(out, epochs, callbacks=(), resume=False, log=print, n_train=24):
    md.manual_seed(0)
    task = get_task("segmentation")
    model = UNet(3, task.out_channels, base_channels=4, depth=2)
    history = fit(model, task, task.dataset(n_train, size=16, seed=1), task.dataset(4, size=16, seed=2), epochs=epochs,
                  batch_size=8, out=out, seed=3, progress=False, resume=resume, callbacks=callbacks, log=log,
                  schedule="cosine")
    return history, model


def test_hooks_are_called_in_the_loops_order():
    hooks = Hooks()
    _seg_run(None, epochs=2, callbacks=[hooks])
    epoch = [("epoch_begin", 0, None)] + [("batch_end", 0, b) for b in range(3)] + [("epoch_end", 1, None)]
    second = [(h, e + 1 if h != "epoch_end" else 2, b) for h, e, b in epoch]
    assert hooks.calls == [("train_begin", 0, None)] + epoch + second + [("train_end", 2, None)]


def test_a_stop_after_a_batch_validates_records_and_checkpoints_the_partial_epoch(tmp_path):
    hooks = Hooks(stop_at=(1, 0))                  # in the second epoch, after its first batch
    history, model = _seg_run(str(tmp_path), epochs=4, callbacks=[hooks])
    assert [c[0] for c in hooks.calls[-3:]] == ["batch_end", "epoch_end", "train_end"]
    assert len(history) == 2 and "partial" not in history[0] and "stopped" not in history[0]
    last = history[-1]
    assert last["partial"] is True and "val_loss" in last and "miou" in last
    assert last["stopped"] == "Hooks.on_batch_end set stop_training"
    saved = checkpoint.load(str(tmp_path / "last.npz"))
    assert saved["epoch"] == 2 and saved["history"] == history
    np.testing.assert_array_equal(saved["model"]["head.weight"], model.state_dict()["head.weight"])
    assert json.loads((tmp_path / "history.json").read_text())[-1]["stopped"] == last["stopped"]

    lines = []
    again, _ = _seg_run(str(tmp_path), epochs=4, resume=True, callbacks=[Hooks()], log=lines.append)
    assert again == history and "nothing to do" in lines[-1], lines
    assert checkpoint.load(str(tmp_path / "last.npz"))["history"] == history   # nothing written
    more, _ = _seg_run(str(tmp_path), epochs=5, resume=True)
    assert [r["epoch"] for r in more] == [1, 2, 3, 4, 5] and "stopped" not in more[-1]


def _early(out, epochs, resume=False, kill_after=None):
    """lr under a cosine schedule only goes down: monitored with mode="max" it never improves."""
    def kill(run):
        if run.epoch == kill_after:
            raise KeyboardInterrupt   # as if the process were stopped after this epoch's checkpoint
    early = EarlyStopping(monitor="lr", patience=2, mode="max")
    return _seg_run(out, epochs, callbacks=[LambdaCallback(on_epoch_end=kill), early], resume=resume, n_train=8)[0]


def _timeless(history):
    return [{k: v for k, v in row.items() if k != "images_per_s"} for row in history]


def test_early_stopping_stops_where_it_would_have_after_a_resume(tmp_path):
    whole = _early(str(tmp_path / "whole"), epochs=6)
    assert [r["epoch"] for r in whole] == [1, 2, 3] and "partial" not in whole[-1]
    assert whole[-1]["stopped"].startswith("EarlyStopping: lr did not improve") and "2 epochs" in whole[-1]["stopped"]
    with pytest.raises(KeyboardInterrupt):
        _early(str(tmp_path / "killed"), epochs=6, kill_after=2)
    resumed = _early(str(tmp_path / "killed"), epochs=6, resume=True)
    assert _timeless(resumed) == _timeless(whole)                   # bit for bit, the stop included
    assert _early(str(tmp_path / "killed"), epochs=6, resume=True) == resumed    # stopped: nothing to do
    longer = _early(str(tmp_path / "killed"), epochs=8, resume=True)
    assert [r["epoch"] for r in longer] == [1, 2, 3, 4, 5, 6]       # the count starts afresh after the stop
    assert longer[-1]["stopped"].startswith("EarlyStopping")


def test_early_stopping_reads_the_tasks_direction_and_names_a_missing_monitor():
    class Run:
        task = get_task("segmentation")
    assert EarlyStopping(monitor="miou")._direction(Run) == "max"
    assert EarlyStopping(monitor="val_loss")._direction(Run) == "min"
    with pytest.raises(ValueError, match="mode='min' or mode='max'"):
        EarlyStopping(monitor="images_per_s")._direction(Run)
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not in the epoch's row.*val_data"):
        task = get_task("segmentation")
        fit(UNet(3, task.out_channels, base_channels=4, depth=2), task, task.dataset(8, size=16, seed=1),
            progress=False, callbacks=[EarlyStopping()])
    for bad, match in [(dict(patience=-1), "patience"), (dict(mode="up"), "mode"), (dict(min_delta=-1), "min_delta"),
                       (dict(monitor=3), "monitor")]:
        with pytest.raises((ValueError, TypeError), match=match):
            EarlyStopping(**bad)


def test_fits_on_epoch_end_argument_still_works_and_warns():
    rows = []
    task = get_task("segmentation")
    with pytest.warns(DeprecationWarning, match="LambdaCallback"):
        fit(UNet(3, task.out_channels, base_channels=4, depth=2), task, task.dataset(8, size=16, seed=1),
            epochs=2, progress=False, on_epoch_end=rows.append)
    assert [r["epoch"] for r in rows] == [1, 2]
    with pytest.raises(TypeError, match="on_batch_end must be callable"):
        LambdaCallback(on_batch_end="print")
