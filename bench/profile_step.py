"""Where one case's time goes in minidense: per-call time, page faults, and its share per kind of work.

    .venv/bin/python bench/profile_step.py                              # the U-Net step, 64×64, batch 8
    .venv/bin/python bench/profile_step.py --threads 1                  # one BLAS thread (steadier on a busy machine)
    .venv/bin/python bench/profile_step.py --case conv3x3_n4_64to64_128_fwdbwd
    MINIDENSE_MALLOC=system .venv/bin/python bench/profile_step.py      # glibc's own malloc settings
    .venv/bin/python bench/profile_step.py --no-end-to-end              # im2col/col2im's general tap loop only
    .venv/bin/python bench/profile_step.py --column-bytes 67108864      # bigger column blocks

The case is built by cases_minidense.build (the benchmark's own code) and first timed as it is. Then the
column helpers, the convolution kernels, every Function's forward and backward and the optimizer's step are
wrapped with wall-clock timers, and each call's time minus that of the timed calls inside it (its exclusive
time) is added to its kind of work:

- matrix products: the convolution kernels outside im2col/col2im (the product and its output's layout), MatMul;
- copies: im2col/col2im (padding included), and the shape ops (concatenation, padding, reshapes, slices);
- elementwise ops: arithmetic, activations, reductions, normalisation;
- pooling (and resampling), the loss, the convolution ops outside their kernels (the bias, dispatch);
- the optimizer's step (the parameter update);
- the engine, in three rows: Function.apply's own bookkeeping (inputs to arrays, the Function object, the
  output Tensor and its link to the graph); the backward walk (topological order, unbroadcast, gradient
  accumulation, freeing the saved arrays); everything else in the step (the public functions' argument
  checks, module calls, zero_grad, the caller's loop), less the timers' own cost, which is measured (a timed
  no-op) and shown on its own row.

Prints that table (ms per call and % of the instrumented step) and the time per helper and op, and writes
everything as JSON (``--json``, default bench/results/profile-<case>.json), with the machine (CPU, vector
extensions, NumPy's BLAS) and the load. Compare runs of this script with each other, not with bench/run.py.
"""
import argparse
import collections
import datetime
import importlib
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import CASES, machine_info, machine_report  # noqa: E402

# threads must be set before NumPy loads its BLAS
if "--threads" in sys.argv[1:-1]:
    _n = sys.argv[sys.argv.index("--threads") + 1]
    os.environ.update({k: _n for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})

from cases_minidense import build  # noqa: E402

import minidense as md  # noqa: E402
from minidense import _malloc, optim  # noqa: E402
from minidense.ops import conv as conv_ops  # noqa: E402
from minidense.ops import conv_fast, conv_rows, fastpaths  # noqa: E402
from minidense.ops import im2col as columns  # noqa: E402
from minidense.tensor import Function  # noqa: E402

engine = importlib.import_module("minidense.tensor")  # the module (md.tensor is the function that makes tensors)

PRODUCTS, COPIES = "matrix products", "copies (im2col/col2im, padding, concat, shape ops)"
ELEMENTWISE, POOLING, LOSS = "elementwise ops", "pooling and resampling", "loss"
CONV_OTHER, OPTIMIZER = "conv ops outside the kernels (bias, dispatch)", "optimizer step"
APPLY, BACKWARD_WALK = "engine: Function.apply", "engine: backward walk"
ENGINE, TIMERS, OTHER = "engine: everything else (checks, modules)", "timers (measured, taken out)", "other ops"
CATEGORIES = (PRODUCTS, COPIES, ELEMENTWISE, POOLING, LOSS, CONV_OTHER, OPTIMIZER, OTHER, APPLY, BACKWARD_WALK,
              ENGINE, TIMERS)

