"""Smoke test of the benchmark harness (bench/), so that it cannot rot. No timing decides anything here."""
import json
import os
import subprocess
import sys

import paths
import pytest
from bench_modules import bench_module

ROOT = str(paths.ROOT)
BENCH = os.path.join(ROOT, "bench")


@pytest.fixture(scope="module")
def common():
    with bench_module("common") as module:
        yield module


def test_machine_info_names_the_cpu_its_vector_extensions_and_numpys_blas(common):
    info = common.machine_info()
    assert info["cpu"] and info["cores"] >= 1
    assert info["vector"] in ("AVX-512", "AVX2", "AVX", "SSE", "unknown")
    assert set(info["vector_flags"]) <= set(common.VECTOR_FLAGS)
    assert set(info["blas"]) == {"internal_api", "architecture", "version", "num_threads", "threading_layer"}
    line = common.machine_line(info)
    assert info["cpu"] in line and info["vector"] in line and str(info["blas"]["architecture"]) in line


def test_vector_kind_is_the_widest_extension(common):
    assert common.vector_kind({"sse4_2", "avx", "avx2", "avx512f", "avx512bw"}) == "AVX-512"
    assert common.vector_kind({"sse4_2", "avx", "fma", "avx2"}) == "AVX2"
    assert common.vector_kind({"sse4_2"}) == "SSE"
    assert common.vector_kind(None) == "unknown"


def test_blas_is_unknown_without_threadpoolctl(common, monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)   # import threadpoolctl now raises ImportError
    assert set(common.blas_info().values()) == {"unknown"}
    assert "unknown" in common.cpu_kind(common.machine_info())


def test_flop_count_of_the_reference_unet(common):
    # bench/README.md: one training step of the 16-32-64 U-Net at batch 8, 64×64 is about 4.8 GFLOP
    flops = common.case_flops(common.CASES["unet_step_64"])
    assert 4.7e9 < flops < 4.9e9


def test_layer_cases_are_the_unet_steps_convolutions(common):
    layers = common.LAYER_CASES
    assert layers and not set(layers) & set(common.DEFAULT_CASES) and set(layers) <= set(common.CASES)
    # each shape once, forward and forward+backward; the step's FLOPs are its layers' ("_x2": counted twice)
    assert all(case["count"] == (2 if name.endswith("_x2") else 1) for name, case in layers.items())
    step = sum(common.case_flops(case) * case["count"] for case in layers.values() if case["backward"])
    assert step == common.case_flops(common.CASES[common.LAYERS_STEP])
    assert sum(not case["backward"] for case in layers.values()) == sum(case["backward"] for case in layers.values())
    first = [case for name, case in layers.items() if "_3to16_64_" in name]
    assert first and all(case["input_grad"] is False for case in first)   # the image asks for no gradient
    up = layers["layer_convT2x2s2_n8_64to32_16_fwdbwd"]
    assert (up["kind"], up["c_in"], up["c_out"], up["size"], up["stride"]) == ("convT", 64, 32, 16, 2)


@pytest.fixture(scope="module")
def driver():
    with bench_module("run") as module:
        yield module


def test_ratio_is_taken_round_by_round(driver):
    # round 1 is busy for both sides (times ×10): the per-round ratios stay 1.2 and 0.8 and their median is 1.0,
    # where pooling every call would mix a quiet round of one side with a busy round of the other
    md = [dict(round=0, times_s=[12.0, 12.0, 13.0]), dict(round=1, times_s=[8.0]), dict(round=2, times_s=[1.0])]
    torch = [dict(round=0, times_s=[10.0]), dict(round=1, times_s=[10.0, 9.0, 11.0])]
    assert driver.per_round_ratios(md, torch) == pytest.approx([1.2, 0.8])   # round 2 has no PyTorch run


