"""The training loop: fit a model to a task, with progress, validation, pictures and checkpoints.

    history = fit(model, "segmentation", train_set, val_set, epochs=5, out="runs/seg")

A data set is any sequence of ``(image, target)`` pairs of arrays, so a user's
own data works as well as the built-in scenes. In ``out`` the run writes
``history.json`` / ``history.csv`` (one row per epoch), ``curves.png``, a grid
of input / truth / prediction pictures per epoch, and the checkpoints
``last.npz`` (every epoch) and ``best.npz`` (best validation metric).
A run is deterministic from its seed on the CPU, and ``resume=True`` continues
from ``last.npz`` exactly as if it had never stopped.
"""
import csv
import json
import math
import os
import time

import numpy as np

from . import backend, checkpoint
from .data import DataLoader
from .data.transforms import transforms_for
from .optim import Adam, CosineAnnealingLR
from .tasks import get_task
from .tensor import Tensor, no_grad


class NonFiniteError(FloatingPointError):
    """The loss or a gradient became NaN or infinite."""


def _batch_tensor(array, device, float_dtype=backend.default_dtype):
    array = array.astype(float_dtype) if array.dtype.kind == "f" else array
    return Tensor(backend.to_device(array, device))


def _first_non_finite(model):
    """The name of the first parameter whose gradient or value is not finite, or None."""
    for name, p in model.named_parameters():
        xp = backend.get_array_module(p.data)
        if not bool(xp.isfinite(p.data).all()):
            return f"{name} (value)"
        if p.grad is not None and not bool(xp.isfinite(p.grad).all()):
            return f"{name} (gradient)"
    return None


def evaluate(model, task, data, batch_size=8, device="cpu"):
    """Mean loss and the task's metrics on a data set (no augmentation, no gradient)."""
    task = get_task(task)
    model.eval()
    meter, total, count = task.meter(), 0.0, 0
    with no_grad():
        for images, targets in DataLoader(data, batch_size=batch_size):
            out = model(_batch_tensor(images, device))
            target = _batch_tensor(targets, device)
            total += float(task.loss(out, target).item()) * len(images)
            count += len(images)
            meter.update(task.predict(out), targets)
    return {"loss": total / max(count, 1), **meter.compute()}


