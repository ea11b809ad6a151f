"""What every framework's side of the benchmark shares: the cases, their FLOP counts, timing and memory.

Each framework has one script (``cases_minidense.py``, ``cases_torch.py``, ``cases_chainer.py``) that
runs ONE case in its own process and prints one JSON line:

    python bench/cases_torch.py --case unet_step_64 --repeat 9 --warmup 1
    {"framework": "torch", "case": "unet_step_64", "times_s": [...], "rss_before_mb": ..., "peak_delta_mb": ...}

This file imports nothing but the standard library, so the peers' interpreters (their own virtual
environments, their own NumPy) load it as well.

Memory: just before the first call (warm-up included) the kernel's peak-RSS counter is reset
(``/proc/self/clear_refs``) and the resident memory read; the peak over all calls minus that is
``peak_delta_mb``: what the case needs beyond what the process already held.
"""
import argparse
import collections
import json
import os
import resource
import sys
import time

# ---------------------------------------------------------------- the cases
# kind: conv | convT | pool | xent | unet; shapes as in the performance issue.
# backward: whether the timed call includes the backward pass (fwd+bwd) or only the forward.
# input_grad: whether the input asks for a gradient (False for a first layer, as in a network).
CASES = {
    "conv3x3_n8_32to32_64_fwd": dict(kind="conv", n=8, c_in=32, c_out=32, size=64, k=3, backward=False),
    "conv3x3_n8_32to32_64_fwdbwd": dict(kind="conv", n=8, c_in=32, c_out=32, size=64, k=3, backward=True),
    "conv3x3_n4_64to64_128_fwd": dict(kind="conv", n=4, c_in=64, c_out=64, size=128, k=3, backward=False),
    "conv3x3_n4_64to64_128_fwdbwd": dict(kind="conv", n=4, c_in=64, c_out=64, size=128, k=3, backward=True),
    "conv3x3_n8_3to32_64_fwd": dict(kind="conv", n=8, c_in=3, c_out=32, size=64, k=3, backward=False,
                                    input_grad=False),
    "conv3x3_n8_3to32_64_fwdbwd": dict(kind="conv", n=8, c_in=3, c_out=32, size=64, k=3, backward=True,
                                       input_grad=False),
    # transposed convolutions as a decoder uses them: 64 channels at 32² up to 32 channels at 64²
    "convT2x2s2_n8_64to32_32_fwdbwd": dict(kind="convT", n=8, c_in=64, c_out=32, size=32, k=2, stride=2,
                                           padding=0, output_padding=0, backward=True),
    "convT3x3s2p1op1_n8_64to32_32_fwdbwd": dict(kind="convT", n=8, c_in=64, c_out=32, size=32, k=3, stride=2,
                                                padding=1, output_padding=1, backward=True),
    "maxpool_unpool_n8_32_128_fwdbwd": dict(kind="pool", n=8, c=32, size=128, k=2, backward=True),
    "cross_entropy_n8_21_128_fwdbwd": dict(kind="xent", n=8, classes=21, size=128, backward=True),
    "unet_step_64": dict(kind="unet", n=8, size=64, in_channels=3, classes=5, base=16, depth=3, backward=True),
    # the same step with minidense's model in nn.DataParallel (half the batch per thread); the peers' step as above
    "unet_step_64_dp": dict(kind="unet", n=8, size=64, in_channels=3, classes=5, base=16, depth=3, backward=True,
                            data_parallel=True),
    "unet_step_128": dict(kind="unet", n=8, size=128, in_channels=3, classes=5, base=16, depth=3, backward=True),
}

# calls per process (after the warm-up); the driver runs several processes per case and framework
DEFAULT_REPEAT = {"unet_step_64": 7, "unet_step_64_dp": 7, "unet_step_128": 7}
DEFAULT_WARMUP = 3   # PyTorch (oneDNN) settles only after its second or third call


def small(case):
    """The same case at toy size (batch 2, 16×16, few channels): for the smoke test, seconds not minutes."""
    p = dict(case)
    p["n"] = 2
    p["size"] = 16
    for key in ("c_in", "c_out", "c", "classes"):
        if key in p:
            p[key] = min(p[key], 4)
    if p["kind"] == "unet":
        p["base"] = 4
    return p


# ---------------------------------------------------------------- FLOP counts (2 per multiply-add)
def conv_flops(n, c_in, c_out, h_out, w_out, k):
    """One forward convolution (or transposed convolution counted on its larger, image side)."""
    return 2 * n * c_out * h_out * w_out * c_in * k * k


