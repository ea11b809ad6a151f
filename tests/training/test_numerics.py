"""Numerical faults: training stops (or skips) at the step where the loss or a gradient stops being finite,
naming the step, the parameter and the last good checkpoint; the losses stay finite and right for
logits of ±1e4 and for depths near 0."""
import numpy as np
import pytest

import minidense as md
import minidense.functional as F
from minidense import checkpoint, cli, nn
from minidense.data import scenes
from minidense.models import UNet
from minidense.tasks import get_task
from minidense.train import NonFiniteError, fit

STEPS_PER_EPOCH = 3     # 24 scenes in batches of 8


class Faulty(nn.Module):
    """A small U-Net that, at one training call, makes either its loss or one parameter's gradient NaN.

    ``tap`` is a parameter that never changes the output: out + 0·sqrt(tap) with tap = 0 is the output,
    but its gradient 0 · 1/(2·sqrt(0)) is NaN, and only ``tap``'s.
    """

    def __init__(self, bad_call, what):
        super().__init__()
        self.net = UNet(3, scenes.NUM_CLASSES, base_channels=4, depth=2)
        self.tap = nn.Parameter(np.zeros(1, dtype=np.float32))
        self.bad_call, self.what, self.calls = bad_call, what, 0

    def forward(self, x):
        out = self.net(x)
        if not self.training:
            return out
        self.calls += 1
        if self.calls != self.bad_call:
            return out + 0 * self.tap
        if self.what == "loss":
            return out * float("nan")
        return out + 0 * F.sqrt(self.tap)


def _fit(model, out=None, epochs=1, on_nan="stop"):
    task = get_task("segmentation")
    with np.errstate(all="ignore"):
        return fit(model, task, task.dataset(24, size=16, seed=1), epochs=epochs, batch_size=8, out=out, seed=0,
                   progress=False, on_nan=on_nan, augment=False)


@pytest.mark.parametrize("what, named", [("loss", "the loss"), ("gradient", "tap (gradient)")])
def test_stop_names_the_step_the_parameter_and_the_last_checkpoint(tmp_path, what, named):
    md.manual_seed(0)
    bad_step = STEPS_PER_EPOCH + 2            # the second step of epoch 2, after epoch 1's checkpoint
    model = Faulty(bad_step, what)
    with pytest.raises(NonFiniteError) as info:
        _fit(model, out=str(tmp_path), epochs=3)
    msg = str(info.value)
    last = str(tmp_path / "last.npz")
    assert f"step {bad_step} (epoch 2)" in msg and named in msg and f"last good checkpoint: {last}" in msg, msg
    state = checkpoint.load(last)
    assert state["epoch"] == 1
    assert all(np.isfinite(v).all() for v in state["model"].values())


def test_stop_before_any_checkpoint_says_so():
    md.manual_seed(0)
    with pytest.raises(NonFiniteError, match=r"step 1 \(epoch 1\): tap \(gradient\) is not finite"):
        _fit(Faulty(1, "gradient"))
    with pytest.raises(NonFiniteError, match="none written yet"):
        _fit(Faulty(2, "loss"))


@pytest.mark.parametrize("what", ["loss", "gradient"])
def test_skip_drops_exactly_that_step(what):
    md.manual_seed(0)
    skipped = Faulty(2, what)
    history = _fit(skipped, epochs=2, on_nan="skip")
    assert history[0]["skipped_steps"] == 1 and "skipped_steps" not in history[1]
    for name, p in skipped.named_parameters():
        assert np.isfinite(p.data).all(), name
    assert skipped.tap.data[0] == 0     # tap's only update would have come from the dropped step


