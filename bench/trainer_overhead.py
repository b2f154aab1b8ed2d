"""What do our events, callbacks and registry cost over plain Ultralytics? Target: wall-time
ratio <= 1.03. Trains the same model on the same data with the same Ultralytics arguments,
``yolov11.train`` against ``YOLO(model).train()`` in one process, in ABBA pairs (ours, plain;
plain, ours; ...: neither side always goes first). Each pair gives one ratio ours / plain; the
figure is the median of those ratios, with their range, and the median and range of each
side's times.

Both sides get TrainSettings' Ultralytics arguments (plots off here, as on both sides). The
baseline is Ultralytics as it comes: its TensorBoard integration off (its default), while ours
always writes TensorBoard scalars, so that cost counts as ours (``--baseline-tensorboard on``
gives plain the same event files). What ours adds: the run's registry row, events.jsonl, the
log handler, the callbacks, the per-epoch resume.pt copy, TensorBoard's scalars and the
collection that frees the run's memory. Before the timed pairs, one short untimed run of each
side (1 epoch on a tenth of the images) pays what only a process's first training pays (torch's
and Ultralytics' lazy imports), which would otherwise count against whichever side runs first.

    .venv/bin/python bench/trainer_overhead.py [--epochs 2] [--imgsz 320] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import report  # noqa: E402  (bench/ is the script's folder, so on sys.path)

from yolov11.training.settings import TrainSettings  # noqa: E402  (imports no Ultralytics)

TARGET = 1.03


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--repeats", type=int, default=5, help="pairs (one run of each side); odd pairs run ours first, even ones plain first")
    p.add_argument("--baseline-tensorboard", choices=["off", "on"], default="off",
                   help="plain Ultralytics' TensorBoard logging (default off: Ultralytics' own default)")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed first run of each side")
    report.add_json_flag(p)
    args = p.parse_args()
    report.start(args)
    ws = tempfile.mkdtemp(prefix="yolov11-overhead-")
    os.environ["YOLOV11_WORKSPACE"] = ws
    import yolov11
    from yolov11.compat import offline
    from yolov11.models import resolve_model

    yolov11.ensure_demo_dataset(ws)
    with contextlib.redirect_stdout(sys.stderr):  # Ultralytics' logger binds to stdout when imported
        offline.prepare()
        from ultralytics import YOLO
        from ultralytics.utils import SETTINGS

    data = str(yolov11.Workspace.at(ws).resolve_data("demo-hardhat"))
    settings = dict(epochs=args.epochs, imgsz=args.imgsz, plots=False)
    plain_args = {**TrainSettings.of("yolov11n", **settings).ultralytics_args(), "data": data, "project": str(Path(ws) / "plain"),
                  "exist_ok": True}
    ours, plain = "yolov11.train", "YOLO().train"
    times: dict[str, list[float]] = {ours: [], plain: []}
    ours_tensorboard = SETTINGS["tensorboard"]  # offline.prepare switched it on

    def run_plain(i, **more):
        SETTINGS.update(tensorboard=args.baseline_tensorboard == "on")  # read by each trainer as it is built
        try:
            YOLO(resolve_model("yolov11n")).train(**{**plain_args, **more}, name=f"plain-{i}")
        finally:
            SETTINGS.update(tensorboard=ours_tensorboard)

    runs = {
        ours: lambda i, **more: yolov11.train("demo-hardhat", "yolov11n", workspace=ws, **{**settings, **more}),
        plain: run_plain,
    }
    if not args.no_warmup:
        t = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            for name in (ours, plain):
                runs[name]("warmup", epochs=1, fraction=0.1)
        print(f"warm-up (untimed): {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    for i in range(args.repeats):
        order = [ours, plain] if i % 2 == 0 else [plain, ours]  # ABBA: neither side always runs first
        for name in order:
            with contextlib.redirect_stdout(sys.stderr):
                t = time.perf_counter()
                runs[name](i)
                times[name].append(time.perf_counter() - t)
            print(f"pair {i + 1}: {name} {times[name][-1]:.1f} s", file=sys.stderr, flush=True)
    ratios = [a / b for a, b in zip(times[ours], times[plain])]
    median = statistics.median(ratios)
    print(f"{'trainer':<16}{'median s':>10}{'range s':>16}   all runs (s)")
    for k, v in times.items():
        print(f"{k:<16}{statistics.median(v):>10.1f}{f'{min(v):.1f}-{max(v):.1f}':>16}   {', '.join(f'{x:.1f}' for x in v)}")
    print(f"ratio ours / plain per pair: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"median {median:.3f} (range {min(ratios):.3f}-{max(ratios):.3f}, n={len(ratios)})  "
          f"target <= {TARGET}: {'met' if median <= TARGET else 'NOT MET'}")
    figures = [
        report.figure("trainer overhead: yolov11.train / YOLO().train", statistics.median(times[ours]), "s",
                      baseline=statistics.median(times[plain]), baseline_name="YOLO().train", ratio=median,
                      ratio_of="per-pair ratio, median", target=f"ratio <= {TARGET}", met=median <= TARGET, samples=ratios,
                      note=f"yolov11n, {args.epochs} epochs, imgsz {args.imgsz}, ABBA pairs, "
                           f"plain TensorBoard {args.baseline_tensorboard}"),
        report.figure("trainer overhead: our wall time", statistics.median(times[ours]), "s", samples=times[ours]),
        report.figure("trainer overhead: plain wall time", statistics.median(times[plain]), "s", samples=times[plain]),
    ]
    report.finish(args, "trainer_overhead", figures, [f"per-pair ratios {', '.join(f'{r:.3f}' for r in ratios)}"], times=times)


if __name__ == "__main__":
    main()