# (owner, function name, kind of work): the column helpers and the kernels, of both paths (absent ones skipped)
HELPERS = [(columns, "pad", COPIES), (columns, "im2col", COPIES), (columns, "col2im", COPIES),
           (conv_fast, "im2col", COPIES), (conv_fast, "col2im", COPIES),
           (conv_rows, "columns", COPIES), (conv_rows, "padded_rows", COPIES),
           (conv_ops, "_conv_forward", PRODUCTS), (conv_ops, "_conv_input_grad", PRODUCTS),
           (conv_ops, "_conv_weight_grad", PRODUCTS), (conv_fast.Kernels, "forward", PRODUCTS),
           (conv_fast.Kernels, "input_grad", PRODUCTS), (conv_fast.Kernels, "weight_grad", PRODUCTS)]
# a Function's kind of work, by the module that defines it
MODULE_KIND = {"arith": ELEMENTWISE, "elementwise": ELEMENTWISE, "reduce": ELEMENTWISE, "norm": ELEMENTWISE,
               "shape": COPIES, "pool": POOLING, "pool_fast": POOLING, "resample": POOLING, "loss": LOSS,
               "loss_fast": LOSS,   # its CrossEntropy shares loss.CrossEntropy's name, so their timers share a key
               "conv": CONV_OTHER, "conv_matrix": CONV_OTHER}
FUNCTION_KIND = {"MatMul": PRODUCTS}


class Timers:
    """Wall-clock timers that nest: each call adds its time, less its timed callees', to its key."""

    def __init__(self):
        self.exclusive = collections.defaultdict(float)
        self.calls = collections.Counter()
        self.kind = {}
        self._stack = []

    def wrap(self, fn, key, kind):
        self.kind[key] = kind
        stack, exclusive, calls, clock = self._stack, self.exclusive, self.calls, time.perf_counter

        def timed(*args, **kwargs):
            stack.append(0.0)
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = clock() - start
                inner = stack.pop()
                exclusive[key] += elapsed - inner
                calls[key] += 1
                if stack:
                    stack[-1] += elapsed
        return timed

    def cost_per_call(self, n=20000):
        """Seconds a timer adds to one call (a timed no-op against the bare one), best of 5."""
        probe = Timers()
        bare = lambda: None  # noqa: E731
        timed = probe.wrap(bare, "probe", None)

        def loop(f):
            start = time.perf_counter()
            for _ in range(n):
                f()
            return time.perf_counter() - start
        return max(0.0, min(loop(timed) - loop(bare) for _ in range(5)) / n)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def instrument(timers):
    """Wrap the conv helpers, every Function's forward/backward and the optimizers' step with ``timers``."""
    for owner, name, kind in HELPERS:
        if hasattr(owner, name):
            label = f"{owner.__name__.rsplit('.', 1)[-1]}.{name}"
            setattr(owner, name, timers.wrap(getattr(owner, name), label, kind))
    conv_ops.REFERENCE.__dict__.update(forward=conv_ops._conv_forward, input_grad=conv_ops._conv_input_grad,
                                       weight_grad=conv_ops._conv_weight_grad)
    for cls in set(_subclasses(Function)):
        kind = FUNCTION_KIND.get(cls.__name__) or MODULE_KIND.get(cls.__module__.rsplit(".", 1)[-1], OTHER)
        for method in ("forward", "backward"):
            if method in vars(cls):
                setattr(cls, method, timers.wrap(vars(cls)[method], f"{cls.__name__}.{method}", kind))
    apply = vars(Function)["apply"].__func__   # a classmethod: wrap its function, keep it a classmethod
    Function.apply = classmethod(timers.wrap(apply, "Function.apply", APPLY))
    engine._run_backward = timers.wrap(engine._run_backward, "backward walk", BACKWARD_WALK)
    for cls in {optim.Optimizer, *_subclasses(optim.Optimizer)}:
        if "step" in vars(cls):
            setattr(cls, "step", timers.wrap(vars(cls)["step"], f"{cls.__name__}.step", OPTIMIZER))