def test_targets_use_the_median_of_rounds_and_include_the_overhead(driver):
    summary = {"unet_step_64": {"minidense": dict(ratio_round_median=1.45, ratio_median=1.6, median_ms=10.0,
                                                  memory_ratio=1.01),
                                "chainer": dict(median_ms=85.0)}}
    met = {t["target"]: t["met"] for t in driver.check_targets(summary, overhead={"us_per_op": 2.9})}
    assert met["unet_step_64: <= 1.5x PyTorch"] is True            # 1.45 of rounds, not the pooled 1.6
    assert met["unet_step_64: >= 8.0x faster than Chainer"] is True
    assert met["unet_step_64: peak memory <= 1.0x PyTorch's"] is False
    assert met["engine overhead <= 3.0 µs per op"] is True
    assert met["cross_entropy_n8_21_128_fwdbwd: <= 1.1x PyTorch"] is None   # not measured


def test_convolutions_alone_add_up_each_frameworks_layers_beside_its_step(driver):
    layers = {name: case for name, case in driver.LAYER_CASES.items() if case["backward"]}
    summary = {name: {"minidense": dict(median_ms=1.0), "torch": dict(median_ms=0.5)} for name in layers}
    summary["unet_step_64"] = {"minidense": dict(median_ms=30.0), "torch": dict(median_ms=20.0)}
    count = sum(case["count"] for case in layers.values())     # shapes the step has twice count twice
    alone = driver.convolutions_alone(summary)
    assert alone == {"minidense": dict(sum_ms=count * 1.0, step_ms=30.0),
                     "torch": dict(sum_ms=count * 0.5, step_ms=20.0)}
    lines = "\n".join(driver._convolutions_alone_lines(alone))
    assert f"| minidense | {count:.1f} | 30.0 | {count / 30:.2f} | {count / 20:.2f} |" in lines
    # a framework that missed one convolution (or the step) has no sum; none at all: no section
    del summary[next(iter(layers))]["torch"]
    assert set(driver.convolutions_alone(summary)) == {"minidense"}
    del summary["unet_step_64"]["minidense"]
    assert driver.convolutions_alone(summary) is None and driver._convolutions_alone_lines(None) == []


@pytest.mark.parametrize("case", ["conv3x3_n8_32to32_64_fwdbwd", "maxpool_unpool_n8_32_128_fwdbwd",
                                  "cross_entropy_n8_21_128_fwdbwd", "unet_step_64", "unet_step_64_dp"])
def test_minidense_case_runs_and_reports_json(case):
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "cases_minidense.py"), "--case", case,
                           "--repeat", "1", "--warmup", "1", "--small"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["framework"] == "minidense" and result["case"] == case
    assert len(result["times_s"]) == 1 and result["times_s"][0] > 0
    assert result["peak_delta_mb"] >= 0 or not result["peak_reset"]


def test_driver_writes_json_and_markdown_with_peers_absent(tmp_path):
    env = dict(os.environ, TORCH_PYTHON=str(tmp_path / "missing-python"), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "run.py"), "--cases", "cross_entropy_n8_21_128_fwdbwd",
                           "--rounds", "1", "--repeat", "1", "--warmup", "0", "--small",
                           "--frameworks", "minidense", "torch", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "latest-small.json").read_text())
    assert "torch" in report["absent"]
    assert {"cpu", "vector", "vector_flags", "blas"} <= set(report["machine"])
    assert report["summary"]["cross_entropy_n8_21_128_fwdbwd"]["minidense"]["samples"] == 1
    table = (tmp_path / "latest-small.md").read_text()
    assert "cross_entropy_n8_21_128_fwdbwd" in table and "torch: absent" in table
    assert report["machine"]["vector"] in table.splitlines()[0] and "NumPy's BLAS" in table


