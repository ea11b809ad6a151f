"""minidense.models: shapes, end-to-end gradient checks, skips, convolutionalize, the autoencoder's latent walk."""
import numpy as np
import pytest

import minidense as md
from minidense import nn
from minidense.models import (
    FCN,
    MODELS,
    AutoEncoder,
    EncoderDecoder,
    UNet,
    build_model,
    convolutionalize,
    linear_to_conv,
)


def double(model):
    """The model with every parameter and buffer in float64 (for gradcheck), in place."""
    model.to(dtype="float64")
    assert all(p.dtype == np.float64 for p in model.parameters())
    return model


def distinct_input(*shape, seed=0):
    """float64 values with no two equal (no ties for max-pooling to break) and none tiny."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    values = rng.permutation(n) / n - 0.5 + 0.25 / n
    return md.tensor(values.reshape(shape), dtype=np.float64)


def param_gradcheck(model, name, x):
    """md.gradcheck of ``model(x)`` with respect to the parameter called ``name``.

    The parameter's slot in its module is filled, for the duration of each call, by the Tensor that gradcheck
    perturbs (or differentiates), so gradcheck sees a plain function of that one array.
    """
    owner_name, _, leaf = name.rpartition(".")
    owner = dict(model.named_modules())[owner_name]
    original = owner._parameters[leaf]

    def fn(w):
        owner._parameters[leaf] = w
        try:
            return model(x)
        finally:
            owner._parameters[leaf] = original

    return md.gradcheck(fn, [original])


# ------------------------------------------------------------------ shapes

SHAPE_CASES = [
    (lambda: UNet(3, 5, base_channels=4, depth=3), (2, 3, 16, 12)),
    (lambda: UNet(3, 5, base_channels=4, depth=3, up="bilinear"), (2, 3, 16, 12)),
    (lambda: UNet(3, 5, base_channels=4, depth=3, batch_norm=True), (2, 3, 8, 8)),
    (lambda: UNet(3, 5, base_channels=4, depth=3, skips=False), (2, 3, 16, 12)),
    (lambda: UNet(1, 2, base_channels=4, depth=1), (1, 1, 5, 7)),
    (lambda: EncoderDecoder(3, 4, base_channels=4, depth=3), (2, 3, 16, 24)),
    (lambda: EncoderDecoder(3, 4, base_channels=4, depth=2, skips=False), (2, 3, 8, 12)),
    (lambda: EncoderDecoder(3, 4, base_channels=4, depth=2, batch_norm=True), (2, 3, 8, 8)),
    (lambda: FCN(3, 6, base_channels=4), (2, 3, 16, 24)),
]


@pytest.mark.parametrize("make, shape", SHAPE_CASES)
def test_segmentation_models_keep_height_and_width(make, shape):
    model = make()
    out = model(md.randn(*shape))
    assert out.shape == (shape[0], model.out_channels, *shape[2:])
    assert out.dtype == np.float32


@pytest.mark.parametrize("make, multiple, bad", [
    (lambda: UNet(3, 2, base_channels=2, depth=3), 4, (1, 3, 12, 10)),
    (lambda: UNet(3, 2, base_channels=2, depth=4), 8, (1, 3, 12, 16)),
    (lambda: EncoderDecoder(3, 2, base_channels=2, depth=3), 4, (1, 3, 12, 10)),
    (lambda: EncoderDecoder(3, 2, base_channels=2, depth=4), 8, (1, 3, 12, 16)),
    (lambda: FCN(3, 2, base_channels=2), 8, (1, 3, 8, 20)),
])
def test_sizes_that_do_not_divide_are_refused_naming_the_multiple(make, multiple, bad):
    model = make()
    name = type(model).__name__
    with pytest.raises(ValueError, match=rf"{name}: input height and width must be multiples of {multiple}\b"):
        model(md.randn(*bad))


def test_bad_inputs_and_arguments_name_the_model():
    with pytest.raises(ValueError, match=r"UNet: input has 2 channels .* in_channels=3"):
        UNet(3, 2, base_channels=2, depth=2)(md.randn(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"FCN: input must be 4-D"):
        FCN(3, 2, base_channels=2)(md.randn(3, 8, 8))
    with pytest.raises(TypeError, match=r"EncoderDecoder: input must be a Tensor, got ndarray"):
        EncoderDecoder(3, 2, base_channels=2, depth=1)(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"UNet: up must be one of 'transpose', 'bilinear', got 'nearest'"):
        UNet(3, 2, up="nearest")
    with pytest.raises(ValueError, match=r"UNet: depth must be a positive int, got 0"):
        UNet(3, 2, depth=0)
    with pytest.raises(TypeError, match=r"EncoderDecoder: skips must be True or False, got 'no'"):
        EncoderDecoder(3, 2, skips="no")
    with pytest.raises(ValueError, match=r"AutoEncoder: size must be a multiple of 4"):
        AutoEncoder(3, size=30)


# ------------------------------------------------------------------ U-Net

def test_unet_levels_double_the_channels_and_depth_counts_levels():
    """UNet(3, 5, 16, depth=3) is the 16-32-64 reference network: 3 levels, 2 poolings."""
    sd = UNet(3, 5, base_channels=16, depth=3, batch_norm=False).state_dict()
    assert sd["downs.0.0.weight"].shape == (16, 3, 3, 3)
    assert sd["downs.1.2.weight"].shape == (32, 32, 3, 3)
    assert sd["downs.2.0.weight"].shape == (64, 32, 3, 3)       # the bottleneck
    assert "downs.3.0.weight" not in sd
    assert sd["ups.0.weight"].shape == (64, 32, 2, 2)           # ConvTranspose2d layout (C_in, C_out, k, k)
    assert sd["ups.1.weight"].shape == (32, 16, 2, 2)
    assert sd["decoders.0.0.weight"].shape == (32, 64, 3, 3)    # concat: 32 copied + 32 from below
    assert sd["decoders.1.0.weight"].shape == (16, 32, 3, 3)
    assert sd["head.weight"].shape == (5, 16, 1, 1)
    assert sd["output_bias"].shape == (5,)
    bilinear = UNet(3, 5, base_channels=16, depth=3, up="bilinear").state_dict()
    assert bilinear["ups.0.1.weight"].shape == (32, 64, 1, 1)   # Upsample, then a 1x1 conv halving channels
    with_bn = UNet(3, 5, base_channels=16, depth=3).state_dict()                # batch norm by default
    assert "downs.0.1.running_mean" in with_bn and "downs.0.0.bias" not in with_bn


def test_tiny_unet_passes_gradcheck_with_respect_to_its_input():
    model = double(UNet(2, 3, base_channels=2, depth=2))
    x = distinct_input(2, 2, 8, 8)
    assert md.gradcheck(model, [x])


@pytest.mark.parametrize("name", ["downs.0.0.weight", "downs.1.1.bias", "downs.1.3.weight", "ups.0.weight",
                                  "decoders.0.0.weight", "head.weight"])
def test_tiny_unet_passes_gradcheck_with_respect_to_parameters(name):
    model = double(UNet(2, 3, base_channels=2, depth=2))
    assert param_gradcheck(model, name, distinct_input(1, 2, 8, 8))


def test_tiny_bilinear_unet_with_batch_norm_passes_gradcheck():
    model = double(UNet(2, 3, base_channels=2, depth=2, up="bilinear", batch_norm=True))
    x = distinct_input(2, 2, 4, 4)
    assert md.gradcheck(model, [x])
    assert param_gradcheck(model, "ups.0.1.weight", x)


def test_unet_skips_carry_the_encoder_copies_and_skips_false_drops_them():
    md.manual_seed(3)
    with_skips = UNet(2, 3, base_channels=2, depth=2)
    md.manual_seed(3)
    without = UNet(2, 3, base_channels=2, depth=2, skips=False)
    # the same network: same names, shapes and (same seed) initial values
    a, b = with_skips.state_dict(), without.state_dict()
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)
    x = md.randn(1, 2, 8, 8)
    assert not np.allclose(with_skips(x).numpy(), without(x).numpy())

    # without skips, the decoder weights that read the copied channels (the first 2 of the concat) learn nothing
    for model, copied_grad_is_zero in ((with_skips, False), (without, True)):
        model.zero_grad()
        (model(x) ** 2).sum().backward()
        g = model.decoders[0][0].weight.grad
        assert np.all(g[:, :2] == 0) == copied_grad_is_zero
        assert np.any(g[:, 2:] != 0)


def test_unet_state_dict_round_trip():
    md.manual_seed(1)
    source = UNet(3, 4, base_channels=2, depth=3, batch_norm=True)
    source(md.randn(2, 3, 8, 8))       # training mode: moves the BatchNorm running statistics
    md.manual_seed(2)
    target = UNet(3, 4, base_channels=2, depth=3, batch_norm=True)
    x = md.randn(2, 3, 8, 8)
    source.eval(), target.eval()
    assert not np.allclose(source(x).numpy(), target(x).numpy())
    target.load_state_dict(source.state_dict())
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key], value)


# ------------------------------------------------------------------ encoder-decoder and FCN

def test_tiny_encoder_decoder_passes_gradcheck():
    model = double(EncoderDecoder(2, 3, base_channels=2, depth=2))
    x = distinct_input(2, 2, 8, 8)
    assert md.gradcheck(model, [x])
    for name in ("encoders.0.0.weight", "decoders.0.3.weight", "head.bias"):
        assert param_gradcheck(model, name, x[:1])
    plain = double(EncoderDecoder(2, 3, base_channels=2, depth=2, skips=False))
    assert md.gradcheck(plain, [x[:1]])


def test_encoder_decoder_switches_put_values_back_where_the_maxima_were():
    """skips=True and skips=False share every parameter; only the unpooling differs (switches vs repetition)."""
    md.manual_seed(4)
    segnet = EncoderDecoder(1, 2, base_channels=2, depth=2)
    md.manual_seed(4)
    plain = EncoderDecoder(1, 2, base_channels=2, depth=2, skips=False)
    assert list(segnet.state_dict()) == list(plain.state_dict())
    assert not hasattr(plain, "unpool") and not hasattr(segnet, "upsample")
    x = md.randn(1, 1, 8, 8)
    assert not np.allclose(segnet(x).numpy(), plain(x).numpy())
    # what the decoder receives: the pooled map unpooled to the maxima's positions, zeros elsewhere
    features = segnet.encoders[0](x)
    pooled, switches = segnet.pool(features)
    unpooled = segnet.unpool(pooled, switches).numpy()
    f = features.numpy()
    is_max = f == np.repeat(np.repeat(pooled.numpy(), 2, axis=2), 2, axis=3)
    assert np.all(unpooled[~is_max] == 0)
    np.testing.assert_array_equal(unpooled[is_max & (f != 0)], f[is_max & (f != 0)])


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_depth_counts_levels_in_the_encoder_decoder_as_in_the_unet(depth):
    """depth = levels (resolutions) in both: depth - 1 poolings, the same widths, the same size multiple."""
    unet = UNet(3, 2, base_channels=2, depth=depth)
    encdec = EncoderDecoder(3, 2, base_channels=2, depth=depth)
    assert len(encdec.encoders) == len(unet.downs) == depth
    assert len(unet.decoders) == depth - 1 and len(encdec.decoders) == depth   # its last block is at level 0
    assert [b[0].out_channels for b in encdec.encoders] == [b[0].out_channels for b in unet.downs]
    side = 2 ** (depth - 1)
    for model in (unet, encdec):
        poolings = []
        model.pool.register_forward_hook(lambda m, args, out: poolings.append(1))
        assert model(md.randn(1, 3, side, 3 * side)).shape == (1, 2, side, 3 * side)
        assert len(poolings) == depth - 1
    if depth > 1:   # one fewer pooling would be needed for half the side
        with pytest.raises(ValueError, match=rf"multiples of {side} \({depth - 1} poolings by 2\)"):
            encdec(md.randn(1, 3, side // 2, side))


def test_tiny_fcn_passes_gradcheck():
    model = double(FCN(2, 3, base_channels=2))
    x = distinct_input(2, 2, 8, 8)
    assert md.gradcheck(model, [x])
    for name in ("stage1.0.weight", "score_skip.weight", "up2.weight", "up4.weight"):
        assert param_gradcheck(model, name, x[:1])


def test_fcn_upsamplers_start_bilinear_and_the_skip_reaches_the_output():
    model = FCN(3, 2, base_channels=2)
    assert model.up2.bias is None and model.up4.bias is None
    np.testing.assert_allclose(model.up2.weight.numpy()[0, 0], nn.init.bilinear_kernel(4))
    np.testing.assert_allclose(model.up4.weight.numpy()[1, 1], nn.init.bilinear_kernel(8))
    assert np.all(model.up4.weight.numpy()[0, 1] == 0)
    x = md.randn(1, 3, 16, 16)
    before = model(x).numpy()
    model.score_skip.bias.data = model.score_skip.bias.data + 1.0
    assert not np.allclose(model(x).numpy(), before)


# ------------------------------------------------------------------ autoencoder

def test_autoencoder_shapes():
    model = AutoEncoder(in_channels=3, size=16, latent_dim=5, base_channels=4)
    x = md.rand(2, 3, 16, 16)
    z = model.encode(x)
    assert z.shape == (2, 5)
    out = model.decode(z)
    assert out.shape == (2, 3, 16, 16)
    assert out.numpy().min() > 0 and out.numpy().max() < 1        # sigmoid output
    np.testing.assert_array_equal(model(x).numpy(), out.numpy())
    raw = AutoEncoder(1, size=8, latent_dim=3, base_channels=2, sigmoid=False)
    assert raw(md.rand(4, 1, 8, 8)).shape == (4, 1, 8, 8)
    with pytest.raises(ValueError, match=r"AutoEncoder.encode: images must be 16x16"):
        model.encode(md.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"AutoEncoder.decode: z must have shape \(N, 5\)"):
        model.decode(md.rand(2, 4))


def test_autoencoder_interpolate_walks_the_straight_line_between_two_codes():
    model = double(AutoEncoder(in_channels=2, size=8, latent_dim=4, base_channels=2))
    x1, x2 = md.rand(2, 8, 8, dtype=np.float64), md.rand(1, 2, 8, 8, dtype=np.float64)
    with md.no_grad():
        walk = model.interpolate(x1, x2, steps=5)
        assert walk.shape == (5, 2, 8, 8)
        z1, z2 = model.encode(x1.reshape(1, 2, 8, 8)), model.encode(x2)
        np.testing.assert_allclose(walk.numpy()[0], model.decode(z1).numpy()[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(walk.numpy()[4], model.decode(z2).numpy()[0], rtol=1e-12, atol=1e-14)
        middle = model.decode(z1 * 0.5 + z2 * 0.5).numpy()[0]
        np.testing.assert_allclose(walk.numpy()[2], middle, rtol=1e-12, atol=1e-14)
        assert not np.allclose(walk.numpy()[0], walk.numpy()[4])
    with pytest.raises(ValueError, match=r"AutoEncoder.interpolate: steps must be an int >= 2"):
        model.interpolate(x1, x2, steps=1)
    with pytest.raises(ValueError, match=r"AutoEncoder.interpolate: x2 must be one image"):
        model.interpolate(x1, md.rand(2, 2, 8, 8, dtype=np.float64), steps=3)


def test_tiny_autoencoder_passes_gradcheck():
    model = double(AutoEncoder(in_channels=1, size=4, latent_dim=3, base_channels=2))
    x = distinct_input(2, 1, 4, 4)
    assert md.gradcheck(model, [x])
    assert param_gradcheck(model, "encoder.5.weight", x)     # the Linear into the bottleneck


# ------------------------------------------------------------------ convolutionalize

def test_a_linear_layer_is_a_1x1_convolution():
    md.manual_seed(5)
    linear = nn.Linear(5, 3).to(dtype="float64")
    conv = linear_to_conv(linear)
    assert conv.weight.shape == (3, 5, 1, 1)
    x = md.randn(2, 5, 4, 6, dtype=np.float64)
    per_pixel = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)   # Linear on each pixel's channel vector
    np.testing.assert_allclose(conv(x).numpy(), per_pixel.numpy(), rtol=1e-12, atol=1e-12)


def _check_every_window(net, fcn, image, crop, stride):
    out = fcn(image).numpy()
    h, w = crop
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = image[:, :, stride * i:stride * i + h, stride * j:stride * j + w]
            np.testing.assert_allclose(out[:, :, i, j], net(window).numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"position ({i}, {j})")
    return out


def test_convolutionalized_classifier_labels_every_window_with_pooling():
    """Total stride 2: position (i, j) of the map is the crop x[:, :, 2i:2i+8, 2j:2j+8]."""
    classifier = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 2), nn.ReLU(),
                               nn.Flatten(), nn.Linear(6 * 2 * 2, 10), nn.ReLU(), nn.Dropout(0.5),
                               nn.Linear(10, 3)).to(dtype="float64").eval()
    fcn = convolutionalize(classifier, (2, 8, 8)).eval()
    assert not any(isinstance(m, (nn.Flatten, nn.Linear)) for m in fcn.modules())
    assert fcn[5].weight.shape == (10, 6, 2, 2) and fcn[8].weight.shape == (3, 10, 1, 1)
    image = md.randn(2, 2, 16, 16, dtype=np.float64)
    out = _check_every_window(classifier, fcn, image, (8, 8), stride=2)
    assert out.shape == (2, 3, 5, 5)


def test_convolutionalized_classifier_labels_every_window_at_stride_one():
    classifier = nn.Sequential(nn.Conv2d(2, 3, 3), nn.LeakyReLU(0.1), nn.Conv2d(3, 4, 3), nn.ReLU(),
                               nn.Flatten(), nn.Linear(4 * 4 * 4, 5)).to(dtype="float64")
    fcn = convolutionalize(classifier, (2, 8, 8))
    image = md.randn(1, 2, 11, 13, dtype=np.float64)
    out = _check_every_window(classifier, fcn, image, (8, 8), stride=1)
    assert out.shape == (1, 5, 4, 6)
    # on a crop-sized input it is the classifier itself, as a 1x1 map
    crop = image[:, :, :8, :8]
    np.testing.assert_allclose(fcn(crop).numpy()[:, :, 0, 0], classifier(crop).numpy(), rtol=1e-10, atol=1e-12)


def test_convolutionalize_copies_and_leaves_the_classifier_as_it_was():
    classifier = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    classifier[1].eval()                       # a mixed mode that must come back as it was
    before = classifier.state_dict()
    fcn = convolutionalize(classifier, (1, 6, 6))
    assert classifier.training and not classifier[1].training
    after = classifier.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    fcn[0].weight.data[...] = 0                # the copy's weights are its own
    assert np.array_equal(classifier[0].weight.numpy(), before["0.weight"])


def test_convolutionalize_refuses_what_it_cannot_convert():
    with pytest.raises(TypeError, match=r"convolutionalize: classifier must be an nn.Sequential"):
        convolutionalize(nn.Linear(3, 2), (3, 1, 1))
    with pytest.raises(ValueError, match=r"exactly one Flatten, found 0"):
        convolutionalize(nn.Sequential(nn.Conv2d(1, 2, 3)), (1, 4, 4))
    with pytest.raises(ValueError, match=r"input_size must be a crop size \(C, h, w\)"):
        convolutionalize(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (2, 2))
    with pytest.raises(TypeError, match=r"only Linear and pointwise layers .* got BatchNorm2d"):
        convolutionalize(nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.BatchNorm2d(2)), (1, 2, 2))
    with pytest.raises(ValueError, match=r"a Linear layer expects 5 inputs but gets 4"):
        convolutionalize(nn.Sequential(nn.Flatten(), nn.Linear(5, 2)), (1, 2, 2))


# ------------------------------------------------------------------ registry

def test_build_model_by_name():
    assert set(MODELS) == {"unet", "fcn", "encdec", "autoencoder"}
    expected = {"unet": UNet, "fcn": FCN, "encdec": EncoderDecoder, "autoencoder": AutoEncoder}
    for name, cls in expected.items():
        model = build_model(name, 1, 1, base_channels=2)
        assert type(model) is cls
    unet = build_model("unet", 3, 5, base_channels=4, depth=2, up="bilinear")
    assert (unet.in_channels, unet.out_channels, unet.depth, unet.up) == (3, 5, 2, "bilinear")
    ae = build_model("autoencoder", 3, 3, size=8, latent_dim=4)
    assert ae(md.rand(1, 3, 8, 8)).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError, match=r"unknown model 'segnet'; expected one of 'unet', 'fcn'"):
        build_model("segnet", 3, 5)
    with pytest.raises(ValueError, match=r"out_channels must equal in_channels=3, got out_channels=5"):
        build_model("autoencoder", 3, 5)


def test_summary_walks_every_model():
    cases = [(UNet(3, 5, base_channels=4, depth=3), (3, 16, 16), (1, 5, 16, 16)),
             (FCN(3, 5, base_channels=2), (3, 16, 8), (1, 5, 16, 8)),
             (EncoderDecoder(3, 5, base_channels=2, depth=2), (3, 8, 8), (1, 5, 8, 8)),
             (AutoEncoder(3, size=8, latent_dim=4, base_channels=2), (3, 8, 8), (1, 3, 8, 8))]
    for model, size, out_shape in cases:
        rows = model.summary(size, print_fn=lambda *args: None)
        assert rows[-1]["output_shape"] == out_shape
        assert sum(r["params"] for r in rows) == sum(p.size for p in model.parameters())


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["unet", "fcn", "encdec"])
def test_models_run_on_the_gpu_as_on_the_cpu(name):
    model = build_model(name, 2, 3, base_channels=2)
    x = md.randn(2, 2, 16, 16)
    expected = model(x).numpy()
    model.to("cuda")
    out = model(x.cuda())
    assert out.device == "cuda"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)
    (out * out).sum().backward()
    assert all(md.backend.device_of(p.grad) == "cuda" for p in model.parameters())


@pytest.mark.gpu
def test_autoencoder_walks_its_latent_space_on_the_gpu():
    model = AutoEncoder(2, size=8, latent_dim=3, base_channels=2).to("cuda")
    x1, x2 = md.rand(2, 8, 8).cuda(), md.rand(2, 8, 8).cuda()
    with md.no_grad():
        walk = model.interpolate(x1, x2, steps=4)
    assert walk.device == "cuda" and walk.shape == (4, 2, 8, 8)
