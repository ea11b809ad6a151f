"""Where one case's time goes in minidense: per-call time, page faults, and time per helper and per op.

    .venv/bin/python bench/profile_step.py                              # the U-Net step, 64×64, batch 8
    .venv/bin/python bench/profile_step.py --case conv3x3_n4_64to64_128_fwdbwd
    MINIDENSE_MALLOC=system .venv/bin/python bench/profile_step.py      # glibc's own malloc settings
    .venv/bin/python bench/profile_step.py --no-end-to-end              # im2col/col2im's general tap loop only
    .venv/bin/python bench/profile_step.py --column-bytes 67108864      # bigger column blocks

The numbers in bench/README.md's profile section and in the performance commits come from here. The
case is built by cases_minidense.build (the benchmark's own code); the helpers and every Function's
forward and backward are wrapped with wall-clock timers, so their times overlap (a helper's time is
inside its op's). Timers cost a few µs per call: compare runs of this script, not with bench/run.py.
"""
import argparse
import collections
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cases_minidense import build  # noqa: E402
from common import CASES  # noqa: E402

import minidense as md  # noqa: E402
from minidense import backend  # noqa: E402
from minidense.ops import conv as conv_ops  # noqa: E402
from minidense.ops import conv_fast, fastpaths  # noqa: E402
from minidense.ops import im2col as columns  # noqa: E402
from minidense.tensor import Function  # noqa: E402

# (module or class, function name): the column helpers and the kernels, of both paths
HELPERS = [(columns, "im2col"), (columns, "col2im"), (conv_fast, "im2col"), (conv_fast, "col2im"),
           (conv_ops, "_conv_forward"), (conv_ops, "_conv_input_grad"), (conv_ops, "_conv_weight_grad"),
           (conv_fast.Kernels, "forward"), (conv_fast.Kernels, "input_grad"), (conv_fast.Kernels, "weight_grad")]


def _timed(fn, key, totals):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start
    return wrapper


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def instrument(totals):
    """Wrap the conv helpers and every Function's forward/backward with timers adding into ``totals``."""
    for owner, name in HELPERS:
        label = f"{owner.__name__.rsplit('.', 1)[-1]}.{name}"
        setattr(owner, name, _timed(getattr(owner, name), label, totals))
    conv_ops.REFERENCE.__dict__.update(forward=conv_ops._conv_forward, input_grad=conv_ops._conv_input_grad,
                                       weight_grad=conv_ops._conv_weight_grad)
    for cls in set(_subclasses(Function)):
        for method in ("forward", "backward"):
            if method in vars(cls):
                setattr(cls, method, _timed(vars(cls)[method], f"{cls.__name__}.{method}", totals))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="unet_step_64", choices=sorted(CASES))
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reference", action="store_true", help="the reference kernels only (md.fast_paths(False))")
    ap.add_argument("--no-end-to-end", action="store_true",
                    help="never lay rows end to end (conv_fast.rows_end_to_end answers False)")
    ap.add_argument("--column-bytes", type=int, help=f"the fast paths' column block budget (default "
                                                     f"{fastpaths.DEFAULT_COLUMN_BLOCK_BYTES})")
    args = ap.parse_args(argv)
    if args.no_end_to_end:
        conv_fast.rows_end_to_end = lambda geo, w, wo: False
    md.fast_paths(not args.reference, column_block_bytes=args.column_bytes)

    call, _, _ = build(CASES[args.case], "cpu", seed=0)
    for _ in range(args.warmup):
        call()
    times = []
    faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(args.repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before) / args.repeat

    totals = collections.defaultdict(float)
    instrument(totals)
    for _ in range(args.repeat):
        call()

    print(f"{args.case}: median {1e3 * statistics.median(times):.1f} ms, min {1e3 * min(times):.1f} ms "
          f"over {args.repeat} calls; {faults:.0f} page faults per call; malloc kept: {backend.malloc_tuned}; "
          f"fast paths: {fastpaths.enabled()}")
    print("time per call with timers on (helpers are inside their ops):")
    for key, total in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {key:32s} {1e3 * total / args.repeat:7.2f} ms")


if __name__ == "__main__":
    main()
