"""Building blocks shared by the models."""
from .. import backend
from ..nn import BatchNorm2d, Conv2d, ReLU, Sequential
from ..tensor import Tensor


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


def output_bias(channels):
    """The model's output bias: zeros (channels,), registered as a buffer and added per channel after the
    last layer.

    It makes ``model(x)`` the prediction itself: ``fit`` sets it to the training targets' typical value
    (depth ≈ 4.5, heatmap logits ≈ −4) on a fresh run, so no task object has to add anything later. It is
    saved with the weights but not trained: the last layer's own bias learns around it (a second learned
    constant would only double the step size of the first).
    """
    return Tensor(backend.xp_for("cpu").zeros(channels, dtype=backend.default_dtype))


def add_output_bias(out, bias):
    """out (N, C, H, W) + bias (C,) on every pixel: an ordinary broadcast add, as an exporter traces it."""
    return out + bias.reshape(1, -1, 1, 1)