def unet_layers(p):
    """(c_in, c_out, H, k, first) per convolution of the reference U-Net, H the resolution of the
    convolution's larger side (for the transposed convolutions: their input side times the stride)."""
    widths = [p["base"] * 2 ** i for i in range(p["depth"])]
    layers, size = [], p["size"]
    c_prev = p["in_channels"]
    for i, c in enumerate(widths):                 # encoder double convs, the last is the bottleneck
        h = size // 2 ** i
        layers += [(c_prev, c, h, 3, i == 0), (c, c, h, 3, False)]
        c_prev = c
    for i in reversed(range(1, p["depth"])):       # up (2×2 s2: 4 taps, counted at the output size), decoder
        c_deep, c = widths[i], widths[i - 1]
        h = size // 2 ** (i - 1)
        layers += [(c, c_deep, h // 2, 2, False),   # as a conv from the output side: c -> c_deep at H/2, 2×2
                   (2 * c, c, h, 3, False), (c, c, h, 3, False)]
    layers.append((widths[0], p["classes"], size, 1, False))
    return layers


def layer_cases(unet_case):
    """The convolutions of a U-Net case, one benchmark case per distinct shape, forward and forward+backward:
    {name: case}, each name ending in "_x2" where the step runs that shape twice (the case's ``count``).
    ``bench/run.py --layers`` times them, to show which layers make up the U-Net's ratio (their sum is not the
    step: the step also has ReLU, pooling, concatenation, the loss and the engine)."""
    counts = collections.Counter(unet_layers(unet_case))   # (c_in, c_out, h, k, first): times in the step
    cases, n = {}, unet_case["n"]
    for (c_in, c_out, h, k, first), count in counts.items():
        times = f"_x{count}" if count > 1 else ""
        for backward in (False, True):
            suffix = ("_fwdbwd" if backward else "_fwd") + times
            if k == 2:   # the up-convolution: a 2×2 stride-2 transposed conv from c_out channels at h to c_in at 2h
                name = f"layer_convT2x2s2_n{n}_{c_out}to{c_in}_{h}" + suffix
                cases[name] = dict(kind="convT", n=n, c_in=c_out, c_out=c_in, size=h, k=2, stride=2, padding=0,
                                   output_padding=0, backward=backward, count=count)
            else:
                name = f"layer_conv{k}x{k}_n{n}_{c_in}to{c_out}_{h}" + suffix
                cases[name] = dict(kind="conv", n=n, c_in=c_in, c_out=c_out, size=h, k=k, backward=backward,
                                   input_grad=not first, count=count)
    return cases


#: what bench/run.py runs by default; the U-Net's layers (LAYER_CASES) only with --layers
DEFAULT_CASES = list(CASES)
LAYERS_STEP = "unet_step_64"   # the step whose convolutions LAYER_CASES are (bench/run.py --layers runs it too)
LAYER_CASES = layer_cases(CASES[LAYERS_STEP])
CASES.update(LAYER_CASES)


def case_flops(p):
    """Multiply-add FLOPs of one timed call (forward, plus backward's two products where a gradient is asked)."""
    kind, n = p["kind"], p["n"]
    if kind == "conv":
        f = conv_flops(n, p["c_in"], p["c_out"], p["size"], p["size"], p["k"])
        return f * (1 + (1 + p.get("input_grad", True)) * p["backward"])
    if kind == "convT":
        # a transposed conv is conv's input gradient: the product is the same size as the conv
        # from its output side (c_out channels, size·s) to its input side (c_in channels, size)
        f = conv_flops(n, p["c_out"], p["c_in"], p["size"], p["size"], p["k"])
        return f * (3 if p["backward"] else 1)
    if kind == "unet":
        total = 0
        for c_in, c_out, h, k, first in unet_layers(p):
            f = conv_flops(n, c_in, c_out, h, h, k)
            total += f * (2 if first else 3)   # the first layer's input needs no gradient
        return total
    return 0   # pooling and cross-entropy move memory; no multiply-adds worth counting


# ---------------------------------------------------------------- memory
def _status_kb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak():
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS; False where not supported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mb():
    kb = _status_kb("VmRSS")
    return kb / 1024 if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_mb():
    kb = _status_kb("VmHWM")
    return kb / 1024 if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- one case in this process
def parse_args(framework, argv=None):
    ap = argparse.ArgumentParser(description=f"Run one benchmark case with {framework} and print JSON.")
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--repeat", type=int, default=None, help="timed calls (default: per case)")
    ap.add_argument("--warmup", type=int, default=DEFAULT_WARMUP)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--small", action="store_true", help="toy sizes (smoke test)")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args(argv)


def measure(framework, args, build):
    """Build the case (``build(params, device, seed) -> (call, sync, info)``), time it, print and return JSON.

    call(): one timed unit (a forward, a forward+backward, or one training step);
    sync(): wait for the device (a no-op on the CPU).
    """
    params = dict(CASES[args.case])
    if args.small:
        params = small(params)
    repeat = args.repeat if args.repeat is not None else DEFAULT_REPEAT.get(args.case, 10)
    call, sync, info = build(params, args.device, args.seed)
    sync()
    peak_reset = reset_peak()
    before = rss_mb()
    for _ in range(args.warmup):
        call()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - t0)
    result = dict(framework=framework, case=args.case, device=args.device, small=args.small,
                  params=params, flops=case_flops(params), warmup=args.warmup, times_s=times,
                  rss_before_mb=round(before, 2), peak_mb=round(peak_mb(), 2),
                  peak_delta_mb=round(peak_mb() - before, 2), peak_reset=peak_reset,
                  load_avg_1min=round(os.getloadavg()[0], 2), **info)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return result


