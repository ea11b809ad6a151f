"""ONNX export: every built-in model, run by onnxruntime, gives minidense's output.

The dev extra installs onnx and onnxruntime, so in ``make test`` nothing here skips.
"""
import configparser
import os
import re

import numpy as np
import onnx
import onnxruntime as ort
import paths
import pytest

import minidense as md
import minidense.functional as F
from minidense import nn
from minidense.export import to_onnx
from minidense.models import FCN, MODELS, AutoEncoder, EncoderDecoder, UNet, convolutionalize

ROOT = str(paths.ROOT)
SHAPE = (2, 3, 16, 16)


def _randomize(model, seed=0):
    """Weights and batch-norm statistics away from their initial values, so that every one of them counts."""
    gen = np.random.default_rng(seed)
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t.dtype.kind != "f":
            continue
        values = gen.standard_normal(t.shape) * 0.5
        if name.endswith("running_var"):
            values = gen.uniform(0.5, 2.0, t.shape)
        t.data[...] = values.astype(t.dtype)
    return model


def _round_trip(model, path, shape, seed=1):
    """minidense's output and onnxruntime's on the same input, from the file to_onnx wrote."""
    proto = to_onnx(model, path, shape)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    model.eval()
    with md.no_grad():
        expected = model(md.tensor(x)).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["output"], {"input": x})[0]
    return proto, expected, got


def _assert_matches(got, expected):
    """The tolerance (docs/pytorch.md): rtol 1e-4 and atol 1e-4 · max|y|."""
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def _classifier_fcn():
    classifier = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 2), nn.ReLU(),
                               nn.Flatten(), nn.Linear(6 * 2 * 2, 10), nn.ReLU(), nn.Dropout(0.5), nn.Linear(10, 3))
    return convolutionalize(classifier, (3, 8, 8))


BUILT_IN = {
    "fcn": lambda: FCN(3, 5, base_channels=4),
    "encdec": lambda: EncoderDecoder(3, 4, base_channels=4, depth=2, batch_norm=False),
    "encdec_batch_norm": lambda: EncoderDecoder(3, 4, base_channels=4, depth=2, batch_norm=True),
    "encdec_no_skips": lambda: EncoderDecoder(3, 4, base_channels=4, depth=2, skips=False, batch_norm=False),
    "unet": lambda: UNet(3, 4, base_channels=4, depth=3, batch_norm=False),
    "unet_batch_norm": lambda: UNet(3, 4, base_channels=4, depth=3, batch_norm=True),
    "unet_no_skips": lambda: UNet(3, 4, base_channels=4, depth=3, skips=False, batch_norm=False),
    "unet_bilinear": lambda: UNet(3, 4, base_channels=4, depth=3, up="bilinear", batch_norm=True),
    "autoencoder": lambda: AutoEncoder(3, size=16, latent_dim=8, base_channels=4),
    "autoencoder_raw": lambda: AutoEncoder(3, size=16, latent_dim=8, base_channels=4, sigmoid=False),
    "convolutionalize": _classifier_fcn,
}
# the ONNX operators each model must be exported with (a model exported some other way is a change to look at)
EXPECTED_OPS = {
    "fcn": {"Conv", "ConvTranspose", "MaxPool", "Relu", "Add"},
    "encdec": {"Conv", "MaxPool", "MaxUnpool", "Relu"},
    "encdec_batch_norm": {"BatchNormalization", "MaxUnpool"},
    "encdec_no_skips": {"Resize"},
    "unet": {"Conv", "ConvTranspose", "MaxPool", "Concat", "Relu"},
    "unet_batch_norm": {"BatchNormalization", "Concat"},
    "unet_no_skips": {"Concat"},
    "unet_bilinear": {"Resize", "BatchNormalization"},
    "autoencoder": {"Gemm", "Reshape", "Sigmoid", "ConvTranspose"},
    "autoencoder_raw": {"Gemm", "Reshape"},
    "convolutionalize": {"Conv", "MaxPool", "Relu"},
}


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_onnx_round_trip_matches_minidense(name, tmp_path):
    md.manual_seed(0)
    model = _randomize(BUILT_IN[name]())
    proto, expected, got = _round_trip(model, tmp_path / f"{name}.onnx", SHAPE)
    _assert_matches(got, expected)
    # no output channel constant over the image (dead ReLUs would hide a wrong translation upstream); each
    # channel's own offset (the output bias) is taken out first
    centred = expected - expected.mean(axis=(2, 3), keepdims=True)
    assert (centred.std(axis=(2, 3)) > 0.1 * centred.std()).all()
    ops = {node.op_type for node in proto.graph.node}
    assert EXPECTED_OPS[name] <= ops, f"{name} exported with {sorted(ops)}"
    # every parameter and buffer is in the file under its state_dict key (the batch counter is not needed)
    stored = {t.name for t in proto.graph.initializer}
    needed = {k for k, v in model.state_dict().items() if np.asarray(v).dtype.kind == "f"}
    assert needed <= stored, f"missing initializers: {sorted(needed - stored)}"