def breakdown(timers, step_s, calls):
    """ms per call and share of ``step_s`` (the instrumented call) per kind of work; the engine is the rest."""
    per_kind = collections.defaultdict(float)
    for key, total in timers.exclusive.items():
        per_kind[timers.kind[key]] += total / calls
    timer_cost = timers.cost_per_call() * sum(timers.calls.values()) / calls
    per_kind[TIMERS] = min(timer_cost, step_s - sum(per_kind.values()))
    per_kind[ENGINE] = step_s - sum(per_kind.values())
    return {k: dict(ms=1e3 * per_kind[k], percent=100 * per_kind[k] / step_s) for k in CATEGORIES
            if k != OTHER or k in per_kind}   # every kind, 0 where the case has none; "other ops" only where met


def _timed_calls(call, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="unet_step_64", choices=sorted(CASES))
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, help="BLAS/OpenMP threads (default: the library's, here the cores)")
    ap.add_argument("--reference", action="store_true", help="the reference kernels only (md.fast_paths(False))")
    ap.add_argument("--no-end-to-end", action="store_true",
                    help="never lay rows end to end (conv_fast.rows_end_to_end answers False)")
    ap.add_argument("--column-bytes", type=int, help=f"the fast paths' column block budget (default "
                                                     f"{fastpaths.DEFAULT_COLUMN_BLOCK_BYTES})")
    ap.add_argument("--json", help="where to write the results (default bench/results/profile-<case>.json)")
    args = ap.parse_args(argv)
    if args.no_end_to_end:
        conv_fast.rows_end_to_end = lambda geo, w, wo: False
    md.fast_paths(not args.reference, column_block_bytes=args.column_bytes)

    call, _, _ = build(CASES[args.case], "cpu", seed=0)
    for _ in range(args.warmup):
        call()
    faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    times = _timed_calls(call, args.repeat)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before) / args.repeat

    timers = Timers()
    instrument(timers)
    call()   # the timers' first call (not counted)
    timers.exclusive.clear()
    timers.calls.clear()
    timed_times = _timed_calls(call, args.repeat)
    table = breakdown(timers, sum(timed_times) / args.repeat, args.repeat)

    machine = machine_info()
    load = os.getloadavg()[0]
    print(f"{args.case}: median {1e3 * statistics.median(times):.1f} ms, min {1e3 * min(times):.1f} ms "
          f"over {args.repeat} calls; {faults:.0f} page faults per call; malloc kept: {_malloc.tuned}; "
          f"fast paths: {fastpaths.enabled()}")
    print(machine_report(machine, load))
    print(f"with timers: {1e3 * statistics.mean(timed_times):.1f} ms per call (mean), split by kind of work:")
    for kind, row in table.items():
        print(f"  {kind:52s} {row['ms']:7.2f} ms {row['percent']:5.1f} %")
    engine_ms = sum(row["ms"] for kind, row in table.items() if kind.startswith("engine"))
    print(f"  {'(the engine, its three rows)':52s} {engine_ms:7.2f} ms "
          f"{100 * engine_ms / (1e3 * statistics.mean(timed_times)):5.1f} %")
    print("exclusive time per helper and op (callees' timed time taken out):")
    for key, total in sorted(timers.exclusive.items(), key=lambda kv: -kv[1]):
        print(f"  {key:40s} {1e3 * total / args.repeat:7.2f} ms  {timers.calls[key] / args.repeat:5.0f} calls  "
              f"[{timers.kind[key]}]")

    report = dict(date=datetime.datetime.now().isoformat(timespec="seconds"),
                  command=" ".join([os.path.relpath(sys.executable), os.path.relpath(__file__)] + sys.argv[1:]),
                  machine=machine, load_avg_1min=round(load, 2), case=args.case, repeat=args.repeat,
                  threads=args.threads, fast_paths=fastpaths.enabled(), malloc_tuned=_malloc.tuned,
                  times_s=times, median_ms=1e3 * statistics.median(times), min_ms=1e3 * min(times),
                  page_faults_per_call=faults, timed_step_ms=1e3 * statistics.mean(timed_times), categories=table,
                  per_key={k: dict(ms=1e3 * v / args.repeat, calls=timers.calls[k] / args.repeat, kind=timers.kind[k])
                           for k, v in timers.exclusive.items()})
    path = args.json or os.path.join(HERE, "results", f"profile-{args.case}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"written: {path}")
    return report


if __name__ == "__main__":
    main()
