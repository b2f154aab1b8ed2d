"""Is an export worth it? Targets, on CPU at 640 x 640: ONNX FP32 >= 1.4x faster than eager
PyTorch at batch 1; INT8 >= 2x with a mAP50-95 loss <= 0.01 on the demo dataset.

Trains yolov11n on the demo set with the quick preset (or takes --weights), exports it in each
variant through ``yolov11.export_model`` and prints its verification side by side: agreement
with eager, mAP50-95 eager vs exported on the demo val split, and median latencies at batch 1
and 8 (eager PyTorch and the export get the same threads).

    .venv/bin/python bench/export_speed.py [--imgsz 640] [--repeats 20] [--weights best.pt] [--epochs 12]
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
from yolov11.training.settings import PRESETS  # noqa: E402  (imports no Ultralytics)

VARIANTS = {  # name -> export_model options
    "onnx fp32": {"format": "onnx"},
    "onnx fp32 batch-dyn": {"format": "onnx", "dynamic": "batch"},
    "onnx fp16": {"format": "onnx", "half": True},
    "onnx int8": {"format": "onnx", "int8": True},
    "onnx int8 batch-dyn": {"format": "onnx", "int8": True, "dynamic": "batch"},
    "torchscript": {"format": "torchscript"},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--weights", help="a .pt trained on the demo set (default: train one with the quick preset)")
    p.add_argument("--epochs", type=int, default=PRESETS["quick look"]["epochs"])
    p.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args()
    ws = tempfile.mkdtemp(prefix="yolov11-export-")
    os.environ["YOLOV11_WORKSPACE"] = ws
    import yolov11

    yolov11.ensure_demo_dataset(ws)
    with contextlib.redirect_stdout(sys.stderr):  # Ultralytics logs to stdout: keep it for the table
        if args.weights:
            weights = Path(args.weights).resolve()
        else:
            t = time.time()
            weights = Path(yolov11.train("demo-hardhat", "yolov11n", workspace=ws, **{**PRESETS["quick look"], "epochs": args.epochs})["weights"])
            print(f"trained {weights} in {time.time() - t:.0f} s", file=sys.stderr)
        results = {}
        for name in args.variants.split(","):
            results[name] = yolov11.export_model(weights, imgsz=args.imgsz, data="demo-hardhat", repeats=args.repeats, workspace=ws, **VARIANTS[name])
            print(f"exported {name}", file=sys.stderr, flush=True)

    lat0 = next(iter(results.values()))["verify"]["latency_ms"]
    print(f"imgsz {args.imgsz}, {lat0['device']}, median of {args.repeats} calls; weights {weights}")
    head = f"{'variant':<22}{'MB':>6}{'max|diff|':>11}{'dets':>7}{'mAP eager':>10}{'mAP exp':>9}{'loss':>8}"
    print(head + f"{'b1 eager':>10}{'b1 exp':>8}{'x':>6}{'b8 eager':>10}{'b8 exp':>8}{'x':>6}")
    for name, r in results.items():
        v = r["verify"]
        m, b = v["map50_95"], v["latency_ms"]["by_batch"]
        cells = [f"{name:<22}{r['size_mb']:>6.1f}{v['max_abs_diff']:>11.2e}{'same' if v['detections_match'] else 'differ':>7}"]
        cells.append(f"{m['eager']:>10.4f}{m['exported']:>9.4f}{m['eager'] - m['exported']:>8.4f}")
        for batch in ("1", "8"):
            row = b[batch]
            exp = f"{row['exported']:>8.1f}{row['speedup']:>6.2f}" if row["exported"] else f"{'-':>8}{'-':>6}"
            cells.append(f"{row['eager']:>10.1f}{exp}")
        print("".join(cells))
    checks = [("onnx fp32", 1.4, None), ("onnx int8", 2.0, 0.01)]
    for name, speed, loss in checks:
        if name in results:
            v = results[name]["verify"]
            x, drop = v["latency_ms"]["by_batch"]["1"]["speedup"], v["map50_95"]["eager"] - v["map50_95"]["exported"]
            ok = x >= speed and (loss is None or drop <= loss)
            print(f"{name}: {x:.2f}x at batch 1 (target >= {speed}x)" + (f", mAP50-95 loss {drop:.4f} (target <= {loss})" if loss else "") + f": {'met' if ok else 'NOT MET'}")


if __name__ == "__main__":
    main()
