"""Is an export worth it? Targets, on CPU at 640 x 640: ONNX FP32 >= 1.4x faster than eager
PyTorch at batch 1; INT8 >= 2x with a mAP50-95 loss <= 0.01 on the demo dataset.

Trains yolov11n on the demo set with the quick preset (or takes --weights), exports it in each
variant through ``yolov11.export_model`` and prints its verification side by side: agreement
with eager, mAP50-95 eager vs exported on the demo val split, and median latencies at batch 1
and 8 (eager PyTorch and the export get the same threads). The OpenVINO variants (fp32, fp16,
int8) need the openvino format of ``export_model``; a variant that raises is reported as
"unavailable: <message>" and the others still run.

    .venv/bin/python bench/export_speed.py [--imgsz 640] [--repeats 20] [--weights best.pt] [--epochs 12] [--variants a,b] [--json]
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

from yolov11.training.settings import PRESETS  # noqa: E402  (imports no Ultralytics)

VARIANTS = {  # name -> export_model options
    "onnx fp32": {"format": "onnx"},
    "onnx fp32 batch-dyn": {"format": "onnx", "dynamic": "batch"},
    "onnx fp16": {"format": "onnx", "half": True},
    "onnx int8": {"format": "onnx", "int8": True},
    "onnx int8 batch-dyn": {"format": "onnx", "int8": True, "dynamic": "batch"},
    "torchscript": {"format": "torchscript"},
    "openvino fp32": {"format": "openvino"},
    "openvino fp16": {"format": "openvino", "half": True},
    "openvino int8": {"format": "openvino", "int8": True},
    "ncnn": {"format": "ncnn"},
}
TARGETS = {"onnx fp32": (1.4, None), "onnx int8": (2.0, 0.01)}  # batch-1 speed-up, mAP50-95 loss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--weights", help="a .pt trained on the demo set (default: train one with the quick preset)")
    p.add_argument("--epochs", type=int, default=PRESETS["quick look"]["epochs"])
    p.add_argument("--variants", default=",".join(VARIANTS))
    report.add_json_flag(p)
    args = p.parse_args()
    report.start(args)
    ws = tempfile.mkdtemp(prefix="yolov11-export-")
    os.environ["YOLOV11_WORKSPACE"] = ws
    import yolov11

    yolov11.ensure_demo_dataset(ws)
    with contextlib.redirect_stdout(sys.stderr):  # Ultralytics logs to stdout: keep it for the table
        if args.weights:
            weights = Path(args.weights).resolve()
        else:
            t = time.time()
            weights = Path(yolov11.train("demo-hardhat", "yolov11n", workspace=ws,
                                         **{**PRESETS["quick look"], "epochs": args.epochs})["weights"])
            print(f"trained {weights} in {time.time() - t:.0f} s", file=sys.stderr)
        results, unavailable = {}, {}
        for name in args.variants.split(","):
            try:
                results[name] = yolov11.export_model(weights, imgsz=args.imgsz, data="demo-hardhat", repeats=args.repeats, workspace=ws,
                                                     **VARIANTS[name])
            except Exception as exc:  # noqa: BLE001  (a variant that cannot be built here is reported, the others still run)
                unavailable[name] = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
                print(f"{name}: unavailable: {unavailable[name]}", file=sys.stderr, flush=True)
                continue
            print(f"exported {name}", file=sys.stderr, flush=True)

    if results:
        lat0 = next(iter(results.values()))["verify"]["latency_ms"]
        print(f"imgsz {args.imgsz}, {lat0.get('device')}, median of {args.repeats} calls; weights {weights}")
    head = f"{'variant':<22}{'MB':>6}{'max|diff|':>11}{'dets':>7}{'mAP eager':>10}{'mAP exp':>9}{'loss':>8}"
    print(head + f"{'b1 eager':>10}{'b1 exp':>8}{'x':>6}{'b8 eager':>10}{'b8 exp':>8}{'x':>6}")
    figures = []
    for name, r in results.items():
        v = r["verify"]
        m, b = v["map50_95"], v["latency_ms"]["by_batch"]
        loss = -m["export_change"]  # the export's own loss (eager scored on the export's input: export/accuracy.py)
        cells = [f"{name:<22}{r['size_mb']:>6.1f}{v['max_abs_diff']:>11.2e}{'same' if v['detections_match'] else 'differ':>7}"]
        cells.append(f"{m['eager_as_exported']:>10.4f}{m['exported']:>9.4f}{loss:>8.4f}")  # eager on the export's input
        for batch in ("1", "8"):
            row = b.get(batch) or {"eager": None, "exported": None, "speedup": None}
            exp = f"{row['exported']:>8.1f}{row['speedup']:>6.2f}" if row["exported"] else f"{'-':>8}{'-':>6}"
            cells.append(f"{row['eager'] or float('nan'):>10.1f}{exp}")
            speed, max_loss = TARGETS.get(name, (None, None)) if batch == "1" else (None, None)
            target = " and ".join(t for t in (f">= {speed}x" if speed else "", f"mAP50-95 loss <= {max_loss}" if max_loss else "") if t)
            met = None
            if speed and row["speedup"]:
                met = row["speedup"] >= speed and (max_loss is None or loss <= max_loss)
            detail = f"{r['size_mb']:.1f} MB, detections {'same' if v['detections_match'] else 'differ'}"
            detail += f", mAP50-95 eager {m['eager_as_exported']:.4f} -> {m['exported']:.4f} at the export's {m['imgsz']} px input"
            if m.get("baseline_imgsz", m["imgsz"]) != m["imgsz"]:  # Evaluate's number, at the trained size: another input, not a loss
                detail += f" (Evaluate: {m['eager']:.4f} at the {m['baseline_imgsz']} px trained)"
            figures.append(report.figure(f"export {name}, batch {batch}", row["exported"], "ms", baseline=row["eager"],
                                         baseline_name="eager PyTorch", ratio=row["speedup"], ratio_of="eager / export (speed-up)",
                                         target=target, met=met,
                                         note=(detail if batch == "1" else "static shape: batch 1 only" if not row["exported"] else "")))
        print("".join(cells))
    for name, why in unavailable.items():
        print(f"{name:<22}unavailable: {why}")
        figures.append(report.figure(f"export {name}", None, "ms", note=f"unavailable: {why}"))
    for name, (speed, loss) in TARGETS.items():
        if name in results:
            v = results[name]["verify"]
            x, drop = v["latency_ms"]["by_batch"]["1"]["speedup"], -v["map50_95"]["export_change"]
            ok = x >= speed and (loss is None or drop <= loss)
            print(f"{name}: {x:.2f}x at batch 1 (target >= {speed}x)"
                  + (f", mAP50-95 loss {drop:.4f} (target <= {loss})" if loss else "")
                  + f": {'met' if ok else 'NOT MET'}")
    notes = [f"imgsz {args.imgsz}, median of {args.repeats} calls in alternating blocks, CPU threads shared alike"]
    report.finish(args, "export_speed", figures, notes + [f"{name}: unavailable: {why}" for name, why in unavailable.items()])


if __name__ == "__main__":
    main()
