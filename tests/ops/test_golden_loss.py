"""minidense's losses and normalization against PyTorch's, via golden files (tests/support/golden/loss_*.npz).

The files are written by tests/support/golden/make_golden_loss.py (run by hand where PyTorch is installed),
so PyTorch's semantics are checked here without PyTorch. All values are float64.
"""

import numpy as np
import pytest
from golden_files import TOL, load_cases

import minidense as md
import minidense.functional as F

REDUCTIONS = ("mean", "sum", "none")


def load(name):
    return load_cases(f"loss_{name}.npz")


def check(case, fn, grad_of):
    """fn(**tensors) against the case's output and the gradients of sum(out * upstream)."""
    tensors = {k: md.tensor(v, requires_grad=k in grad_of) if v.dtype.kind == "f" else md.tensor(v)
               for k, v in case.items() if k in fn.__code__.co_varnames}
    out = fn(**tensors)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), case["out"], **TOL)
    out.backward(case["upstream"])
    for k in grad_of:
        np.testing.assert_allclose(tensors[k].grad, case[f"grad_{k}"], **TOL, err_msg=f"gradient of {k}")


def test_softmax_family():
    cases = load("softmax")
    check(cases["log_softmax"], lambda x: F.log_softmax(x, dim=1), ["x"])
    check(cases["softmax"], lambda x: F.softmax(x), ["x"])
    check(cases["log_softmax_dim2"], lambda x: F.log_softmax(x, axis=2), ["x"])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_and_nll(reduction):
    cases = load("class")
    r = reduction
    check(cases[f"ce4_{r}"], lambda x, target, weight: F.cross_entropy(x, target, weight.data, ignore_index=255,
                                                                       reduction=r), ["x"])
    check(cases[f"ce4_noweight_{r}"], lambda x, target: F.cross_entropy(x, target, ignore_index=255, reduction=r),
          ["x"])
    check(cases[f"ce2_{r}"], lambda x, target, weight: F.cross_entropy(x, target, weight, reduction=r), ["x"])
    check(cases[f"nll4_{r}"], lambda x, target, weight: F.nll_loss(x, target, weight, ignore_index=255,
                                                                   reduction=r), ["x"])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["l1", "mse", "smooth_l1", "smooth_l1_beta05"])
def test_depth_losses(name, reduction):
    cases = load("depth")
    fn = {"l1": F.l1_loss, "mse": F.mse_loss, "smooth_l1": F.smooth_l1_loss,
          "smooth_l1_beta05": lambda a, b, mask=None, reduction="mean": F.smooth_l1_loss(a, b, mask, reduction,
                                                                                         beta=0.5)}[name]
    check(cases[f"{name}_{reduction}"], lambda pred, target: fn(pred, target, reduction=reduction),
          ["pred", "target"])
    check(cases[f"{name}_masked_{reduction}"],
          lambda pred, target, mask: fn(pred, target, mask=mask, reduction=reduction), ["pred", "target"])


@pytest.mark.parametrize("case", ["silog_lam0.5", "silog_lam1.0", "silog_emptyimage"])
def test_scale_invariant_log_loss(case):
    c = load("depth")[case]
    lam = 1.0 if case.endswith("1.0") else 0.5
    check(c, lambda pred, target, mask: F.scale_invariant_log_loss(pred, target, mask, lam=lam), ["pred", "target"])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_normals(reduction):
    cases = load("normals")
    check(cases["normalize"], lambda x: F.normalize(x, dim=1), ["x"])
    check(cases[f"cosine_{reduction}"],
          lambda pred, target, mask: F.cosine_normal_loss(pred, target, mask, reduction=reduction),
          ["pred", "target"])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    cases = load("bce")
    check(cases[f"bce_{reduction}"],
          lambda x, target: F.binary_cross_entropy_with_logits(x, target, reduction=reduction), ["x", "target"])
    check(cases[f"bce_weighted_{reduction}"],
          lambda x, target, weight, pos_weight: F.binary_cross_entropy_with_logits(
              x, target, weight=weight, pos_weight=pos_weight, reduction=reduction), ["x", "target"])


@pytest.mark.parametrize("case", ["bn4_train", "bn4_eval", "bn2_train", "bn2_eval"])
def test_batch_norm(case):
    c = load("batch_norm")[case]
    running_mean, running_var = c["running_mean_before"].copy(), md.tensor(c["running_var_before"])
    check(c, lambda x, weight, bias: F.batch_norm(x, running_mean, running_var, weight, bias,
                                                  training=case.endswith("train"), momentum=0.2, eps=1e-4),
          ["x", "weight", "bias"])
    # updated in place, on an array and on a Tensor alike (evaluation leaves them as they were)
    np.testing.assert_allclose(running_mean, c["running_mean_after"], **TOL)
    np.testing.assert_allclose(running_var.numpy(), c["running_var_after"], **TOL)
