"""minidense.nn: registration and PyTorch's names, state dicts, modes, devices, repr, summary, and each layer."""
import numpy as np
import pytest

import minidense as md
import minidense.functional as F
from minidense import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Conv2d(4, 2, 1, bias=False)
        self.scale = nn.Parameter(md.ones(1).data)

    def forward(self, x):
        return self.head(self.encoder(x)) * self.scale


# ---------------------------------------------------------------- registration and names
def test_named_parameters_use_pytorch_dotted_names_in_assignment_order():
    names = [n for n, _ in Block().named_parameters()]
    assert names == ["scale", "encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
                     "head.weight"]
    assert [n for n, _ in Block().named_buffers()] == ["encoder.1.running_mean", "encoder.1.running_var",
                                                         "encoder.1.num_batches_tracked"]
    assert [n for n, _ in Block().named_children()] == ["encoder", "head"]


def test_state_dict_keys_shapes_and_dtypes_match_pytorch():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
    sd = model.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                        "1.num_batches_tracked"]
    shapes = {k: v.shape for k, v in sd.items()}
    assert shapes == {"0.weight": (8, 3, 3, 3), "0.bias": (8,), "1.weight": (8,), "1.bias": (8,),
                      "1.running_mean": (8,), "1.running_var": (8,), "1.num_batches_tracked": ()}
    assert sd["0.weight"].dtype == np.float32 and sd["1.num_batches_tracked"].dtype == np.int64
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    # buffers are saved but are not parameters
    assert len(list(model.parameters())) == 4 and len(list(model.buffers())) == 3


def test_state_dict_is_a_copy_and_round_trips():
    md.manual_seed(1)
    a = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    a(md.randn(4, 3, 3, 3))                       # training mode: moves the running statistics
    sd = a.state_dict()
    sd_before = {k: v.copy() for k, v in sd.items()}
    a[0].weight.data += 1                         # the state dict does not alias the model
    np.testing.assert_array_equal(sd["0.weight"], sd_before["0.weight"])
    b = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    weight = b[0].weight
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b[0].weight is weight                  # same Parameter objects: optimizers stay valid
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
        assert v.dtype == sd[k].dtype
    assert int(b[1].num_batches_tracked.item()) == 1
    x = md.randn(2, 3, 3, 3)
    a.eval(), b.eval()
    a[0].weight.data -= 1
    np.testing.assert_allclose(a(x).data, b(x).data, rtol=1e-6)


def test_load_state_dict_errors_name_the_key_and_shapes():
    model = nn.Sequential(nn.Linear(3, 2))
    sd = model.state_dict()
    with pytest.raises(ValueError, match="missing keys \\['0.bias'\\]"):
        model.load_state_dict({"0.weight": sd["0.weight"]})
    with pytest.raises(ValueError, match="unexpected keys \\['extra'\\]"):
        model.load_state_dict({**sd, "extra": np.zeros(1)})
    before = model[0].bias.data.copy()
    bad = {"0.weight": np.zeros((3, 2), np.float32), "0.bias": np.ones(2, np.float32)}
    with pytest.raises(ValueError, match="'0.weight' has shape \\(3, 2\\) .* expects \\(2, 3\\)"):
        model.load_state_dict(bad)
    np.testing.assert_array_equal(model[0].bias.data, before)   # a failed load changes nothing
    result = model.load_state_dict({"0.bias": np.ones(2, np.float32), "x": np.zeros(1)}, strict=False)
    assert result.missing_keys == ["0.weight"] and result.unexpected_keys == ["x"]
    np.testing.assert_array_equal(model[0].bias.data, [1, 1])
    with pytest.raises(TypeError, match="load_state_dict: state_dict must be a dict"):
        model.load_state_dict([1, 2])


def test_assignment_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign ndarray to parameter 'weight'"):
        m.weight = np.zeros((2, 2))
    m.weight = nn.Parameter(np.zeros((2, 2), np.float32))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]

    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1, np.float32))

    with pytest.raises(AttributeError, match="call super\\(\\).__init__\\(\\) first"):
        Broken()


