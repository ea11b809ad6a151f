"""What a GPU user runs, on the device: on a real GPU, and on the CuPy stand-in (tests/standin) everywhere else.

Each bug the stand-in found on the GPU path has its test here: CuPy's flags, CuPy arrays met
before any request for "cuda", CPU/GPU mixes naming the public function (keyword arrays included),
"cuda:N", random dtypes, the GPU's random stream across a resume, a data set of device arrays, a device
move inside a graph, and fit's synchronisations per step.
"""
import os
import subprocess
import sys

import numpy as np
import paths
import pytest

import minidense as md
import minidense.functional as F
from minidense import backend, cli, metrics, nn
from minidense.models import UNet
from minidense.tasks import get_task
from minidense.train import evaluate, fit

pytestmark = pytest.mark.gpu

ROOT = str(paths.ROOT)


def _cupy():
    import cupy
    return cupy


def _assert_resumed_equal(got, want, name):
    """Bit for bit on the stand-in (and on the CPU). On a real GPU, atomic adds (cupyx.scatter_add) may sum in
    another order from run to run, so there the weights agree to float32 rounding."""
    got, want = backend.to_numpy(got), backend.to_numpy(want)
    if getattr(sys.modules.get("cupy"), "_standin", False):
        np.testing.assert_array_equal(got, want, err_msg=f"{name} differs after the resume")
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{name} differs after the resume")


def _same_on_both(fn, *arrays, rtol=1e-5, atol=1e-6):
    """fn on CPU tensors and on GPU tensors (each requiring grad when floating): outputs and gradients agree."""
    results = {}
    for device in ("cpu", "cuda"):
        ts = [md.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
        out = fn(*ts)
        assert out.device == device
        out.backward(md.tensor(np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype), device=device))
        results[device] = [out.numpy()] + [t.grad for t in ts if t.requires_grad]
    for cpu, gpu in zip(results["cpu"], results["cuda"]):
        assert (cpu is None) == (gpu is None), "a gradient on one device only"
        if cpu is not None:
            assert backend.device_of(gpu) == ("cpu" if gpu is results["cuda"][0] else "cuda")
            np.testing.assert_allclose(backend.to_numpy(gpu), backend.to_numpy(cpu), rtol=rtol, atol=atol)
    return results


# ---------------------------------------------------------------- the bugs, one test each
def test_batch_norm_trains_on_the_gpu():
    """CuPy's flags have no `writeable`: batch norm in training read it and crashed."""
    x = md.randn(4, 3, 5, 5, device="cuda", requires_grad=True)
    rm, rv = md.zeros(3, device="cuda"), md.ones(3, device="cuda")
    F.batch_norm(x, rm, rv, training=True).sum().backward()
    assert x.grad is not None and float(rm.numpy().std()) > 0
    layer = nn.BatchNorm2d(3).to("cuda")
    layer(x).mean().backward()
    model = UNet(3, 2, base_channels=2, depth=2, batch_norm=True).to("cuda")
    model(md.randn(2, 3, 8, 8, device="cuda")).sum().backward()
    assert all(backend.device_of(p.grad) == "cuda" for p in model.parameters())


def test_cupy_arrays_are_recognised_before_any_request_for_cuda():
    backend._cupy, backend._cupy_error = None, None     # as in a process that imported cupy itself
    cupy = _cupy()
    a = cupy.asarray(np.array([[0, 1], [1, 1]]))
    assert backend.is_array(a) and backend.device_of(a) == "cuda" and backend.get_array_module(a) is cupy
    assert md.tensor(a).device == "cuda" and md.Tensor(a).device == "cuda"
    assert metrics.confusion_matrix(a, a, 2).tolist() == [[1, 0], [0, 3]]


