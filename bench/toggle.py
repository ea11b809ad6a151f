"""One setting of the fast paths, old against new, alternating step by step in ONE process.

    .venv/bin/python bench/toggle.py minidense.ops.conv_fast.FORWARD_ROWS=1 --rounds 30
    .venv/bin/python bench/toggle.py minidense.ops.conv_fast.pointwise=never --case conv3x3_n8_32to32_64_fwdbwd

The argument names a module attribute and the value it had before a change (a Python literal, or ``never``:
a function that answers False, for a predicate such as ``conv_fast.tiles``). Each round times one call with
the old value and one with the attribute as it is now, in an order that alternates from round to round,
after two warm-up calls of each. This host's speed drifts by 2x over minutes (bench/README.md); two
settings timed call by call in one process see the same drift, so their ratio is steadier than that of two
trees in separate processes (bench/ab.py), which remains the check for a change that is not one setting.
Prints the machine, both medians and minima, and the median of the per-round ratios new/old.
"""
import argparse
import ast
import importlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CASES, machine_info, machine_report, small  # noqa: E402


def _never(*args, **kwargs):
    return False


def parse_setting(text):
    """'package.module.ATTR=VALUE' -> (module, attribute name, old value)."""
    target, sep, value = text.partition("=")
    path, _, name = target.rpartition(".")
    if not sep or not path or not name:
        raise SystemExit(f"toggle: expected MODULE.ATTRIBUTE=VALUE, got {text!r}")
    module = importlib.import_module(path)
    if not hasattr(module, name):
        raise SystemExit(f"toggle: {path} has no attribute {name!r}")
    if value == "never":
        return module, name, _never
    try:
        return module, name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise SystemExit(f"toggle: the old value must be a Python literal or 'never', got {value!r}") from None


def compare(call, module, name, old, rounds):
    """Seconds per call under the old and the new value: two lists, one entry per round."""
    new = getattr(module, name)
    times = {"old": [], "new": []}

    def timed(which):
        setattr(module, name, old if which == "old" else new)
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    try:
        for which in ("old", "new", "old", "new"):   # warm-up: caches, the allocator, BLAS's threads
            timed(which)
        for r in range(rounds):
            for which in (("old", "new") if r % 2 else ("new", "old")):
                times[which].append(timed(which))
    finally:
        setattr(module, name, new)
    return times["old"], times["new"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("setting", help="MODULE.ATTRIBUTE=OLD_VALUE (a literal, or 'never')")
    parser.add_argument("--case", default="unet_step_64", choices=sorted(CASES))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--small", action="store_true", help="the case at toy size (a smoke test)")
    args = parser.parse_args(argv)
    import cases_minidense

    module, name, old = parse_setting(args.setting)
    params = small(CASES[args.case]) if args.small else CASES[args.case]
    call = cases_minidense.build(params, "cpu", 0)[0]
    print(machine_report(machine_info(), os.getloadavg()[0]), flush=True)
    olds, news = compare(call, module, name, old, args.rounds)
    ratios = [n / o for o, n in zip(olds, news)]
    print(f"{args.case}: {module.__name__}.{name} = {old!r} (old) against its value now, {args.rounds} rounds")
    print(f"old median {statistics.median(olds) * 1e3:.2f} ms (min {min(olds) * 1e3:.2f}), "
          f"new median {statistics.median(news) * 1e3:.2f} ms (min {min(news) * 1e3:.2f}); "
          f"median new/old of rounds {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