def test_shared_parameter_is_listed_once():
    lin = nn.Linear(2, 2)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(model.parameters())) == 2


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and isinstance(seq[1], nn.ReLU)
    assert [n for n, _ in seq[1:].named_children()] == ["1", "2"]
    with pytest.raises(IndexError, match="Sequential: index 3 out of range"):
        seq[3]
    with pytest.raises(TypeError, match="Sequential: argument 1 must be a Module, got int"):
        nn.Sequential(nn.ReLU(), 3)
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    holder = nn.Module()
    holder.layers = layers
    assert [n for n, _ in holder.named_parameters()][:3] == ["layers.0.weight", "layers.0.bias", "layers.1.weight"]
    heads = nn.ModuleDict({"seg": nn.Conv2d(4, 3, 1), "depth": nn.Conv2d(4, 1, 1)})
    assert list(heads) == ["seg", "depth"] and "seg" in heads
    assert [n for n, _ in heads.named_parameters()] == ["seg.weight", "seg.bias", "depth.weight", "depth.bias"]


def test_train_eval_recurse_and_zero_grad():
    model = Block()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model(md.randn(2, 3, 4, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_dtype_keeps_identity_and_integer_buffers():
    model = Block()
    weight = model.head.weight
    assert model.double() is model
    assert model.head.weight is weight and weight.dtype == np.float64
    assert model.encoder[1].num_batches_tracked.dtype == np.int64
    assert model(md.randn(1, 3, 4, 4).double()).dtype == np.float64
    assert model.to("cpu") is model


@pytest.mark.gpu
def test_to_cuda_moves_parameters_and_buffers_in_place():
    model = Block()
    weight = model.head.weight
    model.to("cuda")
    assert model.head.weight is weight and weight.device == "cuda"
    assert all(b.device == "cuda" for b in model.buffers())
    out = model(md.randn(2, 3, 4, 4, device="cuda"))
    assert out.device == "cuda"
    assert model.cpu().state_dict()["head.weight"].shape == (2, 4, 1, 1)


def test_repr_is_pytorch_like():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (1): ReLU()\n"
        "  (2): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))\n"
        ")")
    nested = repr(Block())
    assert "  (encoder): Sequential(\n    (0): Conv2d(3, 4," in nested
    assert "(head): Conv2d(4, 2, kernel_size=(1, 1), stride=(1, 1), bias=False)" in nested
    assert repr(nn.Parameter(np.zeros(1, np.float32))).startswith("Parameter containing:\ntensor(")


# ---------------------------------------------------------------- summary
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_summary_receptive_field_of_stacked_3x3_convs_is_2n_plus_1(n):
    model = nn.Sequential(*[nn.Conv2d(2, 2, 3, padding=1) for _ in range(n)])
    rows = nn.summary(model, (2, 16, 16), print_fn=lambda *a: None)
    assert [r["receptive_field"] for r in rows] == [2 * i + 3 for i in range(n)]
    assert [r["params"] for r in rows] == [2 * 2 * 9 + 2] * n
    assert all(r["output_shape"] == (1, 2, 16, 16) for r in rows)


def test_summary_table_with_pooling_batchnorm_and_linear(capsys):
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 4, 3, dilation=2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    model.train()
    before = model[1].running_mean.data.copy()
    rows = model.summary((3, 16, 16))
    out = capsys.readouterr().out
    # conv 3x3: 3; pool 2 adds 1 (jump 1) -> 4, jump 2; dilated 3x3 adds 2·2·2 -> 12; Linear sees everything
    assert [r["receptive_field"] for r in rows] == [3, 3, 3, 4, 12, 12, None]
    assert [r["jump"] for r in rows][:5] == [1, 1, 1, 2, 2]
    assert [r["params"] for r in rows] == [3 * 8 * 9 + 8, 16, 0, 0, 8 * 4 * 9 + 4, 0, 64 * 10 + 10]
    assert [r["output_shape"] for r in rows] == [(1, 8, 16, 16), (1, 8, 16, 16), (1, 8, 16, 16), (1, 8, 8, 8),
                                                (1, 4, 4, 4), (1, 64), (1, 10)]
    assert [r["name"] for r in rows] == [str(i) for i in range(7)]
    assert "Total params: 1,182" in out and "MaxPool2d" in out and "(1, 4, 4, 4)" in out
    # summary runs in eval mode and leaves the model as it found it
    np.testing.assert_array_equal(model[1].running_mean.data, before)
    assert int(model[1].num_batches_tracked.item()) == 0 and model.training and model[1].training


def test_summary_upsampling_divides_the_jump():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1),
                          nn.Upsample(scale_factor=2, mode="bilinear"))
    rows = nn.summary(model, (1, 8, 8), print_fn=lambda *a: None)
    # conv: rf 3, jump 2; transposed k4 s2: each output reads 2 inputs, one step (2 px) apart: rf 5, jump 1;
    # bilinear x2: each output mixes 2 neighbours, one step (1 px) apart: rf 6, jump 1/2
    assert [(r["receptive_field"], r["jump"]) for r in rows] == [(3, 2), (5, 1), (6, 0.5)]
    assert rows[-1]["output_shape"] == (1, 1, 16, 16)


