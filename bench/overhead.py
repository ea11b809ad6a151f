"""The autograd engine's overhead per op, in µs, and its share of a small network's training step.

    .venv/bin/python bench/overhead.py            # a short report
    .venv/bin/python bench/overhead.py --json     # one JSON line (bench/run.py includes it in the table)

Three measurements:
1. A chain of 1000 additions of 1-element tensors: forward only (graph recorded), and forward plus
   backward; the arithmetic is nil, so the time per op is the engine's overhead (checks, Function
   objects, the graph walk, unbroadcast) plus NumPy's own per-call cost, shown beside it.
2. A 20-layer network (10 × [3×3 conv 16→16 + ReLU], then a 1×1 head and cross-entropy) on
   batch 8 of 8×8 inputs: one SGD training step, and the number of ops it records.
3. The same network on 1×1 inputs with one channel: the arrays are trivial, so that step is
   (nearly) all overhead; its ratio to the 8×8 step is the share of Python in the step.

Every result names the machine (CPU, vector extensions, NumPy's BLAS) and the load average.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine_info, machine_report  # noqa: E402

import minidense as md  # noqa: E402
import minidense.functional as F  # noqa: E402
import minidense.nn as nn  # noqa: E402
from minidense.optim import SGD  # noqa: E402


def _best(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def chain_overhead(ops=1000, repeat=20):
    """µs per op of a chain of additions: (forward only, forward + backward, raw NumPy)."""
    x = md.tensor(np.ones(1, np.float32), requires_grad=True)
    one = md.tensor(np.ones(1, np.float32))

    def forward():
        y = x
        for _ in range(ops):
            y = y + one
        return y

    def both():
        forward().sum().backward()

    a, b = x.data, one.data

    def numpy_chain():
        y = a
        for _ in range(ops):
            y = y + b

    fwd = _best(forward, repeat)[0]
    fb = _best(both, repeat)[0]
    raw = _best(numpy_chain, repeat)[0]
    return fwd / ops * 1e6, fb / ops * 1e6, raw / ops * 1e6


def net(channels, layers=20):
    mods = []
    for i in range(layers // 2):
        mods += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
    mods.append(nn.Conv2d(channels, 5, 1))
    return nn.Sequential(*mods)


def count_ops(root):
    seen, stack = set(), [root]
    while stack:
        t = stack.pop()
        fn = t._ctx
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        stack.extend(fn.parents)
    return len(seen)


def net_step(n, channels, size, repeat):
    md.manual_seed(0)
    model = net(channels)
    opt = SGD(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = md.tensor(rng.standard_normal((n, channels, size, size), dtype=np.float32))
    t = md.tensor(rng.integers(0, 5, (n, size, size)))
    ops = count_ops(F.cross_entropy(model(x), t))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), t).backward()
        opt.step()

    best, med = _best(step, repeat)
    return best, med, ops


def measure(repeat=30):
    fwd, fb, raw = chain_overhead()
    best, med, ops = net_step(8, 16, 8, repeat)
    tiny_best, tiny_med, _ = net_step(1, 1, 1, repeat)
    return dict(us_per_op_forward=fwd, us_per_op=fb, numpy_us_per_op=raw,
                net_ms=best * 1e3, net_median_ms=med * 1e3, net_ops=ops, net_us_per_op=best / ops * 1e6,
                tiny_net_ms=tiny_best * 1e3, tiny_net_us_per_op=tiny_best / ops * 1e6,
                net_overhead_fraction=min(1.0, tiny_best / best), machine=machine_info(),
                load_avg_1min=round(os.getloadavg()[0], 2))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    r = measure(args.repeat)
    if args.json:
        print(json.dumps(r))
        return r
    print(machine_report(r['machine'], r['load_avg_1min']))
    print(f"one op (1-element add), forward only:      {r['us_per_op_forward']:6.1f} µs")
    print(f"one op, forward + backward:                {r['us_per_op']:6.1f} µs   (raw NumPy add: "
          f"{r['numpy_us_per_op']:.2f} µs)")
    print(f"20-layer net, batch 8, 16 ch, 8x8: step    {r['net_ms']:6.2f} ms   ({r['net_ops']} ops, "
          f"{r['net_us_per_op']:.0f} µs per op)")
    print(f"same net on 1x1, 1 channel, batch 1: step  {r['tiny_net_ms']:6.2f} ms   "
          f"({r['tiny_net_us_per_op']:.0f} µs per op: overhead)")
    print(f"share of the 8x8 step that is overhead:    {100 * r['net_overhead_fraction']:5.0f} %")
    return r


if __name__ == "__main__":
    main()
