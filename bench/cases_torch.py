"""PyTorch's side of the benchmark (run with .bench-venv-torch/bin/python): one case per process, JSON on stdout.

    .bench-venv-torch/bin/python bench/cases_torch.py --case unet_step_64 --repeat 9

The same cases as bench/cases_minidense.py, written the way a PyTorch user would (eager mode,
default thread count, float32, NCHW).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from common import measure, parse_args, threads_info  # noqa: E402
from torch import nn  # noqa: E402


def double_conv(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU())


class UNet(nn.Module):
    """The reference U-Net: minidense.models.UNet(in, classes, base_channels, depth), up="transpose"."""

    def __init__(self, in_channels, classes, base, depth):
        super().__init__()
        widths = [base * 2 ** i for i in range(depth)]
        self.downs = nn.ModuleList(double_conv(in_channels if i == 0 else widths[i - 1], c)
                                   for i, c in enumerate(widths))
        self.pool = nn.MaxPool2d(2)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(widths[i], widths[i - 1], 2, stride=2)
                                 for i in reversed(range(1, depth)))
        self.decoders = nn.ModuleList(double_conv(2 * widths[i - 1], widths[i - 1])
                                      for i in reversed(range(1, depth)))
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x):
        copies = []
        for i, block in enumerate(self.downs):
            x = block(x)
            if i < len(self.downs) - 1:
                copies.append(x)
                x = self.pool(x)
        for up, decoder, copy in zip(self.ups, self.decoders, reversed(copies)):
            x = decoder(torch.cat([copy, up(x)], dim=1))
        return self.head(x)


def build(p, device, seed):
    torch.manual_seed(seed)
    dev = torch.device(device)
    kind, n, backward = p["kind"], p["n"], p["backward"]

    def randn(*shape, requires_grad=False):
        return torch.randn(*shape, device=dev, requires_grad=requires_grad)

    if kind == "conv":
        x = randn(n, p["c_in"], p["size"], p["size"], requires_grad=p.get("input_grad", True))
        w = randn(p["c_out"], p["c_in"], p["k"], p["k"], requires_grad=True)
        b = randn(p["c_out"], requires_grad=True)
        g = randn(n, p["c_out"], p["size"], p["size"])

        def call():
            out = F.conv2d(x, w, b, padding=p["k"] // 2)
            if backward:
                out.backward(g)
    elif kind == "convT":
        x = randn(n, p["c_in"], p["size"], p["size"], requires_grad=True)
        w = randn(p["c_in"], p["c_out"], p["k"], p["k"], requires_grad=True)
        b = randn(p["c_out"], requires_grad=True)
        g = randn(n, p["c_out"], 2 * p["size"], 2 * p["size"])

        def call():
            out = F.conv_transpose2d(x, w, b, stride=p["stride"], padding=p["padding"],
                                     output_padding=p["output_padding"])
            if backward:
                out.backward(g)
    elif kind == "pool":
        x = randn(n, p["c"], p["size"], p["size"], requires_grad=True)
        g = randn(n, p["c"], p["size"], p["size"])

        def call():
            y, idx = F.max_pool2d(x, p["k"], return_indices=True)
            out = F.max_unpool2d(y, idx, p["k"])
            if backward:
                out.backward(g)
    elif kind == "xent":
        x = randn(n, p["classes"], p["size"], p["size"], requires_grad=True)
        t = torch.randint(0, p["classes"], (n, p["size"], p["size"]), device=dev)

        def call():
            loss = F.cross_entropy(x, t)
            if backward:
                loss.backward()
    elif kind == "unet":
        model = UNet(p["in_channels"], p["classes"], p["base"], p["depth"]).to(dev)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x = randn(n, p["in_channels"], p["size"], p["size"])
        t = torch.randint(0, p["classes"], (n, p["size"], p["size"]), device=dev)

        def call():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), t)
            loss.backward()
            opt.step()
    else:
        raise ValueError(f"unknown case kind {kind!r}")

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    info = dict(version=torch.__version__, threads=dict(threads_info(), torch=torch.get_num_threads()))
    return call, sync, info


def main(argv=None):
    args = parse_args("torch", argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no GPU available: torch.cuda.is_available() is False")
    return measure("torch", args, build)


if __name__ == "__main__":
    main()
