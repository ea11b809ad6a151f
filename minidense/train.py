"""The training loop: fit a model to a task, with progress, validation, pictures and checkpoints.

    history = fit(model, "segmentation", train_set, val_set, epochs=5, out="runs/seg")

A data set is any sequence of ``(image, target)`` pairs of arrays, so a user's
own data works as well as the built-in scenes. In ``out`` the run writes
``history.json`` / ``history.csv`` (one row per epoch), ``curves.png``, a grid
of input / truth / prediction pictures per epoch, and the checkpoints
``last.npz`` (every epoch) and ``best.npz`` (best validation metric): see
``minidense.callbacks.RunFolder``. A run is deterministic from its seed on the
CPU, and ``resume=True`` continues from ``last.npz`` exactly as if it had never stopped.

``fit`` is the loop a student would write; each epoch is :func:`train_one_epoch`, each
step :func:`training_step`; everything else hooks in through ``minidense.callbacks`` (the run
folder, printing, ``EarlyStopping``, a user's own), which may also stop a run after any batch.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import _malloc, backend, checkpoint
from .callbacks import Callback, LambdaCallback, PrintRows, RunFolder, TrainingState, call_hook, resume_run
from .data import DataLoader, batch_tensor
from .data.loader import Batch, Dataset
from .data.transforms import transforms_for
from .nn.layers import BatchNorm2d
from .nn.module import Module
from .optim import Adam, CosineAnnealingLR, Optimizer
from .tasks import Task, get_task
from .tensor import Tensor, no_grad

# One epoch's numbers: {"epoch": 1, "train_loss": ..., "val_loss": ..., the task's metrics, ...}.
Row = dict[str, Any]


class NonFiniteError(FloatingPointError):
    """The loss or a gradient became NaN or infinite."""


#: fit's learning rate when none is given: batch norm keeps every layer's activations at one scale, so
#: a network with it takes larger steps (measured on the built-in scenes and two other data layouts)
LR_WITH_BATCH_NORM = 1e-2
LR_PLAIN = 3e-3


def default_lr(model: Module) -> float:
    """The learning rate ``fit`` uses for ``model`` when none is given: 1e-2 with batch norm, else 3e-3."""
    return LR_WITH_BATCH_NORM if any(isinstance(m, BatchNorm2d) for m in model.modules()) else LR_PLAIN


def fit(model: Module, task: Task | str, train_data: Dataset, val_data: Dataset | None = None, *, epochs: int = 1,
        batch_size: int = 8, optimizer: Optimizer | None = None, out: str | os.PathLike[str] | None = None,
        device: str = "cpu", seed: int = 0, progress: bool = True, lr: float | None = None, augment: bool = True,
        resume: bool = False, on_nan: str = "stop", schedule: str = "cosine", config: dict[str, Any] | None = None,
        log: Callable[[str], object] = print, on_epoch_end: Callable[[Row], object] | None = None,
        callbacks: Sequence[Callback] = ()) -> list[Row]:
    """Train ``model`` on ``task``; returns the history (a list of per-epoch dicts).

    task: a Task or its name (see ``minidense.tasks``). optimizer: default Adam(lr); lr None means
    ``default_lr(model)``: 1e-2 for a model with batch norm, 3e-3 without (a first run then lands within
    a tenth of a tuned recipe on the built-in scenes).
    out: folder for history, pictures and checkpoints (None: keep nothing).
    resume: continue from ``out/last.npz`` (weights, optimizer, epoch, random state).
    on_nan: "stop" raises NonFiniteError at the step where the loss or a gradient
    stops being finite, naming the step, the parameter and the last good checkpoint;
    "skip" drops that step's update and goes on.
    schedule: "cosine" anneals the learning rate to 0 over the epochs (once per epoch), "constant" keeps it.
    config: extra entries for the run's config (stored in every checkpoint).
    callbacks: ``minidense.callbacks.Callback`` objects (e.g. ``EarlyStopping``), called after the printing and
    the run folder's; any may stop the run (``run.stop(reason)``) after the current batch. A run that stopped
    so is not continued by ``resume=True`` unless ``epochs`` is more than it was asked for.
    on_epoch_end: deprecated; use ``callbacks=[LambdaCallback(on_epoch_end=lambda run: ...)]`` (it gets the
    epoch's history row, after the epoch's checkpoint is written).

    On Linux, fit first asks glibc's malloc to keep freed memory for the next step (``md.tune_memory()``,
    for the rest of the process; ``MINIDENSE_MALLOC=system`` leaves malloc alone).
    """
    task = get_task(task)
    device = backend.check_device(device)
    _check_fit_args(train_data, epochs, on_nan, schedule, resume, out)
    _malloc.tune_memory()
    model.to(device)
    lr = default_lr(model) if lr is None else lr
    optimizer = optimizer or Adam(model.parameters(), lr=lr)
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs) if schedule == "cosine" else None
    run = TrainingState(model, task, optimizer, scheduler, epochs=epochs, device=device)
    folder = RunFolder(out, val_data) if out else None
    backend.manual_seed(seed)
    if resume:
        assert out is not None and folder is not None   # _check_fit_args found out/last.npz
        resume_run(run, out)
        log(f"resumed from {folder.file('last.npz')} after epoch {run.epoch}")
        asked = (run.config or {}).get("epochs", epochs)
        if run.stopped and epochs <= asked:
            log(f"nothing to do: that run stopped ({run.stopped}); ask for more than "
                f"{asked} epochs to go on")
            return run.history
    else:
        before_training(run, train_data)
    run.config = {"task": task.name, "epochs": epochs, "batch_size": batch_size, "seed": seed, "lr": lr,
                  **checkpoint.describe_model(model), **checkpoint.describe_task(task, train_data),
                  **(config or {})}
    flips = augment and getattr(train_data, "flip_safe", True)   # a folder's classes.json may forbid flips
    loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, seed=seed,
                        transform=transforms_for(task.name) if flips else None)
    callbacks = [c for c in (PrintRows(log) if progress else None, folder,
                             _deprecated_on_epoch_end(on_epoch_end)) if c] + list(callbacks)
    call_hook(callbacks, "on_train_begin", run)
    while run.epoch < epochs and not run.stop_training:
        call_hook(callbacks, "on_epoch_begin", run)
        row = train_one_epoch(run, loader, on_nan=on_nan, progress=progress,
                              last_good=folder.last_good() if folder else None, callbacks=callbacks)
        if scheduler is not None:
            scheduler.step()
        if val_data is not None:
            scores = evaluate(model, task, val_data, batch_size=batch_size, device=device)
            row["val_loss"] = scores.pop("loss")
            row.update({k: v for k, v in scores.items() if np.isscalar(v)})
        run.end_epoch(row)
        call_hook(callbacks, "on_epoch_end", run)
    if run.stop_training and run.history:
        run.history[-1]["stopped"] = run.stop_reason
        log(f"stopped after epoch {run.epoch}: {run.stop_reason}")
    call_hook(callbacks, "on_train_end", run)
    return run.history


def _deprecated_on_epoch_end(function: Callable[[Row], object] | None) -> LambdaCallback | None:
    """fit's old ``on_epoch_end=function(row)`` argument, as the LambdaCallback it now is."""
    if function is None:
        return None
    warnings.warn("fit(on_epoch_end=...) is deprecated: pass callbacks=[LambdaCallback(on_epoch_end=lambda run: "
                  "...)] (the row is run.history[-1])", DeprecationWarning, stacklevel=3)
    if not callable(function):
        raise TypeError(f"fit: on_epoch_end must be callable, got {type(function).__name__}")
    return LambdaCallback(on_epoch_end=lambda run: function(run.history[-1]))