def test_the_command_line_stops_or_skips(tmp_path, capsys):
    argv = ["train", "--epochs", "2", "--size", "16", "--n-train", "16", "--n-val", "4", "--base-channels", "4",
            "--depth", "2", "--no-progress", "--lr", "1e30"]    # Adam's first step throws the weights to 1e30
    with np.errstate(all="ignore"):
        code = cli.main(argv + ["--out", str(tmp_path / "stop")])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "training stopped: step 2 (epoch 1)" in err and "not finite" in err and "last good checkpoint" in err
    with np.errstate(all="ignore"):
        code = cli.main(argv + ["--out", str(tmp_path / "skip"), "--on-nan", "skip"])
    assert code == 0, capsys.readouterr().err
    history = checkpoint.load(str(tmp_path / "skip" / "last.npz"))["history"]
    assert history[0]["skipped_steps"] >= 1


# ---------------------------------------------------------------- losses at the edges
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_class_losses_are_finite_and_right_for_huge_logits(dtype, scale):
    # two classes, the logits ±scale apart; the right loss is 0 for the favoured class and 2|scale| otherwise
    x = np.array([[scale, -scale], [scale, -scale]], dtype=dtype)
    target = np.array([0, 1])
    want = np.array([0.0, 2 * abs(scale)]) if scale > 0 else np.array([2 * abs(scale), 0.0])
    for loss in (lambda t: F.cross_entropy(t, target, reduction="none"),
                 lambda t: F.nll_loss(F.log_softmax(t, 1), target, reduction="none")):
        t = md.Tensor(x.copy(), requires_grad=True)
        out = loss(t)
        np.testing.assert_allclose(out.data, want, rtol=1e-6)
        out.sum().backward()
        assert np.isfinite(t.grad).all()
        np.testing.assert_allclose(np.abs(t.grad).sum(axis=1), [0, 2] if scale > 0 else [2, 0], atol=1e-6)
    p = F.softmax(md.Tensor(x), 1).data
    assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_is_finite_and_right_for_huge_logits(dtype):
    x = md.Tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype), requires_grad=True)
    target = np.array([1, 0, 0, 1], dtype=dtype)
    loss = F.binary_cross_entropy_with_logits(x, target, pos_weight=np.full(4, 3, dtype), reduction="none")
    np.testing.assert_allclose(loss.data, [0, 0, 1e4, 3e4], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad, [0, 0, 1, -3], atol=1e-6)
    assert np.isfinite(F.sigmoid(x).data).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("depth", [0.0, 1e-30, 1e-7, 1e-6, 1e-3])
def test_log_depth_loss_is_finite_near_zero(dtype, depth):
    rng = np.random.default_rng(0)
    target = rng.uniform(0.5, 2, (2, 1, 4, 4)).astype(dtype)
    pred = md.Tensor(np.full((2, 1, 4, 4), depth, dtype=dtype), requires_grad=True)
    for lam in (0.0, 0.5, 1.0):
        loss = F.scale_invariant_log_loss(pred, target, lam=lam)
        assert np.isfinite(loss.data).all()
        pred.grad = None
        loss.backward()
        assert np.isfinite(pred.grad).all()
    # a target near 0 (a pixel at the camera) is floored the same way
    loss = F.scale_invariant_log_loss(md.Tensor(target), np.full_like(target, depth))
    assert np.isfinite(loss.data).all()


@pytest.mark.parametrize("scale", [1e4, 1e-4])
def test_depth_and_normal_losses_stay_finite_for_large_and_small_values(scale):
    rng = np.random.default_rng(1)
    pred = md.Tensor((rng.standard_normal((2, 3, 4, 4)) * scale).astype(np.float32), requires_grad=True)
    target = (rng.standard_normal((2, 3, 4, 4)) * scale).astype(np.float32)
    for loss in (F.l1_loss, F.mse_loss, F.smooth_l1_loss, F.cosine_normal_loss):
        pred.grad = None
        out = loss(pred, target)
        out.backward()
        assert np.isfinite(out.data).all() and np.isfinite(pred.grad).all(), loss.__name__
    # equal directions at any length: the normal loss is 0
    same = F.cosine_normal_loss(md.Tensor(target), target * 3)
    np.testing.assert_allclose(same.data, 0, atol=1e-6)
