"""Hooks into fit's loop (as Keras' callbacks and Lightning's ``trainer.should_stop``), and what a run keeps.

``fit`` (minidense.train) holds its run in a :class:`TrainingState` and calls, on every callback in order::

    on_train_begin(run)                  once, before the first epoch (also after a resume)
    on_epoch_begin(run)                  before each epoch's first batch
    on_batch_end(run, batch, logs)       after each training step; logs = {"loss": ..., "step": ...}
    on_epoch_end(run)                    after validation, the epoch's row last in ``run.history``
    on_train_end(run)                    once, after the last epoch

Any hook may set ``run.stop_training = True`` (or call ``run.stop(reason)``): the run stops after the
current batch. That last epoch, partial or not, is still validated, recorded in the history (a partial
one with ``"partial": True``) and checkpointed, and its row says why the run stopped (``"stopped"``);
``fit(..., resume=True)`` on such a run does nothing unless more epochs are asked for.

The built-in callbacks, in the order fit calls them:

    PrintRows(log)                 one line of the epoch's numbers (progress on)
    RunFolder(out)                 last.npz / best.npz, history.json / history.csv, curves.png, pictures
    LambdaCallback(on_epoch_end=)  functions for any hook, without a class
    EarlyStopping(monitor, patience, mode)   stop when a validation number stops improving

Write your own by subclassing :class:`Callback` and passing ``fit(..., callbacks=[...])``.
"""
import csv
import json
import math
import os

import numpy as np

from . import backend, checkpoint
from .data import batch_tensor
from .tensor import no_grad

HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")


class TrainingState:
    """A run so far: what is trained (model, task), with what (optimizer, scheduler), and how far it got.

    epoch: epochs finished (a partial one included); history: one row (dict) per epoch; best: the best
    value of the task's metric so far; is_best: whether the last epoch is the best so far (its checkpoint
    is best.npz); stop_training: set by a callback to end the run after the current batch, with
    ``stop_reason`` saying why (see :meth:`stop`).
    """

    def __init__(self, model, task, optimizer, scheduler=None, epochs=1, device="cpu", config=None):
        self.model, self.task, self.optimizer, self.scheduler = model, task, optimizer, scheduler
        self.epochs, self.device, self.config = epochs, device, config
        self.epoch, self.history, self.best, self.is_best = 0, [], None, False
        self.stop_training, self.stop_reason = False, None

    def stop(self, reason):
        """End the run after the current batch; ``reason`` (a sentence) goes into the last history row."""
        self.stop_training, self.stop_reason = True, str(reason)

    @property
    def stopped(self):
        """The reason a run stopped before its last epoch (from its history), or None."""
        return self.history[-1].get("stopped") if self.history else None

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
    """Something done at the loop's moments; override any of the hooks (each does nothing by default).

    run is the :class:`TrainingState`; a hook may call ``run.stop(reason)`` to end the run after the
    current batch.
    """

    def on_train_begin(self, run):
        """Before the first epoch of this call to fit (``run.history`` holds a resumed run's epochs)."""

    def on_epoch_begin(self, run):
        """Before epoch ``run.epoch + 1``'s first batch."""

    def on_batch_end(self, run, batch, logs):
        """After each training step. batch: its index in the epoch; logs: {"loss": float, "step": int}."""

    def on_epoch_end(self, run):
        """After the epoch's validation, with its row last in ``run.history``."""

    def on_train_end(self, run):
        """After the last epoch (or the one a stop ended)."""


def call_hook(callbacks, hook, run, *args):
    """Call ``hook`` on every callback in order; a stop without a reason is put down to the callback that set it."""
    for callback in callbacks:
        getattr(callback, hook)(run, *args)
        if run.stop_training and run.stop_reason is None:
            run.stop_reason = f"{type(callback).__name__}.{hook} set stop_training"


class PrintRows(Callback):
    """Log each epoch's row as one line of ``key=value`` pairs."""

    def __init__(self, log=print):
        self.log = log

    def on_epoch_end(self, run):
        self.log(format_row(run.history[-1]))