def test_a_data_parallel_model_is_written_as_its_module(tmp_path):
    before = md.get_num_threads()
    md.set_num_threads(2)
    try:
        model = _randomize(UNet(3, 2, base_channels=4, depth=2, batch_norm=False))
        proto, expected, got = _round_trip(nn.DataParallel(model), tmp_path / "dp.onnx", SHAPE)
    finally:
        md.set_num_threads(before)
    _assert_matches(got, expected)
    plain = to_onnx(model, tmp_path / "plain.onnx", SHAPE)
    assert [n.op_type for n in proto.graph.node] == [n.op_type for n in plain.graph.node]


def test_every_built_in_model_is_covered():
    assert {"fcn", "encdec", "unet", "autoencoder"} == set(MODELS), \
        "a model was added to minidense.models.MODELS: add it to BUILT_IN and EXPECTED_OPS here"


def test_max_unpool_uses_the_switches_of_its_own_pooling(tmp_path):
    """Ties (all-zero windows after ReLU) must land where minidense puts them: an input made of them."""
    md.manual_seed(1)
    model = _randomize(EncoderDecoder(3, 2, base_channels=4, depth=2), seed=3)
    proto = to_onnx(model, tmp_path / "m.onnx", SHAPE)
    pool = next(n for n in proto.graph.node if n.op_type == "MaxPool")
    assert len(pool.output) == 2 and any(pool.output[1] in n.input for n in proto.graph.node
                                         if n.op_type == "MaxUnpool")
    x = np.zeros(SHAPE, dtype=np.float32)
    x[:, :, ::3, ::2] = 1.0
    with md.no_grad():
        expected = model.eval()(md.tensor(x)).numpy()
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    _assert_matches(got, expected)


class _EndsWithBias(nn.Module):
    """A head followed by ``+ bias``, a Parameter added after the last layer (as the models' output bias)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)
        self.out_bias = nn.Parameter(md.tensor(np.array([4.5, -1.25], dtype=np.float32).reshape(2, 1, 1)).data)

    def forward(self, x):
        return self.conv(x) + self.out_bias


def test_an_added_parameter_becomes_an_initializer_under_its_name(tmp_path):
    md.manual_seed(2)
    model = _EndsWithBias()
    proto, expected, got = _round_trip(model, tmp_path / "bias.onnx", (1, 3, 8, 8))
    _assert_matches(got, expected)
    add = next(n for n in proto.graph.node if n.op_type == "Add")
    assert "out_bias" in add.input
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    np.testing.assert_array_equal(stored["out_bias"], model.out_bias.numpy())


class _ManyOps(nn.Module):
    """The translations the built-in models do not reach: each op of _TRANSLATORS at least once."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=2, dilation=2, stride=1)
        self.up = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        h = F.leaky_relu(self.conv(x), 0.1)                                          # (N, 4, 8, 8)
        h = F.avg_pool2d(F.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1))), 3, stride=2, padding=1,
                         count_include_pad=False)                                    # (N, 4, 5, 5)
        h = F.interpolate(F.interpolate(h, size=(7, 7), mode="nearest"), size=(8, 8), mode="bilinear",
                          align_corners=True)
        h = F.interpolate(h, scale_factor=2, mode="nearest").tanh()                  # (N, 4, 16, 16)
        h = self.up(F.max_pool2d(h, 3, stride=2, padding=1))                        # (N, 4, 16, 16)
        h = F.normalize(h, dim=1) * 2 - h.exp().clip(0.5, 3.0) / 4 + (h * h + 1).sqrt().log()
        h = md.stack([h, -h.abs() ** 2], axis=1).sum(axis=1)                         # (N, 4, 16, 16)
        v = self.fc(h.mean(axis=(2, 3)))                                            # (N, 5): a Linear, 2-D
        s = F.softmax(h, dim=1) + F.log_softmax(h, dim=1).permute(0, 1, 3, 2)       # (N, 4, 16, 16)
        m = h.max(axis=1, keepdims=True) - h.min(axis=1, keepdims=True)               # (N, 1, 16, 16)
        total = s.sum(axis=(1, 2, 3)).reshape(-1, 1)                                  # (N, 1)
        return md.concat([s.reshape(s.shape[0], -1), m.reshape(m.shape[0], -1), v, total], axis=1).sigmoid()


