"""Side-by-side benchmark: minidense against PyTorch and Chainer, alternating them in one run.

    .venv/bin/python bench/run.py                      # every case, 5 rounds (what `make bench` runs)
    .venv/bin/python bench/run.py --cases unet_step_64 --rounds 7
    .venv/bin/python bench/run.py --device cuda        # against PyTorch CUDA, where a GPU is available
    .venv/bin/python bench/run.py --layers --frameworks minidense torch   # the U-Net step and its convolutions

Every (case, framework) runs in its own process (bench/cases_<framework>.py, with that framework's
interpreter), so peak memory is each framework's own. A round runs every framework once per case,
the order rotating from round to round, so that all of them see the same machine load. The verdict on
each target is the median over rounds of that round's ratio (minidense's median over PyTorch's, both
measured back to back), so a busy spell in one round moves both sides; the report also pools the timed
calls of all rounds and gives their median and minimum, the pooled ratio to PyTorch, the
GFLOP/s against NumPy's own matrix-multiply rate (measured in the same run, on conv-shaped
matrices) and the peak memory. A peer whose environment is missing is reported as absent.

With --layers the run is the U-Net step and each of its convolutions alone, forward and forward+backward;
the report adds up each framework's convolutions (forward+backward, each shape as often as the step has it)
and sets that sum beside the framework's own step and PyTorch's: how much of the step the convolutions'
kernels take, measured in one run.

Writes bench/results/latest.json, latest.md and latest.png (the ratios; git-ignored), or
latest-cuda.* with --device cuda, latest-layers.* with --layers.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from common import CASES, DEFAULT_CASES, LAYER_CASES, LAYERS_STEP, cpu_kind, machine_info, machine_line  # noqa: E402

FRAMEWORKS = ("minidense", "torch", "chainer")
PYTHONS = {
    "minidense": os.environ.get("MINIDENSE_PYTHON", sys.executable),
    "torch": os.environ.get("TORCH_PYTHON", os.path.join(ROOT, ".bench-venv-torch", "bin", "python")),
    "chainer": os.environ.get("CHAINER_PYTHON", os.path.join(ROOT, ".bench-venv-chainer", "bin", "python")),
}
IMPORTS = {"minidense": "import minidense", "torch": "import torch", "chainer": "import chainer"}

# targets of the speed issue: case -> (largest ratio to PyTorch allowed, the aim or None). The three cases the
# issue names have its limits; the others keep the limits of the first benchmark issue.
TARGETS = {
    "unet_step_64": (1.5, None),
    "unet_step_64_dp": (1.5, None),
    "conv3x3_n8_32to32_64_fwdbwd": (1.3, None),
    "conv3x3_n4_64to64_128_fwdbwd": (2.5, None),
    "conv3x3_n8_3to32_64_fwdbwd": (2.5, None),
    "cross_entropy_n8_21_128_fwdbwd": (1.1, None),
    "maxpool_unpool_n8_32_128_fwdbwd": (2.0, None),
}
CHAINER_SPEEDUP_TARGET = 8.0     # the U-Net step at least 8x faster than Chainer
MEMORY_TARGET = 1.0              # U-Net peak memory at most PyTorch's
OVERHEAD_TARGET_US = 3.0         # the engine's µs per op (bench/overhead.py)
STEP_CASES = ("unet_step_64", "unet_step_64_dp")   # the Chainer and memory targets: the plain and data-parallel step


def available(framework, device):
    """None when the framework's interpreter imports it (and, for cuda, sees a GPU); else why not."""
    python = PYTHONS[framework]
    if not os.path.exists(python):
        return f"no interpreter at {os.path.relpath(python, ROOT)} (run `make bench` to install the peers)"
    check = IMPORTS[framework]
    if device == "cuda":
        check += {"minidense": "; assert minidense.gpu_available(), minidense.backend.gpu_unavailable_reason()",
                  "torch": "; assert torch.cuda.is_available(), 'torch.cuda.is_available() is False'",
                  "chainer": "; raise SystemExit('the Chainer side is CPU only')"}[framework]
    proc = subprocess.run([python, "-c", check], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        return (proc.stderr.strip().splitlines() or ["import failed"])[-1]
    return None


def run_case(framework, case, device, repeat=None, warmup=None, small=False, threads=None, timeout=900):
    """One process: the case's JSON result, or {"error": ...}."""
    cmd = [PYTHONS[framework], os.path.join(HERE, f"cases_{framework}.py"), "--case", case, "--device", device]
    if repeat is not None:
        cmd += ["--repeat", str(repeat)]
    if warmup is not None:
        cmd += ["--warmup", str(warmup)]
    if small:
        cmd.append("--small")
    env = dict(os.environ)
    if threads:   # every framework's thread pools: OpenBLAS (NumPy), OpenMP and MKL (PyTorch)
        env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        return {"error": (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]}
    return json.loads(lines[-1])


def matmul_rate(repeat=5):
    """NumPy's float32 matrix-multiply rate (GFLOP/s) on the U-Net's conv-shaped products, best of repeat."""
    import numpy as np
    rng = np.random.default_rng(0)
    shapes = [(32, 288, 8 * 32 * 32), (16, 288, 8 * 64 * 64), (64, 576, 8 * 16 * 16)]   # W (C_out, C·9) @ cols
    rates = []
    for m, k, n in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        a @ b
        best = min(_timed(lambda: a @ b) for _ in range(repeat))
        rates.append(2 * m * k * n / best / 1e9)
    return statistics.median(rates)


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def summarize(runs, flops):
    """Pool a framework's processes for one case: median / min ms, GFLOP/s, memory."""
    times = [t for r in runs for t in r["times_s"]]
    med, best = statistics.median(times), min(times)
    return dict(median_ms=med * 1e3, min_ms=best * 1e3, samples=len(times), processes=len(runs),
                gflops=flops / med / 1e9 if flops else None,
                peak_delta_mb=statistics.median(r["peak_delta_mb"] for r in runs),
                version=runs[0].get("version"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--cases", nargs="*", default=DEFAULT_CASES, choices=list(CASES), metavar="CASE")
    which.add_argument("--layers", action="store_true",
                       help="the U-Net step and its convolutions instead, one case per shape (forward, "
                            "forward+backward), their sum set beside the step")
    ap.add_argument("--frameworks", nargs="*", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    ap.add_argument("--rounds", type=int, default=5, help="processes per (case, framework), alternating")
    ap.add_argument("--repeat", type=int, default=None, help="timed calls per process (default: per case)")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--small", action="store_true", help="toy sizes, to check the harness quickly")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--no-overhead", action="store_true", help="skip bench/overhead.py")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every framework (OMP/OpenBLAS/MKL_NUM_THREADS); default: theirs (2 here)")
    ap.add_argument("--render", metavar="JSON", help="only rewrite the table and chart of a saved results file")
    args = ap.parse_args(argv)
    if args.layers:
        args.cases = [LAYERS_STEP] + list(LAYER_CASES)
    if args.render:
        with open(args.render) as f:
            report = json.load(f)
        stem = os.path.splitext(args.render)[0]
        with open(stem + ".md", "w") as f:
            f.write(markdown(report))
        chart(report, stem + ".png")
        return 0

    absent = {fw: why for fw in args.frameworks if (why := available(fw, args.device))}
    for fw, why in absent.items():
        print(f"{fw}: absent ({why})", flush=True)
    present = [fw for fw in args.frameworks if fw not in absent]
    if "minidense" not in present:
        if args.device == "cuda":
            print(f"no GPU available: {absent.get('minidense')}; nothing to measure with --device cuda")
            return 0
        raise SystemExit("minidense itself cannot be imported: " + absent.get("minidense", "not selected"))

    results = {case: {fw: [] for fw in present} for case in args.cases}
    errors = {}
    rates = []
    for rnd in range(args.rounds):
        rates.append(matmul_rate())
        for case in args.cases:
            order = present[rnd % len(present):] + present[:rnd % len(present)]
            for fw in order:
                r = run_case(fw, case, args.device, args.repeat, args.warmup, args.small, args.threads)
                if "error" in r:
                    errors[f"{case}/{fw}"] = r["error"]
                    print(f"round {rnd + 1} {case:40s} {fw:10s} ERROR {r['error']}", flush=True)
                    continue
                r["round"] = rnd
                results[case][fw].append(r)
                print(f"round {rnd + 1} {case:40s} {fw:10s} median {statistics.median(r['times_s']) * 1e3:9.2f} ms"
                      f"  peak +{r['peak_delta_mb']:.0f} MB", flush=True)

    rate = statistics.median(rates)
    summary = {}
    for case in args.cases:
        flops = next((r["flops"] for runs in results[case].values() for r in runs), 0)
        summary[case] = {"flops": flops}
        for fw, runs in results[case].items():
            if runs:
                summary[case][fw] = summarize(runs, flops)
                if summary[case][fw]["gflops"]:
                    summary[case][fw]["matmul_fraction"] = summary[case][fw]["gflops"] / rate
        ref = summary[case].get("torch")
        for fw in present:
            if fw in summary[case] and ref:
                s = summary[case][fw]
                s["ratio_median"] = s["median_ms"] / ref["median_ms"]
                s["ratio_min"] = s["min_ms"] / ref["min_ms"]
                s["ratio_per_round"] = per_round_ratios(results[case][fw], results[case]["torch"])
                s["ratio_round_median"] = (statistics.median(s["ratio_per_round"])
                                           if s["ratio_per_round"] else None)
                s["memory_ratio"] = s["peak_delta_mb"] / ref["peak_delta_mb"] if ref["peak_delta_mb"] > 0 else None

    overhead = None
    if not args.no_overhead and not args.layers and args.device == "cpu" and not args.small:
        proc = subprocess.run([PYTHONS["minidense"], os.path.join(HERE, "overhead.py"), "--json"],
                              capture_output=True, text=True, cwd=ROOT)
        overhead = json.loads(proc.stdout.splitlines()[-1]) if proc.returncode == 0 else {"error": proc.stderr[-500:]}

    report = dict(
        date=datetime.datetime.now().isoformat(timespec="seconds"),
        command=" ".join([os.path.relpath(sys.executable, ROOT), os.path.relpath(__file__, ROOT)] + sys.argv[1:]),
        machine=machine_info(),
        device=args.device, rounds=args.rounds, small=args.small, threads=args.threads,
        numpy_matmul_gflops=rate, numpy_matmul_gflops_per_round=rates,
        absent=absent, errors=errors, summary=summary, targets=check_targets(summary, overhead), overhead=overhead,
        convolutions_alone=convolutions_alone(summary),
        raw={case: {fw: [dict(times_s=r["times_s"], peak_delta_mb=r["peak_delta_mb"], rss_before_mb=r["rss_before_mb"],
                              load_avg_1min=r.get("load_avg_1min"))
                         for r in runs] for fw, runs in per.items()} for case, per in results.items()},
    )
    loads = [r["load_avg_1min"] for per in results.values() for runs in per.values() for r in runs
             if r.get("load_avg_1min") is not None]
    report["load_avg_1min"] = dict(min=min(loads), median=statistics.median(loads), max=max(loads)) if loads else None
    os.makedirs(args.out, exist_ok=True)
    stem = ("latest" if args.device == "cpu" else "latest-cuda") + ("-layers" if args.layers else "")
    stem += f"-threads{args.threads}" if args.threads else ""
    if args.small:
        stem += "-small"
    with open(os.path.join(args.out, stem + ".json"), "w") as f:
        json.dump(report, f, indent=1)
    table = markdown(report)
    with open(os.path.join(args.out, stem + ".md"), "w") as f:
        f.write(table)
    chart(report, os.path.join(args.out, stem + ".png"))
    print()
    print(table)
    return 0


def convolutions_alone(summary):
    """{framework: {"sum_ms", "step_ms"}}: the sum of the pooled medians of the step's convolutions run alone,
    forward+backward, each times its ``count`` in the step, and the framework's own step; for the frameworks
    that ran the step and every one of its convolutions (None when none did)."""
    layers = [name for name, case in LAYER_CASES.items() if case["backward"]]
    out = {}
    for fw in FRAMEWORKS:
        if all(fw in summary.get(name, {}) for name in [LAYERS_STEP] + layers):
            out[fw] = dict(sum_ms=sum(summary[name][fw]["median_ms"] * LAYER_CASES[name]["count"] for name in layers),
                           step_ms=summary[LAYERS_STEP][fw]["median_ms"])
    return out or None


def per_round_ratios(runs, reference_runs):
    """For each round both frameworks ran: the median of one's timed calls over the other's, in round order."""
    ref = {r["round"]: statistics.median(r["times_s"]) for r in reference_runs}
    return [statistics.median(r["times_s"]) / ref[r["round"]] for r in runs if r["round"] in ref]


def check_targets(summary, overhead=None):
    """Each target of the issue: the measured value and whether it is met (None: a side is missing).

    A ratio to PyTorch is the median of the per-round ratios (see per_round_ratios)."""
    out = []
    for case, (limit, aim) in TARGETS.items():
        s = summary.get(case, {}).get("minidense", {})
        ratio = s.get("ratio_round_median")
        out.append(dict(target=f"{case}: <= {limit}x PyTorch" + (f" (aim {aim}x)" if aim else ""),
                        value=ratio, met=None if ratio is None else ratio <= limit,
                        aim_met=None if ratio is None or aim is None else ratio <= aim))
    for case in STEP_CASES:
        md_, ch = summary.get(case, {}).get("minidense"), summary.get(case, {}).get("chainer")
        speedup = ch["median_ms"] / md_["median_ms"] if md_ and ch else None
        out.append(dict(target=f"{case}: >= {CHAINER_SPEEDUP_TARGET}x faster than Chainer", value=speedup,
                        met=None if speedup is None else speedup >= CHAINER_SPEEDUP_TARGET))
        mem = md_.get("memory_ratio") if md_ else None
        out.append(dict(target=f"{case}: peak memory <= {MEMORY_TARGET}x PyTorch's", value=mem,
                        met=None if mem is None else mem <= MEMORY_TARGET))
    us = overhead.get("us_per_op") if overhead and "error" not in overhead else None
    out.append(dict(target=f"engine overhead <= {OVERHEAD_TARGET_US} µs per op", value=us,
                    met=None if us is None else us <= OVERHEAD_TARGET_US))
    return out


def _fmt(v, spec):
    return "—" if v is None else format(v, spec)


def markdown(report):
    fws = [fw for fw in FRAMEWORKS if any(fw in s for s in report["summary"].values())]
    threads = f", {report['threads']} thread(s) per framework" if report.get("threads") else ""
    machine = report["machine"]
    kind = cpu_kind(machine) if "blas" in machine else machine["cpu"]   # results saved before the BLAS was recorded
    line = machine_line(machine) if "blas" in machine else f"{machine['cpu']}, {machine['cores']} cores"
    lines = [f"# minidense benchmark ({report['device']}{threads}): {kind}", "",
             f"{report['date']}, {line}; {report['rounds']} alternating rounds; `{report['command']}`", "",
             f"NumPy float32 matmul on conv-shaped matrices, same run: **{report['numpy_matmul_gflops']:.0f} GFLOP/s** "
             f"(per round: {', '.join(f'{r:.0f}' for r in report['numpy_matmul_gflops_per_round'])}).", ""]
    load = report.get("load_avg_1min")
    if load:
        lines += [f"Machine load (1-minute load average, {report['machine']['cores']} cores) during the run: "
                  f"{load['min']:.1f} to {load['max']:.1f}, median {load['median']:.1f}. Above the core count the "
                  "frameworks' threads compete with other work and multi-threaded timings scatter widely; "
                  "the minima show what each can do.", ""]
    for fw, why in report["absent"].items():
        lines.append(f"- {fw}: absent ({why})")
    if report["absent"]:
        lines.append("")
    head = "| case | " + " | ".join(f"{fw} median / min ms" for fw in fws) + \
           " | minidense ÷ torch: median of rounds (pooled median / min) | chainer ÷ torch " \
           "| minidense GFLOP/s (% of matmul) | peak MB " + " / ".join(fws) + " |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for case, s in report["summary"].items():
        cells = [f"{_fmt(s[fw]['median_ms'], '.1f')} / {_fmt(s[fw]['min_ms'], '.1f')}" if fw in s else "—"
                 for fw in fws]
        m, c = s.get("minidense", {}), s.get("chainer", {})
        ratio = (f"**{_fmt(m.get('ratio_round_median'), '.2f')}** ({_fmt(m.get('ratio_median'), '.2f')} / "
                 f"{_fmt(m.get('ratio_min'), '.2f')})")
        gf = f"{m['gflops']:.0f} ({100 * m['matmul_fraction']:.0f}%)" if m.get("gflops") else "—"
        mem = " / ".join(_fmt(s[fw]["peak_delta_mb"], ".0f") if fw in s else "—" for fw in fws)
        lines.append(f"| {case} | " + " | ".join(cells) + f" | {ratio} | {_fmt(c.get('ratio_median'), '.2f')} "
                     f"| {gf} | {mem} |")
    lines += ["", "Per round, minidense ÷ torch (each the median of that round's timed calls, back to back):", ""]
    for case, s in report["summary"].items():
        per = s.get("minidense", {}).get("ratio_per_round")
        if per:
            lines.append(f"- {case}: " + ", ".join(f"{r:.2f}" for r in per))
    lines += ["", "Peak MB: peak resident memory during the process's calls (warm-up included; for the U-Net, "
              "10 training steps) minus the resident memory just before the first call, each framework in its "
              "own process.", "", "## Targets", ""]
    measured = any(t["value"] is not None for t in report["targets"])
    if not measured:   # no case of a target was run, or no peer beside it
        lines += ["No target was measured (no case of one was run, or no peer ran beside it)."]
    elif load and load["median"] > report["machine"]["cores"]:
        lines += [f"**The machine was busy (median load {load['median']:.1f} on {report['machine']['cores']} cores): "
                  "the timing verdicts below are not reliable; rerun on a quiet machine or with --threads 1.**", ""]
    if measured:
        lines += ["| target | measured | met |", "|---|---|---|"]
        for t in report["targets"]:
            met = "—" if t["met"] is None else ("yes" if t["met"] else "**no**")
            if t.get("aim_met") is not None:
                met += f" (aim: {'yes' if t['aim_met'] else 'no'})"
            lines.append(f"| {t['target']} | {_fmt(t['value'], '.2f')} | {met} |")
    o = report.get("overhead")
    if o and "error" not in o:
        lines += ["", "## Autograd overhead", "",
                  f"- one op (forward + backward through the engine, 1-element tensors): "
                  f"**{o['us_per_op']:.1f} µs** ({o['us_per_op_forward']:.1f} µs forward only; raw NumPy "
                  f"{o['numpy_us_per_op']:.1f} µs)",
                  f"- 20-layer conv net on 8×8 inputs: {o['net_ms']:.2f} ms per training step, {o['net_ops']} ops, "
                  f"so about {100 * o['net_overhead_fraction']:.0f}% of the step is the engine's overhead"]
    lines += _convolutions_alone_lines(report.get("convolutions_alone"))
    if report["errors"]:
        lines += ["", "## Errors", ""] + [f"- {k}: {v}" for k, v in report["errors"].items()]
    return "\n".join(lines) + "\n"


def _convolutions_alone_lines(alone):
    """The markdown section of convolutions_alone's sums (none where the run had no such sums)."""
    if not alone:
        return []
    lines = ["", "## The step's convolutions alone", "",
             f"Each framework's convolutions of {LAYERS_STEP}, forward+backward, each run alone (the pooled medians "
             "above, a shape the step has twice counted twice), beside that framework's whole step. The rest of the "
             "step (activations, pooling, concatenation, loss, optimizer, engine) is not in the sum.", "",
             "| framework | convolutions alone, ms | its step, ms | convolutions ÷ its step "
             "| convolutions ÷ torch's step |",
             "|---|---|---|---|---|"]
    torch_step = alone.get("torch", {}).get("step_ms")
    for fw, a in alone.items():
        lines.append(f"| {fw} | {a['sum_ms']:.1f} | {a['step_ms']:.1f} | {a['sum_ms'] / a['step_ms']:.2f} | "
                     f"{_fmt(a['sum_ms'] / torch_step if torch_step else None, '.2f')} |")
    return lines


def chart(report, path):
    """Bar chart of each framework's median time over PyTorch's, log scale, targets marked."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no chart")
        return
    cases = [c for c, s in report["summary"].items() if "torch" in s]
    if not cases:
        return
    fws = [fw for fw in ("minidense", "chainer") if any(fw in report["summary"][c] for c in cases)]
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / max(1, len(fws))
    for i, fw in enumerate(fws):
        vals = [report["summary"][c].get(fw, {}).get("ratio_round_median",
                                                    report["summary"][c].get(fw, {}).get("ratio_median", 0)) or 0
                for c in cases]
        ax.bar([k + i * width for k in range(len(cases))], vals, width, label=fw)
    for k, c in enumerate(cases):
        if c in TARGETS:
            ax.hlines(TARGETS[c][0], k - width / 2, k + (len(fws) - 0.5) * width, colors="red", linestyles="--")
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("median time ÷ PyTorch's (log)")
    ax.set_xticks([k + width * (len(fws) - 1) / 2 for k in range(len(cases))])
    ax.set_xticklabels(cases, rotation=35, ha="right", fontsize=8)
    ax.set_title(f"minidense vs PyTorch ({report['device']}); red dashes: targets")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
