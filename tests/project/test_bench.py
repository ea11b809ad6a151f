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


def test_flop_count_of_the_reference_unet(common):
    # bench/README.md: one training step of the 16-32-64 U-Net at batch 8, 64×64 is about 4.8 GFLOP
    flops = common.case_flops(common.CASES["unet_step_64"])
    assert 4.7e9 < flops < 4.9e9


@pytest.mark.parametrize("case", ["conv3x3_n8_32to32_64_fwdbwd", "maxpool_unpool_n8_32_128_fwdbwd",
                                  "cross_entropy_n8_21_128_fwdbwd", "unet_step_64"])
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
    assert report["summary"]["cross_entropy_n8_21_128_fwdbwd"]["minidense"]["samples"] == 1
    table = (tmp_path / "latest-small.md").read_text()
    assert "cross_entropy_n8_21_128_fwdbwd" in table and "torch: absent" in table


@pytest.mark.parametrize("flags", [["--case", "cross_entropy_n8_21_128_fwdbwd"],
                                   ["--case", "conv3x3_n8_3to32_64_fwdbwd", "--no-end-to-end",
                                    "--column-bytes", "65536"],
                                   ["--case", "conv3x3_n8_3to32_64_fwdbwd", "--reference"]])
def test_profile_script_reports_time_faults_and_ops(flags):
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "profile_step.py"), *flags, "--repeat", "1",
                           "--warmup", "0"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    first, *rest = proc.stdout.splitlines()
    assert "page faults per call" in first and any(".forward" in line for line in rest)


def test_ab_script_compares_two_trees_in_alternating_rounds():
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "ab.py"), ROOT, ROOT, "--rounds", "2", "--repeat", "1",
                           "--case", "cross_entropy_n8_21_128_fwdbwd"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["round 1", "round 2"]
    assert lines[-1].startswith("median new/old ") and "over 2 rounds of cross_entropy_n8_21_128_fwdbwd" in lines[-1]
