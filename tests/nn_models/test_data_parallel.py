"""nn.DataParallel: the module's own answer and gradients on the whole batch, from slices run on threads at once."""
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidense as md
import minidense.functional as F
import minidense.nn as nn
from minidense.models import UNet
from minidense.ops import fastpaths, parallel
from minidense.optim import SGD

needs_blas_threads = pytest.mark.skipif(not parallel.blas_threads.available(),
                                        reason="this NumPy's BLAS threads cannot be set (not OpenBLAS)")


@pytest.fixture
def threads():
    """md.set_num_threads(n) for the test, the previous count after; the fast paths on (MINIDENSE_FAST=0 too)."""
    before = md.get_num_threads()
    with md.fast_paths(True):
        yield md.set_num_threads
    md.set_num_threads(before)


def _net(seed=0, dtype=np.float64):
    md.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.ConvTranspose2d(4, 4, 2, stride=2), nn.ReLU(), nn.Conv2d(4, 2, 1))
    return net.to(dtype=dtype)


def _step(model, x, target):
    """Loss and every parameter's gradient (and x's) after one backward."""
    model.zero_grad()
    x.grad = None
    loss = F.cross_entropy(model(x), target)
    loss.backward()
    return loss.item(), [p.grad.copy() for p in model.parameters()], x.grad


def _data(n, seed=1, size=8, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = md.tensor(rng.standard_normal((n, 3, size, size)).astype(dtype), requires_grad=True)
    return x, md.tensor(rng.integers(0, 2, (n, size, size)))


@needs_blas_threads
@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 5), parts=st.integers(2, 3))
def test_slices_give_the_modules_loss_and_gradients_float64(n, parts):
    before = md.get_num_threads()
    md.set_num_threads(parts)
    try:
        x, t = _data(n)
        plain = _step(_net(), x, t)
        wrapped = nn.DataParallel(_net())
        with md.fast_paths(True):
            split = _step(wrapped, x, t)
        assert len(wrapped._replicas) == (min(parts, n) if n > 1 else 0)   # the batch was split (not for one image)
    finally:
        md.set_num_threads(before)
    assert split[0] == pytest.approx(plain[0], rel=1e-12)
    for a, b in zip(split[1] + [split[2]], plain[1] + [plain[2]]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@needs_blas_threads
def test_a_unet_step_float32_matches_and_the_optimizer_moves_the_modules_weights(threads):
    threads(2)
    md.manual_seed(0)
    model = UNet(3, 4, base_channels=4, depth=2, batch_norm=False)
    reference = UNet(3, 4, base_channels=4, depth=2, batch_norm=False)
    reference.load_state_dict(model.state_dict())
    wrapped = nn.DataParallel(model)
    x, t = _data(4, size=16, dtype=np.float32)
    t = md.tensor(t.data % 4)
    for net in (wrapped, reference):
        opt = SGD(net.parameters(), lr=0.1)
        for _ in range(2):   # the second step runs on the weights the optimizer changed
            opt.zero_grad()
            F.cross_entropy(net(x), t).backward()
            opt.step()
    assert wrapped._replicas
    assert list(wrapped.state_dict()) == ["module." + k for k in reference.state_dict()]
    for a, b in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-4, atol=1e-5)
        assert a.data.dtype == np.float32