def test_a_fresh_process_takes_cupy_arrays():
    code = ("import numpy as np, cupy, minidense as md\n"
            "from minidense import metrics\n"
            "a = cupy.asarray(np.array([[0, 1], [1, 1]]))\n"
            "assert md.tensor(a).device == 'cuda' and md.Tensor(a).device == 'cuda'\n"
            "assert metrics.confusion_matrix(a, a, 2).tolist() == [[1, 0], [0, 3]]\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "ok", out.stderr


def _mix_cases():
    """(public function, argument that is on the CPU, call) with everything else on the GPU."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    t = rng.integers(0, 3, (2, 4, 4))
    y = rng.random((2, 3, 4, 4)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    vec = np.ones(3, np.float32)
    mask = np.ones((2, 3, 4, 4), bool)
    depth = rng.random((2, 1, 4, 4)).astype(np.float32) + 1
    g = md.tensor
    return [
        ("cross_entropy", "target", lambda c: F.cross_entropy(g(x, device="cuda"), g(t))),
        ("cross_entropy", "weight", lambda c: F.cross_entropy(g(x, device="cuda"), g(t, device="cuda"), weight=g(vec))),
        ("nll_loss", "weight", lambda c: F.nll_loss(g(x, device="cuda"), g(t, device="cuda"), weight=vec)),
        ("conv2d", "weight", lambda c: F.conv2d(g(x, device="cuda"), g(w))),
        ("conv2d", "bias", lambda c: F.conv2d(g(x, device="cuda"), g(w, device="cuda"), g(np.ones(2, np.float32)))),
        ("mul", "b", lambda c: g(x, device="cuda") * g(x)),
        ("l1_loss", "mask", lambda c: F.l1_loss(g(y, device="cuda"), g(y, device="cuda"), mask=g(mask))),
        ("mse_loss", "mask", lambda c: F.mse_loss(g(y, device="cuda"), g(y, device="cuda"), mask=mask)),
        ("scale_invariant_log_loss", "mask",
         lambda c: F.scale_invariant_log_loss(g(depth, device="cuda"), g(depth, device="cuda"),
                                              mask=np.ones((2, 1, 4, 4), bool))),
        ("binary_cross_entropy_with_logits", "weight",
         lambda c: F.binary_cross_entropy_with_logits(g(y, device="cuda"), g(y, device="cuda"), weight=g(y))),
        ("binary_cross_entropy_with_logits", "pos_weight",
         lambda c: F.binary_cross_entropy_with_logits(g(y, device="cuda"), g(y, device="cuda"),
                                                      pos_weight=np.ones((3, 1, 1), np.float32))),
        ("batch_norm", "running_mean",
         lambda c: F.batch_norm(g(x, device="cuda"), g(vec * 0), g(vec, device="cuda"), training=True)),
        ("batch_norm", "running_var",
         lambda c: F.batch_norm(g(x, device="cuda"), g(vec * 0, device="cuda"), vec, training=False)),
        ("max_unpool2d", "indices",
         lambda c: F.max_unpool2d(g(x, device="cuda"), g(np.zeros((2, 3, 4, 4), np.int64)), 2)),
    ]


@pytest.mark.parametrize("fname, arg, call", _mix_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_device_mix_names_the_public_function_and_the_argument(fname, arg, call):
    with pytest.raises(ValueError, match=rf"^{fname}: arguments are on different devices \(.*{arg} on cpu"):
        call(None)


class _Scale(md.Function):
    """A Function called without a public wrapper (as a student writes one): Function.apply checks the devices."""

    def forward(self, x, y, *, factor):
        return x * y * factor

    def backward(self, grad):
        return grad, grad


def test_function_apply_refuses_a_device_mix_without_a_wrapper():
    on_cpu, on_gpu = md.ones(2), md.ones(2, device="cuda")
    assert _Scale.apply(on_gpu, on_gpu, factor=2.0).device == "cuda"
    with pytest.raises(ValueError, match=r"^_scale: inputs are on different devices \(cpu, cuda\)"):
        _Scale.apply(on_cpu, on_gpu, factor=2.0)
    with pytest.raises(ValueError, match=r"^_scale: inputs are on different devices \(cpu, cuda\)"):
        _Scale.apply(on_gpu, on_gpu, factor=np.ones(2, np.float32))   # a keyword array on the host


def test_cuda_n_selects_the_current_device_or_is_refused(monkeypatch):
    cupy = _cupy()
    assert backend.check_device("cuda:0") == "cuda" and md.zeros(2, device="cuda:0").device == "cuda"
    count = cupy.cuda.runtime.getDeviceCount()
    with pytest.raises(ValueError, match=rf"'cuda:{count}': this machine has {count} CUDA device"):
        md.zeros(2, device=f"cuda:{count}")
    if getattr(cupy, "_standin", False):
        monkeypatch.setenv("MINIDENSE_STANDIN_GPUS", "2")
    if cupy.cuda.runtime.getDeviceCount() >= 2:
        with pytest.raises(ValueError, match=r"runs on one GPU.*cupy.cuda.Device\(1\).use\(\)"):
            md.zeros(2, device="cuda:1")
        with cupy.cuda.Device(1):
            assert md.zeros(2, device="cuda:1").device == "cuda"
    for bad in ("cuda:x", "cuda:", "cuda:-1", "gpu:0"):
        with pytest.raises(ValueError, match="device must be"):
            backend.check_device(bad)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_random_tensors_take_float32_and_float64_on_both_devices(device):
    for make in (md.rand, md.randn):
        for dtype in ("float16", "int32", "int64", "bool"):
            with pytest.raises(TypeError, match=rf"{make.__name__}: dtype must be float32 or float64, got {dtype}"):
                make(3, dtype=dtype, device=device)
        assert make(3, dtype="float64", device=device).dtype == np.float64
        assert make(3, device=device).dtype == np.float32


def _dropout_model():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Dropout(0.5), nn.Conv2d(4, CLASSES, 1))


CLASSES = get_task("segmentation").num_classes


def _scenes(n, seed=0):
    return get_task("segmentation").dataset(n, size=8, seed=seed)


def test_resume_on_the_gpu_draws_what_it_would_have_drawn(tmp_path):
    """Dropout on the GPU across a resume: the stream of epoch 2 comes from (seed, epoch, step), not from a restart."""
    data = _scenes(8)
    kw = dict(batch_size=4, device="cuda", progress=False, augment=False, schedule="constant")
    md.manual_seed(0)
    whole = _dropout_model()
    fit(whole, "segmentation", data, epochs=2, out=str(tmp_path / "whole"), **kw)
    md.manual_seed(0)
    part = _dropout_model()
    fit(part, "segmentation", data, epochs=1, out=str(tmp_path / "part"), **kw)
    resumed = _dropout_model()
    fit(resumed, "segmentation", data, epochs=2, out=str(tmp_path / "part"), resume=True, log=lambda *a: None, **kw)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        _assert_resumed_equal(b, a, name)
    state = md.checkpoint.load(str(tmp_path / "part" / "last.npz"))["rng"]["device_stream"]
    assert state == {"seed": 0, "epoch": 1, "step": 4}


def test_a_data_set_of_device_arrays_trains_and_evaluates():
    cupy = _cupy()
    data = [(cupy.asarray(image), cupy.asarray(target)) for image, target in _scenes(4)]
    history = fit(UNet(3, CLASSES, base_channels=2, depth=2), "segmentation", data, data, epochs=1, batch_size=2,
                  device="cuda", progress=False)
    assert np.isfinite(history[0]["train_loss"]) and "miou" in history[0]


def test_a_device_move_is_part_of_the_graph():
    x = md.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    y = x.to("cuda")
    assert not y.is_leaf and y.requires_grad and y.device == "cuda"
    ((y * y).sum().to("cpu") + (y.to("cpu") * 3).sum()).backward()
    assert x.grad is not None and backend.device_of(x.grad) == "cpu"
    np.testing.assert_allclose(x.grad, 2 * x.numpy() + 3)
    with md.no_grad():
        assert x.cuda().is_leaf


def _syncs_of_fit(model):
    cupy = _cupy()
    data = _scenes(8)
    cupy._syncs.reset()
    fit(model, "segmentation", data, epochs=1, batch_size=2, device="cuda", progress=False, augment=False)
    return cupy._syncs.count


def test_fit_synchronises_per_step_independently_of_the_parameter_count():
    if not getattr(_cupy(), "_standin", False):
        pytest.skip("counts synchronisations with the stand-in's counter")
    small = nn.Sequential(nn.Conv2d(3, CLASSES, 1))
    deep = nn.Sequential(*[m for _ in range(6) for m in (nn.Conv2d(3, 3, 3, padding=1), nn.ReLU())],
                         nn.Conv2d(3, CLASSES, 1))
    n_small, n_deep = len(list(small.parameters())), len(list(deep.parameters()))
    assert n_deep >= 5 * n_small
    syncs_small, syncs_deep = _syncs_of_fit(small), _syncs_of_fit(deep)
    assert syncs_small == syncs_deep, (f"{syncs_small} syncs with {n_small} parameters, {syncs_deep} with {n_deep}")
    assert syncs_small <= 4 * 4 + 4, f"{syncs_small} synchronisations for 4 steps"


# ---------------------------------------------------------------- what a GPU user runs
def test_fit_and_evaluate_match_the_cpu(tmp_path):
    data, val = _scenes(8), _scenes(4, seed=1)
    runs = {}
    for device in ("cpu", "cuda"):
        md.manual_seed(0)
        model = UNet(3, CLASSES, base_channels=2, depth=2)
        history = fit(model, "segmentation", data, val, epochs=1, batch_size=4, device=device, progress=False,
                      out=str(tmp_path / device))
        runs[device] = history[0], evaluate(model, "segmentation", val, device=device)
        assert (tmp_path / device / "last.npz").exists()
    for key in ("train_loss", "val_loss", "miou"):
        assert runs["cuda"][0][key] == pytest.approx(runs["cpu"][0][key], rel=1e-4, abs=1e-5)
    assert runs["cuda"][1]["loss"] == pytest.approx(runs["cpu"][1]["loss"], rel=1e-4)


def test_command_line_trains_on_cuda_then_evaluates(tmp_path):
    out = tmp_path / "run"
    small = ["--size", "16", "--depth", "2", "--n-train", "4", "--n-val", "2", "--epochs", "1",
             "--base-channels", "2", "--no-progress"]
    run = subprocess.run([sys.executable, "-m", "minidense", "train", "--device", "cuda", "--out", str(out)] + small,
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    run = subprocess.run([sys.executable, "-m", "minidense", "eval", "--checkpoint", str(out / "last.npz"),
                          "--device", "cuda", "--n", "2"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and "miou" in run.stdout, run.stderr
    assert cli.main(["eval", "--checkpoint", str(out / "last.npz"), "--n", "2"]) == 0   # and on the CPU


def conv_geometries():
    """Convolution cases: the general path, and the stride-1 'same'-width one (rows laid end to end).
    (name, input shape, weight shape, keyword arguments)."""
    return [
        ("general", (2, 3, 9, 7), (4, 3, 3, 3), dict(stride=2, padding=1)),
        ("dilated", (1, 2, 9, 9), (3, 2, 3, 3), dict(padding=2, dilation=2)),
        ("same_width", (2, 4, 8, 8), (5, 4, 3, 3), dict(stride=1, padding=1)),
    ]


def conv_paths():
    """(name, md.fast_paths arguments): the reference form, whatever the dispatch picks, and the fast path forced
    to build its columns in blocks of whole images and in bands of one image's rows (a small column budget)."""
    return [
        ("reference", dict(enabled=False)),
        ("dispatch", dict(enabled=True)),
        ("fast_blocks", dict(enabled=True, column_block_bytes=600)),
        ("fast_bands", dict(enabled=True, column_block_bytes=150)),
    ]


@pytest.mark.parametrize("path, switch", conv_paths(), ids=[p[0] for p in conv_paths()])
@pytest.mark.parametrize("name, x_shape, w_shape, kw", conv_geometries(), ids=[g[0] for g in conv_geometries()])
def test_conv2d_and_its_transpose_match_the_cpu(name, x_shape, w_shape, kw, path, switch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    with md.fast_paths(**switch):
        _same_on_both(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b, rtol=1e-4, atol=1e-4)
        _same_on_both(lambda x, w: F.conv_transpose2d(x, w, **kw), x[:, :w_shape[1]].copy(),
                      w.transpose(1, 0, 2, 3).copy(), rtol=1e-4, atol=1e-4)


def test_conv2d_on_a_full_size_input_matches_the_cpu():
    """One image whose columns exceed the default budget (4 MiB): the dispatch bands it on the device too."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 64, 64, 64)).astype(np.float32)
    w = rng.standard_normal((2, 64, 3, 3)).astype(np.float32)
    _same_on_both(lambda x, w: F.conv2d(x, w, padding=1), x, w, rtol=1e-4, atol=1e-4)


def test_conv1d_and_its_transpose_match_the_cpu():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 11)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3)).astype(np.float32)
    _same_on_both(lambda x, w: F.conv1d(x, w, stride=2, padding=1), x, w, rtol=1e-4, atol=1e-5)
    _same_on_both(lambda x, w: F.conv_transpose1d(x, w, stride=2), x[:, :3], w.transpose(1, 0, 2).copy()[:3],
                  rtol=1e-4, atol=1e-5)


def _loss_cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    t = rng.integers(0, 3, (2, 4, 4))
    t[0, 0, 0] = 255
    y = rng.random((2, 3, 4, 4)).astype(np.float32)
    m = rng.random((2, 4, 4)) > 0.3
    d = rng.random((2, 1, 4, 4)).astype(np.float32) + 0.5
    n = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    vec = np.array([1.0, 2.0, 0.5], np.float32)
    return [
        ("cross_entropy", lambda x, w: F.cross_entropy(x, md.tensor(t, device=x.device), weight=w, ignore_index=255),
         (x, vec)),
        ("nll_loss", lambda x: F.nll_loss(F.log_softmax(x, dim=1), md.tensor(t, device=x.device), ignore_index=255),
         (x,)),
        ("l1_loss", lambda p, q: F.l1_loss(p, q, mask=md.tensor(m, device=p.device)), (x, y)),
        ("mse_loss", lambda p, q: F.mse_loss(p, q, reduction="sum"), (x, y)),
        ("smooth_l1_loss", lambda p, q: F.smooth_l1_loss(p, q, reduction="none", beta=0.5), (x, y)),
        ("scale_invariant_log_loss", lambda p, q: F.scale_invariant_log_loss(p, q), (d, d[::-1].copy())),
        ("cosine_normal_loss", lambda p, q: F.cosine_normal_loss(p, q, mask=md.tensor(m, device=p.device)), (n, x)),
        ("binary_cross_entropy_with_logits",
         lambda p, q, w: F.binary_cross_entropy_with_logits(p, q, weight=w, pos_weight=w * 2), (x, y, y[:1].copy())),
        ("normalize", lambda p: F.normalize(p, dim=1), (n,)),
        ("batch_norm", lambda p, w: F.batch_norm(p, md.zeros(3, device=p.device), md.ones(3, device=p.device),
                                                 w, w, training=True), (x, vec)),
        ("batch_norm_eval", lambda p: F.batch_norm(p, md.tensor(vec * 0.1, device=p.device),
                                                   md.tensor(vec, device=p.device), training=False), (x,)),
        ("softmax", lambda p: F.softmax(p, dim=1), (x,)),
    ]


@pytest.mark.parametrize("name, fn, arrays", _loss_cases(), ids=[c[0] for c in _loss_cases()])
def test_every_loss_and_norm_matches_the_cpu(name, fn, arrays):
    _same_on_both(fn, *arrays, rtol=1e-4, atol=1e-5)


def test_dropout_on_the_gpu_is_seeded_and_scaled():
    md.manual_seed(3)
    a = F.dropout(md.ones(64, 64, device="cuda"), p=0.25)
    md.manual_seed(3)
    b = F.dropout(md.ones(64, 64, device="cuda"), p=0.25)
    values = np.unique(a.numpy())
    assert (a.numpy() == b.numpy()).all() and set(values.tolist()) <= {0.0, np.float32(1 / 0.75)}


def test_indexing_backward_matches_the_cpu():
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    rows = np.array([0, 2, 2, 4, 0])
    _same_on_both(lambda t: t[md.tensor(rows, device=t.device)], x)              # repeated rows add up
    _same_on_both(lambda t: t[md.tensor(x > 0, device=t.device)], x)             # a boolean mask
    _same_on_both(lambda t: t[1:, ::2], x)


def test_unet_gradcheck_in_float64_on_the_device():
    md.manual_seed(0)
    model = UNet(3, 2, base_channels=2, depth=2).to("cuda", "float64")
    x = md.randn(1, 3, 4, 4, device="cuda", dtype="float64")
    assert md.gradcheck(lambda t: model(t), [x])


def test_notebook_12_runs_on_the_device(tmp_path, monkeypatch):
    """Notebook 12's GPU cells (skipped in the normal notebook test where no GPU is usable) run here."""
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MINIDENSE_NB_SIZE", "small")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = jupytext.read(os.path.join(ROOT, "notebooks", "12_gpu.py"))
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "GPU usable: True" in text and "gradient back on cpu" in text and "skipped (no GPU)" not in text


def test_a_killed_cuda_run_resumes_to_the_uninterrupted_weights(tmp_path):
    """The command line on the device, SIGKILLed after its first checkpoint, then --resume: bit for bit."""
    import signal
    import time
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("needs POSIX signals")
    args = [sys.executable, "-m", "minidense.cli", "train", "--device", "cuda", "--epochs", "4", "--size", "16",
            "--n-train", "8", "--n-val", "2", "--base-channels", "2", "--depth", "2", "--batch-size", "4",
            "--seed", "5", "--no-progress", "--out"]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(args + [str(tmp_path / "whole")], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    last = tmp_path / "killed" / "last.npz"
    proc = subprocess.Popen(args + [str(tmp_path / "killed")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, cwd=ROOT)
    while proc.poll() is None and not last.exists():
        time.sleep(0.005)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    epoch_at_kill = md.checkpoint.load(str(last))["epoch"]
    resumed = subprocess.run(args + [str(tmp_path / "killed"), "--resume"], capture_output=True, text=True, env=env,
                             cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr
    print(f"\nkilled while running: {killed}, at epoch {epoch_at_kill} of 4")
    a, b = md.checkpoint.load(str(tmp_path / "whole" / "last.npz")), md.checkpoint.load(str(last))
    for key, value in a["model"].items():
        _assert_resumed_equal(b["model"][key], value, key)
    assert a["rng"] == b["rng"] and a["epoch"] == b["epoch"] == 4
