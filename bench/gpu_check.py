"""The checks only a GPU machine can make, as one script: under 8 minutes on one H100/H200,
nothing downloaded. Targets: our GPU defaults train at >= 1.2x plain Ultralytics' images/s and
at >= 90% of the GPU-bound limit.

First it probes the packages it needs (imports only, no network) and prints exactly which are
missing, then, each check timed and bounded by its own time limit:

1. data: the demo set generated at ``--images`` images; the training list repeats its train
   images so one epoch is ``--iterations`` iterations at ``--batch``;
2. ours: ``yolov11.train`` of yolov11n at ``--imgsz`` (640) on GPU 0 with our GPU defaults (AMP
   with the offline AMP check, a RAM cache when it fits, workers from the usable CPU cores,
   Ultralytics' persistent workers and channels_last), one epoch: images/s over the epoch's
   iterations after the first ``--warmup``, GPU memory, AMP as recorded;
3. plain: ``YOLO(yolov11n.yaml).train()`` with Ultralytics' own defaults (workers 8, no cache),
   the same data, image size, batch and iterations, timed the same way;
4. limit: the GPU-bound limit: the same model on synthetic tensors already on the GPU, no data
   loader: forward + loss + backward + optimizer step under AMP, channels_last, as the trainer
   steps; images/s and peak memory;
5. amp: the offline AMP check on the model itself (no yolo26n.pt download) and no weights file
   fetched anywhere;
6. onnx_fp16: ``yolov11.export_model(format="onnx", half=True)`` of ours' weights, verified
   against eager on the GPU (onnxruntime's CUDA provider: onnxruntime-gpu);
7. tensorrt_fp16: TensorRT is not a ``yolov11.export_model`` format, so this section calls
   Ultralytics directly, ``YOLO(best.pt).export(format="engine", half=True)``, then runs the
   engine on the val images beside the .pt: detections per image and latency (TensorRT installs
   from the registry: ``pip install tensorrt``);
8. with two or more GPUs, a short training through torchrun (--device 0,1), rank 0's events.

Prints one JSON document on stdout (the progress on stderr); exits 1 when a check failed, a
package is missing or no CUDA GPU is visible. On a bare GPU machine with PyTorch, carry the
missing wheels (ultralytics, onnxslim, faster-coco-eval, ...) as the device tool's README
describes, then:

    PYTHONUNBUFFERED=1 python3 bench/gpu_check.py [--imgsz 640] [--batch 32] [--iterations 150] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gpu_harness import REQUIRED, Checks, log, missing_packages  # noqa: E402  (after the path insert: run as a script)

TARGET_VS_PLAIN, TARGET_VS_LIMIT = 1.2, 0.9
def rate(samples: list[tuple[float, int]], batch: int, warmup: int) -> float | None:
    """images/s from (time, iteration) samples of one epoch, leaving out the first ``warmup``."""
    kept = [s for s in samples if s[1] > warmup]
    if len(kept) < 2 or kept[-1][0] <= kept[0][0]:
        return None
    return (kept[-1][1] - kept[0][1]) * batch / (kept[-1][0] - kept[0][0])


def make_data(ws, n_images: int, iterations: int, batch: int) -> dict:
    import yaml

    import yolov11

    yolov11.ensure_demo_dataset(ws, n_images=n_images)
    root = Path(ws.resolve_data("demo-hardhat")).parent
    doc = yaml.safe_load((root / "data.yaml").read_text())
    train = sorted(p for p in (root / "images" / "train").iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    repeat = max(1, math.ceil(iterations * batch / len(train)))
    listing = root / "train_repeated.txt"
    listing.write_text("".join(f"{p}\n" for p in train) * repeat)
    doc.update(path=str(root), train=str(listing), val=str(root / "images" / "val"))
    data_yaml = root / "data-gpu-check.yaml"
    data_yaml.write_text(yaml.safe_dump(doc))
    return {"data_yaml": str(data_yaml), "train_images": len(train) * repeat, "distinct_train_images": len(train),
            "iterations": len(train) * repeat // batch}


def train_ours(ws, data_yaml: str, args) -> dict:
    import yolov11

    samples: list[tuple[float, int]] = []
    events: list[dict] = []

    def on_event(e: dict) -> None:
        events.append(e)
        if e["type"] == "batch" and e.get("epoch") == 1:
            samples.append((e["t"], e["batch"]))

    with contextlib.redirect_stdout(sys.stderr):
        r = yolov11.train(data_yaml, "yolov11n", workspace=ws, device="0", epochs=1, imgsz=args.imgsz, batch=args.batch,
                          on_event=on_event, plots=False)
    record = ws.require_run(r["run"])["settings"] or {}
    batches = [e for e in events if e["type"] == "batch"]
    ips = rate(samples, args.batch, args.warmup)
    return {"ok": r["status"] == "done" and ips is not None, "run": r["run"], "weights": r["weights"], "images_per_s": ips,
            "gpu_mem_gb": max((b.get("gpu_mem_gb") or 0) for b in batches) if batches else None,
            "settings": {k: record.get(k) for k in ("amp", "workers", "cache", "batch", "imgsz", "device", "deterministic")},
            "metrics": r["metrics"]}


def train_plain(ws, data_yaml: str, args) -> dict:
    from ultralytics import YOLO

    from yolov11.models import resolve_model

    samples: list[tuple[float, int]] = []
    count = {"i": 0}

    def on_epoch_start(trainer) -> None:
        count["i"] = 0

    def on_batch_end(trainer) -> None:
        count["i"] += 1
        if trainer.epoch == 0:
            samples.append((time.time(), count["i"]))

    model = YOLO(resolve_model("yolov11n"))
    model.add_callback("on_train_epoch_start", on_epoch_start)
    model.add_callback("on_train_batch_end", on_batch_end)
    # Ultralytics' defaults, but what the comparison fixes: data, size, batch, one epoch, the folder
    with contextlib.redirect_stdout(sys.stderr):
        model.train(data=data_yaml, epochs=1, imgsz=args.imgsz, batch=args.batch, device=0, project=str(ws.root / "plain"), name="plain",
                    exist_ok=True)
    ips = rate(samples, args.batch, args.warmup)
    return {"ok": ips is not None, "images_per_s": ips, "settings": {"workers": 8, "cache": False, "amp": True}}


def gpu_limit(args, iterations: int) -> dict:
    """forward + loss + backward + optimizer step on synthetic tensors already on the GPU."""
    import torch
    from ultralytics.cfg import get_cfg
    from ultralytics.utils import DEFAULT_CFG

    from yolov11 import models

    torch.cuda.reset_peak_memory_stats()
    model = models.build("yolov11n", nc=3).cuda().train()
    model.args = get_cfg(DEFAULT_CFG)  # the loss reads its gains (box, cls, dfl) here, as the trainer sets it
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.937, nesterov=True)
    scaler = torch.amp.GradScaler("cuda")
    b, s = args.batch, args.imgsz
    g = torch.Generator(device="cuda").manual_seed(0)
    img = torch.rand(b, 3, s, s, device="cuda", generator=g).contiguous(memory_format=torch.channels_last)
    per = 6  # boxes per image
    batch = {"img": img, "batch_idx": torch.arange(b, device="cuda").repeat_interleave(per).float(),
             "cls": torch.randint(0, 3, (b * per, 1), device="cuda", generator=g).float(),
             "bboxes": torch.cat([torch.rand(b * per, 2, device="cuda", generator=g) * 0.6 + 0.2,
                                  torch.rand(b * per, 2, device="cuda", generator=g) * 0.2 + 0.05], 1)}

    def step() -> None:
        with torch.autocast("cuda"):
            loss, _ = model.loss(batch)
        scaler.scale(loss.sum()).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iterations):
        step()
    torch.cuda.synchronize()
    secs = time.perf_counter() - t
    return {"images_per_s": iterations * b / secs, "iterations": iterations,
            "peak_mem_gb": round(torch.cuda.max_memory_reserved() / 2**30, 2)}


def amp_check(ws) -> dict:
    import torch

    from yolov11 import models
    from yolov11.compat import offline

    offline.prepare()
    model = models.build("yolov11n", nc=3).cuda()
    passed = offline._offline_check_amp(model)
    downloaded = [str(p) for folder in (Path.cwd(), ws.root, ws.root / "weights", Path(tempfile.gettempdir())) if folder.is_dir()
                  for p in folder.glob("yolo*.pt")]
    del model
    torch.cuda.empty_cache()
    return {"ok": passed and not downloaded, "offline_amp_check_passed": passed, "weights_downloaded": downloaded}


def onnx_fp16(ws, run: str) -> dict:
    import yolov11

    with contextlib.redirect_stdout(sys.stderr):
        e = yolov11.export_model(run=run, workspace=ws, format="onnx", half=True, repeats=20)
    v = e["verify"]
    lat = v["latency_ms"]
    on_gpu = "CUDA" in str(lat.get("exported_runtime", "")) or "cuda" in str(lat.get("exported_runtime", "")).lower()
    return {"ok": bool(v["detections_match"]) and on_gpu, "detections_match": v["detections_match"], "max_abs_diff": v["max_abs_diff"],
            "map50_95": v["map50_95"], "latency_ms": lat, "runtime_on_gpu": on_gpu, "path": e["path"]}


def tensorrt_fp16(ws, weights: str, args) -> dict:
    """NOT through yolov11.export_model (it has no TensorRT format): Ultralytics' own engine export."""
    import numpy as np
    from ultralytics import YOLO

    with contextlib.redirect_stdout(sys.stderr):
        engine = YOLO(weights).export(format="engine", half=True, device=0, imgsz=args.imgsz, batch=1)
    val = sorted((Path(ws.resolve_data("demo-hardhat")).parent / "images" / "val").iterdir())[:32]
    eager, trt = YOLO(weights), YOLO(engine, task="detect")
    counts, latencies = [], {"pt": [], "engine": []}
    with contextlib.redirect_stdout(sys.stderr):
        for img in val:
            outs = {}
            for name, m in (("pt", eager), ("engine", trt)):
                r = m.predict(str(img), imgsz=args.imgsz, device=0, half=name == "pt", conf=0.25, verbose=False)[0]
                latencies[name].append(r.speed["inference"])
                outs[name] = len(r.boxes)
            counts.append(outs)
    same = sum(c["pt"] == c["engine"] for c in counts)
    med = {k: float(np.median(v[3:] or v)) for k, v in latencies.items()}  # the first calls warm up
    return {"ok": same >= 0.9 * len(counts), "path": str(engine), "images": len(counts), "same_box_count": same,
            "latency_ms": {"pt_fp16": round(med["pt"], 2), "engine_fp16": round(med["engine"], 2),
                           "speedup": round(med["pt"] / med["engine"], 2) if med["engine"] else None}}


