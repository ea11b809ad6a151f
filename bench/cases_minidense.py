"""minidense's side of the benchmark: one case per process, JSON on stdout (see bench/common.py).

    .venv/bin/python bench/cases_minidense.py --case conv3x3_n8_32to32_64_fwdbwd --repeat 10
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from common import measure, parse_args, threads_info  # noqa: E402

import minidense as md  # noqa: E402
import minidense.functional as F  # noqa: E402
import minidense.nn as nn  # noqa: E402
from minidense import backend  # noqa: E402
from minidense.models import UNet  # noqa: E402
from minidense.optim import SGD  # noqa: E402


def _randn(rng, device, *shape, requires_grad=False):
    data = backend.to_device(rng.standard_normal(shape, dtype=np.float32), device)
    return md.Tensor(data, requires_grad=requires_grad)


def _labels(rng, device, n, classes, size):
    return md.Tensor(backend.to_device(rng.integers(0, classes, (n, size, size)).astype(np.int64), device))


def _backward_or_not(out, backward):
    if backward:
        out.sum().backward() if out.ndim else out.backward()


def build(p, device, seed):
    md.tune_memory()    # as fit and the command line do (MINIDENSE_MALLOC=system measures glibc's defaults)
    md.manual_seed(seed)
    rng = np.random.default_rng(seed)
    kind, n, backward = p["kind"], p["n"], p["backward"]
    if kind == "conv":
        x = _randn(rng, device, n, p["c_in"], p["size"], p["size"], requires_grad=p.get("input_grad", True))
        w = _randn(rng, device, p["c_out"], p["c_in"], p["k"], p["k"], requires_grad=True)
        b = _randn(rng, device, p["c_out"], requires_grad=True)
        g = _randn(rng, device, n, p["c_out"], p["size"], p["size"])

        def call():
            out = F.conv2d(x, w, b, padding=p["k"] // 2)
            if backward:
                out.backward(g)
    elif kind == "convT":
        x = _randn(rng, device, n, p["c_in"], p["size"], p["size"], requires_grad=True)
        w = _randn(rng, device, p["c_in"], p["c_out"], p["k"], p["k"], requires_grad=True)
        b = _randn(rng, device, p["c_out"], requires_grad=True)
        g = _randn(rng, device, n, p["c_out"], 2 * p["size"], 2 * p["size"])

        def call():
            out = F.conv_transpose2d(x, w, b, stride=p["stride"], padding=p["padding"],
                                     output_padding=p["output_padding"])
            if backward:
                out.backward(g)
    elif kind == "pool":
        x = _randn(rng, device, n, p["c"], p["size"], p["size"], requires_grad=True)
        g = _randn(rng, device, n, p["c"], p["size"], p["size"])

        def call():
            y, idx = F.max_pool2d(x, p["k"], return_indices=True)
            out = F.max_unpool2d(y, idx, p["k"])
            if backward:
                out.backward(g)
    elif kind == "xent":
        x = _randn(rng, device, n, p["classes"], p["size"], p["size"], requires_grad=True)
        t = _labels(rng, device, n, p["classes"], p["size"])

        def call():
            loss = F.cross_entropy(x, t)
            if backward:
                loss.backward()
    elif kind == "unet":
        model = UNet(p["in_channels"], p["classes"], base_channels=p["base"], depth=p["depth"], batch_norm=False)
        if device != "cpu":
            model.to(device)
        if p.get("data_parallel"):
            model = nn.DataParallel(model)
        opt = SGD(model.parameters(), lr=0.01)
        x = _randn(rng, device, n, p["in_channels"], p["size"], p["size"])
        t = _labels(rng, device, n, p["classes"], p["size"])

        def call():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), t)
            loss.backward()
            opt.step()
    else:
        raise ValueError(f"unknown case kind {kind!r}")

    if device == "cuda":
        xp = backend.xp_for("cuda")

        def sync():
            xp.cuda.Device().synchronize()
    else:
        def sync():
            pass
    info = dict(version=md.__version__, numpy=np.__version__, threads=threads_info(),
                split_threads=md.get_num_threads())   # ops/parallel.py's (the split cross-entropy)
    return call, sync, info


def main(argv=None):
    args = parse_args("minidense", argv)
    if args.device == "cuda" and not md.gpu_available():
        raise SystemExit(f"no GPU available: {backend.gpu_unavailable_reason()}")
    return measure("minidense", args, build)


if __name__ == "__main__":
    main()
