"""A minidense model's weights in PyTorch: the equivalent torch.nn modules, and the weights loaded into them.

    pip install torch                      # PyTorch is needed here only; minidense never depends on it
    python examples/to_pytorch.py          # converts each built-in model and compares the outputs

minidense's state_dict uses PyTorch's keys and layouts (docs/pytorch.md): a key is the attribute path
("downs.0.3.weight"), Conv2d weights are (C_out, C_in, kH, kW), ConvTranspose2d weights (C_in, C_out,
kH, kW), Linear weights (out, in), BatchNorm2d keeps running_mean, running_var and num_batches_tracked.
So a torch module of the same structure takes the weights as they are, nothing transposed or renamed:

    torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})

The classes below are those structures, written as a PyTorch user would write them, with minidense's
constructor arguments. ``to_torch(model)`` builds the one that matches a minidense model and loads its
weights. tests/support/golden/make_golden_models.py runs them in PyTorch; tests/nn_models/test_golden_models.py checks
that minidense, given the same weights, computes the same outputs.
"""
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def double_conv(in_channels, out_channels, batch_norm=False):
    """minidense.models.blocks.double_conv: two 3×3 convolutions, each followed by [BatchNorm2d and] ReLU."""
    layers = []
    for c_in in (in_channels, out_channels):
        layers.append(nn.Conv2d(c_in, out_channels, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _stage(in_channels, out_channels):
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


class FCN(nn.Module):
    """minidense.models.FCN: stride-8 encoder, 1×1 classifier, transposed-conv upsampling with a stride-4 skip."""

    def __init__(self, in_channels, out_channels, base_channels=16):
        super().__init__()
        b = base_channels
        self.stage1, self.stage2, self.stage3 = _stage(in_channels, b), _stage(b, 2 * b), _stage(2 * b, 4 * b)
        self.classifier = nn.Conv2d(4 * b, out_channels, 1)
        self.score_skip = nn.Conv2d(2 * b, out_channels, 1)
        self.up2 = nn.ConvTranspose2d(out_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.up4 = nn.ConvTranspose2d(out_channels, out_channels, 8, stride=4, padding=2, bias=False)

    def forward(self, x):
        stride4 = self.stage2(self.stage1(x))
        coarse = self.classifier(self.stage3(stride4))
        return self.up4(self.up2(coarse) + self.score_skip(stride4))


class EncoderDecoder(nn.Module):
    """minidense.models.EncoderDecoder: SegNet-style; the decoder unpools with the encoder's switches.

    depth levels, depth - 1 poolings (as UNet); each decoder block comes before its unpooling.
    """

    def __init__(self, in_channels, out_channels, base_channels=16, depth=4, skips=True, batch_norm=True):
        super().__init__()
        self.depth, self.skips = depth, skips
        widths = [base_channels * 2 ** i for i in range(depth)]
        self.encoders = nn.ModuleList(double_conv(in_channels if i == 0 else widths[i - 1], c, batch_norm)
                                      for i, c in enumerate(widths))
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)
        self.decoders = nn.ModuleList(double_conv(widths[i], widths[max(i - 1, 0)], batch_norm)
                                      for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x):
        switches = []
        for i, block in enumerate(self.encoders):
            x = block(x)
            if i < self.depth - 1:
                x, indices = self.pool(x)
                switches.append(indices)
        for i, decoder in zip(reversed(range(self.depth)), self.decoders):
            x = decoder(x)
            if i > 0:
                x = self.unpool(x, switches[i - 1]) if self.skips else F.interpolate(x, scale_factor=2,
                                                                                      mode="nearest")
        return self.head(x)


class UNet(nn.Module):
    """minidense.models.UNet: copy-and-concatenate skips ([bridge, upsampled] along the channels)."""

    def __init__(self, in_channels, out_channels, base_channels=16, depth=4, up="transpose", batch_norm=True,
                 skips=True):
        super().__init__()
        self.depth, self.skips = depth, skips
        widths = [base_channels * 2 ** i for i in range(depth)]
        self.downs = nn.ModuleList(double_conv(in_channels if i == 0 else widths[i - 1], c, batch_norm)
                                   for i, c in enumerate(widths))
        self.pool = nn.MaxPool2d(2)
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(1, depth)):
            c_deep, c = widths[i], widths[i - 1]
            if up == "transpose":
                self.ups.append(nn.ConvTranspose2d(c_deep, c, 2, stride=2))
            else:
                self.ups.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(c_deep, c, 1)))
            self.decoders.append(double_conv(2 * c, c, batch_norm))
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x):
        copies = []
        for i, block in enumerate(self.downs):
            x = block(x)
            if i < self.depth - 1:
                copies.append(x)
                x = self.pool(x)
        for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
            x = up(x)
            bridge = copy if self.skips else torch.zeros_like(copy)
            x = decoder(torch.cat([bridge, x], dim=1))
        return self.head(x)


