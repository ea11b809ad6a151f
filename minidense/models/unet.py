"""U-Net (Ronneberger et al. 2015): an encoder-decoder that copies each encoder level's activations
forward and concatenates them to the decoder at the same resolution (the lecture's "missing details":
the details lost by pooling come back through these copies).

    level 0  ── double conv ───────────────────────────── copy ──▶ concat ─ double conv ─ 1×1 head
      │ max-pool 2×2                                                  ▲ up (×2)
    level 1  ── double conv ────────── copy ──▶ concat ─ double conv ─┘
      │ max-pool 2×2                               ▲ up (×2)
    level 2  ── double conv (bottleneck) ──────────┘

``depth`` counts levels (resolutions), so there are ``depth - 1`` poolings and the input's height and
width must be multiples of ``2 ** (depth - 1)``. ``UNet(3, 5, base_channels=16, depth=3)`` is the
16-32-64 network the library's benchmarks time.
"""
from .. import _checks, creation
from .. import functional as F
from ..nn import Conv2d, ConvTranspose2d, MaxPool2d, Module, ModuleList, Sequential, Upsample
from . import _common
from .blocks import add_output_bias, double_conv, output_bias


class UNet(Module):
    """U-Net: (N, in_channels, H, W) -> (N, out_channels, H, W) scores per pixel.

    in_channels, out_channels: input channels and classes (or regression channels).
    base_channels: channels of level 0; level i has ``base_channels * 2**i``.
    depth: number of levels (>= 1); ``depth - 1`` max-poolings, so H and W must be multiples of
        ``2 ** (depth - 1)``.
    up: "transpose" (ConvTranspose2d, kernel 2, stride 2, halving the channels, as in the paper) or
        "bilinear" (a bilinear Upsample by 2, then a 1×1 Conv2d halving the channels;
        no learned upsampling kernel, fewer checkerboard artefacts).
    batch_norm: BatchNorm2d after every 3×3 convolution (default True: with it, fit's defaults learn as a
        practitioner's recipe does, with fit's default learning rate for it). False gives the plain network
        with biased convolutions.
    skips: True (the U-Net) or False: the same network, with the copied encoder activations replaced
        by zeros before the concatenation. The parameters (names, shapes, and with the same seed their
        initial values) are identical, so the two differ only in whether detail reaches the decoder:
        the lecture's "missing details" experiment. (The weights that read the zero channels get zero
        gradient and stay as initialised.)

    Attributes (state-dict prefixes): ``downs.i`` the double conv of level i (``downs.{depth-1}`` is the
    bottleneck), ``pool``, ``ups.j`` the j-th upsampling (deepest first), ``decoders.j`` the double conv
    after the j-th concatenation, ``head`` the 1×1 classifier, ``output_bias`` (a buffer, out_channels,) added to the
    head's output (see ``blocks.output_bias``).
    """

    def __init__(self, in_channels, out_channels, base_channels=16, depth=4, up="transpose", batch_norm=True,
                 skips=True):
        super().__init__()
        self.in_channels = _checks.positive_int("UNet", "in_channels", in_channels)
        self.out_channels = _checks.positive_int("UNet", "out_channels", out_channels)
        self.base_channels = _checks.positive_int("UNet", "base_channels", base_channels)
        self.depth = _checks.positive_int("UNet", "depth", depth)
        self.up = _common.choice("UNet", "up", up, ("transpose", "bilinear"))
        self.batch_norm = _common.flag("UNet", "batch_norm", batch_norm)
        self.skips = _common.flag("UNet", "skips", skips)

        widths = [self.base_channels * 2 ** i for i in range(self.depth)]
        self.downs = ModuleList()
        for i, c in enumerate(widths):
            self.downs.append(double_conv(self.in_channels if i == 0 else widths[i - 1], c, batch_norm))
        self.pool = MaxPool2d(2)
        self.ups = ModuleList()
        self.decoders = ModuleList()
        for i in reversed(range(1, self.depth)):     # from the bottleneck up to level 1
            c_deep, c = widths[i], widths[i - 1]
            if up == "transpose":
                self.ups.append(ConvTranspose2d(c_deep, c, 2, stride=2))
            else:
                self.ups.append(Sequential(Upsample(scale_factor=2, mode="bilinear"), Conv2d(c_deep, c, 1)))
            # the concatenation doubles the channels: c copied from the encoder + c coming up
            self.decoders.append(double_conv(2 * c, c, batch_norm))
        self.head = Conv2d(widths[0], self.out_channels, 1)
        self.register_buffer("output_bias", output_bias(self.out_channels))

    @property
    def size_multiple(self):
        """Input height and width must be multiples of this: ``depth - 1`` poolings by 2."""
        return 2 ** (self.depth - 1)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"base_channels={self.base_channels}, depth={self.depth}, up={self.up!r}, "
                f"batch_norm={self.batch_norm}, skips={self.skips}")

    def forward(self, x):
        """x: (N, in_channels, H, W), H and W multiples of 2**(depth-1) -> (N, out_channels, H, W)."""
        _common.images("UNet", x, self.in_channels, self.size_multiple, f"{self.depth - 1} poolings by 2")
        copies = []
        for i, block in enumerate(self.downs):
            x = block(x)
            if i < self.depth - 1:
                copies.append(x)
                x = self.pool(x)
        for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
            x = up(x)
            bridge = copy if self.skips else creation.zeros_like(copy)
            x = decoder(F.concat([bridge, x], axis=1))
        return add_output_bias(self.head(x), self.output_bias)
