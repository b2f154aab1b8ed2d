"""Is the embedded demo set learnable on a CPU? Target: yolov11n, quick settings, mAP50 >= 0.8
within about 5 CPU-minutes.

Prints, per epoch, the wall time since training started and the validation mAP50 (from the
run's events.jsonl), then the time-to-target as a ratio of the 300 s budget.

    .venv/bin/python bench/demo_learnability.py [--epochs N] [--imgsz S] [--batch B]   (default: the quick preset)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import report  # noqa: E402  (bench/ is the script's folder, so on sys.path)

from yolov11.training.settings import TrainSettings  # noqa: E402  (imports no Ultralytics)

TARGET_MAP50, BUDGET_S = 0.8, 300.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    quick = TrainSettings()
    p.add_argument("--epochs", type=int, default=quick.epochs)
    p.add_argument("--imgsz", type=int, default=quick.imgsz)
    p.add_argument("--batch", type=int, default=quick.batch)
    p.add_argument("--model", default=quick.model)
    report.add_json_flag(p)
    args = p.parse_args()
    report.start(args)
    ws = tempfile.mkdtemp(prefix="yolov11-bench-")
    os.environ["YOLOV11_WORKSPACE"] = ws
    import yolov11
    from yolov11.training.events import read_events

    t0 = time.time()
    yolov11.ensure_demo_dataset(ws)
    print(f"demo set generated and imported in {time.time() - t0:.1f} s")
    with contextlib.redirect_stdout(sys.stderr):  # Ultralytics' console output; the table goes to stdout
        result = yolov11.train("demo-hardhat", args.model, epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, workspace=ws)
    events, _ = read_events(Path(result["dir"]) / "events.jsonl")
    start = next(e["t"] for e in events if e["type"] == "status" and e.get("status") == "running")
    reached = None
    print(f"{'epoch':>5} {'time_s':>8} {'mAP50':>7} {'mAP50-95':>9}")
    for e in (e for e in events if e["type"] == "epoch"):
        elapsed = e["t"] - start
        m = e["metrics"]
        print(f"{e['epoch']:>5} {elapsed:>8.1f} {m.get('mAP50', 0):>7.3f} {m.get('mAP50-95', 0):>9.3f}")
        if reached is None and m.get("mAP50", 0) >= TARGET_MAP50:
            reached = elapsed
    print(f"final (best.pt): {result['metrics']}")
    if reached is None:
        print(f"mAP50 {TARGET_MAP50} NOT reached in {args.epochs} epochs")
    else:
        print(f"mAP50 >= {TARGET_MAP50} after {reached:.0f} s = {reached / BUDGET_S:.2f} x the {BUDGET_S:.0f} s budget")
    setup = f"{args.model}, {args.epochs} epochs, imgsz {args.imgsz}, batch {args.batch}"
    epochs = [e for e in events if e["type"] == "epoch"]
    figures = [
        report.figure(f"demo learnability: seconds to mAP50 >= {TARGET_MAP50}", reached, "s", baseline=BUDGET_S, baseline_name="budget",
                      ratio=reached / BUDGET_S if reached is not None else None, ratio_of="time / budget", target="ratio <= 1.0",
                      met=reached is not None and reached <= BUDGET_S, note=setup + ("" if reached is not None else ": not reached")),
        report.figure("demo learnability: final mAP50 (best.pt)", result["metrics"].get("mAP50"), "",
                      note=f"mAP50-95 {result['metrics'].get('mAP50-95', 0):.3f}"),
    ]
    notes = [f"epoch {e['epoch']}: {e['t'] - start:.0f} s, mAP50 {e['metrics'].get('mAP50', 0):.3f}" for e in epochs]
    report.finish(args, "demo_learnability", figures, notes)


if __name__ == "__main__":
    main()