class AutoEncoder(nn.Module):
    """minidense.models.AutoEncoder: image -> latent vector -> image."""

    def __init__(self, in_channels=3, size=32, latent_dim=32, base_channels=16, sigmoid=True):
        super().__init__()
        b, s = base_channels, size // 4
        self.sigmoid, self.code_shape = sigmoid, (2 * b, s, s)
        self.encoder = nn.Sequential(nn.Conv2d(in_channels, b, 3, stride=2, padding=1), nn.ReLU(),
                                     nn.Conv2d(b, 2 * b, 3, stride=2, padding=1), nn.ReLU(),
                                     nn.Flatten(), nn.Linear(2 * b * s * s, latent_dim))
        self.decoder_fc = nn.Sequential(nn.Linear(latent_dim, 2 * b * s * s), nn.ReLU())
        self.decoder = nn.Sequential(nn.ConvTranspose2d(2 * b, b, 4, stride=2, padding=1), nn.ReLU(),
                                     nn.ConvTranspose2d(b, in_channels, 4, stride=2, padding=1))

    def forward(self, x):
        h = self.decoder_fc(self.encoder(x)).reshape(x.shape[0], *self.code_shape)
        out = self.decoder(h)
        return torch.sigmoid(out) if self.sigmoid else out


# ---------------------------------------------------------------- from a minidense model

#: each built-in model class -> the constructor arguments read from the minidense model's attributes
MODEL_ARGS = {
    "FCN": ("in_channels", "out_channels", "base_channels"),
    "EncoderDecoder": ("in_channels", "out_channels", "base_channels", "depth", "skips", "batch_norm"),
    "UNet": ("in_channels", "out_channels", "base_channels", "depth", "up", "batch_norm", "skips"),
    "AutoEncoder": ("in_channels", "size", "latent_dim", "base_channels", "sigmoid"),
}


def layer(module):
    """The torch layer (or Sequential / ModuleList of them) equal to a minidense one, weights not loaded.

    Serves any model made of minidense.nn's layers, e.g. what minidense.models.convolutionalize returns.
    """
    kind = type(module).__name__
    if kind == "Sequential":      # children keep their names ("0", "1", ...): the state_dict keys
        return nn.Sequential(OrderedDict((name, layer(child)) for name, child in module.named_children()))
    if kind == "ModuleList":
        return nn.ModuleList([layer(child) for child in module])
    if kind == "Conv2d":
        return nn.Conv2d(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                         module.dilation, bias=module.bias is not None)
    if kind == "ConvTranspose2d":
        return nn.ConvTranspose2d(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                                  module.padding, module.output_padding, bias=module.bias is not None,
                                  dilation=module.dilation)
    if kind == "Linear":
        return nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    if kind == "BatchNorm2d":
        return nn.BatchNorm2d(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
    if kind == "MaxPool2d":
        return nn.MaxPool2d(module.kernel_size, module.stride, module.padding, return_indices=module.return_indices)
    if kind == "Upsample":
        return nn.Upsample(module.size, module.scale_factor, module.mode, module.align_corners)
    simple = {"ReLU": lambda: nn.ReLU(), "LeakyReLU": lambda: nn.LeakyReLU(module.negative_slope),
              "Flatten": lambda: nn.Flatten(module.start_dim, module.end_dim), "Dropout": lambda: nn.Dropout(module.p),
              "Identity": lambda: nn.Identity()}
    if kind not in simple:
        raise TypeError(f"to_pytorch: no torch equivalent written for minidense's {kind}")
    return simple[kind]()


def load_weights(torch_model, state_dict):
    """Load a minidense state_dict (name -> NumPy array) into ``torch_model``: same keys, same layouts (strict)."""
    torch_model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state_dict.items()}, strict=True)
    return torch_model


