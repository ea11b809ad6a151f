"""Training: every task learns from the command line; checkpoints resume bit for bit; clear failures."""
import json
import os

import numpy as np
import pytest

import minidense as md
from minidense import checkpoint, cli, metrics
from minidense.callbacks import LambdaCallback
from minidense.data import scenes
from minidense.tasks import get_task
from minidense.train import NonFiniteError, default_lr, evaluate, fit

SIZE = 32


def _train(tmp_path, task, model="unet", epochs=10, n_train=256):
    """Train from the command line at 32x32 (seconds, not minutes) and load the last checkpoint."""
    out = str(tmp_path / task)
    argv = ["train", "--task", task, "--model", model, "--epochs", str(epochs), "--size", str(SIZE),
            "--n-train", str(n_train), "--n-val", "16", "--base-channels", "16", "--depth", "3",
            "--batch-size", "8", "--out", out, "--no-progress"]   # the defaults' learning rate and model
    assert cli.main(argv) == 0
    model, task_obj, config = checkpoint.load_model(os.path.join(out, "last.npz"), "cpu")
    held_out = task_obj.dataset(32, size=SIZE, seed=777)
    return model, task_obj, held_out, out


def _stack(data, i):
    return np.stack([data[k][i] for k in range(len(data))])


def test_depth_beats_predicting_the_mean(tmp_path):
    model, task, held, _ = _train(tmp_path, "depth")
    train_depth = _stack(get_task("depth").dataset(256, size=SIZE, seed=0), 1)
    baseline = metrics.depth_metrics(np.full_like(_stack(held, 1), train_depth.mean()), _stack(held, 1))
    scores = evaluate(model, task, held)
    print(f"\ndepth: abs_rel {scores['abs_rel']:.4f}, predicting the training mean {baseline['abs_rel']:.4f}")
    assert scores["abs_rel"] <= 0.5 * baseline["abs_rel"], (scores, baseline)


def test_normals_beat_the_best_constant_normal(tmp_path):
    model, task, held, _ = _train(tmp_path, "normals")
    truth = _stack(held, 1)
    # the constant that minimises the mean angle is near the normalised mean; try it and the axes
    mean = _stack(get_task("normals").dataset(256, size=SIZE, seed=0), 1).mean(axis=(0, 2, 3))
    candidates = [mean / np.linalg.norm(mean)] + [np.eye(3)[i] * s for i in range(3) for s in (1, -1)]
    best = min(metrics.normal_metrics(np.broadcast_to(c[None, :, None, None], truth.shape), truth)["mean"]
               for c in candidates)
    scores = evaluate(model, task, held)
    print(f"\nnormals: mean angular error {scores['mean']:.2f} deg, best constant normal {best:.2f} deg")
    assert scores["mean"] <= 0.6 * best, (scores["mean"], best)


def test_keypoints_pck(tmp_path):
    model, task, held, _ = _train(tmp_path, "keypoints", epochs=12)
    scores = evaluate(model, task, held)
    print(f"\nkeypoints: PCK@0.1 {scores['pck']:.3f}")
    assert scores["pck"] >= 0.6, scores


@pytest.mark.parametrize("task, model_name, epochs, n_train", [("sketch2image", "unet", 16, 512),
                                                               ("autoencode", "autoencoder", 20, 1536)])
def test_image_tasks_beat_the_mean_image(tmp_path, task, model_name, epochs, n_train):
    model, task_obj, held, out = _train(tmp_path, task, model=model_name, epochs=epochs, n_train=n_train)
    if task == "autoencode":   # the latent walk is drawn every epoch
        assert os.path.getsize(os.path.join(out, f"predictions_epoch{epochs:03d}_latent_walk.png")) > 0
    mean_image = _stack(get_task(task).dataset(n_train, size=SIZE, seed=0), 1).mean(axis=0)
    truth = _stack(held, 1)
    baseline = float(np.abs(truth - mean_image).mean())
    scores = evaluate(model, task_obj, held)
    print(f"\n{task}: L1 {scores['l1']:.4f}, the mean image {baseline:.4f}")
    assert scores["l1"] <= 0.6 * baseline, (scores["l1"], baseline)


@pytest.mark.parametrize("batch_norm, lr", [(True, 1e-2), (False, 3e-3)])
def test_the_default_learning_rate_follows_batch_norm(batch_norm, lr):
    from minidense.callbacks import Callback
    from minidense.models import UNet

    class Rates(Callback):
        seen = []

        def on_epoch_end(self, run):
            self.seen.append(run.optimizer.param_groups[0]["lr"])

    model = UNet(3, scenes.NUM_CLASSES, base_channels=4, depth=2, batch_norm=batch_norm)
    assert default_lr(model) == lr
    task = get_task("segmentation")
    fit(model, task, task.dataset(8, size=16, seed=1), epochs=1, batch_size=8, progress=False, schedule="constant",
        callbacks=[Rates()])
    assert Rates.seen == [lr]
    assert cli.build_parser().parse_args(["train", "--out", "x"]).lr is None   # the command line: the same rule


class Stop(Exception):
    pass


def _small_run(out, resume=False, stop_after=None):
    md.manual_seed(0)
    from minidense.models import UNet
    model = UNet(3, scenes.NUM_CLASSES, base_channels=4, depth=2)
    task = get_task("segmentation")

    def stop(run):
        if run.epoch == stop_after:
            raise Stop   # as if the process had been stopped right after this epoch's checkpoint

    return fit(model, task, task.dataset(24, size=16, seed=1), task.dataset(8, size=16, seed=2), epochs=4,
               batch_size=8, out=out, seed=3, progress=False, resume=resume,
               callbacks=[LambdaCallback(on_epoch_end=stop)]), model


def test_resume_after_epoch_two_matches_an_uninterrupted_run(tmp_path):
    full, full_model = _small_run(str(tmp_path / "full"))
    with pytest.raises(Stop):
        _small_run(str(tmp_path / "part"), stop_after=2)
    resumed, resumed_model = _small_run(str(tmp_path / "part"), resume=True)
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in full]   # bit for bit
    assert [r["val_loss"] for r in resumed] == [r["val_loss"] for r in full]
    for (k, a), (_, b) in zip(full_model.state_dict().items(), resumed_model.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    out = tmp_path / "full"
    for name in ("history.json", "history.csv", "curves.png", "last.npz", "best.npz", "predictions_epoch004.png"):
        assert (out / name).stat().st_size > 0, name
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2, 3, 4] and "miou" in history[0] and "val_loss" in history[0]


def test_non_finite_loss_stops_with_step_and_parameter(tmp_path):
    from minidense.models import UNet
    model = UNet(3, scenes.NUM_CLASSES, base_channels=4, depth=2)
    task = get_task("segmentation")
    data = task.dataset(16, size=16, seed=1)
    with pytest.raises(NonFiniteError, match=r"step \d+ .*not finite.*last good checkpoint"):
        fit(model, task, data, epochs=1, batch_size=8, lr=1e12, progress=False, out=str(tmp_path))
    history = fit(UNet(3, scenes.NUM_CLASSES, base_channels=4, depth=2), task, data, epochs=1, batch_size=8,
                  lr=1e12, progress=False, on_nan="skip")
    assert history[0].get("skipped_steps", 0) >= 1


def test_cuda_without_gpu_stops_at_once(capsys):
    if md.backend.gpu_unavailable_reason() is None:
        pytest.skip("a GPU is usable here")
    code = cli.main(["train", "--device", "cuda", "--out", "/nonexistent/never-written"])
    err = capsys.readouterr().err
    assert code == 2 and "'cuda' is not usable" in err and len(err.strip().splitlines()) == 1
