"""Alternating rounds of one case, old tree against new tree: does a change cost speed?

    git worktree add /tmp/old <commit before the change>
    .venv/bin/python bench/ab.py /tmp/old . --rounds 7          # U-Net step by default
    .venv/bin/python bench/ab.py . . --new-env MINIDENSE_MALLOC=system   # one tree, two settings
    .venv/bin/python bench/ab.py /tmp/old . --case overhead --repeat 20  # the engine: µs per op of a chain

Each round runs each tree in a fresh process (the tree first on PYTHONPATH, one BLAS thread), the order
alternating from round to round, and times ``--repeat`` calls after 3 warm-up calls. It prints each
round's medians and the median of the new/old ratios with their spread: this machine's timings drift by
2x over minutes, so only ratios from neighbouring runs compare. ``--clock cpu`` times the process's CPU
time instead (user + system: page faults count), which other work on the cores disturbs far less.
``--case overhead`` times bench/overhead.py's chain (1000 additions of 1-element tensors, forward and
backward) and reports µs per op. The first line names the machine (CPU, vector extensions, NumPy's BLAS,
which both trees share: one interpreter) and the load; ``--json PATH`` writes every round.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CASES, machine_info, machine_report  # noqa: E402

CHAIN = 1000   # additions in the overhead case's chain (as bench/overhead.py's)
CHILD = r'''
import json, statistics, sys, time
sys.path.insert(0, "bench")
if sys.argv[1] == "overhead":
    import numpy as np
    import minidense as md
    x = md.tensor(np.ones(1, np.float32), requires_grad=True)
    one = md.tensor(np.ones(1, np.float32))

    def call():
        y = x
        for _ in range(int(sys.argv[4])):
            y = y + one
        y.sum().backward()
else:
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
    out = subprocess.run([sys.executable, "-c", CHILD, case, str(repeat), clock, str(CHAIN)], cwd=tree, env=env,
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
    ap.add_argument("--case", default="unet_step_64", choices=["overhead", *CASES])
    ap.add_argument("--old-env", action="append", default=[], type=_setting, metavar="NAME=VALUE",
                    help="an environment variable for the old tree's processes (repeatable)")
    ap.add_argument("--new-env", action="append", default=[], type=_setting, metavar="NAME=VALUE",
                    help="an environment variable for the new tree's processes (repeatable)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu: the process's CPU time (user + system, page faults included) instead of the wall "
                         "clock; steadier where other work shares the cores")
    ap.add_argument("--json", metavar="PATH", help="also write the machine, the load and every round here")
    a = ap.parse_args()
    env = {"old": a.old_env, "new": a.new_env}
    machine = machine_info()
    machine["blas"]["num_threads"] = 1   # the children's (OPENBLAS_NUM_THREADS=1)
    loads = [os.getloadavg()[0]]
    print(machine_report(machine, loads[0]), flush=True)
    scale, unit = (1e6 / CHAIN, "µs/op") if a.case == "overhead" else (1e3, "ms")
    ratios, rounds = [], []
    for r in range(a.rounds):
        order = [("old", a.old), ("new", a.new)] if r % 2 == 0 else [("new", a.new), ("old", a.old)]
        got = {name: run(tree, a.case, a.repeat, env[name], a.clock) for name, tree in order}
        ratios.append(got["new"] / got["old"])
        loads.append(os.getloadavg()[0])
        rounds.append(dict(old=scale * got["old"], new=scale * got["new"], ratio=ratios[-1], load_avg_1min=loads[-1]))
        print(f"round {r + 1}: old {scale * got['old']:.2f} {unit}, new {scale * got['new']:.2f} {unit}, "
              f"new/old {ratios[-1]:.3f}", flush=True)
    q = statistics.quantiles(ratios, n=4)
    print(f"load average (1 min) over the rounds: {min(loads):.1f} to {max(loads):.1f}")
    print(f"median new/old {statistics.median(ratios):.3f} (min {min(ratios):.3f}, quartiles {q[0]:.3f}-{q[2]:.3f}, "
          f"max {max(ratios):.3f}) over {a.rounds} rounds of {a.case} ({a.clock} clock)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(date=datetime.datetime.now().isoformat(timespec="seconds"), command=" ".join(sys.argv),
                           machine=machine, case=a.case, unit=unit, clock=a.clock, repeat=a.repeat, old=a.old,
                           new=a.new, rounds=rounds, median_ratio=statistics.median(ratios),
                           load_avg_1min=dict(min=min(loads), max=max(loads))), f, indent=1)


if __name__ == "__main__":
    main()
