"""Networks as in ``torch.nn``: Module, Parameter, containers and layers.

    import minidense.nn as nn

    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(16, 4, 1))
    model.summary((3, 64, 64))        # output shape, parameters, receptive field per layer
    sd = model.state_dict()           # {"0.weight": array (16, 3, 3, 3), ..., "1.running_mean": ...}
"""
from .. import functional  # noqa: F401  (nn.functional, as torch.nn.functional)
from . import init  # noqa: F401
from .layers import (
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    MaxPool2d,
    MaxUnpool2d,
    ReLU,
    Upsample,
)
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .parallel import DataParallel
from .summary import summary

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "summary", "Linear", "Flatten",
           "Conv2d", "ConvTranspose2d", "MaxPool2d", "MaxUnpool2d", "Upsample", "BatchNorm2d", "ReLU", "LeakyReLU",
           "Dropout", "Identity", "DataParallel", "init", "functional"]
