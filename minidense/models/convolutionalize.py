"""The lecture's "where do we get parameters?": reuse a classifier of small crops as a pixel labeler.

A classifier maps a (C, h, w) crop to a vector of class scores: convolutions and pooling, then
Flatten, then Linear layers. A Linear layer on the flattened (C', h', w') feature map is a convolution
with a (h', w') kernel: output k is the sum over c, i, j of W[k, (c, i, j)]·f[c, i, j], which is the
convolution's dot product of the kernel W[k].reshape(C', h', w') with one (h', w') window. Every later
Linear layer is then a 1×1 convolution. Replace them, drop the Flatten, and the same weights slide
over an image of any size: the output at position (i, j) is the classifier's output on the crop at
rows s·i .. s·i+h-1 and columns s·j .. s·j+w-1, where s is the network's total stride. Overlapping
crops share their convolutions, so this is much cheaper than running the classifier on every crop.
"""
import copy
import numbers

from .. import backend
from ..nn import Conv2d, Dropout, Flatten, Identity, LeakyReLU, Linear, ReLU, Sequential
from ..tensor import Tensor, no_grad

# layers that act on each number (or each position) alone: as valid on a feature map as on a vector
_POINTWISE = (ReLU, LeakyReLU, Dropout, Identity)


def linear_to_conv(linear, kernel_size=(1, 1)):
    """The Conv2d equal to ``linear`` applied to a (C, kH, kW) feature map flattened in C-order.

    linear: Linear(C·kH·kW, out). Returns Conv2d(C, out, kernel_size) whose weight is the Linear weight
    reshaped to (out, C, kH, kW) (a copy, same dtype and device) and whose bias is the Linear's.
    """
    if not isinstance(linear, Linear):
        raise TypeError(f"linear_to_conv: linear must be a Linear layer, got {type(linear).__name__}")
    kh, kw = kernel_size
    if linear.in_features % (kh * kw):
        raise ValueError(f"linear_to_conv: in_features={linear.in_features} is not channels × {kh}×{kw}")
    channels = linear.in_features // (kh * kw)
    conv = Conv2d(channels, linear.out_features, (kh, kw), bias=linear.bias is not None)
    conv.weight.data = linear.weight.data.reshape(linear.out_features, channels, kh, kw).copy()
    if linear.bias is not None:
        conv.bias.data = linear.bias.data.copy()
    return conv


def convolutionalize(classifier, input_size):
    """A fully convolutional copy of ``classifier``, a Sequential of crops -> class scores.

    classifier: Sequential(feature layers on (N, C, h, w)..., Flatten(), Linear, [ReLU/Dropout...],
        Linear, ...). After the Flatten only Linear layers and pointwise layers (ReLU, LeakyReLU,
        Dropout, Identity) may appear.
    input_size: (C, h, w), the crop size the classifier was built for. One zero crop is run through the
        feature layers (under no_grad, in eval mode) to find the feature map's shape (C', h', w') at the
        Flatten.

    Returns a new Sequential (deep copies; the classifier is left untouched): the feature layers, then
    Conv2d(C', out, (h', w')) for the first Linear, 1×1 Conv2d for the later ones, pointwise layers kept.
    Applied to (N, C, H, W) with H >= h, W >= w it gives (N, classes, H', W'): position (i, j) holds the
    classifier's scores for the crop at rows s·i .. s·i+h-1, columns s·j .. s·j+w-1 (s: the feature
    layers' total stride), exactly when the feature layers use no padding (padding would make the crop's
    border see zeros where the big image has neighbouring pixels).
    """
    if not isinstance(classifier, Sequential):
        raise TypeError(f"convolutionalize: classifier must be an nn.Sequential, got {type(classifier).__name__}")
    if (not isinstance(input_size, (tuple, list)) or len(input_size) != 3
            or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0 for n in input_size)):
        raise ValueError(f"convolutionalize: input_size must be a crop size (C, h, w) of positive ints, "
                         f"got {input_size!r}")
    layers = list(classifier)
    flat = [i for i, layer in enumerate(layers) if isinstance(layer, Flatten)]
    if len(flat) != 1:
        raise ValueError(f"convolutionalize: the classifier must contain exactly one Flatten, found {len(flat)}")
    features, head = layers[:flat[0]], layers[flat[0] + 1:]
    if layers[flat[0]].start_dim != 1 or layers[flat[0]].end_dim not in (-1, 3):
        raise ValueError("convolutionalize: the Flatten must merge (C, H, W) of an (N, C, H, W) map "
                         "(start_dim=1, end_dim=-1)")
    for layer in head:
        if not isinstance(layer, (Linear,) + _POINTWISE):
            raise TypeError(f"convolutionalize: after Flatten only Linear and pointwise layers (ReLU, LeakyReLU, "
                            f"Dropout, Identity) can become convolutions, got {type(layer).__name__}")
    if not any(isinstance(layer, Linear) for layer in head):
        raise ValueError("convolutionalize: the classifier has no Linear layer after its Flatten")

    feature_shape = _feature_shape(classifier, features, tuple(int(n) for n in input_size))
    channels, kh, kw = feature_shape
    out, first = [copy.deepcopy(layer) for layer in features], True
    for layer in head:
        if isinstance(layer, Linear):
            kernel = (kh, kw) if first else (1, 1)
            if layer.in_features != (channels * kh * kw if first else channels):
                raise ValueError(f"convolutionalize: a Linear layer expects {layer.in_features} inputs but gets "
                                 f"{channels * kh * kw if first else channels} (feature map {feature_shape} for "
                                 f"input_size {tuple(input_size)})")
            out.append(linear_to_conv(layer, kernel))
            channels, first = layer.out_features, False
        else:
            out.append(copy.deepcopy(layer))
    return Sequential(*out)


def _feature_shape(classifier, features, input_size):
    """(C', h', w') of the map that reaches the Flatten when a (1, *input_size) zero crop goes in."""
    first = next(classifier.parameters(), None)
    device, dtype = (first.device, first.dtype) if first is not None else ("cpu", backend.default_dtype)
    x = Tensor(backend.xp_for(device).zeros((1, *input_size), dtype=dtype))
    modes = {id(m): m.training for m in classifier.modules()}
    classifier.eval()      # a training-mode BatchNorm would fold the dummy crop into its running statistics
    try:
        with no_grad():
            for layer in features:
                x = layer(x)
    finally:
        for m in classifier.modules():   # each module's own mode back (train(mode) would set all alike)
            object.__setattr__(m, "training", modes[id(m)])
    if x.ndim != 4:
        raise ValueError(f"convolutionalize: the layers before Flatten must give an (N, C, H, W) map, "
                         f"got shape {tuple(x.shape)}")
    return tuple(x.shape[1:])

