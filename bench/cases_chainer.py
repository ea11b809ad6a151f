"""Chainer 7.8's side of the benchmark (run with .bench-venv-chainer/bin/python): one case per process.

    .bench-venv-chainer/bin/python bench/cases_chainer.py --case unet_step_64 --repeat 7

Chainer is the closest peer to minidense: NumPy (or CuPy) arrays, im2col convolutions, define-by-run.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chainer  # noqa: E402
import chainer.functions as F  # noqa: E402
import chainer.links as L  # noqa: E402
import numpy as np  # noqa: E402
from common import measure, parse_args, threads_info  # noqa: E402


class DoubleConv(chainer.Chain):
    def __init__(self, c_in, c_out):
        super().__init__()
        with self.init_scope():
            self.c1 = L.Convolution2D(c_in, c_out, 3, pad=1)
            self.c2 = L.Convolution2D(c_out, c_out, 3, pad=1)

    def forward(self, x):
        return F.relu(self.c2(F.relu(self.c1(x))))


class UNet(chainer.Chain):
    """The reference U-Net, as minidense.models.UNet(in, classes, base_channels, depth)."""

    def __init__(self, in_channels, classes, base, depth):
        super().__init__()
        widths = [base * 2 ** i for i in range(depth)]
        with self.init_scope():
            self.downs = chainer.ChainList(*(DoubleConv(in_channels if i == 0 else widths[i - 1], c)
                                             for i, c in enumerate(widths)))
            self.ups = chainer.ChainList(*(L.Deconvolution2D(widths[i], widths[i - 1], 2, stride=2)
                                           for i in reversed(range(1, depth))))
            self.decoders = chainer.ChainList(*(DoubleConv(2 * widths[i - 1], widths[i - 1])
                                                for i in reversed(range(1, depth))))
            self.head = L.Convolution2D(widths[0], classes, 1)

    def forward(self, x):
        copies = []
        for i, block in enumerate(self.downs):
            x = block(x)
            if i < len(self.downs) - 1:
                copies.append(x)
                x = F.max_pooling_2d(x, 2, cover_all=False)
        for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
            x = decoder(F.concat([copy, up(x)], axis=1))
        return self.head(x)


def build(p, device, seed):
    if device != "cpu":
        raise SystemExit("the Chainer side runs on the CPU only")
    rng = np.random.default_rng(seed)
    kind, n, backward = p["kind"], p["n"], p["backward"]

    def var(*shape, requires_grad=False):
        return chainer.Variable(rng.standard_normal(shape, dtype=np.float32), requires_grad=requires_grad)

    if kind == "conv":
        x = var(n, p["c_in"], p["size"], p["size"], requires_grad=p.get("input_grad", True))
        w = var(p["c_out"], p["c_in"], p["k"], p["k"], requires_grad=True)
        b = var(p["c_out"], requires_grad=True)
        g = rng.standard_normal((n, p["c_out"], p["size"], p["size"]), dtype=np.float32)

        def call():
            out = F.convolution_2d(x, w, b, pad=p["k"] // 2)
            if backward:
                out.grad = g
                out.backward()
    elif kind == "convT":
        x = var(n, p["c_in"], p["size"], p["size"], requires_grad=True)
        w = var(p["c_in"], p["c_out"], p["k"], p["k"], requires_grad=True)
        b = var(p["c_out"], requires_grad=True)
        out_size = 2 * p["size"]
        g = rng.standard_normal((n, p["c_out"], out_size, out_size), dtype=np.float32)

        def call():
            out = F.deconvolution_2d(x, w, b, stride=p["stride"], pad=p["padding"], outsize=(out_size, out_size))
            if backward:
                out.grad = g
                out.backward()
    elif kind == "pool":
        x = var(n, p["c"], p["size"], p["size"], requires_grad=True)
        g = rng.standard_normal((n, p["c"], p["size"], p["size"]), dtype=np.float32)

        def call():
            y, idx = F.max_pooling_2d(x, p["k"], cover_all=False, return_indices=True)
            out = F.upsampling_2d(y, idx, p["k"], outsize=(p["size"], p["size"]), cover_all=False)
            if backward:
                out.grad = g
                out.backward()
    elif kind == "xent":
        x = var(n, p["classes"], p["size"], p["size"], requires_grad=True)
        t = rng.integers(0, p["classes"], (n, p["size"], p["size"])).astype(np.int32)

        def call():
            loss = F.softmax_cross_entropy(x, t)
            if backward:
                loss.backward()
    elif kind == "unet":
        chainer.global_config.train = True
        model = UNet(p["in_channels"], p["classes"], p["base"], p["depth"])
        opt = chainer.optimizers.SGD(lr=0.01)
        opt.setup(model)
        x = rng.standard_normal((n, p["in_channels"], p["size"], p["size"]), dtype=np.float32)
        t = rng.integers(0, p["classes"], (n, p["size"], p["size"])).astype(np.int32)

        def call():
            model.cleargrads()
            loss = F.softmax_cross_entropy(model(x), t)
            loss.backward()
            opt.update()
    else:
        raise ValueError(f"unknown case kind {kind!r}")

    def sync():
        pass

    info = dict(version=chainer.__version__, numpy=np.__version__, threads=threads_info())
    return call, sync, info


def main(argv=None):
    args = parse_args("chainer", argv)
    return measure("chainer", args, build)


if __name__ == "__main__":
    main()
