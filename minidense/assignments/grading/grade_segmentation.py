"""Assignment 3 grader: log-softmax, per-pixel cross-entropy with the unknown label, training a U-Net.

Checks by stored reference outputs (grader/reference.npz), properties (ignored pixels, stability)
and gradcheck; the training part trains a small U-Net with the student's loss. No reference
implementation is called.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import minidense as md
import minidense.functional as F

REF = np.load(Path(__file__).resolve().parent / "reference.npz")
TRAINING = json.loads(str(REF["training"]))
UNKNOWN = 255


def t(a, grad=False):
    a = np.asarray(a)
    return md.tensor(a.astype(np.float64) if a.dtype.kind == "f" else a, requires_grad=grad)


def close(actual, expected):
    actual = actual.data if isinstance(actual, md.Tensor) else np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------ log-softmax
@pytest.mark.log_softmax
def test_log_softmax_values():
    close(F.log_softmax(t(REF["lsm_x"]), dim=1), REF["lsm_y"])


@pytest.mark.log_softmax
def test_log_softmax_is_stable_for_huge_scores():
    y = F.log_softmax(t(REF["lsm_big_x"]), dim=1).data
    assert np.isfinite(y).all(), f"log_softmax of scores ~1e4 must stay finite, got {y}"
    close(y, REF["lsm_big_y"])


@pytest.mark.log_softmax
@pytest.mark.parametrize("dim", [0, 1])
def test_log_softmax_probabilities_sum_to_one(dim):
    x = np.random.default_rng(dim).standard_normal((2, 4, 3, 3))
    y = F.log_softmax(t(x), dim=dim).data
    np.testing.assert_allclose(np.exp(y).sum(axis=dim), 1.0, rtol=1e-10)


@pytest.mark.log_softmax
@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 2, 2)])
def test_log_softmax_gradcheck(shape):
    x = np.random.default_rng(7).standard_normal(shape)
    assert md.gradcheck(lambda x: F.log_softmax(x, dim=1), (t(x),))


# ------------------------------------------------------------------ cross-entropy
@pytest.mark.cross_entropy
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_values(reduction, weighted):
    w = t(REF["ce_w"]) if weighted else None
    out = F.cross_entropy(t(REF["ce_x"]), t(REF["ce_t"]), weight=w, reduction=reduction)
    close(out, REF[f"ce_{'w_' if weighted else ''}{reduction}"])


@pytest.mark.cross_entropy
def test_cross_entropy_scores_per_sample():
    close(F.cross_entropy(t(REF["ce2_x"]), t(REF["ce2_t"])), REF["ce2_mean"])


@pytest.mark.cross_entropy
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradcheck(reduction):
    target, w = t(REF["ce_t"]), t(REF["ce_w"])
    assert md.gradcheck(lambda x: F.cross_entropy(x, target, weight=w, reduction=reduction), (t(REF["ce_x"]),))


@pytest.mark.cross_entropy
def test_cross_entropy_keeps_float32():
    x = md.tensor(REF["ce_x"].astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, t(REF["ce_t"]))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.item(), float(REF["ce_mean"]), rtol=1e-5)


# ------------------------------------------------------------------ the unknown label
@pytest.mark.unknown_label
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_ignored_pixels_are_left_out(reduction, weighted):
    w = t(REF["ce_w"]) if weighted else None
    out = F.cross_entropy(t(REF["unk_x"]), t(REF["unk_t"]), weight=w, ignore_index=UNKNOWN, reduction=reduction)
    close(out, REF[f"unk_{'w_' if weighted else ''}{reduction}"])


@pytest.mark.unknown_label
def test_ignored_pixels_get_exactly_zero_gradient_and_do_not_matter():
    x, target = t(REF["unk_x"], grad=True), REF["unk_t"]
    loss = F.cross_entropy(x, t(target), ignore_index=UNKNOWN)
    loss.backward()
    ignored = np.broadcast_to((target == UNKNOWN)[:, None], x.shape)
    assert ignored.any() and (x.grad[ignored] == 0).all()
    changed = REF["unk_x"] + np.where(ignored, 100.0, 0.0)
    close(F.cross_entropy(t(changed), t(target), ignore_index=UNKNOWN), loss.data)


@pytest.mark.unknown_label
def test_all_ignored_gives_zero_with_zero_gradient():
    x = t(REF["unk_x"], grad=True)
    loss = F.cross_entropy(x, t(np.full(REF["unk_t"].shape, UNKNOWN)), ignore_index=UNKNOWN)
    loss.backward()
    assert loss.item() == 0 and np.isfinite(loss.item()) and (x.grad == 0).all()


@pytest.mark.unknown_label
def test_cross_entropy_gradcheck_with_ignored_pixels():
    target, w = t(REF["unk_t"]), t(REF["ce_w"])
    assert md.gradcheck(lambda x: F.cross_entropy(x, target, weight=w, ignore_index=UNKNOWN), (t(REF["unk_x"]),))


# ------------------------------------------------------------------ training
@pytest.mark.training
def test_unet_trained_with_your_loss_reaches_the_target_miou():
    from minidense.data import scenes
    from minidense.models import UNet
    from minidense.train import fit
    c = TRAINING
    md.manual_seed(c["seed"])
    model = UNet(3, scenes.NUM_CLASSES, base_channels=c["base_channels"], depth=c["depth"], batch_norm=False)
    train = scenes.SceneDataset(c["n_train"], size=c["size"], seed=c["seed"])
    val = scenes.SceneDataset(c["n_val"], size=c["size"], seed=c["seed"] + 10_000)
    history = fit(model, "segmentation", train, val, epochs=c["epochs"], batch_size=c["batch_size"], lr=c["lr"],
                  seed=c["seed"], progress=False, augment=False)
    miou = history[-1]["miou"]
    print(f"mean IoU after {c['epochs']} epochs: {miou:.3f} (target {c['target_miou']})")
    assert miou >= c["target_miou"], f"mean IoU {miou:.3f} is below the target {c['target_miou']}"