def test_driver_times_the_unet_layers_into_their_own_files(tmp_path, common):
    env = dict(os.environ, TORCH_PYTHON=str(tmp_path / "missing-python"), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "run.py"), "--layers", "--rounds", "1", "--repeat", "1",
                           "--warmup", "0", "--small", "--frameworks", "minidense", "torch", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "latest-layers-small.json").read_text())
    assert set(report["summary"]) == {common.LAYERS_STEP, *common.LAYER_CASES} and report["overhead"] is None
    table = (tmp_path / "latest-layers-small.md").read_text()
    assert "No target was measured" in table and "| target |" not in table   # PyTorch absent: no ratio
    assert list(report["convolutions_alone"]) == ["minidense"] and "## The step's convolutions alone" in table
    assert not (tmp_path / "latest-small.json").exists()   # the main results are left alone
    both = subprocess.run([sys.executable, os.path.join(BENCH, "run.py"), "--layers", "--cases", "unet_step_64"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert both.returncode != 0 and "not allowed with argument --layers" in both.stderr


@pytest.mark.parametrize("flags", [["--case", "cross_entropy_n8_21_128_fwdbwd"],
                                   ["--case", "conv3x3_n8_3to32_64_fwdbwd", "--no-end-to-end",
                                    "--column-bytes", "65536"],
                                   ["--case", "conv3x3_n8_3to32_64_fwdbwd", "--reference"]])
def test_profile_script_reports_time_faults_and_ops(flags, tmp_path):
    out = tmp_path / "profile.json"
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "profile_step.py"), *flags, "--repeat", "1",
                           "--warmup", "0", "--json", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    first, *rest = proc.stdout.splitlines()
    assert "page faults per call" in first and any(".forward" in line for line in rest)
    report = json.loads(out.read_text())
    assert report["machine"]["cpu"] in rest[0] and "NumPy's BLAS" in rest[0]
    shares = report["categories"]
    assert "matrix products" in shares and "engine: Function.apply" in shares and "engine: backward walk" in shares
    rest = "engine: everything else (checks, modules)"
    # the kinds of work split the instrumented call: their times add up to it
    assert abs(sum(row["ms"] for row in shares.values()) - report["timed_step_ms"]) < 1e-6 * report["timed_step_ms"]
    assert all(row["ms"] >= 0 for kind, row in shares.items() if kind != rest)


def test_ab_script_compares_two_trees_in_alternating_rounds():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "ab.py"), ROOT, ROOT, "--rounds", "2", "--repeat", "1",
                           "--case", "cross_entropy_n8_21_128_fwdbwd"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[1:3]] == ["round 1", "round 2"]
    assert lines[-1].startswith("median new/old ") and "over 2 rounds of cross_entropy_n8_21_128_fwdbwd" in lines[-1]
    assert lines[0].startswith("machine: ") and "NumPy's BLAS" in lines[0]


def test_ab_script_measures_the_engine_overhead_per_op(tmp_path):
    out = tmp_path / "ab.json"
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "ab.py"), ROOT, ROOT, "--rounds", "2", "--repeat", "1",
                           "--case", "overhead", "--json", str(out)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "µs/op" in proc.stdout.splitlines()[1]
    report = json.loads(out.read_text())
    assert report["unit"] == "µs/op" and len(report["rounds"]) == 2 and report["machine"]["blas"]["num_threads"] == 1


def test_overhead_script_reports_the_machine_with_its_numbers():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "overhead.py"), "--json", "--repeat", "1"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["us_per_op"] > 0 and {"cpu", "vector", "blas"} <= set(report["machine"])


def test_toggle_script_alternates_a_settings_old_and_new_value_in_one_process():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "toggle.py"), "minidense.ops.conv_fast.tiles=never",
                           "--case", "convT2x2s2_n8_64to32_32_fwdbwd", "--rounds", "2", "--small"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("machine: ") and "tiles = <function _never" in proc.stdout
    assert "median new/old of rounds" in proc.stdout
    bad = subprocess.run([sys.executable, os.path.join(BENCH, "toggle.py"), "minidense.ops.conv_fast.nothing=1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert bad.returncode != 0 and "has no attribute 'nothing'" in bad.stderr
