"""Argument and input checks shared by the models (run before any work, as everywhere in minidense)."""

from ..tensor import Tensor


def choice(owner, name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return value


def flag(owner, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return value


def images(owner, x, channels, multiple=1, why=""):
    """Check a model's input: a floating-point (N, C, H, W) Tensor with ``channels`` channels and H, W
    multiples of ``multiple`` (``why`` says where that multiple comes from, e.g. "3 poolings by 2")."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{owner}: input must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{owner}: input must be floating-point, got dtype {x.dtype}")
    if x.shape[1] != channels:
        raise ValueError(f"{owner}: input has {x.shape[1]} channels (shape {tuple(x.shape)}) but the model was "
                         f"built with in_channels={channels}")
    h, w = x.shape[2:]
    if h % multiple or w % multiple:
        raise ValueError(f"{owner}: input height and width must be multiples of {multiple}"
                         f"{' (' + why + ')' if why else ''}, got {h}x{w}")
