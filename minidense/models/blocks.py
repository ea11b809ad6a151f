"""Building blocks shared by the models."""
from ..nn import BatchNorm2d, Conv2d, ReLU, Sequential


def double_conv(in_channels, out_channels, batch_norm=False):
    """Two 3×3 convolutions (padding 1, so H×W is kept), each followed by [BatchNorm2d and] ReLU.

    (N, in_channels, H, W) -> (N, out_channels, H, W). With BatchNorm the convolutions have no bias
    (the normalisation's shift does that job, as in PyTorch's usual blocks).
    """
    layers = []
    for c_in in (in_channels, out_channels):
        layers.append(Conv2d(c_in, out_channels, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(BatchNorm2d(out_channels))
        layers.append(ReLU())
    return Sequential(*layers)