@pytest.mark.parametrize("k,s,d", [(2, 2, 1), (3, 2, 1), (4, 2, 1), (5, 3, 1), (3, 2, 2), (3, 1, 2), (4, 4, 2)])
def test_summary_transposed_conv_rule_matches_the_inputs_an_output_reads(k, s, d):
    up = nn.ConvTranspose2d(1, 1, k, stride=s, dilation=d, bias=False)
    nn.init.ones_(up.weight)
    rows = nn.summary(up, (1, 1, 9), print_fn=lambda *a: None)
    # measured: the widest set of inputs (in input steps, + 1) that any output pixel depends on
    widest = 0
    for o in range(up(md.zeros(1, 1, 1, 9)).shape[3]):
        x = md.zeros(1, 1, 1, 9, requires_grad=True)
        up(x)[0, 0, 0, o].backward()
        hit = np.flatnonzero(x.grad[0, 0, 0])
        widest = max(widest, hit[-1] - hit[0] + 1 if hit.size else 0)
    assert rows[0]["receptive_field"] == widest


def test_summary_rejects_bad_input_size():
    with pytest.raises(ValueError, match="summary: input_size must be a tuple of positive ints"):
        nn.summary(nn.ReLU(), 16)


# ---------------------------------------------------------------- layers
def test_linear_gradchecks_in_float64():
    md.manual_seed(3)
    lin = nn.Linear(4, 3).double()
    x = md.randn(5, 4, dtype=np.float64)
    assert md.gradcheck(lambda t: lin(t), [x])
    # parameters: the analytic gradient against central differences on the weight's own array
    upstream = np.random.default_rng(0).standard_normal((5, 3))
    lin.zero_grad()
    lin(x).backward(upstream)
    for p in (lin.weight, lin.bias):
        numeric = md.numerical_grad(lambda _: lin(x), p.data, upstream=upstream)
        np.testing.assert_allclose(p.grad, numeric, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(lin(x).data, x.data @ lin.weight.data.T + lin.bias.data)


def test_linear_init_and_errors():
    lin = nn.Linear(100, 50)
    assert lin.weight.shape == (50, 100) and lin.weight.dtype == np.float32
    assert np.abs(lin.weight.data).max() <= 0.1 and np.abs(lin.weight.data).max() > 0.09
    with pytest.raises(ValueError, match="Linear: input's last dimension must be in_features=100, got shape"):
        lin(md.randn(2, 99))
    with pytest.raises(ValueError, match="Linear: out_features must be a positive int, got 0"):
        nn.Linear(3, 0)


def test_conv_init_is_he_normal_and_seeded():
    md.manual_seed(5)
    conv = nn.Conv2d(64, 32, 3)
    w = conv.weight.data
    assert w.shape == (32, 64, 3, 3) and w.dtype == np.float32
    assert abs(w.std() / np.sqrt(2 / (64 * 9)) - 1) < 0.03 and abs(w.mean()) < 0.005
    np.testing.assert_array_equal(conv.bias.data, 0)
    md.manual_seed(5)
    np.testing.assert_array_equal(nn.Conv2d(64, 32, 3).weight.data, w)
    assert nn.ConvTranspose2d(6, 4, 2, stride=2).weight.shape == (6, 4, 2, 2)


def test_conv_layers_compute_the_functional_ops():
    x = md.randn(2, 3, 7, 7)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1, dilation=1)
    np.testing.assert_array_equal(conv(x).data, F.conv2d(x, conv.weight, conv.bias, 2, 1).data)
    up = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)
    y = up(x)
    assert y.shape == (2, 2, 14, 14)
    np.testing.assert_array_equal(y.data, F.conv_transpose2d(x, up.weight, up.bias, 2, 1, 1).data)
    assert up(x, output_size=(13, 13)).shape == (2, 2, 13, 13)
    with pytest.raises(ValueError, match="ConvTranspose2d: output_size \\(15, 15\\) cannot be reached"):
        up(x, output_size=(15, 15))
    with pytest.raises(ValueError, match="Conv2d: input has 4 channels .* in_channels=3"):
        conv(md.randn(1, 4, 5, 5))
    with pytest.raises(ValueError, match="Conv2d: input must be 4-D"):
        conv(md.randn(3, 5, 5))


