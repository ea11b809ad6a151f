"""Optimizers against PyTorch's update rules written out independently here, and checkpoint round trips."""
import json
import math

import numpy as np
import pytest

import minidense as md
from minidense import optim
from minidense.nn import Parameter

GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.25, 0.75, 1.5]), np.array([1.0, 0.0, -3.0]),
         np.array([0.1, 0.2, -0.3])]
START = np.array([1.0, -2.0, 0.5])


def run(opt_cls, steps, **kw):
    p = Parameter(START.astype(np.float32))
    opt = opt_cls([p], **kw)
    for g in GRADS[:steps]:
        p.grad = g.astype(np.float32)
        opt.step()
    return p.data


def sgd_reference(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p, buf = START.copy(), None
    for g in GRADS:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
    return p


def adam_reference(lr, b1, b2, eps, weight_decay, decoupled):
    p, m, v = START.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.5),
                                dict(lr=0.1, momentum=0.8, nesterov=True), dict(lr=0.1, weight_decay=0.1),
                                dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)])
def test_sgd_matches_pytorch_rule(kw):
    got = run(optim.SGD, len(GRADS), **kw)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, sgd_reference(**kw), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,wd", [(optim.Adam, 0.0), (optim.Adam, 0.1), (optim.AdamW, 0.1), (optim.AdamW, 1e-2)])
def test_adam_and_adamw_match_pytorch_rule(cls, wd):
    got = run(cls, len(GRADS), lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=wd)
    assert got.dtype == np.float32
    want = adam_reference(0.01, 0.8, 0.99, 1e-6, wd, decoupled=cls is optim.AdamW)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_adam_first_step_moves_each_weight_by_lr():
    # with bias correction, the first step is lr · g / (|g| + eps): lr against the sign of g
    got = run(optim.Adam, 1, lr=0.01, eps=1e-12)
    np.testing.assert_allclose(got, START - 0.01 * np.sign(GRADS[0]), rtol=1e-6)


def test_adamw_default_weight_decay_differs_from_adam():
    assert not np.allclose(run(optim.AdamW, 3, lr=0.1), run(optim.Adam, 3, lr=0.1))


def test_params_without_grad_are_skipped_and_zero_grad_clears():
    a, b = Parameter(np.ones(2, dtype=np.float32)), Parameter(np.ones(2, dtype=np.float32))
    opt = optim.SGD([a, b], lr=1.0, momentum=0.9)
    a.grad = np.full(2, 0.5, dtype=np.float32)
    opt.step()
    np.testing.assert_array_equal(a.data, [0.5, 0.5])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_param_groups_have_their_own_lr():
    a, b = Parameter(np.zeros(1, dtype=np.float32)), Parameter(np.zeros(1, dtype=np.float32))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = b.grad = np.ones(1, dtype=np.float32)
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [-0.1, -0.5], rtol=1e-6)


def test_float32_is_kept_through_a_training_step():
    md.manual_seed(0)
    w = Parameter(md.randn(4, 3).data)
    x = md.randn(5, 4)
    for cls in (optim.SGD, optim.Adam, optim.AdamW):
        opt = cls([w], lr=0.1)
        (x @ w).sum().backward()
        opt.step()
        assert w.dtype == np.float32
        assert all(v.dtype == np.float32 for s in opt.state.values() for v in s.values() if hasattr(v, "dtype"))


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
                                  lambda ps: optim.Adam(ps, lr=0.01),
                                  lambda ps: optim.AdamW(ps, lr=0.01, betas=(0.5, 0.9))])