#: where a model adds its own output bias: after this child's output (the AutoEncoder's comes before its
#: sigmoid), else after the model's output
OUTPUT_BIAS_AFTER = {"AutoEncoder": "decoder"}


def _output_biases(model, torch_model):
    """A model's own top-level parameters (an output bias added after its last layer) carried over as such:
    registered under the same key, added by a forward hook (a (C,) vector as (1, C, 1, 1))."""
    for name, p in model.named_parameters():
        if "." in name:
            continue
        torch_model.register_parameter(name, nn.Parameter(torch.zeros(tuple(p.shape), dtype=torch.float32)))
        bias = getattr(torch_model, name)
        target = OUTPUT_BIAS_AFTER.get(type(model).__name__)
        (getattr(torch_model, target) if target else torch_model).register_forward_hook(
            lambda _m, _inputs, out, bias=bias: out + (bias.reshape(1, -1, *[1] * (out.ndim - 2))
                                                       if bias.ndim == 1 and out.ndim > 2 else bias))


def to_torch(model):
    """The torch module equal to a minidense model (a built-in one, or layers in Sequentials), weights loaded,
    in the same train/eval mode and dtype."""
    kind = type(model).__name__
    if kind in MODEL_ARGS:
        torch_model = globals()[kind](**{a: getattr(model, a) for a in MODEL_ARGS[kind]})
    else:
        torch_model = layer(model)
    _output_biases(model, torch_model)
    dtype = next((p.dtype for p in model.parameters()), np.dtype("float32"))
    torch_model = torch_model.to(torch.float64 if dtype == np.float64 else torch.float32)
    load_weights(torch_model, model.state_dict())
    return torch_model.train(model.training)


def main():
    import minidense as md

    md.manual_seed(0)
    models = {"FCN": md.models.FCN(3, 5, base_channels=8),
              "EncoderDecoder": md.models.EncoderDecoder(3, 5, base_channels=8),
              "UNet": md.models.UNet(3, 5, base_channels=8, depth=3, batch_norm=True),
              "UNet bilinear": md.models.UNet(3, 5, base_channels=8, depth=3, up="bilinear"),
              "AutoEncoder": md.models.AutoEncoder(3, size=32),
              "convolutionalized classifier": md.models.convolutionalize(
                  md.nn.Sequential(md.nn.Conv2d(3, 8, 3), md.nn.ReLU(), md.nn.MaxPool2d(2), md.nn.Flatten(),
                                   md.nn.Linear(8 * 7 * 7, 16), md.nn.ReLU(), md.nn.Linear(16, 5)), (3, 16, 16))}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    for name, model in models.items():
        model.eval()
        for key, p in model.named_parameters():
            if "." not in key:        # a model's own output bias starts at zero: give it values to carry over
                p.data[...] = rng.standard_normal(p.shape).astype(p.dtype)
        torch_model = to_torch(model)
        with md.no_grad(), torch.no_grad():
            ours, theirs = model(md.tensor(x)).numpy(), torch_model(torch.from_numpy(x)).numpy()
        err = np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-12)
        print(f"{name:28s} {len(model.state_dict()):3d} tensors loaded; largest difference {err:.1e} of max|y|")
        assert err < 1e-4, name


if __name__ == "__main__":
    main()
