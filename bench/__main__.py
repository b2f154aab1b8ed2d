"""Run every bench script and write BENCHMARKS.md.

    python -m bench                 # everything, full repeats (an hour or more on 2 CPU cores)
    python -m bench --quick         # fewer repeats, smaller sizes: checks the pipeline (~15 min)
    python -m bench --only trainer_overhead,startup

Each script runs in its own process with ``--json`` (bench/report.py's document on stdout, its
human report in the log); a script that fails or times out is recorded as failed with its last
error line, and the rest still run. BENCHMARKS.md is rewritten after every script, so an
interrupted run leaves what it measured so far. gpu_check runs only where nvidia-smi sees a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.report import machine, render_markdown

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent

# name -> (full arguments, --quick arguments); the order they run in
SCRIPTS: dict[str, tuple[list[str], list[str]]] = {
    "import_speed": (["--images", "2000", "--repeats", "5", "--cache", "/tmp/yolov11-bench-coco-2000"],
                     ["--images", "500", "--repeats", "2", "--cache", "/tmp/yolov11-bench-coco-500"]),
    "trainer_overhead": ([], ["--epochs", "1", "--imgsz", "160", "--repeats", "2"]),
    "startup": (["--repeats", "5"], ["--repeats", "2"]),
    "chart_latency": ([], ["--epochs", "2", "--runs", "1"]),
    "load_status": ([], ["--seconds", "15", "--runs", "1"]),
    "export_speed": (["--epochs", "6"], ["--epochs", "1", "--imgsz", "320", "--repeats", "3"]),
    "memory_growth": ([], ["--runs", "2", "--imgsz", "160"]),
    "demo_learnability": ([], ["--epochs", "3"]),
    "zoo_compare": ([], ["--families", "yolov11,yolov11-cbam", "--epochs", "1", "--imgsz", "160"]),
    "health_view": (["--images", "6000", "--repeats", "3"], ["--images", "5000", "--repeats", "1"]),
    "families": (["--families", "300", "--seeds", "20", "--sizes", "2000,5000"], ["--families", "60", "--seeds", "3", "--sizes", "500"]),
    "active_learning": ([], ["--images", "200", "--rounds", "2", "--seeds", "1", "--epochs", "2", "--imgsz", "160"]),
    "small_objects": ([], ["--quick"]),
    "advice": ([], ["--quick"]),
    "gpu_check": ([], ["--quick"]),
}
NEEDS_GPU = {"gpu_check"}


def parse_document(stdout: str) -> dict:
    """The script's JSON document: the last stdout line that is a JSON object."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    raise ValueError("printed no JSON document")


