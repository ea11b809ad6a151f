"""Alternating rounds of one case, old tree against new tree: does a change cost speed?

    git worktree add /tmp/old <commit before the change>
    .venv/bin/python bench/ab.py /tmp/old . --rounds 7          # U-Net step by default
    .venv/bin/python bench/ab.py . . --new-env MINIDENSE_MALLOC=system   # one tree, two settings

Each round runs each tree in a fresh process (the tree first on PYTHONPATH, one BLAS thread), the order
alternating from round to round, and times ``--repeat`` calls after 3 warm-up calls. It prints each
round's medians and the median of the new/old ratios with their spread: this machine's timings drift by
2x over minutes, so only ratios from neighbouring runs compare. ``--clock cpu`` times the process's CPU
time instead (user + system: page faults count), which other work on the cores disturbs far less.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r'''
import json, statistics, sys, time
sys.path.insert(0, "bench")
from cases_minidense import build
from common import CASES
call, _, _ = build(CASES[sys.argv[1]], "cpu", seed=0)
for _ in range(3):
    call()
clock = time.process_time if sys.argv[3] == "cpu" else time.perf_counter
times = []
for _ in range(int(sys.argv[2])):
    t = clock(); call(); times.append(clock() - t)
print(json.dumps(statistics.median(times)))
'''


def run(tree, case, repeat, extra_env=(), clock="wall"):
    env = {**os.environ, "PYTHONPATH": tree, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           **dict(extra_env)}
    out = subprocess.run([sys.executable, "-c", CHILD, case, str(repeat), clock], cwd=tree, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _setting(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--case", default="unet_step_64")
    ap.add_argument("--old-env", action="append", default=[], type=_setting, metavar="NAME=VALUE",
                    help="an environment variable for the old tree's processes (repeatable)")
    ap.add_argument("--new-env", action="append", default=[], type=_setting, metavar="NAME=VALUE",
                    help="an environment variable for the new tree's processes (repeatable)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu: the process's CPU time (user + system, page faults included) instead of the wall "
                         "clock; steadier where other work shares the cores")
    a = ap.parse_args()
    env = {"old": a.old_env, "new": a.new_env}
    ratios = []
    for r in range(a.rounds):
        order = [("old", a.old), ("new", a.new)] if r % 2 == 0 else [("new", a.new), ("old", a.old)]
        got = {name: run(tree, a.case, a.repeat, env[name], a.clock) for name, tree in order}
        ratios.append(got["new"] / got["old"])
        print(f"round {r + 1}: old {1e3 * got['old']:.1f} ms, new {1e3 * got['new']:.1f} ms, "
              f"new/old {ratios[-1]:.3f}", flush=True)
    q = statistics.quantiles(ratios, n=4)
    print(f"median new/old {statistics.median(ratios):.3f} (min {min(ratios):.3f}, quartiles {q[0]:.3f}-{q[2]:.3f}, "
          f"max {max(ratios):.3f}) over {a.rounds} rounds of {a.case} ({a.clock} clock)")


if __name__ == "__main__":
    main()
