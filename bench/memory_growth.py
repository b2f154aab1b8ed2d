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


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--imgsz", type=int, default=320)
    args = p.parse_args()
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


if __name__ == "__main__":
    main()