def fit(model, task, train_data, val_data=None, epochs=1, batch_size=8, optimizer=None, out=None,
        device="cpu", seed=0, progress=True, lr=3e-3, augment=True, resume=False, on_nan="stop",
        schedule="cosine", config=None, log=print, on_epoch_end=None):
    """Train ``model`` on ``task``; returns the history (a list of per-epoch dicts).

    task: a Task or its name (see ``minidense.tasks``). optimizer: default Adam(lr), lr 3e-3 (a first run
    then lands within a tenth of a tuned recipe: docs/design.md, "Defaults that learn").
    out: folder for history, pictures and checkpoints (None: keep nothing).
    resume: continue from ``out/last.npz`` (weights, optimizer, epoch, random state).
    on_nan: "stop" raises NonFiniteError at the step where the loss or a gradient
    stops being finite, naming the step, the parameter and the last good checkpoint;
    "skip" drops that step's update and goes on.
    schedule: "cosine" anneals the learning rate to 0 over the epochs (once per epoch), "constant" keeps it.
    on_epoch_end: called with the epoch's history row after its checkpoint is written.
    """
    task = get_task(task)
    device = backend.check_device(device)
    if on_nan not in ("stop", "skip"):
        raise ValueError(f"fit: on_nan must be 'stop' or 'skip', got {on_nan!r}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if len(train_data) == 0:
        raise ValueError("fit: train_data is empty")
    model.to(device)
    optimizer = optimizer or Adam(model.parameters(), lr=lr)
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"fit: schedule must be 'cosine' or 'constant', got {schedule!r}")
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs) if schedule == "cosine" else None
    backend.manual_seed(seed)
    config = {"task": task.name, "epochs": epochs, "batch_size": batch_size, "seed": seed, "lr": lr,
              **(config or {})}
    loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, seed=seed,
                        transform=transforms_for(task.name) if augment else None)
    history, start, best = [], 0, None
    last_path = os.path.join(out, "last.npz") if out else None
    if resume:
        if not last_path or not os.path.exists(last_path):
            raise FileNotFoundError(f"fit: resume=True but there is no checkpoint at {last_path!r}")
        state = checkpoint.load(last_path)
        checkpoint.remove_partial_writes(out)
        model.load_state_dict(checkpoint.model_state(state, model))
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        backend.set_rng_state(state["rng"])
        start, history, best = state["epoch"], state["history"], state.get("best")
        log(f"resumed from {last_path} after epoch {start}")
    else:
        _init_output_bias(model, task, train_data)
    if out:
        os.makedirs(out, exist_ok=True)

    step = start * len(loader)
    for epoch in range(start, epochs):
        model.train()
        loader.set_epoch(epoch)
        bar = _progress(loader, f"epoch {epoch + 1}/{epochs}", progress)
        total, seen, skipped, t0 = 0.0, 0, 0, time.perf_counter()
        for images, targets in bar:
            step += 1
            x, y = _batch_tensor(images, device), _batch_tensor(targets, device)
            # NumPy's overflow warnings are replaced by the explicit check below, which names the step
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss = task.loss(model(x), y)
                value = float(loss.item())
                optimizer.zero_grad()
                bad = None if math.isfinite(value) else "the loss"
                if bad is None:
                    loss.backward()
                    bad = _first_non_finite(model)
            if bad is not None:
                if on_nan == "skip":
                    skipped += 1
                    optimizer.zero_grad()
                    continue
                good = last_path if last_path and os.path.exists(last_path) else "none written yet"
                raise NonFiniteError(f"step {step} (epoch {epoch + 1}): {bad} is not finite (loss {value}); "
                                     f"last good checkpoint: {good}")
            optimizer.step()
            total += value * len(images)
            seen += len(images)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{total / seen:.4f}", img_s=f"{seen / (time.perf_counter() - t0):.1f}")
        row = {"epoch": epoch + 1, "train_loss": total / max(seen, 1),
               "images_per_s": seen / max(time.perf_counter() - t0, 1e-9), "lr": optimizer.param_groups[0]["lr"]}
        if scheduler is not None:
            scheduler.step()
        if skipped:
            row["skipped_steps"] = skipped
        if val_data is not None:
            scores = evaluate(model, task, val_data, batch_size=batch_size, device=device)
            row["val_loss"] = scores.pop("loss")
            row.update({k: v for k, v in scores.items() if np.isscalar(v)})
        history.append(row)
        if progress:
            log(_format_row(row))
        if out:
            best = _save_epoch(out, model, optimizer, scheduler, task, history, best, config, val_data, device)
        if on_epoch_end is not None:
            on_epoch_end(row)
    return history


def _init_output_bias(model, task, train_data):
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


def _progress(loader, desc, enabled):
    if not enabled:
        return loader
    from tqdm.auto import tqdm
    return tqdm(loader, desc=desc, unit="batch", leave=False)


def _format_row(row):
    return "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def _save_epoch(out, model, optimizer, scheduler, task, history, best, config, val_data, device):
    """History files, curves, a picture of predictions, and the checkpoints (last; best when it improved)."""
    row = history[-1]
    metric = row.get(task.metric)
    improved = metric is not None and (best is None or (metric > best if task.higher_is_better else metric < best))
    if improved:
        best = metric
    state = dict(model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=row["epoch"],
                 scheduler=scheduler.state_dict() if scheduler is not None else None,
                 rng=backend.get_rng_state(), history=history, best=best, config=config)
    checkpoint.save(os.path.join(out, "last.npz"), **state)
    if improved or (metric is None and len(history) == 1):
        checkpoint.save(os.path.join(out, "best.npz"), **state)
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump(history, f, indent=1)
    keys = sorted({k for r in history for k in r}, key=lambda k: (k != "epoch", k))
    with open(os.path.join(out, "history.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
    from . import viz  # matplotlib is slow to import: only when a run writes pictures
    viz.plot_curves(history, path=os.path.join(out, "curves.png"))
    if val_data is not None:
        n = min(4, len(val_data))
        images = np.stack([val_data[i][0] for i in range(n)])
        targets = np.stack([val_data[i][1] for i in range(n)])
        model.eval()
        with no_grad():
            preds = task.predict(model(_batch_tensor(images, device)))
        prefix = os.path.join(out, f"predictions_epoch{row['epoch']:03d}")
        task.draw(images, targets, preds, path=prefix + ".png")
        task.draw_extra(model, images.astype(backend.default_dtype), prefix)
    return best