def last_error(log: Path) -> str:
    """The one line that says why a script failed: its traceback's last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    for ln in reversed(lines):
        if not ln.startswith(("\x1b", "[K")) and "%" not in ln[:80]:
            return ln[:300]
    return lines[-1][:300] if lines else ""


def run_script(name: str, args: list[str], logs: Path, timeout: float) -> dict:
    argv = [sys.executable, str(BENCH / f"{name}.py"), "--json", *args]
    log = logs / f"{name}.log"
    t0 = time.time()
    result = {"script": name, "args": [f"bench/{name}.py", *args], "figures": [], "notes": [], "error": ""}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        with open(log, "w") as err:
            proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        (logs / f"{name}.json").write_text(out)
        return {**result, "status": "failed", "error": f"timed out after {timeout:.0f} s", "seconds": time.time() - t0}
    result["seconds"] = time.time() - t0
    (logs / f"{name}.json").write_text(proc.stdout)
    try:
        doc = parse_document(proc.stdout)
    except ValueError as exc:
        doc = None
        why = f"{exc}"
    if doc is not None:
        result.update(figures=doc.get("figures") or [], notes=doc.get("notes") or [])
    if proc.returncode != 0 and not result["figures"]:
        return {**result, "status": "failed", "error": f"exit {proc.returncode}: {last_error(log)}"}
    if doc is None:
        return {**result, "status": "failed", "error": f"{why}: {last_error(log)}"}
    if proc.returncode != 0:  # figures, and a failed check among them (gpu_check exits 1 then)
        result["notes"] = [*result["notes"], f"exit {proc.returncode}: {last_error(log)}"]
    return {**result, "status": "ok"}


def _kept(path: Path, running: list[str]) -> list[dict]:
    """The results of an earlier run (its results.json) for the scripts not run now, each noting
    the run that measured it: a result that run itself kept from an earlier one keeps its own note."""
    earlier = json.loads(path.read_text())
    kept = []
    for r in earlier["results"]:
        if r["script"] not in running:
            notes = list(r.get("notes", []))
            if not any(n.startswith("measured in an earlier run") for n in notes):
                notes.append(f"measured in an earlier run: {earlier['date']}, `{earlier['command']}`")
            kept.append({**r, "notes": notes})
    return kept


def _in_order(results: list[dict]) -> list[dict]:
    return sorted(results, key=lambda r: list(SCRIPTS).index(r["script"]) if r["script"] in SCRIPTS else len(SCRIPTS))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes: a check that every script runs (about 15 min)")
    p.add_argument("--only", default="", help=f"comma-separated scripts to run (default all: {','.join(SCRIPTS)})")
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md",
                   help="the markdown written (default BENCHMARKS.md at the repository root)")
    p.add_argument("--logs", type=Path, default=None, help="folder for each script's log and JSON (default: a new temp folder)")
    p.add_argument("--keep", type=Path, default=None,
                   help="an earlier run's results.json: its scripts this run does not run are kept, marked with its date")
    p.add_argument("--timeout", type=float, default=None, help="seconds one script may run (default 1800 with --quick, 10800 without)")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        p.error(f"--only {','.join(unknown)}: not a bench script (choose from {','.join(SCRIPTS)})")
    logs = args.logs or Path(tempfile.mkdtemp(prefix="yolov11-bench-logs-"))
    logs.mkdir(parents=True, exist_ok=True)
    timeout = args.timeout or (1800 if args.quick else 10800)
    command = "python -m bench" + (" --quick" if args.quick else "") + (f" --only {','.join(names)}" if args.only else "")
    where = machine()
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = "Benchmarks (quick check: fewer repeats, smaller sizes; not figures to quote)" if args.quick else "Benchmarks"
    print(f"{command}: logs in {logs}", file=sys.stderr, flush=True)
    t0 = time.time()
    results: list[dict] = []
    kept = _kept(args.keep, names) if args.keep else []
    for name in names:
        full, quick = SCRIPTS[name]
        script_args = quick if args.quick else full
        if name in NEEDS_GPU and not where["gpus"]:
            results.append({"script": name, "args": [f"bench/{name}.py", *script_args], "status": "skipped",
                            "error": "no CUDA GPU visible (nvidia-smi)", "figures": [], "notes": []})
        else:
            print(f"{name}: running {shlex.join(script_args)} ...", file=sys.stderr, flush=True)
            results.append(run_script(name, script_args, logs, timeout))
        r = results[-1]
        took = f" in {r['seconds']:.0f} s" if r.get("seconds") is not None else ""
        print(f"{name}: {r['status']}{took}" + (f": {r['error']}" if r.get("error") else ""),
              file=sys.stderr, flush=True)
        args.out.write_text(render_markdown(_in_order(results + kept), where, date=date, command=command,
                                            seconds=time.time() - t0, title=title))
        (logs / "results.json").write_text(json.dumps({"machine": where, "date": date, "command": command,
                                                       "results": _in_order(results + kept)}, indent=1))
    print(f"wrote {args.out} ({sum(r['status'] == 'failed' for r in results)} failed); raw results in {logs / 'results.json'}",
          file=sys.stderr)
    return 1 if any(r["status"] == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