def test_bilinear_transposed_conv_matches_bilinear_interpolation_inside():
    up = nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1, bias=False, init="bilinear")
    np.testing.assert_allclose(up.weight.data[0, 0, :, 0], [0.0625, 0.1875, 0.1875, 0.0625])
    assert np.all(up.weight.data[0, 1] == 0)
    x = md.randn(2, 3, 6, 7)
    got = up(x).data
    want = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False).data
    assert got.shape == want.shape == (2, 3, 12, 14)
    np.testing.assert_allclose(got[:, :, 1:-1, 1:-1], want[:, :, 1:-1, 1:-1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(got[:, :, 0], want[:, :, 0])      # the border differs (zeros outside, not clamping)
    with pytest.raises(ValueError, match="init='bilinear' needs in_channels == out_channels"):
        nn.ConvTranspose2d(3, 2, 4, stride=2, init="bilinear")


def test_maxpool_and_unpool():
    x = md.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    pool = nn.MaxPool2d(2, return_indices=True)
    out, idx = pool(x)
    np.testing.assert_array_equal(out.data[0, 0], [[5, 7], [13, 15]])
    back = nn.MaxUnpool2d(2)(out, idx)
    want = np.zeros((4, 4), np.float32)
    want[1::2, 1::2] = [[5, 7], [13, 15]]
    np.testing.assert_array_equal(back.data[0, 0], want)
    assert nn.MaxPool2d(3, stride=2, padding=1)(md.randn(1, 2, 7, 7)).shape == (1, 2, 4, 4)
    with pytest.raises(ValueError, match="MaxUnpool2d: indices must have the input's shape"):
        nn.MaxUnpool2d(2)(out, idx[:, :, :1])


def test_upsample():
    x = md.randn(1, 2, 3, 4)
    np.testing.assert_array_equal(nn.Upsample(scale_factor=2)(x).data, x.data.repeat(2, 2).repeat(2, 3))
    assert nn.Upsample(size=(5, 6), mode="bilinear")(x).shape == (1, 2, 5, 6)
    with pytest.raises(ValueError, match="Upsample: give exactly one of size and scale_factor"):
        nn.Upsample()
    with pytest.raises(ValueError, match="align_corners can only be set with mode='bilinear'"):
        nn.Upsample(scale_factor=2, align_corners=True)


def test_batchnorm_training_updates_running_stats_and_eval_uses_them():
    bn = nn.BatchNorm2d(3, momentum=0.5)
    x = md.randn(4, 3, 5, 5) * 2 + 1
    y = bn(x).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1, atol=1e-3)
    mean, var = x.data.mean(axis=(0, 2, 3)), x.data.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean.data, 0.5 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, 0.5 + 0.5 * var, rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1
    bn.eval()
    want = (x.data - bn.running_mean.data[:, None, None]) / np.sqrt(bn.running_var.data[:, None, None] + 1e-5)
    np.testing.assert_allclose(bn(x).data, want, rtol=1e-5, atol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1
    with pytest.raises(ValueError, match="BatchNorm2d: input has 2 channels .* num_features=3"):
        bn(md.randn(1, 2, 3, 3))


def test_batchnorm_cumulative_average_and_untracked():
    bn = nn.BatchNorm2d(2, momentum=None)
    xs = [md.randn(3, 2, 4, 4) + i for i in range(3)]
    for x in xs:
        bn(x)
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.data.mean(axis=(0, 2, 3)) for x in xs], axis=0),
                               rtol=1e-5)
    free = nn.BatchNorm2d(2, affine=False, track_running_stats=False).eval()
    assert list(free.state_dict()) == []
    np.testing.assert_allclose(free(xs[2]).data.mean(axis=(0, 2, 3)), 0, atol=1e-5)


