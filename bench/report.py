"""What every bench script reports, and BENCHMARKS.md drawn from it.

A script run with ``--json`` prints one JSON document on stdout (its human report goes to
stderr instead)::

    {"script": "trainer_overhead", "figures": [figure, ...], "notes": ["...", ...]}

and each figure is a dict (``figure()`` builds one)::

    {"name", "value", "unit",            what was measured (the median where it was repeated)
     "baseline", "baseline_name",        what it is measured against, in the same run (or None)
     "ratio", "ratio_of",                the number the target is stated on, and what it divides
     "target", "met",                    the target as text ("<= 1.03") and whether it holds
     "median", "min", "max", "repeats",  the spread of the ratio (else of the value) over repeats
     "samples", "note"}

``render_markdown`` (a pure function of the collected results, the machine and the command)
writes BENCHMARKS.md; ``python -m bench`` runs the scripts and calls it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

_real_stdout = None


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (figures, notes) on stdout; the human report goes to stderr")


def start(args: argparse.Namespace) -> None:
    """Call right after parsing: with --json, everything printed from here on (the human report,
    Ultralytics' console) goes to stderr, so stdout carries only the JSON document."""
    global _real_stdout
    if getattr(args, "json", False) and _real_stdout is None:
        _real_stdout, sys.stdout = sys.stdout, sys.stderr


def say(figures: list[dict], notes: Iterable[str] = ()) -> None:
    """The human report: each note, then each figure with its ratio, target and verdict."""
    for line in notes:
        print(line)
    for f in figures:
        print(f"{f['name']}: {f['value']} ratio {f['ratio']} target {f['target']} met {f['met']}")


def finish(args: argparse.Namespace, script: str, figures: list[dict], notes: Iterable[str] = (), **extra: Any) -> None:
    """Print the JSON document when --json was given (else nothing: the human report is out)."""
    if not getattr(args, "json", False):
        return
    doc = clean({"script": script, "figures": figures, "notes": [n for n in notes if n], **extra})
    out = _real_stdout or sys.stdout
    out.write(json.dumps(doc) + "\n")
    out.flush()


def clean(value: Any) -> Any:
    """NaN and infinity -> None (JSON has neither), recursively; tuples -> lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def spread(samples: Sequence[float]) -> dict:
    """{"median", "min", "max", "repeats"} of ``samples`` (None values dropped)."""
    xs = [float(x) for x in samples if x is not None and math.isfinite(float(x))]
    if not xs:
        return {"median": None, "min": None, "max": None, "repeats": 0}
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "repeats": len(xs)}


def figure(name: str, value: float | None, unit: str, *, baseline: float | None = None, baseline_name: str = "",
           ratio: float | None = None, ratio_of: str = "", target: str = "", met: bool | None = None,
           samples: Sequence[float] | None = None, note: str = "") -> dict:
    """One figure (see the module docstring). ``samples``: the repeats behind the ratio (or the
    value, when there is no ratio); their median, min and max are filled in."""
    fig = {"name": name, "value": value, "unit": unit, "baseline": baseline, "baseline_name": baseline_name,
           "ratio": ratio, "ratio_of": ratio_of, "target": target, "met": met, "note": note}
    if samples is not None:
        fig.update(spread(samples), samples=[round(float(x), 4) for x in samples if x is not None])
    else:
        fig.update(median=None, min=None, max=None, repeats=1 if value is not None else 0, samples=[])
    return clean(fig)


# --- the machine ---------------------------------------------------------------------------


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _gpus() -> list[str]:
    """GPU names from nvidia-smi (no torch import, no CUDA context); [] when there is none."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def machine() -> dict:
    """What the figures were measured on."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "usable_cores": usable, "ram_gb": _ram_gb(), "gpus": _gpus(),
        "os": platform.platform(), "python": platform.python_version(),
        "torch": _version("torch"), "ultralytics": _version("ultralytics"), "openvino": _version("openvino"),
        "onnxruntime": _version("onnxruntime"), "gradio": _version("gradio"),
        "load_1min_at_start": round(load, 2) if load is not None else None,
    }


# --- BENCHMARKS.md -------------------------------------------------------------------------


def _num(x: Any, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,} {unit}".strip()
    if isinstance(x, float):
        a = abs(x)
        text = f"{x:,.0f}" if a >= 1000 else f"{x:.1f}" if a >= 10 else f"{x:.2f}" if a >= 1 or a == 0 else f"{x:.3f}"
        return f"{text} {unit}".strip()
    return str(x)


def _spread_text(fig: dict) -> str:
    n = fig.get("repeats") or 0
    if n < 2 or fig.get("median") is None:
        return "one run" if n == 1 else "–"
    return f"{_num(fig['median'])} ({_num(fig['min'])}–{_num(fig['max'])}, n={n})"


def _met_text(met: Any) -> str:
    return "–" if met is None else "**met**" if met else "**NOT met**"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(results: list[dict], machine: dict, *, date: str, command: str, seconds: float | None = None,
                    title: str = "Benchmarks") -> str:
    """BENCHMARKS.md from the collected results: one dict per script,
    ``{"script", "status" ("ok" | "failed" | "skipped"), "error", "seconds", "figures", "notes", "args"}``."""
    gpus = ", ".join(machine.get("gpus") or []) or "none"
    lines = [
        f"# {title}",
        "",
        "Generated by `python -m bench` (do not edit by hand: rerun it). Each figure is measured against",
        "its baseline in the same run; where a figure is noisy it is repeated, alternating with its",
        "baseline, and the spread column gives the median and range of the ratio (else of the value).",
        "",
        f"- date: {date}" + (f" (took {seconds / 60:.0f} min)" if seconds else ""),
        f"- command: `{command}`",
        f"- machine: {machine.get('cpu')}, {machine.get('cores')} cores ({machine.get('usable_cores')} usable), "
        f"{_num(machine.get('ram_gb'))} GB RAM, GPU: {gpus}; load {machine.get('load_1min_at_start')} at start",
        f"- software: Python {machine.get('python')}, torch {machine.get('torch')}, ultralytics {machine.get('ultralytics')}, "
        f"openvino {machine.get('openvino')}, onnxruntime {machine.get('onnxruntime')}, gradio {machine.get('gradio')} "
        f"({machine.get('os')})",
        "",
    ]
    counted = [f for r in results for f in r.get("figures") or [] if f.get("met") is not None]
    summary = f"{sum(bool(f['met']) for f in counted)} of {len(counted)} targets met"
    failed = [r["script"] for r in results if r.get("status") == "failed"]
    lines += [f"**{summary}**" + (f"; failed: {', '.join(failed)}" if failed else "") + ".", ""]
    lines += ["| script | figure | value | baseline | ratio | spread: median (range, n) | target | |",
              "| --- | --- | ---: | ---: | ---: | --- | --- | --- |"]
    for r in results:
        if r.get("status") != "ok":
            what = "failed" if r.get("status") == "failed" else "skipped"
            lines.append(f"| {r['script']} | **{what}**: {_cell(r.get('error') or '')} | | | | | | |")
            continue
        for f in r.get("figures") or []:
            base = _num(f.get("baseline"), f.get("unit", "")) if f.get("baseline") is not None else "–"
            if f.get("baseline_name") and f.get("baseline") is not None:
                base += f" ({f['baseline_name']})"
            ratio = _num(f.get("ratio")) + (f" ({f['ratio_of']})" if f.get("ratio_of") and f.get("ratio") is not None else "")
            name = f["name"] + (f" ({f['note']})" if f.get("note") else "")
            lines.append(f"| {r['script']} | {_cell(name)} | {_cell(_num(f.get('value'), f.get('unit', '')))} "
                         f"| {_cell(base)} | {_cell(ratio)} "
                         f"| {_cell(_spread_text(f))} | {_cell(f.get('target') or '–')} | {_met_text(f.get('met'))} |")
    lines.append("")
    noted = [r for r in results if r.get("notes") or r.get("status") == "ok"]
    if noted:
        lines += ["## Per script", ""]
    for r in noted:
        took = f", {r['seconds']:.0f} s" if r.get("seconds") is not None else ""
        lines.append(f"- **{r['script']}** (`{' '.join(r.get('args') or [])}`{took})" + (":" if r.get("notes") else ""))
        lines += [f"  - {n}" for n in r.get("notes") or []]
    lines.append("")
    return "\n".join(lines)
