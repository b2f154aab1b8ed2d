"""Do our zoo families pay for themselves? Trains each family at one scale on the demo set with
the same settings and prints mAP50-95, mAP50, params, GFLOPs (640) and CPU latency (batch 1).

    .venv/bin/python bench/zoo_compare.py [--scale n] [--epochs 12] [--imgsz 320] [--families yolov11,yolov11-cbam,...]

Every family gets the quick preset and the same seed, so differences come from the graph.
One short run per family on a synthetic set is a smoke comparison, not a verdict.
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

FAMILIES = ["yolov11", "yolov11-cbam", "yolov11-head", "yolov11-p2", "yolov11-spp"]


def main() -> None:
    quick = TrainSettings()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", default="n")
    p.add_argument("--epochs", type=int, default=quick.epochs)
    p.add_argument("--imgsz", type=int, default=quick.imgsz)
    p.add_argument("--families", default=",".join(FAMILIES))
    report.add_json_flag(p)
    args = p.parse_args()
    report.start(args)
    ws = tempfile.mkdtemp(prefix="yolov11-zoo-")
    os.environ["YOLOV11_WORKSPACE"] = ws
    import yolov11
    from yolov11.models import describe, measure_latency

    yolov11.ensure_demo_dataset(ws)
    rows = []
    for family in args.families.split(","):
        name = family.replace("yolov11", f"yolov11{args.scale}", 1)
        t0 = time.time()
        with contextlib.redirect_stdout(sys.stderr):
            result = yolov11.train("demo-hardhat", name, epochs=args.epochs, imgsz=args.imgsz, workspace=ws, plots=False)
        info = describe(name)
        rows.append((name, result["metrics"], info, measure_latency(name, args.imgsz), time.time() - t0))
        print(f"trained {name} in {rows[-1][-1]:.0f} s", file=sys.stderr, flush=True)
    print(f"{'model':<16}{'mAP50-95':>9}{'mAP50':>8}{'params':>11}{'GFLOPs':>8}{'CPU ms @' + str(args.imgsz):>12}{'train s':>9}")
    for name, m, info, latency, seconds in rows:
        print(f"{name:<16}{m['mAP50-95']:>9.3f}{m['mAP50']:>8.3f}{info['params']:>11,}{info['gflops']:>8.1f}{latency:>12.1f}{seconds:>9.0f}")
    base_name, base_m, _, base_latency, _ = rows[0]
    figures = []
    for name, m, info, latency, seconds in rows:
        first = name == base_name
        figures.append(report.figure(f"zoo: {name} mAP50-95", m["mAP50-95"], "", baseline=None if first else base_m["mAP50-95"],
                                     baseline_name=base_name,
                                     ratio=None if first or not base_m["mAP50-95"] else m["mAP50-95"] / base_m["mAP50-95"],
                                     ratio_of=f"vs {base_name}",
                                     note=f"{info['params']:,} params, {info['gflops']:.1f} GFLOPs, train {seconds:.0f} s"))
        figures.append(report.figure(f"zoo: {name} CPU latency @{args.imgsz}", latency, "ms", baseline=None if first else base_latency,
                                     baseline_name=base_name, ratio=None if first else latency / base_latency, ratio_of=f"vs {base_name}"))
    report.finish(args, "zoo_compare", figures, [f"{args.epochs} epochs, imgsz {args.imgsz}, one seed: a smoke comparison, not a verdict"])


if __name__ == "__main__":
    main()
