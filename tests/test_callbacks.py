"""fit's per-epoch bookkeeping: callbacks see each finished epoch; a fresh run's preparation never runs on resume."""

import minidense as md
from minidense.callbacks import Callback, RunFolder, TrainingState
from minidense.models import UNet
from minidense.tasks import Depth
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