@needs_blas_threads
def test_retain_graph_and_a_second_backward_add_up(threads):
    threads(2)
    x, t = _data(4)
    wrapped, plain = nn.DataParallel(_net()), _net()
    grads = []
    for net in (wrapped, plain):
        loss = F.cross_entropy(net(x), t)
        loss.backward(retain_graph=True)
        loss.backward()
        grads.append([p.grad for p in net.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("why", ["fast paths off", "one thread", "batch norm", "dropout", "hook"])
def test_where_slices_would_change_the_answer_the_module_runs_whole(why, threads):
    threads(1 if why == "one thread" else 2)
    net = _net()
    if why == "batch norm":
        net = nn.Sequential(net, nn.BatchNorm2d(2).to(dtype=np.float64))
    if why == "dropout":
        net = nn.Sequential(net, nn.Dropout(0.5))
    if why == "hook":
        net[0].register_forward_hook(lambda module, inputs, out: None)
    wrapped = nn.DataParallel(net)
    x, _ = _data(4)
    with md.fast_paths(why != "fast paths off"):
        md.manual_seed(3)
        got = wrapped(x)
        md.manual_seed(3)
        np.testing.assert_array_equal(got.data, net(x).data)   # the same call: the same bits
    assert not wrapped._replicas


@needs_blas_threads
def test_eval_mode_batch_norm_is_split(threads):
    threads(2)
    net = nn.Sequential(_net(), nn.BatchNorm2d(2).to(dtype=np.float64)).eval()
    wrapped = nn.DataParallel(net)
    x, _ = _data(4)
    np.testing.assert_allclose(wrapped(x).data, net(x).data, rtol=1e-12)
    assert len(wrapped._replicas) == 2


@needs_blas_threads
def test_a_module_that_does_not_keep_the_batch_axis_is_refused(threads):
    threads(2)

    class Total(nn.Module):
        def forward(self, x):
            return x.sum()

    with pytest.raises(TypeError, match="axis 0 is the batch's"):
        nn.DataParallel(Total())(_data(4)[0])
    with pytest.raises(TypeError, match="module must be a Module"):
        nn.DataParallel(lambda x: x)


@needs_blas_threads
def test_an_error_in_a_slice_is_raised_and_blas_threads_come_back(threads):
    threads(2)
    before = parallel.blas_threads.get()

    class Fails(nn.Module):
        def forward(self, x):
            if threading.current_thread() is not threading.main_thread():
                raise RuntimeError("slice failed")
            return x * 1.0

    with pytest.raises(RuntimeError, match="slice failed"):
        nn.DataParallel(Fails())(_data(4)[0])
    assert parallel.blas_threads.get() == before


@needs_blas_threads
def test_blas_threads_sets_and_restores():
    before = parallel.blas_threads.get()
    with parallel.blas_threads(1):
        assert parallel.blas_threads.get() == 1
    assert parallel.blas_threads.get() == before
    with pytest.raises(ValueError, match="positive int"):
        parallel.blas_threads(0)


def test_passes_are_not_split_again_inside_a_piece_of_run_apart(threads):
    threads(2)
    out = np.zeros(1 << 20, np.float32)
    seen = []
    parallel.run_apart(lambda i: seen.append(len(parallel.split(len(out), out, min_bytes=1))), [0, 1])
    assert seen == [1, 1] and len(parallel.split(len(out), out, min_bytes=1)) == 2


@needs_blas_threads
def test_each_slice_builds_columns_under_its_share_of_the_budget(threads):
    threads(2)
    seen = []

    class Records(nn.Module):
        def forward(self, x):
            seen.append(fastpaths.column_block_bytes())
            return x * 1.0

    with md.fast_paths(True, column_block_bytes=1 << 20):
        nn.DataParallel(Records())(_data(4)[0])
        assert seen == [1 << 19, 1 << 19] and fastpaths.column_block_bytes() == 1 << 20
        with fastpaths.budget_share(4):
            assert fastpaths.column_block_bytes() == 1 << 18
        assert fastpaths.column_block_bytes() == 1 << 20


@needs_blas_threads
def test_under_no_grad_the_slices_record_no_graph(threads):
    threads(2)
    x, _ = _data(4)
    wrapped, net = nn.DataParallel(_net()), _net()
    with md.no_grad():
        out = wrapped(x)
    assert out._ctx is None and not out.requires_grad and len(wrapped._replicas) == 2
    np.testing.assert_allclose(out.data, net(x).data, rtol=1e-12)


@needs_blas_threads
def test_a_data_parallel_inside_another_runs_its_module_whole(threads):
    threads(2)
    inner = nn.DataParallel(_net())
    outer = nn.DataParallel(nn.Sequential(inner))
    x, t = _data(4)
    split, plain = _step(outer, x, t), _step(_net(), x, t)   # no deadlock: the inner one finds the threads taken
    assert len(outer._replicas) == 2 and not any(r[0]._replicas for r in outer._replicas)   # the inner copies
    for a, b in zip(split[1], plain[1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
