"""Verify an exported model against eager PyTorch before anyone downloads it.

Four checks, all on real validation images when the dataset is known:

* raw outputs: the largest absolute difference between the exported model and the eager model
  on the same letterboxed inputs (for NMS-in-graph exports: between the matched detections);
* detections after NMS: per image, the same count and each eager box matched by one of the same
  class with IoU >= 0.99 (Ultralytics' own NMS on both sides);
* mAP50-95 on the validation split, exported next to eager, by Ultralytics' validator on both
  (square letterbox for both, so only the export differs; INT8 shows its loss here);
* latency: median of ``repeats`` timed calls at batch 1 and 8, eager and exported, on the GPU
  when there is one, else this machine's CPU. A static-batch export has no batch-8 number.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: `import yolov11` does not load it
    import torch

from yolov11.boxes import box_iou
from yolov11.compat import offline
from yolov11.errors import UserError
from yolov11.export.settings import LATENCY_RUNS

LATENCY_BATCHES = (1, 8)
MATCH_IOU = 0.99


def median_ms(*fns, runs: int = LATENCY_RUNS, rounds: int = 2) -> list[float]:
    """Median milliseconds per call of each function. The calls are timed in blocks (all of a's,
    then b's, then a's again ...) so that a busy moment of the machine weighs on each alike;
    not call by call, because one runtime's idle threads still spin for a while after its call
    and would slow the other one's next call. Each block starts with an untimed call."""
    times: list[list[float]] = [[] for _ in fns]
    per_block = max(-(-max(runs, 1) // rounds), 1)
    for _ in range(rounds):
        for fn, spent in zip(fns, times):
            fn()
            for _ in range(per_block):
                t = time.perf_counter()
                fn()
                spent.append((time.perf_counter() - t) * 1000)
    return [round(float(np.median(spent)), 3) for spent in times]


def _first(out) -> torch.Tensor:
    return out[0] if isinstance(out, (list, tuple)) else out


def load_runner(path: Path, fmt: str, device: str, threads: int = 0):
    """A callable (N, 3, h, w) float32 numpy -> first output as float32 numpy, and a device label.
    ``threads``: onnxruntime's intra-op (OpenVINO's inference) threads (0: its default)."""
    import torch

    if fmt == "onnx":
        import onnxruntime as ort

        cuda = device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers()
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=providers)
        name, dtype = session.get_inputs()[0].name, np.float16 if "float16" in session.get_inputs()[0].type else np.float32  # GPU FP16 exports take float16
        return lambda x: session.run(None, {name: x.astype(dtype)})[0].astype(np.float32), f"onnxruntime {session.get_providers()[0]}"
    if fmt == "openvino":  # the IR on OpenVINO's CPU plugin at f32 (its output 0 has eager's layout)
        from yolov11.export.openvino import compile_model

        compiled = compile_model(path, threads)
        return lambda x: np.asarray(compiled(np.ascontiguousarray(x, np.float32))[0], np.float32), "openvino CPU"
    module = torch.jit.load(str(path), map_location=device).eval()
    half = next(iter(module.parameters()), torch.empty(0)).dtype == torch.float16

    def run(x):
        with torch.inference_mode():
            xt = torch.from_numpy(x).to(device)
            out = _first(module(xt.half() if half else xt)).float().cpu().numpy()
        return out

    return run, f"torch.jit {device}"


def match_detections(eager: list[np.ndarray], exported: list[np.ndarray]) -> dict:
    """Greedy one-to-one matching per image of (n, 6) x1 y1 x2 y2 score class rows, best score first."""
    counts, matched, ious, score_diff, row_diff = [0, 0], 0, [], 0.0, 0.0
    for e, x in zip(eager, exported):
        counts[0] += len(e)
        counts[1] += len(x)
        if not len(e) or not len(x):
            continue
        iou = box_iou(e[:, :4], x[:, :4]) * (e[:, None, 5] == x[None, :, 5])
        free = np.ones(len(x), bool)
        for i in np.argsort(-e[:, 4]):
            j = int(np.argmax(np.where(free, iou[i], -1)))
            if free[j] and iou[i, j] >= MATCH_IOU:
                free[j] = False
                matched += 1
                ious.append(float(iou[i, j]))
                score_diff = max(score_diff, float(abs(e[i, 4] - x[j, 4])))
                row_diff = max(row_diff, float(np.abs(e[i, :5] - x[j, :5]).max()))
    return {
        "detections_match": counts[0] == counts[1] == matched,
        "detections": {"eager": counts[0], "exported": counts[1], "matched": matched, "min_iou": round(min(ious), 5) if ious else None, "max_score_diff": round(score_diff, 6)},
        "_row_diff": row_diff,
    }


def map50_95(model_path: Path, data_yaml: Path, imgsz: int, conf: float, save_dir: Path) -> float:
    from ultralytics import YOLO

    metrics = YOLO(str(model_path), task="detect").val(
        data=str(data_yaml), imgsz=imgsz, rect=False, conf=conf, device="cpu", plots=False, verbose=False, project=str(save_dir), name="val", exist_ok=True
    )
    return round(float(metrics.box.map), 4)


def verify_export(
    path: Path,
    fmt: str,
    weights: Path,
    x: np.ndarray,
    *,
    data_yaml: Path | None = None,
    conf: float = 0.25,
    iou: float = 0.7,
    nms: bool = False,
    repeats: int = LATENCY_RUNS,
    batches: tuple[int, ...] = LATENCY_BATCHES,
) -> dict:
    """Compare ``path`` (onnx, torchscript or an OpenVINO IR folder) with the eager ``weights`` on ``x``, (N, 3, h, w)
    float32 letterboxed images in 0..1, fed one at a time; mAP on ``data_yaml``'s val split if given."""
    import torch

    offline.prepare()
    from ultralytics import YOLO

    from yolov11.compat.export import nms as ultralytics_nms

    path, weights = Path(path), Path(weights)
    eager = YOLO(str(weights)).model.float().fuse(verbose=False).eval()
    run, _ = load_runner(path, fmt, "cpu")
    refs, outs = [], []
    with torch.inference_mode():
        for xi in x:
            refs.append(_first(eager(torch.from_numpy(xi[None]))).numpy())
            outs.append(run(xi[None]))
    if not nms and outs[0].shape != refs[0].shape:
        raise UserError(f"{path.name}: output shape {outs[0].shape} differs from eager {refs[0].shape}")
    dets = lambda ys: [ultralytics_nms(torch.from_numpy(y), conf, iou) for y in ys]  # noqa: E731
    match = match_detections(dets(refs), dets(outs))
    result = {"images": len(x), "compared": "detections (NMS in the graph)" if nms else "raw outputs", "output_shape": list(outs[0].shape)}
    if nms:
        result["max_abs_diff"] = match["_row_diff"]
    else:
        ref, out = np.concatenate(refs), np.concatenate(outs)
        diff = np.abs(out - ref)
        # Rows 0-3 are box coordinates in input pixels, the rest class scores in 0..1: divided by the
        # input size, both compare on one scale (float32 rounding grows with the pixel value).
        scale = np.ones((diff.shape[1], 1), np.float32)
        scale[:4] = max(x.shape[2:])
        result.update(max_abs_diff=float(diff.max()), max_abs_diff_normalized=float((diff / scale).max()))
    result.update({k: v for k, v in match.items() if not k.startswith("_")}, conf=conf, iou=iou)

    if data_yaml:
        # An NMS-in-graph model drops everything under its baked-in conf: eager is scored the same way.
        val_conf = conf if nms else 0.001
        with tempfile.TemporaryDirectory(prefix="verify-val-", dir=path.parent) as tmp:
            imgsz = int(x.shape[2])
            result["map50_95"] = {"eager": map50_95(weights, data_yaml, imgsz, val_conf, Path(tmp)), "exported": map50_95(path, data_yaml, imgsz, val_conf, Path(tmp)), "conf": val_conf}
        if nms:  # not a numerical difference: a different NMS, which deployments of this file get too
            result["map50_95"]["note"] = "eager is scored with Ultralytics' multi-label NMS (a box may count for several classes); the graph's NMS keeps one class per box, so its mAP can be a little lower"
    result["latency_ms"] = measure_latency(eager, path, fmt, x, repeats, batches)
    return result


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity where the OS has one (Linux), else the count."""
    affinity = getattr(os, "sched_getaffinity", None)  # not on macOS or Windows
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


def measure_latency(eager: torch.nn.Module, path: Path, fmt: str, x: np.ndarray, repeats: int, batches: tuple[int, ...]) -> dict:
    """Median ms per call, eager vs exported, for each batch size; None where the export refuses it.
    On CPU both get every core of this process (Ultralytics leaves torch one core short)."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    threads, torch_threads = usable_cpus(), torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _latency_table(eager.to(device), path, fmt, x, repeats, batches, device, threads)
    finally:
        torch.set_num_threads(torch_threads)


def _latency_table(model: torch.nn.Module, path: Path, fmt: str, x: np.ndarray, repeats: int, batches: tuple[int, ...], device: str, threads: int) -> dict:
    import torch

    run, runtime = load_runner(path, fmt, device, threads)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    table = {}
    for b in batches:
        xb = np.ascontiguousarray(np.resize(x, (b, *x.shape[1:])))  # the real images, repeated to fill the batch
        xt = torch.from_numpy(xb).to(device)

        def eager_call(xt=xt):
            with torch.inference_mode():
                model(xt)
            sync()

        try:
            run(xb)
        except Exception as exc:  # a static-batch export: the runtime refuses this batch size
            row = {"eager": median_ms(eager_call, runs=repeats)[0], "exported": None, "speedup": None, "note": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}
        else:
            eager_ms, exported_ms = median_ms(eager_call, lambda xb=xb: run(xb), runs=repeats)
            row = {"eager": eager_ms, "exported": exported_ms, "speedup": round(eager_ms / exported_ms, 2)}
        table[str(b)] = row
    first = table[str(batches[0])]
    device_name = torch.cuda.get_device_name() if device == "cuda" else f"cpu ({threads} threads for both)"
    return {"eager": first["eager"], "exported": first["exported"], "by_batch": table, "device": device_name, "repeats": repeats, "exported_runtime": runtime}


def detections_verdict(v: dict) -> str:
    """What the detection comparison of a verification showed, in words. "0 of 0" is not a
    match: when neither model detects anything at the threshold, the check proved nothing."""
    d = v["detections"]
    if d["eager"] == 0 and d["exported"] == 0:
        return f"nothing was detected at confidence {v['conf']} by either model, so the detection check proved nothing (outputs were still compared)"
    verdict = "match" if v["detections_match"] else "differ"
    return f"detections {verdict}: {d['matched']} of {d['eager']} eager matched at IoU ≥ {MATCH_IOU}, {d['exported']} exported"


def summary(v: dict | None) -> str:
    """One line of a verification report (registry, notebooks)."""
    if not v:
        return "not verified"
    line = f"{v['compared']}: max |difference| {v['max_abs_diff']:.2e}; {detections_verdict(v)}"
    m = v.get("map50_95")
    if m:
        line += f"; mAP50-95 eager {m['eager']:.4f}, exported {m['exported']:.4f}"
    return line


def latency_notes(v: dict | None) -> list[str]:
    """Sentences that explain a latency table (``v["latency_ms"]`` of a verification) where its
    numbers need it: a speed-up below 1, and a batch the exported model refused (no number)."""
    lat = (v or {}).get("latency_ms")
    if not lat:
        return []
    notes = []
    for b, row in lat["by_batch"].items():
        if row.get("exported") is None:
            reason = f" The runtime said: {row['note']}" if row.get("note") else ""
            notes.append(f"Batch {b}: no exported number: this export takes batch 1 only (a static export fixes the batch size; "
                         f"export with dynamic shapes to run batches).{reason}")
        elif row.get("speedup") is not None and row["speedup"] < 1:
            notes.append(f"Batch {b}: speed-up {row['speedup']:g}, below 1: the exported model is slower than eager PyTorch here "
                         f"({lat.get('exported_runtime', 'this runtime')} on {lat.get('device', 'this device')}). With a small model, "
                         "few threads or this runtime, its fixed cost per call can outweigh what it saves; larger models and batches usually gain.")
    return notes