# ---------------------------------------------------------------- the machine
# Vector extensions that decide which kernels NumPy's BLAS (and PyTorch's oneDNN) run; /proc/cpuinfo's names.
VECTOR_FLAGS = ("sse4_2", "avx", "fma", "avx2", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl",
                "avx512ifma", "avx512vbmi", "avx512_vbmi2", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile")


def _cpuinfo():
    """The first processor's fields in /proc/cpuinfo (model name, cpu family, model, flags...); {} where unreadable."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def vector_kind(flags):
    """The widest vector extension in ``flags``: 'AVX-512', 'AVX2', 'AVX', 'SSE' or 'unknown' (no flags)."""
    if flags is None:
        return "unknown"
    for flag, kind in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX")):
        if flag in flags:
            return kind
    return "SSE"


def blas_info():
    """NumPy's BLAS as threadpoolctl sees it once NumPy is loaded: internal_api (openblas, mkl, blis),
    architecture (the kernel set, e.g. Haswell, Zen, SkylakeX), version, num_threads; every field
    'unknown' where threadpoolctl or NumPy is missing (``pip install 'minidense[dev]'`` has it)."""
    fields = ("internal_api", "architecture", "version", "num_threads", "threading_layer")
    unknown = {k: "unknown" for k in fields}
    try:
        import numpy  # noqa: F401  (threadpoolctl lists only the libraries already loaded)
        from threadpoolctl import threadpool_info
    except ImportError:
        return unknown
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return {k: blas[0].get(k, "unknown") for k in fields} if blas else unknown


def machine_info():
    """The CPU (model, its widest vector extension and the flags that name it), the cores and NumPy's BLAS."""
    import platform
    cpu = _cpuinfo()
    flags = set(cpu["flags"].split()) if "flags" in cpu else None
    return dict(cpu=cpu.get("model name") or platform.processor() or "unknown", cores=os.cpu_count(),
                cpu_family_model=f"{cpu.get('cpu family', '?')}/{cpu.get('model', '?')}", vector=vector_kind(flags),
                vector_flags=[f for f in VECTOR_FLAGS if f in (flags or ())], blas=blas_info(),
                platform=platform.platform(), python=platform.python_version())


def machine_line(info):
    """One line for a table's header: 'AMD EPYC, 2 cores, AVX-512 (avx2 avx512f ...); BLAS openblas 0.3.31
    SkylakeX, 2 threads'."""
    b = info["blas"]
    flags = " ".join(info["vector_flags"]) or "no flags read"
    return (f"{info['cpu']} (family/model {info['cpu_family_model']}), {info['cores']} cores, {info['vector']} "
            f"({flags}); NumPy's BLAS: {b['internal_api']} {b['version']}, kernels {b['architecture']}, "
            f"{b['num_threads']} thread(s)")


def machine_report(info, load):
    """The first line of a report: 'machine: <machine_line>; load average (1 min) 1.2'."""
    return f"machine: {machine_line(info)}; load average (1 min) {load:.1f}"


def cpu_kind(info):
    """The heading of the CPU's table in bench/README.md: 'AMD EPYC (AVX-512, OpenBLAS SkylakeX)'."""
    b = info["blas"]
    blas = "unknown BLAS" if b["internal_api"] == "unknown" else f"{b['internal_api']} {b['architecture']}"
    return f"{info['cpu']} ({info['vector']}, {blas.replace('openblas', 'OpenBLAS')})"


def threads_info():
    return {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if os.environ.get(k)}
