"""Fully convolutional network (Long, Shelhamer & Darrell 2015), FCN-16s-like, at toy scale.

A conv encoder brings the image down to stride 8; a 1×1 convolution scores every class at every
position of that coarse map (the classifier, convolutionalized: see ``convolutionalize``). The scores
are upsampled ×2 by a transposed convolution initialised to bilinear interpolation, added to scores
read off the stride-4 feature map (a skip: finer positions, less context), and upsampled ×4 back
to the input's size, again by a bilinear-initialised transposed convolution that training may refine.

    x ─ stage1 (/2) ─ stage2 (/4) ─ stage3 (/8) ─ classifier (1×1) ─ up2 (×2) ─┐
                         └──────────────── score_skip (1×1) ───────────────── + ─ up4 (×4) ─ + bias ─ scores
"""
from .. import _checks
from ..nn import Conv2d, ConvTranspose2d, MaxPool2d, Module, ReLU, Sequential
from . import _common
from .blocks import add_output_bias, output_bias


def _stage(in_channels, out_channels):
    """Two 3×3 conv + ReLU, then a 2×2 max-pool: (N, in, H, W) -> (N, out, H/2, W/2)."""
    return Sequential(Conv2d(in_channels, out_channels, 3, padding=1), ReLU(),
                      Conv2d(out_channels, out_channels, 3, padding=1), ReLU(), MaxPool2d(2))


class FCN(Module):
    """FCN: (N, in_channels, H, W) -> (N, out_channels, H, W) class scores; H and W multiples of 8.

    base_channels: channels after stage1; stage2 and stage3 have 2× and 4× as many.

    Attributes (state-dict prefixes): ``stage1``, ``stage2``, ``stage3`` (conv blocks ending in a
    pooling; strides 2, 4, 8), ``classifier`` (1×1, stride 8), ``score_skip`` (1×1 on stage2's output,
    stride 4), ``up2`` (ConvTranspose2d k=4, s=2, p=1) and ``up4`` (k=8, s=4, p=2), both without bias
    and initialised as bilinear upsampling, then ``output_bias`` (a buffer, out_channels,) added to up4's output
    (see ``blocks.output_bias``).
    """

    def __init__(self, in_channels, out_channels, base_channels=16):
        super().__init__()
        self.in_channels = _checks.positive_int("FCN", "in_channels", in_channels)
        self.out_channels = _checks.positive_int("FCN", "out_channels", out_channels)
        self.base_channels = b = _checks.positive_int("FCN", "base_channels", base_channels)
        self.stage1 = _stage(self.in_channels, b)
        self.stage2 = _stage(b, 2 * b)
        self.stage3 = _stage(2 * b, 4 * b)
        self.classifier = Conv2d(4 * b, self.out_channels, 1)
        self.score_skip = Conv2d(2 * b, self.out_channels, 1)
        # kernel 2s, padding s/2: exactly ×s and, at initialisation, bilinear interpolation
        self.up2 = ConvTranspose2d(self.out_channels, self.out_channels, 4, stride=2, padding=1, bias=False,
                                   init="bilinear")
        self.up4 = ConvTranspose2d(self.out_channels, self.out_channels, 8, stride=4, padding=2, bias=False,
                                   init="bilinear")
        # up4 has no bias (a bias there would not be bilinear upsampling): the model's answer for a zero
        # score map is this output bias
        self.register_buffer("output_bias", output_bias(self.out_channels))

    @property
    def size_multiple(self):
        """Input height and width must be multiples of this: 3 poolings by 2 (stride 8)."""
        return 8

    def extra_repr(self):
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}, base_channels={self.base_channels}"

    def forward(self, x):
        """x: (N, in_channels, H, W), H and W multiples of 8 -> (N, out_channels, H, W)."""
        _common.images("FCN", x, self.in_channels, self.size_multiple, "3 poolings by 2")
        stride4 = self.stage2(self.stage1(x))
        coarse = self.classifier(self.stage3(stride4))          # (N, classes, H/8, W/8)
        fused = self.up2(coarse) + self.score_skip(stride4)      # (N, classes, H/4, W/4)
        return add_output_bias(self.up4(fused), self.output_bias)
