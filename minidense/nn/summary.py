"""nn.summary: each layer's output shape, parameter count and receptive field, all computed by one forward pass."""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from .. import backend
from ..tensor import Tensor, no_grad

# (rows, columns) of a receptive field or of a jump, in input pixels
Pair = tuple[Fraction, ...]


def summary(model: Any, input_size: tuple[int, ...], print_fn: Callable[[str], object] = print) -> list[dict[str, Any]]:
    """Run one forward pass on zeros and print, per leaf layer: name, type, output shape, parameters, receptive field.

    input_size: (C, H, W) -- a batch of one is prepended -- or a full (N, C, H, W). Runs under no_grad in eval
    mode (so BatchNorm's running statistics do not move) and restores each module's mode afterwards.
    model: a Module (typed Any here: module.py imports this file, so this file cannot import it).
    Returns the rows, a list of dicts with keys name, type, output_shape, params, receptive_field, jump.

    Receptive field (in input pixels, per axis; one number when rows and columns agree) is tracked
    through the leaf layers **in the order they execute**, with ``jump`` the input-pixel distance
    between neighbouring positions of the current feature map (starting at rf = 1, jump = 1):

    - Conv2d / MaxPool2d / AvgPool2d (kernel k, stride s, dilation d): rf += (k-1)·d·jump; jump *= s.
    - ConvTranspose2d: an output reads at most ceil(k·g/s) inputs, d/g input steps apart (g = gcd(d, s)), so
      rf += (ceil(k·g/s) - 1)·(d/g)·jump; then jump /= s. (k=2, s=2: rf unchanged; k=4, s=2: one input step;
      s=1: (k-1)·d·jump, as a convolution.)
    - Upsample by s: jump /= s; bilinear also adds one input step (rf += old jump); nearest adds nothing.
    - MaxUnpool2d: jump /= s, rf unchanged (each output reads one input position).
    - Linear: its output sees every input pixel; rf is reported as None ("all") from there on.
    - Everything else (ReLU, BatchNorm2d, Dropout, Flatten...) leaves rf and jump unchanged.

    Values can be fractions after upsampling beyond the input's resolution. For a chain, or an encoder-decoder whose
    deepest path runs through every layer in execution order (FCN, U-Net: the skip paths are shorter),
    this is the receptive field of the output. Parallel branches executed one after another (ASPP-like)
    are added up, which overestimates: there it is an upper bound.
    """
    if not hasattr(model, "named_modules") or not callable(model):   # a Module (not imported: module.py imports us)
        raise TypeError(f"summary: model must be a Module, got {type(model).__name__}")
    if not isinstance(input_size, (tuple, list)) or not all(isinstance(n, int) and n > 0 for n in input_size):
        raise ValueError(f"summary: input_size must be a tuple of positive ints such as (3, 64, 64), "
                         f"got {input_size!r}")
    shape = tuple(input_size) if len(input_size) == 4 else (1, *input_size)
    first = next(model.parameters(), None)
    device, dtype = (first.device, first.dtype) if first is not None else ("cpu", backend.default_dtype)
    x = Tensor(backend.xp_for(device).zeros(shape, dtype=dtype))

    modes = {id(m): m.training for m in model.modules()}
    records: list[tuple[str, Any, tuple[Any, ...], Any]] = []
    handles = []
    for name, mod in model.named_modules():
        has_children = any(True for _ in mod.children())
        if not has_children or any(p is not None for p in mod._parameters.values()):
            hook = (lambda n: lambda m, args, out: records.append((n, m, args, out)))(name or type(mod).__name__)
            handles.append(mod.register_forward_hook(hook))
    model.eval()
    try:
        with no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        for m in model.modules():
            object.__setattr__(m, "training", modes[id(m)])

    rf: Pair | None = (Fraction(1), Fraction(1))
    jump: Pair | None = (Fraction(1), Fraction(1))
    rows = []
    for name, mod, args, out in records:
        in_shape = _first_shape(args)
        out_shape = _first_shape(out)
        if rf is not None:
            rf, jump = mod._receptive_field(rf, jump, in_shape, out_shape)
        rows.append({"name": name, "type": type(mod).__name__, "output_shape": _all_shapes(out),
                     "params": sum(p.size for p in mod._parameters.values() if p is not None),
                     "receptive_field": _show(rf), "jump": _show(jump)})
    total = sum(p.size for p in model.parameters())
    trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    _print_table(rows, total, trainable, shape, print_fn)
    return rows


def _first_shape(value: object) -> tuple[int, ...] | None:
    if isinstance(value, (tuple, list)):
        return _first_shape(value[0]) if value else None
    return tuple(value.shape) if hasattr(value, "shape") else None


def _all_shapes(value: object) -> Any:   # a shape, None, or a tuple of these (nested as value)
    if isinstance(value, (tuple, list)):
        return tuple(_all_shapes(v) for v in value)
    return tuple(value.shape) if hasattr(value, "shape") else None


def _show(pair: Pair | None) -> int | float | tuple[int | float, ...] | None:
    """A (rows, cols) pair of Fractions as one number when both agree; ints stay ints; None stays None."""
    if pair is None:
        return None
    vals = tuple(int(v) if v.denominator == 1 else float(v) for v in pair)
    return vals[0] if vals[0] == vals[1] else vals


def _print_table(rows: list[dict[str, Any]], total: int, trainable: int, shape: tuple[int, ...],
                 print_fn: Callable[[str], object]) -> None:
    head = ("Layer", "Type", "Output shape", "Params", "Receptive field")
    cells = [head] + [(r["name"], r["type"], str(r["output_shape"]), f"{r['params']:,}",
                       "all" if r["receptive_field"] is None else
                       (f"{r['receptive_field']:g}" if isinstance(r["receptive_field"], (int, float))
                        else str(r["receptive_field"]))) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    print_fn(f"Input shape: {shape}")
    print_fn(rule)
    for i, c in enumerate(cells):
        print_fn("  ".join(v.rjust(w) if j == 3 else v.ljust(w) for j, (v, w) in enumerate(zip(c, widths))).rstrip())
        if i == 0:
            print_fn(rule)
    print_fn(rule)
    print_fn(f"Total params: {total:,}  (trainable: {trainable:,})")