def test_checkpoint_round_trip_continues_bit_for_bit(make, tmp_path):
    gen = np.random.default_rng(1)
    grads = [[gen.standard_normal((3, 2)).astype(np.float32), gen.standard_normal(4).astype(np.float32)]
             for _ in range(6)]
    init = [gen.standard_normal((3, 2)).astype(np.float32), gen.standard_normal(4).astype(np.float32)]

    def step(params, opt, gs):
        for p, g in zip(params, gs):
            p.grad = g
        opt.step()

    params = [Parameter(a.copy()) for a in init]
    opt = make(params)
    for gs in grads[:3]:
        step(params, opt, gs)
    # save as a checkpoint writer would: arrays to npz, everything else to JSON
    sd = opt.state_dict()
    arrays = {f"{i}/{k}": v for i, s in sd["state"].items() for k, v in s.items() if isinstance(v, np.ndarray)}
    numbers = {str(i): {k: v for k, v in s.items() if not isinstance(v, np.ndarray)} for i, s in sd["state"].items()}
    np.savez(tmp_path / "opt.npz", **arrays)
    text = json.dumps({"param_groups": sd["param_groups"], "numbers": numbers})

    loaded_json = json.loads(text)
    with np.load(tmp_path / "opt.npz") as npz:
        state = {i: dict(nums) for i, nums in loaded_json["numbers"].items()}
        for key in npz.files:
            i, k = key.split("/")
            state[i][k] = npz[key]
    params2 = [Parameter(p.data.copy()) for p in params]
    opt2 = make(params2)   # a fresh optimizer: no state until loaded
    opt2.load_state_dict({"state": state, "param_groups": loaded_json["param_groups"]})
    for gs in grads[3:]:
        step(params, opt, gs)
        step(params2, opt2, gs)
    for p, q in zip(params, params2):
        np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_rejects_mismatches():
    opt = optim.Adam([Parameter(np.zeros(3, dtype=np.float32))], lr=0.1)
    other = optim.Adam([Parameter(np.zeros(4, dtype=np.float32))], lr=0.1)
    other.param_groups[0]["params"][0].grad = np.ones(4, dtype=np.float32)
    other.step()
    with pytest.raises(ValueError, match="exp_avg.*shape \\(4,\\).*\\(3,\\)"):
        opt.load_state_dict(other.state_dict())
    two = optim.Adam([Parameter(np.zeros(3, dtype=np.float32)), Parameter(np.zeros(3, dtype=np.float32))])
    with pytest.raises(ValueError, match="group 0 has 2 parameters"):
        opt.load_state_dict(two.state_dict())


@pytest.mark.parametrize("call,match", [
    (lambda p: optim.SGD(p, lr=-1), "SGD: lr must be"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), "Adam: betas\\[1\\] must be"),
    (lambda p: optim.AdamW(p, lr=0.1, eps=-1), "AdamW: eps must be"),
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
])
def test_bad_options_are_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call([Parameter(np.zeros(1, dtype=np.float32))])


def test_bad_params_are_rejected():
    with pytest.raises(TypeError, match="SGD: params\\[0\\] must be a Tensor with requires_grad"):
        optim.SGD([md.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(Parameter(np.zeros(1, dtype=np.float32)), lr=0.1)


def make_opt(lr=1.0):
    return optim.SGD([Parameter(np.zeros(1, dtype=np.float32))], lr=lr)


def _lrs(opt, sched, epochs):
    """The learning rate of each epoch, stepping the schedule after each."""
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    return lrs


def test_step_lr():
    opt = make_opt(1.0)
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    lrs = _lrs(opt, sched, 8)
    np.testing.assert_allclose(lrs, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
    assert sched.last_epoch == 8 and sched.get_last_lr() == [0.25]
    sched.step()
    assert sched.get_last_lr() == [0.125]


def test_cosine_annealing_lr():
    opt = make_opt(0.1)
    sched = optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    lrs = _lrs(opt, sched, 5)
    want = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    np.testing.assert_allclose(lrs, want, rtol=1e-12)
    assert lrs[0] == pytest.approx(0.1) and lrs[2] == pytest.approx(0.055) and lrs[4] == pytest.approx(0.01)


def test_scheduler_state_round_trip_through_json():
    opt = make_opt(0.1)
    sched = optim.CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        sched.step()
    sd = json.loads(json.dumps(sched.state_dict()))
    opt2 = optim.SGD([Parameter(np.zeros(1, dtype=np.float32))], lr=0.1)
    opt2.load_state_dict(json.loads(json.dumps(opt.state_dict())))
    sched2 = optim.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(sd)
    for _ in range(4):
        sched.step()
        sched2.step()
        assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_scheduler_bad_arguments():
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive int, got 0"):
        optim.StepLR(make_opt(), step_size=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max"):
        optim.CosineAnnealingLR(make_opt(), T_max=-1)
    with pytest.raises(TypeError, match="StepLR: optimizer must be an Optimizer"):
        optim.StepLR([1, 2], step_size=1)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.05), lambda ps: optim.AdamW(ps, lr=0.05)])
def test_optimizers_fit_a_linear_layer(make):
    from minidense import nn
    md.manual_seed(0)
    x = md.randn(64, 3)
    y = x @ md.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    model = nn.Linear(3, 1)
    opt = make(model.parameters())

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    first = closure().item()
    for _ in range(200):
        last = opt.step(closure).item()
    assert last < 0.01 * first
    np.testing.assert_allclose(model.weight.data[0], [1.0, -2.0, 0.5], atol=0.1)
