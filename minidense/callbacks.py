"""What a training run keeps, and what it does after each epoch, in small named pieces.

``fit`` (minidense.train) holds its run in a :class:`TrainingState` and, after every epoch, calls
``callback.on_epoch_end(run)`` for each callback in order (as Keras' callbacks and Lightning's loggers):

    PrintRows(log)      one line of the epoch's numbers
    RunFolder(out)      last.npz / best.npz, history.json / history.csv, curves.png, prediction pictures
    LambdaCallback(fn)  fn(row), e.g. to stop a run from outside

Write your own by subclassing :class:`Callback` and passing ``fit(..., callbacks=[...])``.
"""
import csv
import json
import os

import numpy as np

from . import backend, checkpoint
from .tensor import Tensor, no_grad


def batch_tensor(array, device, float_dtype=backend.default_dtype):
    """A batch (NumPy array) as a Tensor on ``device``; floating-point data in ``float_dtype``, labels as they are."""
    array = array.astype(float_dtype) if array.dtype.kind == "f" else array
    return Tensor(backend.to_device(array, device))


class TrainingState:
    """A run so far: what is trained (model, task), with what (optimizer, scheduler), and how far it got.

    epoch: epochs finished; history: one row (dict) per finished epoch; best: the best value of the
    task's metric so far; is_best: whether the last epoch is the best so far (its checkpoint is best.npz).
    """

    def __init__(self, model, task, optimizer, scheduler=None, epochs=1, device="cpu", config=None):
        self.model, self.task, self.optimizer, self.scheduler = model, task, optimizer, scheduler
        self.epochs, self.device, self.config = epochs, device, config
        self.epoch, self.history, self.best, self.is_best = 0, [], None, False

    def end_epoch(self, row):
        """Add a finished epoch's row to the history and note whether it is the best so far."""
        self.history.append(row)
        self.epoch = row["epoch"]
        metric = row.get(self.task.metric)
        improved = metric is not None and (self.best is None or (
            metric > self.best if self.task.higher_is_better else metric < self.best))
        if improved:
            self.best = metric
        # without a validation metric, the first epoch's weights are "best" so that best.npz exists
        self.is_best = improved or (metric is None and len(self.history) == 1)

    def state_dict(self):
        """What a checkpoint holds: enough to continue exactly where the run is (the random state included)."""
        return dict(model=self.model.state_dict(), optimizer=self.optimizer.state_dict(), epoch=self.epoch,
                    scheduler=self.scheduler.state_dict() if self.scheduler is not None else None,
                    rng=backend.get_rng_state(), history=self.history, best=self.best, config=self.config)

    def load_state_dict(self, state):
        """Continue from a checkpoint's state (the inverse of :meth:`state_dict`)."""
        self.model.load_state_dict(checkpoint.model_state(state, self.model))
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        backend.set_rng_state(state["rng"])
        self.epoch, self.history, self.best = state["epoch"], state["history"], state.get("best")


class Callback:
    """Something done after every epoch; override :meth:`on_epoch_end`."""

    def on_epoch_end(self, run):
        """run: the TrainingState, with the finished epoch's row last in ``run.history``."""


class PrintRows(Callback):
    """Log each epoch's row as one line of ``key=value`` pairs."""

    def __init__(self, log=print):
        self.log = log

    def on_epoch_end(self, run):
        self.log(format_row(run.history[-1]))


class LambdaCallback(Callback):
    """Call ``on_epoch_end(row)`` with each finished epoch's history row (Keras' LambdaCallback)."""

    def __init__(self, on_epoch_end):
        if not callable(on_epoch_end):
            raise TypeError(f"LambdaCallback: on_epoch_end must be callable, got {type(on_epoch_end).__name__}")
        self.function = on_epoch_end

    def on_epoch_end(self, run):
        self.function(run.history[-1])


def format_row(row):
    return "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


class RunFolder(Callback):
    """A run's folder: after every epoch the checkpoints, the history files, the curves and a picture.

    ``last.npz`` every epoch, ``best.npz`` when the task's metric improved; ``history.json`` /
    ``history.csv`` (one row per epoch); ``curves.png``; ``predictions_epochNNN.png`` (input / truth /
    prediction of the first validation images, when there is validation data).
    """

    def __init__(self, path, val_data=None, pictures=4):
        self.path, self.val_data, self.pictures = path, val_data, pictures
        os.makedirs(path, exist_ok=True)

    def file(self, name):
        return os.path.join(self.path, name)

    def last_good(self):
        """The path of the last checkpoint written, or None."""
        return self.file("last.npz") if os.path.exists(self.file("last.npz")) else None

    def resume(self, run):
        """Load ``last.npz`` into ``run`` (and clear the half-written files a killed run left)."""
        state = checkpoint.load(self.file("last.npz"))
        checkpoint.remove_partial_writes(self.path)
        run.load_state_dict(state)

    def on_epoch_end(self, run):
        self.save_checkpoints(run)
        self.write_history(run.history)
        self.plot_curves(run.history)
        if self.val_data is not None:
            self.draw_predictions(run)

    def save_checkpoints(self, run):
        state = run.state_dict()
        checkpoint.save(self.file("last.npz"), **state)
        if run.is_best:
            checkpoint.save(self.file("best.npz"), **state)

    def write_history(self, history):
        with open(self.file("history.json"), "w") as f:
            json.dump(history, f, indent=1)
        keys = sorted({k for r in history for k in r}, key=lambda k: (k != "epoch", k))
        with open(self.file("history.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(history)

    def plot_curves(self, history):
        from . import viz  # matplotlib is slow to import: only when a run writes pictures
        viz.plot_curves(history, path=self.file("curves.png"))

    def draw_predictions(self, run):
        """Input / truth / prediction of the first validation images, and the task's extra pictures."""
        n = min(self.pictures, len(self.val_data))
        images = np.stack([backend.to_numpy(self.val_data[i][0]) for i in range(n)])   # device arrays too
        targets = run.task.target_batch(np.stack([backend.to_numpy(self.val_data[i][1]) for i in range(n)]))
        run.model.eval()
        with no_grad():
            preds = run.task.predict(run.model(batch_tensor(images, run.device)))
        prefix = self.file(f"predictions_epoch{run.epoch:03d}")
        run.task.draw(images, targets, preds, path=prefix + ".png")
        run.task.draw_extra(run.model, images.astype(backend.default_dtype), prefix)
