"""Does the process grow run after run? Target: <= 100 MB RSS growth over five trainings in a
row in one process (the app trains many runs without restarting).

    .venv/bin/python bench/memory_growth.py [--runs 5] [--epochs 1] [--imgsz 320]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import report  # noqa: E402  (bench/ is the script's folder, so on sys.path)

TARGET_MB = 100.0


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--imgsz", type=int, default=320)
    report.add_json_flag(p)
    args = p.parse_args()
    report.start(args)
    ws = tempfile.mkdtemp(prefix="yolov11-memory-")
    os.environ["YOLOV11_WORKSPACE"] = ws
    import yolov11

    yolov11.ensure_demo_dataset(ws)
    rss = []
    for i in range(args.runs):
        with contextlib.redirect_stdout(sys.stderr):
            yolov11.train("demo-hardhat", "yolov11n", epochs=args.epochs, imgsz=args.imgsz, workspace=ws, plots=False)
        gc.collect()
        rss.append(rss_mb())
        print(f"after run {i + 1}: RSS {rss[-1]:.0f} MB", flush=True)
    growth = rss[-1] - rss[0]
    print(f"growth from run 1 to run {args.runs}: {growth:+.0f} MB  target <= 100 MB: {'met' if growth <= 100 else 'NOT MET'}")
    fig = report.figure(f"memory: RSS growth over {args.runs} trainings in one process", growth, "MB", baseline=rss[0],
                        baseline_name="RSS after run 1", ratio=rss[-1] / rss[0], ratio_of=f"RSS after run {args.runs} / after run 1",
                        target=f"growth <= {TARGET_MB:.0f} MB", met=growth <= TARGET_MB, samples=rss,
                        note=f"spread of RSS (MB) after each run; {args.epochs} epoch(s), imgsz {args.imgsz}")
    report.finish(args, "memory_growth", [fig], [f"RSS MB after each run: {', '.join(f'{x:.0f}' for x in rss)}"])


if __name__ == "__main__":
    main()
