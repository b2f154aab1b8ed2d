"""The checks only a GPU machine can make, as one short script (a few minutes on one H100).

1. a 3-epoch yolov11n training on the demo set on GPU 0: AMP on, the offline AMP check (no
   weight download), GPU memory in the batch events;
2. ONNX FP32 and FP16 exports of it, verified against eager on the GPU (latency on the GPU);
3. with two or more GPUs, the same training through torchrun (--device 0,1), rank 0's events.

Prints one JSON document; exits 1 if a check failed. Needs this repository's requirements:
on a bare GPU machine with PyTorch, carry the missing wheels (ultralytics, onnxslim,
faster-coco-eval, ...) as the device tool's README describes, then:

    PYTHONUNBUFFERED=1 python3 bench/gpu_check.py [--epochs 3] [--imgsz 320]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--imgsz", type=int, default=320)
    args = p.parse_args()
    ws_dir = tempfile.mkdtemp(prefix="yolov11-gpu-")
    os.environ["YOLOV11_WORKSPACE"] = ws_dir
    import torch

    import yolov11

    report: dict = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}
    if not report["gpus"]:
        print(json.dumps({**report, "error": "no CUDA GPU visible"}))
        return 1
    ws = yolov11.Workspace.at(ws_dir)
    yolov11.ensure_demo_dataset(ws)
    failures: list[str] = []

    t = time.time()
    events: list[dict] = []
    r = yolov11.train("demo-hardhat", "yolov11n", workspace=ws, device="0", epochs=args.epochs, imgsz=args.imgsz, batch=16, workers=4, on_event=events.append)
    batches = [e for e in events if e["type"] == "batch"]
    report["train_gpu0"] = {"status": r["status"], "metrics": r["metrics"], "seconds": round(time.time() - t, 1), "gpu_mem_gb": max((b.get("gpu_mem_gb") or 0) for b in batches) if batches else None, "amp": (ws.require_run(r["run"])["settings"] or {}).get("amp")}
    if r["status"] != "done" or not report["train_gpu0"]["gpu_mem_gb"]:
        failures.append("train_gpu0")

    for name, options in (("onnx_fp32", {}), ("onnx_fp16", {"half": True}), ("torchscript_fp16", {"format": "torchscript", "half": True})):
        try:
            e = yolov11.export_model(run=r["run"], workspace=ws, **{"format": "onnx", **options})
            v = e["verify"]
            report[name] = {"detections_match": v["detections_match"], "max_abs_diff": v["max_abs_diff"], "map50_95": v["map50_95"], "latency_ms": v["latency_ms"]}
            if not v["detections_match"]:
                failures.append(name)
        except Exception as exc:  # noqa: BLE001  (report every check, then fail)
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failures.append(name)

    if len(report["gpus"]) >= 2:
        t = time.time()
        ddp = yolov11.train("demo-hardhat", "yolov11n", workspace=ws, device="0,1", epochs=args.epochs, imgsz=args.imgsz, batch=32, workers=4)
        written = [json.loads(line)["type"] for line in (Path(ddp["dir"]) / "events.jsonl").read_text().splitlines()]
        report["train_ddp_0_1"] = {"status": ddp["status"], "metrics": ddp["metrics"], "seconds": round(time.time() - t, 1), "epoch_events": written.count("epoch")}
        if ddp["status"] != "done" or written.count("epoch") != args.epochs:
            failures.append("train_ddp_0_1")
    report["failed"] = failures
    print(json.dumps(report, indent=2, default=str))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
