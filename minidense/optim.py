"""Optimizers and learning-rate schedules with PyTorch's names, arguments and update rules.

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = CosineAnnealingLR(opt, T_max=epochs)
    for epoch in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        sched.step()

Updates are written in place into each parameter's array (``param.data``), so the model sees them and the
dtype stays float32. A parameter whose ``.grad`` is None is skipped (it took no part in the loss).

Checkpoints: ``state_dict()`` holds only NumPy arrays and JSON-able numbers / lists / dicts (no pickle):
``{"state": {index: {"step": int, "exp_avg": array, ...}}, "param_groups": [{"lr": ..., "params": [0, 1]}]}``,
PyTorch's layout, where ``index`` counts the parameters in order over all groups. ``load_state_dict`` also
accepts the indices as strings (what JSON gives back) and restores arrays to each parameter's device and dtype.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any, Union

from . import _checks, backend
from .backend import Array
from .tensor import Tensor

# A parameter group: {"params": [Tensor, ...], "lr": ..., other options} (its options differ per optimizer).
ParamGroup = dict[str, Any]
# What an optimizer is built on: parameters (``model.parameters()``), or parameter groups.
Params = Union[Iterable[Tensor], Iterable[ParamGroup]]


def _number(owner: str, name: str, value: float, low: float = 0.0, high: float = math.inf,
            high_open: bool = False) -> float:
    """A float in [low, high] (or [low, high)), else a ValueError naming owner and argument."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not (
            low <= value and (value < high if high_open else value <= high)):
        rng = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        raise ValueError(f"{owner}: {name} must be a number in {rng}, got {value!r}")
    return float(value)