class LambdaCallback(Callback):
    """A callback made of functions (Keras' LambdaCallback): each is called with the hook's arguments, e.g.
    ``LambdaCallback(on_epoch_end=lambda run: print(run.history[-1]["train_loss"]))``.
    """

    def __init__(self, on_epoch_end=None, *, on_train_begin=None, on_epoch_begin=None, on_batch_end=None,
                 on_train_end=None):
        given = dict(on_train_begin=on_train_begin, on_epoch_begin=on_epoch_begin, on_batch_end=on_batch_end,
                     on_epoch_end=on_epoch_end, on_train_end=on_train_end)
        for hook, function in given.items():
            if function is not None and not callable(function):
                raise TypeError(f"LambdaCallback: {hook} must be callable or None, got {type(function).__name__}")
            if function is not None:
                setattr(self, hook, function)   # the instance attribute hides the class's do-nothing method


class EarlyStopping(Callback):
    """Stop the run when ``monitor`` (a key of the epoch's row, e.g. "val_loss" or "miou") has not improved
    by more than ``min_delta`` for ``patience`` epochs (Keras' and Lightning's EarlyStopping).

    mode: "min", "max", or "auto" (the task's direction for its metric, "min" for a loss). The count is
    rebuilt from the history at every start, so a resumed run stops where an uninterrupted one would; after
    a run it stopped, a resume with more epochs counts afresh.
    """

    def __init__(self, monitor="val_loss", patience=3, mode="auto", min_delta=0.0):
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be a str (a history key), got {type(monitor).__name__}")
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a non-negative int, got {patience!r}")
        if mode not in ("min", "max", "auto"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        if not isinstance(min_delta, (int, float)) or not math.isfinite(min_delta) or min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be a finite number >= 0, got {min_delta!r}")
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, float(min_delta)
        self.best, self.wait = None, 0

    def _direction(self, run):
        if self.mode != "auto":
            return self.mode
        if self.monitor == run.task.metric:
            return "max" if run.task.higher_is_better else "min"
        if "loss" in self.monitor:
            return "min"
        raise ValueError(f"EarlyStopping: mode='auto' cannot tell whether {self.monitor!r} should go up or down; "
                         f"pass mode='min' or mode='max'")

    def on_train_begin(self, run):
        self.best, self.wait = None, 0
        since = max((i + 1 for i, row in enumerate(run.history) if row.get("stopped")), default=0)
        for row in run.history[since:]:
            self._update(run, row)

    def _update(self, run, row):
        if self.monitor not in row:
            raise ValueError(f"EarlyStopping: monitor {self.monitor!r} is not in the epoch's row (it has "
                             f"{sorted(row)}); give fit val_data for validation numbers, or monitor one of these")
        value, sign = row[self.monitor], (1 if self._direction(run) == "max" else -1)
        if self.best is None or sign * (value - self.best) > self.min_delta:
            self.best, self.wait = value, 0
        else:
            self.wait += 1

    def on_epoch_end(self, run):
        self._update(run, run.history[-1])
        if self.wait > 0 and self.wait >= self.patience:
            run.stop(f"EarlyStopping: {self.monitor} did not improve on {self.best:.6g} for {self.wait} "
                     f"epoch{'s' * (self.wait != 1)}")


def resume_run(run, path):
    """Continue ``run`` from ``path/last.npz`` (and clear the half-written files a killed run left).

    The checkpoint's config comes back in ``run.config`` (fit then replaces it with this call's)."""
    state = checkpoint.load(os.path.join(path, "last.npz"))
    checkpoint.remove_partial_writes(path)
    run.load_state_dict(state)
    run.config = state.get("config")


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

    def on_epoch_end(self, run):
        self.save_checkpoints(run)
        self.write_history(run.history)
        self.plot_curves(run.history)
        if self.val_data is not None:
            self.draw_predictions(run)

    def on_train_end(self, run):
        if run.stop_reason is not None:   # the reason came after the epoch's files: write them again with it
            self.save_checkpoints(run)
            self.write_history(run.history)

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