def before_training(run: TrainingState, train_data: Dataset) -> None:
    """What a fresh run does once before its first step (never on resume: that state is in the checkpoint).

    The model's output bias starts at the training targets' typical value (see ``Task.typical_output``).
    """
    _init_output_bias(run.model, run.task, train_data)


def train_one_epoch(run: TrainingState, loader: DataLoader, on_nan: str = "stop", progress: bool = True,
                    last_good: str | None = None, callbacks: Sequence[Callback] = ()) -> Row:
    """One pass over ``loader``: a training step per batch, then each callback's ``on_batch_end``; it ends
    early, after the batch, when a callback set ``run.stop_training``. Returns the epoch's history row
    (``"partial": True`` when it ended early)."""
    run.model.train()
    loader.set_epoch(run.epoch)
    bar = _progress(loader, f"epoch {run.epoch + 1}/{run.epochs}", progress)
    total, seen, skipped, partial, t0 = 0.0, 0, 0, False, time.perf_counter()
    for i, (images, targets) in enumerate(bar):
        step = run.epoch * len(loader) + i + 1
        backend.set_rng_step(run.epoch, step)   # the GPU's draws of this step come from (seed, epoch, step)
        value, bad = training_step(run.model, run.task, run.optimizer, batch_tensor(images, run.device),
                                   batch_tensor(run.task.target_batch(targets), run.device))
        if bad is not None and on_nan == "stop":
            raise NonFiniteError(f"step {step} (epoch {run.epoch + 1}): {bad} is not "
                                 f"finite (loss {value}); last good checkpoint: {last_good or 'none written yet'}")
        if bad is not None:
            skipped += 1
        else:
            total += value * len(images)
            seen += len(images)
        if hasattr(bar, "set_postfix") and seen:
            bar.set_postfix(loss=f"{total / seen:.4f}", img_s=f"{seen / (time.perf_counter() - t0):.1f}")
        call_hook(callbacks, "on_batch_end", run, i, {"loss": value, "step": step})
        if run.stop_training:
            partial = i + 1 < len(loader)
            break
    row = {"epoch": run.epoch + 1, "train_loss": total / max(seen, 1),
           "images_per_s": seen / max(time.perf_counter() - t0, 1e-9), "lr": run.optimizer.param_groups[0]["lr"]}
    if skipped:
        row["skipped_steps"] = skipped
    if partial:
        row["partial"] = True
    return row


