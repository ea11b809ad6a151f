"""Module and Parameter: how a network holds its weights, as in ``torch.nn``.

A Module registers every Parameter, buffer and sub-Module assigned to it, in
assignment order, so that ``named_parameters()`` and ``state_dict()`` give
PyTorch's dotted names (``encoder.0.weight``) in a deterministic order::

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.conv = Conv2d(3, 8, 3, padding=1)   # registered as child "conv"
            self.scale = Parameter(md.ones(1).data)  # registered as parameter "scale"

        def forward(self, x):
            return self.conv(x) * self.scale

Parameters are what the optimizer updates; buffers (BatchNorm's running
statistics) are saved in the state dict but get no gradient.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, NamedTuple, TypeVar, overload

from .. import backend
from ..backend import Array, DTypeLike
from ..tensor import Tensor
from .summary import Pair, summary

_M = TypeVar("_M", bound="Module")


class Parameter(Tensor):
    """A Tensor that a Module registers as a weight (``requires_grad=True`` by default).

    data: an array, or a Tensor whose array is taken over (not copied).
    """

    def __init__(self, data: Array | Tensor, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if not backend.is_array(data):
            raise TypeError(f"Parameter: data must be an array or a Tensor, got {type(data).__name__}")
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What load_state_dict returns: the keys the model has and the state dict lacks, and the other way round."""
    missing_keys: list[str]
    unexpected_keys: list[str]


# A forward hook: hook(module, inputs, output) -> None, or a replacement output.
Hook = Callable[["Module", tuple[Any, ...], Any], Any]


class _HookHandle:
    """Returned by ``register_forward_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: dict[int, Hook], key: int) -> None:
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


class Module:
    """Base class of every layer and network: subclasses set attributes in ``__init__`` and define ``forward``."""

    _next_hook_id = 0

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def _check_init(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: cannot assign {name!r} before Module.__init__() "
                                 "is called (call super().__init__() first in your __init__)")

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, Parameter):
            self._check_init(name)
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_init(name)
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter "
                                f"{name!r} (expected a Parameter or None)")
            self._parameters[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer "
                                f"{name!r} (expected a Tensor or None)")
            self._buffers[name] = value
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to child module "
                                f"{name!r} (expected a Module or None)")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict[str, Any] | None = None) -> None:
        """Drop ``name`` from every registry (but ``keep``, where a reassignment keeps its place) and __dict__."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:   # only called when normal lookup fails
        for registry in ("_parameters", "_buffers", "_modules"):
            found = self.__dict__.get(registry)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if any(name in self.__dict__.get(r, ()) for r in ("_parameters", "_buffers", "_modules")):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter, or None for an absent one such as ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: param must be a Parameter or None, got {type(param).__name__}")
        self._check_init(name)
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a Tensor that is saved in the state dict (when persistent) but is not a parameter."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: tensor must be a Tensor or None, got {type(tensor).__name__}")
        self._check_init(name)
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: module must be a Module or None, got {type(module).__name__}")
        self._check_init(name)
        self._forget(name)
        self._modules[str(name)] = module

    register_module = add_module

    # ------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:   # what forward returns (a Tensor, for the layers)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, hook: Hook) -> _HookHandle:
        """Call ``hook(module, inputs, output)`` after every forward; returns a handle with ``remove()``."""
        Module._next_hook_id += 1
        self._forward_hooks[Module._next_hook_id] = hook
        return _HookHandle(self._forward_hooks, Module._next_hook_id)

    # ------------------------------------------------------------ walking the tree
    def named_modules(self, prefix: str = "", memo: set[int] | None = None) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ("") and every descendant, each once, parents first."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules: Iterable[tuple[str, Module]] = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, mod in modules:
            for name, value in getattr(mod, registry).items():
                if value is None or id(value) in seen:   # a shared weight is listed once
                    continue
                seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs, PyTorch's names (``encoder.0.weight``)."""
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self: _M, fn: Callable[[Module], object]) -> _M:
        """Call ``fn(module)`` on every descendant (children first) and on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and gradients
    def train(self: _M, mode: bool = True) -> _M:
        """Training mode (Dropout drops, BatchNorm uses batch statistics) for self and all descendants."""
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be True or False, got {mode!r}")
        object.__setattr__(self, "training", mode)
        for child in self.children():   # through child.train, so a subclass may override it
            child.train(mode)
        return self

    def eval(self: _M) -> _M:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``.grad = None``, which backward then fills afresh)."""
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self: _M, requires_grad: bool = True) -> _M:
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------ state dict
    def state_dict(self) -> OrderedDict[str, Any]:
        """An ordered dict: dotted name -> NumPy array (a copy), parameters then buffers, module by module.

        The keys and shapes are PyTorch's, so ``{k: torch.from_numpy(v) for k, v in sd.items()}`` loads
        into the same PyTorch network.
        """
        out: OrderedDict[str, Any] = OrderedDict()   # NumPy arrays
        for mod_name, mod in self.named_modules():
            prefix = f"{mod_name}." if mod_name else ""
            for name, p in mod._parameters.items():
                if p is not None:
                    out[prefix + name] = backend.to_numpy(p.data).copy()
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent:
                    out[prefix + name] = backend.to_numpy(b.data).copy()
        return out

    def _state_tensors(self) -> OrderedDict[str, Tensor]:
        """name -> the Tensor that holds it (what state_dict copies out and load_state_dict writes into)."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        for mod_name, mod in self.named_modules():
            prefix = f"{mod_name}." if mod_name else ""
            out.update((prefix + n, p) for n, p in mod._parameters.items() if p is not None)
            out.update((prefix + n, b) for n, b in mod._buffers.items()
                       if b is not None and n not in mod._non_persistent)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Array | Tensor], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (NumPy, CuPy or Tensors) into the parameters and buffers, in place.

        Values are cast to each tensor's dtype and device. With ``strict`` a missing or unexpected key is
        an error; a shape mismatch always is. Returns (missing_keys, unexpected_keys).
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"{type(self).__name__}.load_state_dict: state_dict must be a dict of arrays, "
                            f"got {type(state_dict).__name__}")
        targets = self._state_tensors()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if strict and (missing or unexpected):
            raise ValueError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                             f"unexpected keys {unexpected}")
        new_values: dict[str, Array] = {}
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            value = value.data if isinstance(value, Tensor) else value
            if not backend.is_array(value):
                raise TypeError(f"{type(self).__name__}.load_state_dict: {key!r} must be an array, "
                                f"got {type(value).__name__}")
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"{type(self).__name__}.load_state_dict: {key!r} has shape {tuple(value.shape)} "
                                 f"in the state dict but the model expects {tuple(target.shape)}")
            new_values[key] = value
        # every check passed: only now change anything, so a failed load leaves the model as it was
        for key, value in new_values.items():
            target = targets[key]
            xp = backend.get_array_module(target.data)
            target.data = xp.array(backend.to_device(value, target.device), dtype=target.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ devices and dtypes
    def to(self: _M, device: str | None = None, dtype: DTypeLike | None = None) -> _M:
        """Move (and/or cast) parameters and buffers in place; returns self.

        ``to("cuda")``, ``to(dtype="float64")`` or ``to("cpu", "float64")``. Only floating-point tensors
        change dtype (BatchNorm's ``num_batches_tracked`` stays an integer). Parameters keep their identity,
        so an optimizer built before the move still updates them.
        """
        if device is not None and not _is_device_name(device):
            device, dtype = None, device   # to(np.float64): the single argument was a dtype
        device = backend.check_device(device) if device is not None else None
        for t in list(self.parameters()) + list(self.buffers()):
            self._move(t, device, dtype)
            if t.grad is not None:
                holder = Tensor(t.grad)
                self._move(holder, device, dtype)
                t.grad = holder.data
        return self

    @staticmethod
    def _move(t: Tensor, device: str | None, dtype: DTypeLike | None) -> None:
        data = t.data
        if device is not None and backend.device_of(data) != device:
            data = backend.to_device(data, device)
        if dtype is not None and data.dtype.kind == "f":
            data = data.astype(dtype, copy=False)
        t.data = data

    def cpu(self: _M) -> _M:
        return self.to("cpu")

    def cuda(self: _M) -> _M:
        return self.to("cuda")

    def float(self: _M) -> _M:
        return self.to(dtype=backend.default_dtype)

    def double(self: _M) -> _M:
        return self.to(dtype="float64")

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr line (its settings)."""
        return ""

    def __repr__(self) -> str:
        children = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self.named_children()]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = (self.extra_repr().split("\n") if self.extra_repr() else []) + children
        return f"{type(self).__name__}(\n" + "".join(f"  {line}\n" for line in lines) + ")"

    def summary(self, input_size: tuple[int, ...],
                print_fn: Callable[[str], object] = print) -> list[dict[str, Any]]:
        """Print a table of each layer's output shape, parameters and receptive field; see :func:`summary`."""
        return summary(self, input_size, print_fn=print_fn)

    # ------------------------------------------------------------ receptive field
    def _receptive_field(self, rf: Pair, jump: Pair, in_shape: tuple[int, ...],
                         out_shape: tuple[int, ...]) -> tuple[Pair | None, Pair | None]:
        """How this leaf changes (rf, jump), each a pair (rows, columns); see :func:`summary`. Default: unchanged."""
        return rf, jump


