"""Write the golden files for the losses and normalization (tests/support/golden/loss_*.npz) from PyTorch.

Run by hand, in a side environment that has PyTorch (never a dependency of minidense):

    python3 -m venv /tmp/torchenv_loss && /tmp/torchenv_loss/bin/pip install torch==2.13.0 numpy
    /tmp/torchenv_loss/bin/python tests/support/golden/make_golden_loss.py

Everything is float64. Each case is stored as ``<case>__<field>``: the inputs, the output
``out`` and the gradients ``grad_<input>`` of ``sum(out * upstream)`` (``upstream`` is stored
too). PyTorch has no scale-invariant or cosine-normal loss: they are written here from torch
primitives, with the same definitions as minidense's docstrings, and torch autograd gives the
gradients. tests/ops/test_golden_loss.py compares minidense against these files.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REDUCTIONS = ("mean", "sum", "none")
gen = np.random.default_rng(2024)


def run(fn, inputs, grad_of, **kwargs):
    """fn(**tensors, **kwargs) in torch; returns inputs, out, upstream and the gradients asked for."""
    tensors = {k: torch.tensor(v, requires_grad=k in grad_of) for k, v in inputs.items()}
    out = fn(**tensors, **kwargs)
    upstream = gen.standard_normal(tuple(out.shape))
    (out * torch.tensor(upstream)).sum().backward()
    record = dict(inputs, out=out.detach().numpy(), upstream=upstream)
    record.update({f"grad_{k}": tensors[k].grad.numpy() for k in grad_of})
    return record


def save(name, cases):
    flat = {f"{case}__{field}": np.asarray(v) for case, rec in cases.items() for field, v in rec.items()}
    np.savez_compressed(os.path.join(HERE, f"loss_{name}.npz"), **flat)


def labels(shape, n_classes, ignore=None, frac=0.25):
    t = gen.integers(0, n_classes, shape)
    if ignore is not None:
        t[gen.random(shape) < frac] = ignore
    return t.astype(np.int64)


def softmax_cases():
    x = gen.standard_normal((2, 4, 3, 3)) * 3
    return {"log_softmax": run(lambda x: F.log_softmax(x, dim=1), {"x": x}, ["x"]),
            "softmax": run(lambda x: F.softmax(x, dim=1), {"x": x}, ["x"]),
            "log_softmax_dim2": run(lambda x: F.log_softmax(x, dim=2), {"x": x}, ["x"])}


def class_cases():
    cases = {}
    x4, x2 = gen.standard_normal((2, 5, 4, 3)) * 2, gen.standard_normal((6, 5)) * 2
    t4, t2 = labels((2, 4, 3), 5, ignore=255), labels((6,), 5, ignore=-100)
    w = gen.uniform(0.2, 2.0, 5)
    for r in REDUCTIONS:
        cases[f"ce4_{r}"] = run(lambda x, target, weight: F.cross_entropy(x, target, weight, ignore_index=255,
                                                                          reduction=r),
                                {"x": x4, "target": t4, "weight": w}, ["x"])
        cases[f"ce4_noweight_{r}"] = run(lambda x, target: F.cross_entropy(x, target, ignore_index=255,
                                                                           reduction=r),
                                         {"x": x4, "target": t4}, ["x"])
        cases[f"ce2_{r}"] = run(lambda x, target, weight: F.cross_entropy(x, target, weight, reduction=r),
                                {"x": x2, "target": t2, "weight": w}, ["x"])
        logp = F.log_softmax(torch.tensor(x4), dim=1).numpy()
        cases[f"nll4_{r}"] = run(lambda x, target, weight: F.nll_loss(x, target, weight, ignore_index=255,
                                                                      reduction=r),
                                 {"x": logp, "target": t4, "weight": w}, ["x"])
    return cases


def masked(loss_none, mask, reduction):
    """A masked reduction from torch primitives: zeros at invalid pixels, mean over valid ones."""
    loss = torch.where(mask, loss_none, torch.zeros_like(loss_none))
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / mask.expand_as(loss).sum()


def depth_cases():
    cases = {}
    pred, target = gen.uniform(0.5, 3, (2, 1, 4, 5)), gen.uniform(0.5, 3, (2, 1, 4, 5))
    target[0, 0, 0, :2] = pred[0, 0, 0, :2] + np.array([0.3, -0.6])   # a few inside smooth L1's quadratic zone
    mask = gen.random((2, 4, 5)) < 0.7
    losses = {"l1": F.l1_loss, "mse": F.mse_loss, "smooth_l1": F.smooth_l1_loss,
              "smooth_l1_beta05": lambda a, b, reduction: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.5)}
    for name, fn in losses.items():
        for r in REDUCTIONS:
            cases[f"{name}_{r}"] = run(lambda pred, target: fn(pred, target, reduction=r),
                                       {"pred": pred, "target": target}, ["pred", "target"])
            cases[f"{name}_masked_{r}"] = run(
                lambda pred, target, mask: masked(fn(pred, target, reduction="none"), mask[:, None], r),
                {"pred": pred, "target": target, "mask": mask}, ["pred", "target"])

    def si_log(pred, target, mask, lam, eps=1e-6):
        valid = mask[:, None].expand_as(pred)
        g = torch.log(pred.clamp_min(eps)) - torch.log(target.clamp_min(eps))
        g = torch.where(valid, g, torch.zeros_like(g))
        n = valid.sum(dim=(1, 2, 3)).to(pred.dtype)
        per_image = (g * g).sum(dim=(1, 2, 3)) / n.clamp_min(1) - lam * (g.sum(dim=(1, 2, 3)) / n.clamp_min(1)) ** 2
        return per_image.sum() / (n > 0).sum()

    p_small = pred.copy()
    p_small[1, 0, 1, 1] = 1e-8     # below the floor: floored, zero gradient
    mask3 = mask.copy()
    mask3[1] = False               # an image without valid pixels is left out of the mean
    for lam in (0.5, 1.0):
        cases[f"silog_lam{lam}"] = run(lambda pred, target, mask: si_log(pred, target, mask, lam),
                                       {"pred": p_small, "target": target, "mask": mask}, ["pred", "target"])
    cases["silog_emptyimage"] = run(lambda pred, target, mask: si_log(pred, target, mask, 0.5),
                                    {"pred": pred, "target": target, "mask": mask3}, ["pred", "target"])
    return cases


def normal_cases():
    cases = {}
    pred, target = gen.standard_normal((2, 3, 4, 3)), gen.standard_normal((2, 3, 4, 3))
    mask = gen.random((2, 4, 3)) < 0.7
    cases["normalize"] = run(lambda x: F.normalize(x, dim=1), {"x": pred}, ["x"])
    for r in REDUCTIONS:
        def cos_loss(pred, target, mask):
            cos = (F.normalize(pred, dim=1) * F.normalize(target, dim=1)).sum(dim=1)
            return masked(1 - cos, mask, r)
        cases[f"cosine_{r}"] = run(cos_loss, {"pred": pred, "target": target, "mask": mask}, ["pred", "target"])
    return cases


def bce_cases():
    cases = {}
    x = gen.standard_normal((2, 3, 4, 4)) * 3
    x[0, 0, 0, :2] = [30.0, -30.0]
    t = gen.random((2, 3, 4, 4))
    t[0, 0] = (t[0, 0] > 0.5)     # hard labels too
    w, pw = gen.uniform(0.5, 2, (3, 1, 1)), gen.uniform(0.5, 4, (3, 1, 1))
    for r in REDUCTIONS:
        cases[f"bce_{r}"] = run(lambda x, target: F.binary_cross_entropy_with_logits(x, target, reduction=r),
                                {"x": x, "target": t}, ["x", "target"])
        cases[f"bce_weighted_{r}"] = run(
            lambda x, target, weight, pos_weight: F.binary_cross_entropy_with_logits(
                x, target, weight=weight, pos_weight=pos_weight, reduction=r),
            {"x": x, "target": t, "weight": w, "pos_weight": pw}, ["x", "target"])
    return cases


def batch_norm_cases():
    cases = {}
    for name, shape in (("bn4", (3, 2, 4, 3)), ("bn2", (5, 4))):
        c = shape[1]
        x = gen.standard_normal(shape) * 2 + 1
        w, b = gen.uniform(0.5, 2, c), gen.standard_normal(c)
        rm0, rv0 = gen.standard_normal(c), gen.uniform(0.5, 2, c)
        for training in (True, False):
            rm, rv = torch.tensor(rm0.copy()), torch.tensor(rv0.copy())
            rec = run(lambda x, weight, bias: F.batch_norm(x, rm, rv, weight, bias, training=training,
                                                           momentum=0.2, eps=1e-4),
                      {"x": x, "weight": w, "bias": b}, ["x", "weight", "bias"])
            rec.update(running_mean_before=rm0, running_var_before=rv0,
                       running_mean_after=rm.numpy(), running_var_after=rv.numpy())
            cases[f"{name}_{'train' if training else 'eval'}"] = rec
    return cases


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    save("softmax", softmax_cases())
    save("class", class_cases())
    save("depth", depth_cases())
    save("normals", normal_cases())
    save("bce", bce_cases())
    save("batch_norm", batch_norm_cases())
    print("wrote", sorted(f for f in os.listdir(HERE) if f.startswith("loss_")))
