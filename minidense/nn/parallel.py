"""DataParallel: a network's forward and backward on parts of the batch at the same time, one thread each.

    model = nn.DataParallel(UNet(3, 5))     # then as the UNet itself: model(x), loss.backward(), opt.step()

On a CPU, NumPy runs every pass over memory (im2col's copies, ReLU, pooling) on one core, and the engine's
Python on one; only BLAS's products use them all. Splitting the batch instead (PyTorch's ``nn.DataParallel``
splits it between GPUs) puts all of a step's work on every core: each thread runs the network on its images,
with its products on one BLAS thread (NumPy lets go of Python's lock inside its loops and products).

How: the first call makes one replica of the module per thread (``copy.deepcopy``, its parameters and
buffers sharing the module's arrays: no weight is copied). Each replica runs on a slice of the batch; the
outputs are joined along axis 0 by one op (``_Join``) whose backward runs the replicas' backward passes at
the same time, then hands the engine x's gradient and each parameter's, summed over the slices. So the
result is the module's own on the whole batch (the sums in another order: float64 within 1e-10, tested),
and ``loss.backward()`` and the optimizer see the module's parameters as usual.

It calls the module itself, on the whole batch, where splitting would change the answer or cannot pay:
the fast paths off (``md.fast_paths(False)``: the kits), one thread (``md.set_num_threads``), a batch of one,
inside another DataParallel's slice,
arrays not on the CPU, a BLAS whose threads cannot be set (only OpenBLAS's can: NumPy's wheels), a
BatchNorm2d or Dropout in training mode (batch statistics and random masks depend on the slicing), or a
forward hook anywhere in the module. The module must take one batched tensor and return one, treat each
image on its own (what it computes for one image must not depend on the others) and draw no random numbers
outside Dropout layers: a module it cannot see into (a functional dropout, a statistic over the batch) would
give another answer in slices.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .. import backend
from ..ops import fastpaths, parallel
from ..tensor import Function, Grads, Tensor
from .layers import BatchNorm2d, Dropout
from .module import Module, Parameter

__all__ = ["DataParallel"]


def _run_slices(fn: Callable[[int], None], parts: int) -> None:
    """fn(0), ..., fn(parts - 1) at once on the threads, each with its products on one BLAS thread, the
    caller's NumPy error settings (np.errstate holds for the calling thread only) and 1/parts of the column
    block budget (the threads' columns together as large as one thread's: peak memory stays the module's)."""
    np = backend.numpy
    settings = np.geterr()

    def with_settings(i: int) -> None:
        with np.errstate(**settings), fastpaths.budget_share(parts):
            fn(i)

    with parallel.blas_threads(1):
        parallel.run_apart(with_settings, range(parts))


class _Join(Function):
    """The replicas' outputs joined along axis 0: inputs (x, *the module's parameters), the replicas' outputs
    (each with its own graph back to its slice of x and its own parameters) as params."""

    def forward(self, x: Any, *weights: Any, outputs: list[Tensor], slices: list[Tensor],
                replicas: list[list[Parameter]]) -> Any:
        self.outputs, self.slices, self.replicas = outputs, slices, replicas
        return backend.get_array_module(x).concatenate([o.data for o in outputs], axis=0)

    def backward(self, grad: Any) -> Grads:
        """grad: the joined output's shape -> (x's gradient, one per parameter: the slices' sum)."""
        bounds = [0]
        for o in self.outputs:
            bounds.append(bounds[-1] + o.shape[0])

        def backward_slice(i: int) -> None:
            if self.outputs[i].requires_grad:   # retain_graph: they go when the outer backward frees this op
                self.outputs[i].backward(grad[bounds[i]:bounds[i + 1]], retain_graph=True)

        _run_slices(backward_slice, len(self.outputs))
        xp = backend.get_array_module(grad)
        gx = None
        if self.needs_input_grad[0]:
            gx = xp.concatenate([s.grad if s.grad is not None else xp.zeros_like(s.data) for s in self.slices])
        grads: list[Any] = [gx]
        for j in range(len(self.parents) - 1):
            parts: list[Any] = [r[j].grad for r in self.replicas if r[j].grad is not None]
            for r in self.replicas:
                r[j].grad = None
            grads.append(sum(parts[1:], start=parts[0]) if parts else None)
        for s in self.slices:
            s.grad = None
        return tuple(grads)


class DataParallel(Module):
    """``module`` run on parts of the batch at the same time, one thread per part (see the module's text).

    module: a Module that takes one tensor of shape (N, ...) and returns one of shape (N, ...). Its state_dict
    keys get the prefix ``module.``, as PyTorch's DataParallel's do.
    """

    def __init__(self, module: Module) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: module must be a Module, got {type(module).__name__}")
        self.module = module
        object.__setattr__(self, "_replicas", [])        # not submodules: no state_dict entries, no parameters
        object.__setattr__(self, "_walks", [])           # per replica: (its modules, parameters, buffers), walked once
        object.__setattr__(self, "_replicated", None)    # what the replicas were made from (see _replicas_for)

    def forward(self, x: Tensor) -> Tensor:
        modules = list(self.module.modules())   # walked once per call: _parts and _replicas_for read it
        parts = self._parts(x, modules)
        if parts < 2:
            return self.module(x)
        n = x.shape[0]
        bounds = [n * k // parts for k in range(parts + 1)]
        slices = [Tensor(x.data[a:b], requires_grad=x.requires_grad) for a, b in zip(bounds[:-1], bounds[1:])]
        params, replicas, replica_params = self._replicas_for(parts, modules)
        outputs: list[Any] = [None] * parts

        def forward_slice(i: int) -> None:
            outputs[i] = replicas[i](slices[i])

        _run_slices(forward_slice, parts)
        for i, out in enumerate(outputs):
            size = slices[i].shape[0]
            if not isinstance(out, Tensor) or out.ndim == 0 or out.shape[0] != size:
                got = type(out).__name__ if not isinstance(out, Tensor) else f"a Tensor of shape {out.shape}"
                raise TypeError(f"DataParallel: the module must return one Tensor whose axis 0 is the batch's "
                                f"(here {size}), got {got}")
        return _Join.apply(x, *params, outputs=outputs, slices=slices, replicas=replica_params)

    def _parts(self, x: Tensor, modules: list[Module]) -> int:
        """How many slices to run at once: 1 (the module itself) where splitting would change or cannot pay."""
        if not fastpaths.enabled() or not isinstance(x, Tensor) or x.ndim == 0 or x.device != "cpu":
            return 1
        if parallel.in_piece():   # a DataParallel inside another's slice: the threads are taken
            return 1
        parts = min(parallel.get_num_threads(), x.shape[0])
        if parts < 2 or not parallel.blas_threads.available():
            return 1
        for m in modules:
            if m._forward_hooks or (m.training and isinstance(m, (BatchNorm2d, Dropout))):
                return 1
        return parts

    def _replicas_for(self, parts: int,
                      modules: list[Module]) -> tuple[list[Parameter], list[Module], list[list[Parameter]]]:
        """(the module's parameters, ``parts`` replicas, each replica's parameters): the replicas' parameters and
        buffers pointing at the module's arrays now (an optimizer may have put new ones in), their modes the
        module's. Made again when the module's modules, parameters or buffers changed."""
        params, buffers = list(self.module.parameters()), list(self.module.buffers())
        made_from = tuple(map(id, [*modules, *params, *buffers]))
        if self._replicated != made_from or len(self._replicas) < parts:
            shared = {id(t.data): t.data for t in [*params, *buffers]}
            self._replicas[:] = [copy.deepcopy(self.module, dict(shared)) for _ in range(parts)]
            self._walks[:] = [(list(r.modules()), list(r.parameters()), list(r.buffers())) for r in self._replicas]
            object.__setattr__(self, "_replicated", made_from)
        for mine_modules, mine_params, mine_buffers in self._walks[:parts]:
            for mine, theirs in zip(mine_modules, modules):
                object.__setattr__(mine, "training", theirs.training)
            for mine_t, theirs_t in zip([*mine_params, *mine_buffers], [*params, *buffers]):
                mine_t.data, mine_t.requires_grad, mine_t.grad = theirs_t.data, theirs_t.requires_grad, None
        return params, self._replicas[:parts], [walk[1] for walk in self._walks[:parts]]
