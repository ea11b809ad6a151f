"""SegNet-style encoder-decoder (Badrinarayanan et al. 2017) and the lecture's plain encoder-decoder.

The encoder works at ``depth`` levels (resolutions), as the U-Net's does: a conv block per level and a
2×2 max-pooling between levels (``depth - 1`` of them). Each pooling remembers, for every window, *where*
its maximum was (the "switches", ``MaxPool2d(2, return_indices=True)``). The decoder
unpools with those switches (``MaxUnpool2d``): each value goes back to the position its maximum came
from, the other three positions of the window get zeros, and convolutions fill them in. The switches
are the only information the decoder receives from the encoder -- a cheap skip connection (two bits
per window instead of U-Net's copied feature maps).

``skips=False`` gives the lecture's plain encoder-decoder: the decoder upsamples by nearest-neighbour
repetition (``Upsample(scale_factor=2, mode="nearest")``), blind to where the details were. Both
variants have exactly the same parameters, so their state dicts are interchangeable.
"""
from .. import _checks
from ..nn import Conv2d, MaxPool2d, MaxUnpool2d, Module, ModuleList, Upsample
from . import _common
from .blocks import add_output_bias, double_conv, output_bias


class EncoderDecoder(Module):
    """Encoder-decoder with max-pooling switches: (N, in_channels, H, W) -> (N, out_channels, H, W).

    base_channels: channels of encoder level 0; level i has ``base_channels * 2**i``.
    depth: number of levels (>= 1), as in ``UNet``: ``depth - 1`` max-poolings, so H and W must be
        multiples of ``2 ** (depth - 1)``; ``EncoderDecoder(..., depth=d)`` and ``UNet(..., depth=d)`` have
        the same levels, widths and poolings and differ only in how the decoder gets its detail.
    skips: True: SegNet, the decoder unpools with the encoder's switches; False: the plain
        encoder-decoder, the decoder upsamples by nearest-neighbour repetition.
    batch_norm: BatchNorm2d after every 3×3 convolution (default True: with it, fit's defaults learn as a
        practitioner's recipe does, with fit's default learning rate for it). False gives the plain network
        with biased convolutions.

    Attributes (state-dict prefixes): ``encoders.i`` the conv block of level i (followed by ``pool``
    except at the deepest level), ``decoders.j`` the conv block of level ``depth - 1 - j`` on the way up
    (deepest first; it maps level i's channels to level i-1's, level 0's to its own, and is followed by
    the unpooling to level i-1), ``head`` the 1×1 classifier, ``output_bias`` (a buffer, out_channels,)
    added to the head's output (see ``blocks.output_bias``). ``unpool`` (skips=True) or ``upsample``
    (skips=False) has no parameters.
    """

    def __init__(self, in_channels, out_channels, base_channels=16, depth=4, skips=True, batch_norm=True):
        super().__init__()
        self.in_channels = _checks.positive_int("EncoderDecoder", "in_channels", in_channels)
        self.out_channels = _checks.positive_int("EncoderDecoder", "out_channels", out_channels)
        self.base_channels = _checks.positive_int("EncoderDecoder", "base_channels", base_channels)
        self.depth = _checks.positive_int("EncoderDecoder", "depth", depth)
        self.skips = _common.flag("EncoderDecoder", "skips", skips)
        self.batch_norm = _common.flag("EncoderDecoder", "batch_norm", batch_norm)

        widths = [self.base_channels * 2 ** i for i in range(self.depth)]
        self.encoders = ModuleList()
        for i, c in enumerate(widths):
            self.encoders.append(double_conv(self.in_channels if i == 0 else widths[i - 1], c, batch_norm))
        self.pool = MaxPool2d(2, return_indices=True)
        if self.skips:
            self.unpool = MaxUnpool2d(2)
        else:
            self.upsample = Upsample(scale_factor=2, mode="nearest")
        self.decoders = ModuleList()
        for i in reversed(range(self.depth)):     # a block per level, deepest first, each before its unpooling
            self.decoders.append(double_conv(widths[i], widths[max(i - 1, 0)], batch_norm))
        self.head = Conv2d(widths[0], self.out_channels, 1)
        self.register_buffer("output_bias", output_bias(self.out_channels))

    @property
    def size_multiple(self):
        """Input height and width must be multiples of this: ``depth - 1`` poolings by 2."""
        return 2 ** (self.depth - 1)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"base_channels={self.base_channels}, depth={self.depth}, skips={self.skips}, "
                f"batch_norm={self.batch_norm}")

    def forward(self, x):
        """x: (N, in_channels, H, W), H and W multiples of 2**(depth-1) -> (N, out_channels, H, W)."""
        _common.images("EncoderDecoder", x, self.in_channels, self.size_multiple, f"{self.depth - 1} poolings by 2")
        switches = []
        for i, block in enumerate(self.encoders):
            x = block(x)
            if i < self.depth - 1:
                x, indices = self.pool(x)
                switches.append(indices)
        for i, decoder in zip(reversed(range(self.depth)), self.decoders):
            # level i's block brings the channels down to level i-1's, which the switches of pooling i-1 have
            x = decoder(x)
            if i > 0:
                x = self.unpool(x, switches[i - 1]) if self.skips else self.upsample(x)
        return add_output_bias(self.head(x), self.output_bias)
