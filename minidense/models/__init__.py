"""Pixel-labeling networks from the lecture, built from ``minidense.nn`` layers.

    from minidense.models import UNet, build_model
    net = UNet(3, 5, base_channels=16, depth=3)      # (N, 3, H, W) -> (N, 5, H, W)
    net = build_model("fcn", 3, 5, base_channels=8)

- FCN: conv encoder to stride 8, 1×1 classifier, bilinear-initialised transposed-conv upsampling with a
  stride-4 skip.
- EncoderDecoder: SegNet-style, the decoder unpools with the encoder's max-pooling switches
  (skips=False: the lecture's plain encoder-decoder).
- UNet: copy-and-concatenate skips at every level (skips=False: zeros instead of the copies).
- AutoEncoder: image -> latent vector -> image, with ``interpolate`` to walk the latent space.
- convolutionalize: a crop classifier's Linear layers turned into convolutions.
"""
from .autoencoder import AutoEncoder
from .convolutionalize import convolutionalize, linear_to_conv
from .encoder_decoder import EncoderDecoder
from .fcn import FCN
from .unet import UNet


def _autoencoder(in_channels, out_channels, **kw):
    """AutoEncoder(in_channels, **kw); it reconstructs its input, so out_channels must equal in_channels."""
    if out_channels != in_channels:
        raise ValueError(f"build_model: an autoencoder reconstructs its input, so out_channels must equal "
                         f"in_channels={in_channels}, got out_channels={out_channels!r}")
    return AutoEncoder(in_channels, **kw)


# name -> constructor called as constructor(in_channels, out_channels, **kw)
MODELS = {"unet": UNet, "fcn": FCN, "encdec": EncoderDecoder, "autoencoder": _autoencoder}


def build_model(name, in_channels, out_channels, **kw):
    """The model called ``name`` (a key of MODELS), built with ``in_channels``, ``out_channels`` and ``kw``."""
    if name not in MODELS:
        raise ValueError(f"build_model: unknown model {name!r}; expected one of {', '.join(map(repr, MODELS))}")
    return MODELS[name](in_channels, out_channels, **kw)


__all__ = ["FCN", "EncoderDecoder", "UNet", "AutoEncoder", "convolutionalize", "linear_to_conv",
           "build_model", "MODELS"]
