"""What do our events, callbacks and registry cost over plain Ultralytics? Target: wall-time
ratio <= 1.03. Trains the same model on the same data with the same settings, alternating
``yolov11.train`` and ``YOLO(model).train()`` in one process (ABBA order, so neither always
goes first), and prints both and the ratio of the best times.

    .venv/bin/python bench/trainer_overhead.py [--epochs 2] [--imgsz 320] [--repeats 2]
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
from yolov11.training.settings import TrainSettings  # noqa: E402  (imports no Ultralytics)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    ws = tempfile.mkdtemp(prefix="yolov11-overhead-")
    os.environ["YOLOV11_WORKSPACE"] = ws
    import yolov11
    from yolov11.compat import offline
    from yolov11.models import resolve_model

    yolov11.ensure_demo_dataset(ws)
    with contextlib.redirect_stdout(sys.stderr):  # Ultralytics' logger binds to stdout when imported
        offline.prepare()
        from ultralytics import YOLO

    data = str(yolov11.Workspace.at(ws).resolve_data("demo-hardhat"))
    settings = dict(epochs=args.epochs, imgsz=args.imgsz, plots=False)
    plain_args = {**TrainSettings.of("yolov11n", **settings).ultralytics_args(), "data": data, "project": str(Path(ws) / "plain"), "exist_ok": True}
    times: dict[str, list[float]] = {"yolov11.train": [], "YOLO().train": []}
    runs = {
        "yolov11.train": lambda i: yolov11.train("demo-hardhat", "yolov11n", workspace=ws, **settings),
        "YOLO().train": lambda i: YOLO(resolve_model("yolov11n")).train(**plain_args, name=f"plain-{i}"),
    }
    for i in range(args.repeats):
        order = list(runs) if i % 2 == 0 else list(runs)[::-1]  # ABBA: neither side always runs first
        for name in order:
            with contextlib.redirect_stdout(sys.stderr):
                t = time.perf_counter()
                runs[name](i)
                times[name].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    print(f"{'trainer':<16}{'best s':>9}{'all runs (s)':>30}")
    for k, v in times.items():
        print(f"{k:<16}{best[k]:>9.1f}{', '.join(f'{x:.1f}' for x in v):>30}")
    ratio = best["yolov11.train"] / best["YOLO().train"]
    print(f"ratio (ours / plain): {ratio:.3f}  target <= 1.03: {'met' if ratio <= 1.03 else 'NOT MET'}")


if __name__ == "__main__":
    main()