def training_step(model: Module, task: Task, optimizer: Optimizer, x: Tensor, y: Tensor) -> tuple[float, str | None]:
    """Loss, gradients and one update on a batch. Returns (loss value, None), or (loss value, what is not
    finite) without updating when the loss or a gradient is NaN or infinite."""
    # NumPy's overflow warnings are replaced by the explicit check below, which names the step
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        loss = task.loss(model(x), y)
        value = float(loss.item())
        optimizer.zero_grad()
        bad = None if math.isfinite(value) else "the loss"
        if bad is None:
            loss.backward()
            bad = _first_non_finite(model)
    if bad is None:
        optimizer.step()
    else:
        optimizer.zero_grad()
    return value, bad


def evaluate(model: Module, task: Task | str, data: Dataset, batch_size: int = 8, device: str = "cpu") -> dict[str,
             Any]:
    """Mean loss and the task's metrics on a data set (no augmentation, no gradient). Images of any size
    are padded to the model's size multiple and its output cropped back (see :func:`forward`)."""
    task = get_task(task)
    model.eval()
    meter, total, count = task.meter(), 0.0, 0
    with no_grad():
        for images, targets in DataLoader(data, batch_size=batch_size):
            targets = task.target_batch(targets)
            out = forward(model, images, device)
            target = batch_tensor(targets, device)
            total += float(task.loss(out, target).item()) * len(images)
            count += len(images)
            meter.update(task.predict(out), targets)
    return {"loss": total / max(count, 1), **meter.compute()}


def forward(model: Module, images: np.ndarray[Any, Any], device: str = "cpu") -> Tensor:
    """The model's output for images (N, C, H, W) of any size: edge-padded at the bottom and right to the
    model's ``size_multiple`` (when it has one), cropped back to H x W."""
    h, w = images.shape[-2:]
    multiple = getattr(model, "size_multiple", 1)
    pad = ((0, 0), (0, 0), (0, -h % multiple), (0, -w % multiple))
    out = model(batch_tensor(np.pad(images, pad, mode="edge") if any(p[1] for p in pad) else images, device))
    return out if out.shape[-2:] == (h, w) else out[:, :, :h, :w]


def _check_fit_args(train_data: Dataset, epochs: int, on_nan: str, schedule: str, resume: bool,
                    out: str | os.PathLike[str] | None) -> None:
    if on_nan not in ("stop", "skip"):
        raise ValueError(f"fit: on_nan must be 'stop' or 'skip', got {on_nan!r}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if len(train_data) == 0:
        raise ValueError("fit: train_data is empty")
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"fit: schedule must be 'cosine' or 'constant', got {schedule!r}")
    last = os.path.join(out, "last.npz") if out else None
    if resume and (not last or not os.path.exists(last)):
        raise FileNotFoundError(f"fit: resume=True but there is no checkpoint at {last!r}")


def _first_non_finite(model: Module) -> str | None:
    """The name of the first parameter whose gradient or value is not finite, or None.

    One device-to-host synchronisation per call, whatever the number of parameters: the checks are
    gathered on the device and read once; the names are looked for only when one failed.
    """
    params = list(model.parameters())
    if not params:
        return None
    xp = backend.get_array_module(params[0].data)
    checks = [xp.isfinite(a).all() for p in params for a in (p.data, p.grad) if a is not None]
    if bool(xp.stack(checks).all()):
        return None
    for name, p in model.named_parameters():
        xp = backend.get_array_module(p.data)
        if not bool(xp.isfinite(p.data).all()):
            return f"{name} (value)"
        if p.grad is not None and not bool(xp.isfinite(p.grad).all()):
            return f"{name} (gradient)"
    return None


def _init_output_bias(model: Module, task: Task, train_data: Dataset) -> None:
    """A fresh run's one step before training: start the model's output bias at the targets' typical value.

    Only a bias still all zero, as a freshly built model's is, is set: loaded or trained weights keep
    theirs. Models without ``output_bias`` (a user's own) and tasks without a typical value are left alone.
    """
    bias = getattr(model, "output_bias", None)
    if bias is None or bool((bias.data != 0).any()):
        return
    value = task.typical_output(train_data)
    if value is None:
        return
    if value.shape != tuple(bias.shape):
        raise ValueError(f"fit: the task's typical output has shape {value.shape} but the model's output_bias "
                         f"is {tuple(bias.shape)} (out_channels must match the task's)")
    bias.data = backend.to_device(value.astype(bias.dtype), bias.device)


def _progress(loader: DataLoader, desc: str, enabled: bool) -> Iterable[Batch]:
    if not enabled:
        return loader
    from tqdm.auto import tqdm
    return tqdm(loader, desc=desc, unit="batch", leave=False)