def ddp(ws, data_yaml: str, args) -> dict:
    import yolov11

    with contextlib.redirect_stdout(sys.stderr):
        r = yolov11.train(data_yaml, "yolov11n", workspace=ws, device="0,1", epochs=1, imgsz=args.imgsz, batch=args.batch * 2,
                          fraction=0.25, plots=False)
    written = [json.loads(line)["type"] for line in (Path(r["dir"]) / "events.jsonl").read_text().splitlines()]
    return {"ok": r["status"] == "done" and written.count("epoch") == 1, "status": r["status"], "epoch_events": written.count("epoch"),
            "metrics": r["metrics"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--iterations", type=int, default=150, help="training iterations of each side's one epoch (and of the GPU-bound limit)")
    p.add_argument("--warmup", type=int, default=20, help="iterations left out of each rate")
    p.add_argument("--images", type=int, default=600, help="demo images generated (80%% train); the train list repeats them")
    p.add_argument("--budget", type=float, default=460, help="seconds for everything (default 460: under 8 minutes)")
    p.add_argument("--quick", action="store_true", help="a third of the iterations (a pipeline check, not the figures)")
    p.add_argument("--json", action="store_true", help="accepted for python -m bench: the JSON document is always printed")
    args = p.parse_args()
    if args.quick:
        args.iterations, args.warmup = max(30, args.iterations // 3), max(5, args.warmup // 2)
    t0 = time.time()
    missing = missing_packages()
    if missing:
        log("missing packages (pip install them, or carry their wheels):")
        for name, m in missing.items():
            log(f"  {name}: pip install {m['pip']}  (needed by: {m['needed_by']})")
    else:
        log("all packages present")
    report: dict = {"script": "gpu_check", "missing_packages": missing, "figures": [], "notes": []}
    required = [n for n in missing if n in REQUIRED]
    if required:
        report.update(error=f"missing required packages: {', '.join(missing[n]['pip'] for n in required)}", failed=["packages"])
        print(json.dumps(report))
        return 1
    import torch

    report.update(torch=torch.__version__, cuda=torch.version.cuda,
                  gpus=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
                  usable_cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    if not report["gpus"]:
        report.update(error="no CUDA GPU visible", failed=["cuda"], seconds=round(time.time() - t0, 1))
        report["notes"].append("no CUDA GPU visible: nothing measured")
        log("no CUDA GPU visible")
        print(json.dumps(report))
        return 1
    ws_dir = tempfile.mkdtemp(prefix="yolov11-gpu-")
    os.environ["YOLOV11_WORKSPACE"] = ws_dir
    import yolov11

    ws = yolov11.Workspace.at(ws_dir)
    checks = Checks(args.budget - (time.time() - t0))
    data = checks.run("data", 60, make_data, ws, args.images, args.iterations + args.warmup, args.batch) or {}
    ours = plain = limit = None
    if data.get("ok", True) and "data_yaml" in data:
        ours = checks.run("ours", 150, train_ours, ws, data["data_yaml"], args)
        plain = checks.run("plain", 150, train_plain, ws, data["data_yaml"], args)
    limit = checks.run("limit", 60, gpu_limit, args, args.iterations)
    checks.run("amp", 30, amp_check, ws)
    if ours and ours.get("run"):
        if "onnxruntime" in missing or "onnx" in missing or "onnxslim" in missing:
            checks.report["checks"]["onnx_fp16"] = {
                "ok": False,
                "error": "missing: " + ", ".join(missing[n]["pip"] for n in ("onnx", "onnxslim", "onnxruntime") if n in missing),
            }
            checks.report["failed"].append("onnx_fp16")
        else:
            checks.run("onnx_fp16", 90, onnx_fp16, ws, ours["run"])
        if "tensorrt" in missing:
            checks.report["checks"]["tensorrt_fp16"] = {"ok": False, "error": "missing: pip install tensorrt"}
            checks.report["failed"].append("tensorrt_fp16")
        else:
            checks.run("tensorrt_fp16", 180, tensorrt_fp16, ws, ours["weights"], args)
    if len(report["gpus"]) >= 2 and "data_yaml" in data:
        checks.run("ddp_0_1", 120, ddp, ws, data["data_yaml"], args)

    # the figures, in bench/report.py's shape
    o = (ours or {}).get("images_per_s")
    pl = (plain or {}).get("images_per_s")
    lim = (limit or {}).get("images_per_s")
    figs = report["figures"]
    if o and pl:
        figs.append({"name": "GPU: our defaults vs plain Ultralytics (images/s)", "value": o, "unit": "images/s", "baseline": pl,
                     "baseline_name": "plain YOLO().train()", "ratio": o / pl, "ratio_of": "ours / plain",
                     "target": f">= {TARGET_VS_PLAIN}", "met": o / pl >= TARGET_VS_PLAIN, "repeats": 1})
    if o and lim:
        figs.append({"name": "GPU: our training vs the GPU-bound limit (images/s)", "value": o, "unit": "images/s", "baseline": lim,
                     "baseline_name": "synthetic tensors, no loader", "ratio": o / lim, "ratio_of": "ours / limit",
                     "target": f">= {TARGET_VS_LIMIT}", "met": o / lim >= TARGET_VS_LIMIT, "repeats": 1})
    for name, fig in (("vs_plain", o and pl and o / pl >= TARGET_VS_PLAIN), ("vs_limit", o and lim and o / lim >= TARGET_VS_LIMIT)):
        if o and not fig:
            checks.report["failed"].append(f"target_{name}")
    report.update(checks.report, seconds=round(time.time() - t0, 1), budget_s=args.budget, missing_packages=missing,
                  settings={"imgsz": args.imgsz, "batch": args.batch, "iterations": args.iterations, "warmup": args.warmup})
    report["notes"] += [f"{k}: {v.get('error')}" for k, v in checks.report["checks"].items() if not v.get("ok")]
    print(json.dumps(report, default=str))
    return 1 if report["failed"] or missing else 0


if __name__ == "__main__":
    sys.exit(main())