def _is_device_name(value: object) -> bool:
    return isinstance(value, str) and value.split(":")[0] in backend.DEVICES


# ---------------------------------------------------------------- containers
class _NumberedModules(Module):
    """Children named "0", "1", ...: length, iteration, indexing and append, shared by Sequential and ModuleList."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    @overload
    def __getitem__(self, index: int) -> Module:
        ...

    @overload
    def __getitem__(self: _M, index: slice) -> _M:
        ...

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return self._slice(index)
        n = len(self)
        if not isinstance(index, int) or not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index!r} out of range for {n} modules")
        return list(self._modules.values())[index]

    def append(self: _M, module: Module) -> _M:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.append: expected a Module, got {type(module).__name__}")
        self.add_module(str(len(self)), module)
        return self


class Sequential(_NumberedModules):
    """Modules applied one after another; children are named "0", "1", ... (PyTorch's state-dict keys).

    ``Sequential(a, b, c)`` or ``Sequential(OrderedDict(name=module, ...))``.
    """

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                if not isinstance(module, Module):
                    raise TypeError(f"Sequential: argument {i} must be a Module, got {type(module).__name__}")
                self.add_module(str(i), module)

    def _slice(self, index: slice) -> Sequential:   # a slice keeps the children's names, as PyTorch's does
        return Sequential(OrderedDict(list(self._modules.items())[index]))

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(_NumberedModules):
    """A list of modules whose parameters are registered (a plain Python list would hide them)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        for module in modules or ():
            self.append(module)

    def _slice(self, index: slice) -> ModuleList:   # a slice is numbered afresh
        return ModuleList(list(self._modules.values())[index])

    def extend(self: _M, modules: Iterable[Module]) -> _M:
        for module in modules:
            self.append(module)
        return self


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, in insertion order."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        for name, module in (modules or {}).items():
            self[name] = module

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: value for {key!r} must be a Module, got {type(module).__name__}")
        self.add_module(key, module)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> KeysView[str]:
        return self._modules.keys()

    def values(self) -> ValuesView[Module]:
        return self._modules.values()

    def items(self) -> ItemsView[str, Module]:
        return self._modules.items()