def test_the_other_ops_round_trip(tmp_path):
    md.manual_seed(3)
    model = _randomize(_ManyOps(), seed=5)
    proto, expected, got = _round_trip(model, tmp_path / "ops.onnx", (2, 3, 8, 8))
    _assert_matches(got, expected)
    ops = {node.op_type for node in proto.graph.node}
    assert {"LeakyRelu", "AveragePool", "Pad", "Resize", "MaxPool", "ConvTranspose", "ReduceL2", "Clip", "Softmax",
            "LogSoftmax", "Transpose", "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "Gemm", "Concat",
            "Sigmoid", "Unsqueeze", "Exp", "Log", "Sqrt", "Abs", "Pow", "Neg", "Tanh"} <= ops, sorted(ops)


def test_an_op_without_translation_is_named(tmp_path):
    class Crops(nn.Module):
        def forward(self, x):
            return x[:, :, 1:3]

    with pytest.raises(NotImplementedError, match="GetItem"):
        to_onnx(Crops(), tmp_path / "x.onnx", (1, 1, 4, 4))
    assert not (tmp_path / "x.onnx").exists()


def test_a_max_pooling_the_export_did_not_see_is_named(tmp_path):
    from minidense.ops.pool import max_pool2d  # bound before the export: not the watched F.max_pool2d

    class Pools(nn.Module):
        def forward(self, x):
            return max_pool2d(x, 2)

    with pytest.raises(NotImplementedError, match="max pooling.*geometry was not seen"):
        to_onnx(Pools(), tmp_path / "x.onnx", (1, 1, 4, 4))


def test_batch_statistics_cannot_be_exported(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2, track_running_stats=False))
    with pytest.raises(NotImplementedError, match="batch's statistics"):
        to_onnx(model, tmp_path / "x.onnx", (2, 1, 4, 4))


@pytest.mark.parametrize("shape", [(1, 3, 0, 8), "1x3", (1, 3.0, 8, 8), (), (True, 3, 8, 8)])
def test_bad_input_shape_is_refused(shape, tmp_path):
    with pytest.raises(ValueError, match="input_shape must be a tuple of positive ints"):
        to_onnx(UNet(3, 2, base_channels=2, depth=2), tmp_path / "x.onnx", shape)


def test_modes_are_restored_and_nothing_else_is_left_patched(tmp_path):
    apply_before, pool_before = md.Function.apply, F.max_pool2d
    model = UNet(3, 2, base_channels=2, depth=2, batch_norm=True)
    model.downs[0].eval()                                    # a mixed mode that must come back as it was
    to_onnx(model, tmp_path / "m.onnx", (1, 3, 8, 8))
    assert model.training and not model.downs[0].training and model.downs[1].training
    assert md.Function.apply == apply_before and F.max_pool2d is pool_before
    with pytest.raises(NotImplementedError):
        to_onnx(lambda x: x[0], tmp_path / "y.onnx", (2, 2))
    assert md.Function.apply == apply_before and F.max_pool2d is pool_before


def test_the_dev_extra_installs_the_round_trip_and_export_is_an_extra():
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))

    def names(text):
        return {re.split(r"[<>=!~\[ ;]", line.strip())[0] for line in text.splitlines() if line.strip()}

    extras = cfg["options.extras_require"]
    assert names(extras["export"]) == {"onnx"}
    assert {"onnx", "onnxruntime"} <= names(extras["dev"])
    assert not {"onnx", "onnxruntime", "torch"} & names(cfg["options"]["install_requires"])