class Optimizer:
    """Holds parameter groups (lists of parameters with their own options) and per-parameter state."""

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[int, dict[str, Any]] = {}           # id(param) -> dict of arrays and numbers
        self.param_groups: list[ParamGroup] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Parameters or of dicts, "
                            "got a single Tensor (wrap it in a list)")
        groups: list[Any] = list(params)   # Tensors, or parameter groups
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: ParamGroup) -> None:
        """Add {"params": [...], option: value, ...}; options left out take the optimizer's defaults."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key, got {group!r}")
        params = [group["params"]] if isinstance(group["params"], Tensor) else list(group["params"])
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{name}: params[{i}] must be a Tensor with requires_grad=True, "
                                f"got {type(p).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears in more than one group (or twice in one)")
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise TypeError(f"{name}: unknown option(s) {sorted(unknown)} in a parameter group; "
                            f"expected some of {sorted(self.defaults)}")
        full = dict(self.defaults)
        full.update({k: v for k, v in group.items() if k != "params"})
        self._check_options(full)
        full["params"] = params
        self.param_groups.append(full)

    def _check_options(self, group: ParamGroup) -> None:
        pass

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Set every parameter's ``.grad`` to None (backward then writes a fresh gradient)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient.

        closure: optional function that clears the gradients, recomputes the loss, calls backward and returns
        the loss (PyTorch's convention); its loss is returned.
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    grad = p.grad.data if isinstance(p.grad, Tensor) else p.grad
                    self._update(p, grad, self.state.setdefault(id(p), {}), group)
        return loss

    def _update(self, p: Tensor, grad: Array, state: dict[str, Any], group: ParamGroup) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ checkpoints
    def _all_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout, arrays copied to NumPy; see the module docstring."""
        index = {id(p): i for i, p in enumerate(self._all_params())}
        state: dict[int, dict[str, Any]] = {}
        for p in self._all_params():
            if self.state.get(id(p)):
                state[index[id(p)]] = {k: backend.to_numpy(v).copy() if backend.is_array(v) else v
                                       for k, v in self.state[id(p)].items()}
        groups = []
        for group in self.param_groups:
            g = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items() if k != "params"}
            g["params"] = [index[id(p)] for p in group["params"]]
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state saved by :meth:`state_dict` (from an optimizer over same-shaped parameters)."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}: expected a dict with keys 'state' and 'param_groups', "
                             f"got {type(state_dict).__name__}"
                             + (f" with keys {sorted(state_dict)}" if isinstance(state_dict, dict) else ""))
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}: group {i} has {len(saved['params'])} parameters in the state dict "
                                 f"but {len(group['params'])} here")
        params = self._all_params()
        by_index = {int(i): s for i, s in state_dict["state"].items()}
        new_state: dict[int, dict[str, Any]] = {}
        for i, saved in by_index.items():
            if not 0 <= i < len(params):
                raise ValueError(f"{name}: state for parameter {i}, but there are only {len(params)} parameters")
            p = params[i]
            entry: dict[str, Any] = {}
            for key, value in saved.items():
                if backend.is_array(value) and value.ndim > 0:
                    if tuple(value.shape) != tuple(p.shape):
                        raise ValueError(f"{name}: state {key!r} of parameter {i} has shape {tuple(value.shape)}, "
                                         f"the parameter has shape {tuple(p.shape)}")
                    value = backend.xp_for(p.device).array(backend.to_device(value, p.device), dtype=p.dtype)
                elif backend.is_array(value):   # a 0-d array (e.g. from np.savez): back to a number
                    value = value.item()
                entry[key] = value
            new_state[id(p)] = entry
        # every check passed: now replace options and state
        for saved, group in zip(saved_groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = tuple(v) if isinstance(v, list) else v
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay.

    PyTorch's rule, per parameter p with gradient g:
        g = g + weight_decay·p
        b = g (first step), then b = momentum·b + (1 - dampening)·g
        g = g + momentum·b (nesterov) or g = b
        p = p - lr·g
    """

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _check_options(self, g: ParamGroup) -> None:
        for key in ("lr", "momentum", "dampening", "weight_decay"):
            g[key] = _number("SGD", key, g[key])
        g["nesterov"] = bool(g["nesterov"])
        if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={g['momentum']}, dampening={g['dampening']}")

    def _update(self, p: Tensor, grad: Array, state: dict[str, Any], group: ParamGroup) -> None:
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        momentum = group["momentum"]
        if momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            buf = state["momentum_buffer"]
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= group["lr"] * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule; weight_decay here is L2 added to the gradient (see AdamW).

        g = g + weight_decay·p;  t += 1
        m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
        p = p - lr / (1-β1^t) · m / (sqrt(v) / sqrt(1-β2^t) + eps)
    """

    _decoupled = False

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _check_options(self, g: ParamGroup) -> None:
        name = type(self).__name__
        g["lr"] = _number(name, "lr", g["lr"])
        g["eps"] = _number(name, "eps", g["eps"])
        g["weight_decay"] = _number(name, "weight_decay", g["weight_decay"])
        betas = g["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        g["betas"] = tuple(_number(name, f"betas[{i}]", b, 0.0, 1.0, high_open=True) for i, b in enumerate(betas))

    def _update(self, p: Tensor, grad: Array, state: dict[str, Any], group: ParamGroup) -> None:
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd != 0:
            if self._decoupled:   # AdamW: shrink the weights directly, apart from the gradient statistics
                p.data *= 1 - lr * wd
            else:
                grad = grad + wd * p.data
        if "step" not in state:
            xp = backend.get_array_module(p.data)
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        step_size = lr / (1 - beta1 ** t)
        denom = backend.get_array_module(v).sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
        p.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p = p·(1 - lr·weight_decay), then Adam's step."""

    _decoupled = True

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


# ---------------------------------------------------------------- learning-rate schedules
class LRScheduler:
    """Sets each group's ``lr`` from its ``initial_lr`` and the epoch count; call ``step()`` once per epoch.

    Built on an optimizer, it records each group's lr as ``initial_lr`` and sets epoch 0's lr.
    The closed form of each schedule is used, so the lr depends only on the epoch count.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            if last_epoch == -1:
                group["initial_lr"] = group["lr"]
            elif "initial_lr" not in group:
                raise ValueError(f"{type(self).__name__}: resuming with last_epoch={last_epoch} needs "
                                 "'initial_lr' in every parameter group")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = float(self.lr_at(base, self.last_epoch))

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer: numbers and lists only."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        unknown = set(state_dict) - set(self.state_dict())
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unknown keys {sorted(unknown)}")
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """lr = initial_lr · gamma^(epoch // step_size): decay by gamma every step_size epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = _checks.positive_int("StepLR", "step_size", step_size)
        self.gamma = _number("StepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min)·(1 + cos(π·epoch / T_max)) / 2: from initial_lr down to eta_min at T_max.

    (Past T_max the cosine goes on, back up, as PyTorch's closed form.)
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = _checks.positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = _number("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
