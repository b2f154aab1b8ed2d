"""The bench entry (`python -m bench`) starts, and its markdown writer renders what the scripts report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.report import figure, render_markdown, spread

ROOT = Path(__file__).resolve().parents[1]


def test_python_m_bench_help_lists_its_options():
    out = subprocess.run([sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for option in ("--quick", "--only", "--out"):
        assert option in out.stdout


def test_spread_is_median_and_range_of_the_repeats():
    assert spread([1.10, 0.98, 1.02, None, 1.01, 1.05]) == {"median": 1.02, "min": 0.98, "max": 1.10, "repeats": 5}
    assert spread([]) == {"median": None, "min": None, "max": None, "repeats": 0}


def test_markdown_has_each_figure_its_spread_the_failures_and_the_machine():
    ratios = [1.012, 0.995, 1.021, 1.004, 1.031]
    results = [
        {"script": "trainer_overhead", "status": "ok", "seconds": 812.0, "args": ["bench/trainer_overhead.py", "--repeats", "5"],
         "figures": [figure("trainer overhead", 61.2, "s", baseline=60.4, baseline_name="YOLO().train", ratio=1.012,
                            ratio_of="per-pair ratio, median", target="ratio <= 1.03", met=True, samples=ratios)],
         "notes": ["per-pair ratios 1.012, 0.995, 1.021, 1.004, 1.031"]},
        {"script": "export_speed", "status": "ok", "seconds": 300.0, "args": ["bench/export_speed.py"],
         "figures": [figure("export openvino int8", None, "ms", note="unavailable: UserError: --format openvino: not installed")],
         "notes": []},
        {"script": "chart_latency", "status": "failed", "seconds": 3.0, "args": ["bench/chart_latency.py"], "figures": [], "notes": [],
         "error": "exit 1: FileNotFoundError: /usr/bin/chromium"},
        {"script": "gpu_check", "status": "skipped", "args": ["bench/gpu_check.py"], "figures": [], "notes": [],
         "error": "no CUDA GPU visible (nvidia-smi)"},
    ]
    machine = {"cpu": "AMD EPYC", "cores": 2, "usable_cores": 2, "ram_gb": 23.5, "gpus": [], "python": "3.11.7", "torch": "2.14.1",
               "ultralytics": "8.4.190", "openvino": None, "onnxruntime": "1.32.0", "gradio": "6.31.0", "os": "Linux",
               "load_1min_at_start": 0.4}
    md = render_markdown(results, machine, date="2026-12-02 04:00 UTC", command="python -m bench --only trainer_overhead")

    assert md.startswith("# Benchmarks\n")
    assert "- command: `python -m bench --only trainer_overhead`" in md
    assert "- date: 2026-12-02 04:00 UTC" in md
    assert "AMD EPYC, 2 cores (2 usable), 23.5 GB RAM, GPU: none" in md
    assert "torch 2.14.1, ultralytics 8.4.190, openvino None" in md
    row = next(line for line in md.splitlines() if line.startswith("| trainer_overhead |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == ["trainer overhead", "61.2 s", "60.4 s (YOLO().train)", "1.01 (per-pair ratio, median)",
                         "1.01 (0.995–1.03, n=5)", "ratio <= 1.03", "**met**"]
    assert "unavailable: UserError: --format openvino: not installed" in md
    assert "| chart_latency | **failed**: exit 1: FileNotFoundError: /usr/bin/chromium |" in md
    assert "| gpu_check | **skipped**: no CUDA GPU visible (nvidia-smi) |" in md
    assert "**1 of 1 targets met**; failed: chart_latency." in md
    assert "  - per-pair ratios 1.012, 0.995, 1.021, 1.004, 1.031" in md


def test_kept_results_keep_the_run_that_measured_them(tmp_path):
    from bench.__main__ import _kept

    first = {"script": "startup", "figures": [], "notes": ["measured in an earlier run: 2026-12-01 10:00 UTC, `python -m bench`"]}
    fresh = {"script": "families", "figures": [], "notes": []}
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"date": "2026-12-05 19:49 UTC", "command": "python -m bench --only families", "results": [first, fresh]}))
    assert [r["notes"] for r in _kept(path, ["export_speed"])] == [
        ["measured in an earlier run: 2026-12-01 10:00 UTC, `python -m bench`"],  # not re-dated by the run that kept it
        ["measured in an earlier run: 2026-12-05 19:49 UTC, `python -m bench --only families`"],
    ]
