"""A convolutional autoencoder (the lecture's aside): compress an image to a bottleneck vector, the
latent code, and decode it back; trained on the reconstruction error ||D(E(x)) - x||.

    x (N, C, S, S) ─ conv s2 ─ conv s2 ─ Flatten ─ Linear ─▶ z (N, latent_dim) ─ Linear ─ reshape
                   ─ transposed conv ×2 ─ transposed conv ×2 ─ + bias ─ sigmoid ─▶ (N, C, S, S)

``interpolate`` walks the latent space: it decodes the points of the straight line between the codes
of two images, the lecture's "interpolation in latent space".
"""
import numbers

from .. import _checks, backend
from .._checks import array_of
from ..nn import Conv2d, ConvTranspose2d, Flatten, Linear, Module, ReLU, Sequential
from ..tensor import Tensor
from . import _common
from .blocks import add_output_bias, output_bias


class AutoEncoder(Module):
    """Autoencoder of (N, in_channels, size, size) images through a latent vector of ``latent_dim`` numbers.

    size: the images' height and width, a multiple of 4 (two stride-2 convolutions; the Linear layers
        fix the spatial size, unlike the fully convolutional models).
    base_channels: channels after the first convolution (the second has twice as many).
    sigmoid: squash the output into (0, 1), for images with values in [0, 1]; False returns raw values.

    Attributes (state-dict prefixes): ``encoder`` (Conv2d k=3 s=2 p=1, ReLU, Conv2d, ReLU, Flatten,
    Linear to the latent code), ``decoder_fc`` (Linear back to 2·base_channels × size/4 × size/4, ReLU),
    ``decoder`` (ConvTranspose2d k=4 s=2 p=1, ReLU, ConvTranspose2d to in_channels), ``output_bias``
    (a buffer, in_channels,) added to the decoder's output before the sigmoid (see ``blocks.output_bias``).
    """

    def __init__(self, in_channels=3, size=32, latent_dim=32, base_channels=16, sigmoid=True):
        super().__init__()
        self.in_channels = _checks.positive_int("AutoEncoder", "in_channels", in_channels)
        self.size = _checks.positive_int("AutoEncoder", "size", size)
        if self.size % 4:
            raise ValueError(f"AutoEncoder: size must be a multiple of 4 (two stride-2 convolutions), got {size}")
        self.latent_dim = _checks.positive_int("AutoEncoder", "latent_dim", latent_dim)
        self.base_channels = b = _checks.positive_int("AutoEncoder", "base_channels", base_channels)
        self.sigmoid = _common.flag("AutoEncoder", "sigmoid", sigmoid)
        s = self.size // 4
        self._code_shape = (2 * b, s, s)     # the feature map just before Flatten / just after reshape
        self.encoder = Sequential(Conv2d(self.in_channels, b, 3, stride=2, padding=1), ReLU(),
                                  Conv2d(b, 2 * b, 3, stride=2, padding=1), ReLU(),
                                  Flatten(), Linear(2 * b * s * s, self.latent_dim))
        self.decoder_fc = Sequential(Linear(self.latent_dim, 2 * b * s * s), ReLU())
        self.decoder = Sequential(ConvTranspose2d(2 * b, b, 4, stride=2, padding=1), ReLU(),
                                  ConvTranspose2d(b, self.in_channels, 4, stride=2, padding=1))
        self.register_buffer("output_bias", output_bias(self.in_channels))

    @property
    def size_multiple(self):
        """Two stride-2 convolutions; the Linear layers fix the input to exactly size x size besides."""
        return 4

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, size={self.size}, latent_dim={self.latent_dim}, "
                f"base_channels={self.base_channels}, sigmoid={self.sigmoid}")

    def _check_images(self, fname, x):
        _common.images(f"AutoEncoder.{fname}", x, self.in_channels)
        if tuple(x.shape[2:]) != (self.size, self.size):
            raise ValueError(f"AutoEncoder.{fname}: images must be {self.size}x{self.size} (the model was built "
                             f"with size={self.size}), got shape {tuple(x.shape)}")

    def encode(self, x):
        """x: (N, in_channels, size, size) -> latent codes (N, latent_dim)."""
        self._check_images("encode", x)
        return self.encoder(x)

    def decode(self, z):
        """z: (N, latent_dim) -> images (N, in_channels, size, size)."""
        if not isinstance(z, Tensor):
            raise TypeError(f"AutoEncoder.decode: z must be a Tensor, got {type(z).__name__}")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"AutoEncoder.decode: z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        h = self.decoder_fc(z).reshape(z.shape[0], *self._code_shape)
        out = add_output_bias(self.decoder(h), self.output_bias)
        return out.sigmoid() if self.sigmoid else out

    def forward(self, x):
        """x: (N, in_channels, size, size) -> its reconstruction, same shape."""
        return self.decode(self.encode(x))

    def interpolate(self, x1, x2, steps=8):
        """Decode ``steps`` evenly spaced points on the line from x1's latent code to x2's.

        x1, x2: single images, (C, size, size) or (1, C, size, size).
        Returns (steps, C, size, size); image 0 is decode(encode(x1)) and image steps-1 is decode(encode(x2)).
        The graph is recorded as usual: wrap the call in ``md.no_grad()`` when only looking at the result.
        """
        if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 2:
            raise ValueError(f"AutoEncoder.interpolate: steps must be an int >= 2 (both endpoints are included), "
                             f"got {steps!r}")
        codes = []
        for name, x in (("x1", x1), ("x2", x2)):
            if not isinstance(x, Tensor):
                raise TypeError(f"AutoEncoder.interpolate: {name} must be a Tensor, got {type(x).__name__}")
            if x.ndim == 3:
                x = x.reshape(1, *x.shape)
            if x.ndim != 4 or x.shape[0] != 1:
                raise ValueError(f"AutoEncoder.interpolate: {name} must be one image, (C, H, W) or (1, C, H, W), "
                                 f"got shape {tuple(x.shape)}")
            self._check_images("interpolate", x)
            codes.append(self.encode(x))
        z1, z2 = codes                                              # (1, latent_dim) each
        xp = backend.get_array_module(array_of(z1))
        t = Tensor(xp.linspace(0.0, 1.0, int(steps), dtype=z1.dtype).reshape(-1, 1))   # (steps, 1)
        # (1 - t)·z1 + t·z2 rather than z1 + t·(z2 - z1): the endpoints are then exactly z1 and z2
        return self.decode((1 - t) * z1 + t * z2)