def test_dropout_follows_training_flag():
    drop = nn.Dropout(0.5)
    x = md.ones(1000)
    y = drop(x).data
    assert set(np.unique(y)) == {0.0, 2.0} and 400 < (y == 0).sum() < 600
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x.data)
    with pytest.raises(ValueError, match="Dropout: p must be a probability in \\[0, 1\\), got 1.5"):
        nn.Dropout(1.5)


def test_activations_flatten_identity():
    x = md.tensor([[-2.0, 0.5], [3.0, -0.1]])
    np.testing.assert_array_equal(nn.ReLU()(x).data, [[0, 0.5], [3, 0]])
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).data, [[-0.2, 0.5], [3, -0.01]], rtol=1e-6)
    assert nn.Identity(5, any=1)(x) is x
    assert nn.Flatten()(md.randn(2, 3, 4, 5)).shape == (2, 60)
    assert nn.Flatten(0, 1)(md.randn(2, 3, 4)).shape == (6, 4)
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    with pytest.raises(TypeError, match="ReLU: input must be a Tensor or an array"):
        nn.ReLU()([1, 2])


def test_forward_hook_sees_output_and_can_be_removed():
    seen = []
    relu = nn.ReLU()
    handle = relu.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    relu(md.randn(2, 3))
    handle.remove()
    relu(md.randn(2, 3))
    assert seen == [(2, 3)]


def test_load_state_dict_casts_to_the_models_dtype():
    small = nn.Linear(3, 2)
    big = nn.Linear(3, 2).double()
    big.load_state_dict(small.state_dict())
    assert big.weight.dtype == np.float64
    np.testing.assert_array_equal(big.weight.data, small.weight.data.astype(np.float64))
    small.load_state_dict(big.state_dict())
    assert small.weight.dtype == np.float32


def test_init_functions():
    w = nn.Parameter(np.zeros((200, 100), np.float32))
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    bound = np.sqrt(2.0) * np.sqrt(3.0 / 100)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.95 * bound
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.data.std() / np.sqrt(2 / 200) - 1) < 0.03
    nn.init.zeros_(w)
    assert not w.data.any()
    np.testing.assert_allclose(nn.init.bilinear_kernel(3)[1], [0.5, 1.0, 0.5])
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(np.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="kaiming_normal_: mode must be 'fan_in' or 'fan_out'"):
        nn.init.kaiming_normal_(w, mode="fan")
    with pytest.raises(ValueError, match="calculate_gain: unknown nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")


def test_batchnorm_failed_call_counts_no_batch():
    bn = nn.BatchNorm2d(2)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(md.randn(1, 2, 1, 1))
    assert int(bn.num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(bn.running_var.data, [1, 1])


def test_summary_receptive_field_of_a_chain_matches_the_measured_one():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(1, 1, 3, dilation=2, padding=2),
                          nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1), nn.Conv2d(1, 1, 3, padding=1))
    for p in model.parameters():
        nn.init.ones_(p)   # positive weights and biases: nothing cancels, ReLU passes everything
    rows = nn.summary(model, (1, 24, 24), print_fn=lambda *a: None)
    assert [r["receptive_field"] for r in rows] == [3, 3, 11, 13, 15]
    widest = 0
    for o in range(24):
        x = md.ones(1, 1, 24, 24, requires_grad=True)
        model(x)[0, 0, 12, o].backward()
        cols = np.flatnonzero(x.grad[0, 0].any(axis=0))
        widest = max(widest, cols[-1] - cols[0] + 1)
    assert widest == rows[-1]["receptive_field"]
