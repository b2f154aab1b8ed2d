"""Verify an exported model against eager PyTorch before anyone downloads it.

Four checks, all on real validation images when the dataset is known:

* raw outputs: the largest absolute difference between the exported model and the eager model
  on the same letterboxed inputs (for NMS-in-graph exports: between the matched detections), and
  the same on the anchors eager keeps (score >= conf): the overall max includes junk anchors whose
  box regressions nobody reads, which is where INT8's largest differences are;
* detections after NMS: per image, the same count and each eager box matched by one of the same
  class with IoU >= 0.99 (Ultralytics' own NMS on both sides), and at IoU >= 0.5 (the same objects
  found: what FP16 and INT8, which move boxes a little, are expected to keep);
* mAP50-95 on the validation split by Ultralytics' validator (accuracy.py): eager is the one FP32
  baseline, Evaluate's number; the exported model is scored on the input it takes, next to eager
  scored the same way, so the export's own change is told apart from the input's;
* latency: median of ``repeats`` timed calls at batch 1 and 8, eager and exported, on the GPU
  when there is one, else this machine's CPU. A static-batch export has no batch-8 number: a
  sentence says why, the runtime's own message goes to the log.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: `import yolov11` does not load it
    import torch

from yolov11.boxes import box_iou
from yolov11.compat import offline
from yolov11.errors import UserError
from yolov11.export import accuracy
from yolov11.export.formats import load_runner
from yolov11.export.settings import LATENCY_RUNS
from yolov11.machine import usable_cpus

LATENCY_BATCHES = (1, 8)
MATCH_IOU = 0.99
SAME_OBJECT_IOU = 0.5  # the looser match: the same object found, its box moved a little
LOG = logging.getLogger("yolov11")


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


def _greedy(e: np.ndarray, x: np.ndarray, iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs (eager row, exported row), best eager score first, at IoU >= ``threshold``."""
    free, pairs = np.ones(len(x), bool), []
    for i in np.argsort(-e[:, 4]):
        j = int(np.argmax(np.where(free, iou[i], -1)))
        if free[j] and iou[i, j] >= threshold:
            free[j] = False
            pairs.append((int(i), j))
    return pairs


def match_detections(eager: list[np.ndarray], exported: list[np.ndarray]) -> dict:
    """Greedy one-to-one matching per image of (n, 6) x1 y1 x2 y2 score class rows, best score first:
    at MATCH_IOU (the check) and at SAME_OBJECT_IOU (how many are still the same objects)."""
    counts, matched, same_object, ious, score_diff, row_diff = [0, 0], 0, 0, [], 0.0, 0.0
    for e, x in zip(eager, exported):
        counts[0] += len(e)
        counts[1] += len(x)
        if not len(e) or not len(x):
            continue
        iou = box_iou(e[:, :4], x[:, :4]) * (e[:, None, 5] == x[None, :, 5])
        same_object += len(_greedy(e, x, iou, SAME_OBJECT_IOU))
        for i, j in _greedy(e, x, iou, MATCH_IOU):
            matched += 1
            ious.append(float(iou[i, j]))
            score_diff = max(score_diff, float(abs(e[i, 4] - x[j, 4])))
            row_diff = max(row_diff, float(np.abs(e[i, :5] - x[j, :5]).max()))
    return {
        "detections_match": counts[0] == counts[1] == matched,
        "detections": {"eager": counts[0], "exported": counts[1], "matched": matched, "min_iou": round(min(ious), 5) if ious else None,
                       "max_score_diff": round(score_diff, 6), "same_object": same_object, "same_object_iou": SAME_OBJECT_IOU},
        "_row_diff": row_diff,
    }


def kept_anchor_diff(ref: np.ndarray, out: np.ndarray, conf: float) -> dict:
    """Raw (N, 4 + nc, anchors) outputs compared where it matters: on the anchors eager scores >= ``conf``
    (those NMS can keep), and the eager score of the anchor holding the overall largest difference."""
    scores = ref[:, 4:].max(1)  # (N, anchors)
    diff = np.abs(out - ref)
    worst = np.unravel_index(int(diff.argmax()), diff.shape)
    kept = scores >= conf
    box, cls = diff[:, :4].transpose(0, 2, 1)[kept], diff[:, 4:].transpose(0, 2, 1)[kept]
    return {
        "conf": conf,
        "anchors": int(kept.sum()),
        "per_image": int(scores.shape[1]),
        "max_box_diff_px": round(float(box.max()), 4) if len(box) else None,
        "max_score_diff": round(float(cls.max()), 6) if len(cls) else None,
        "largest_diff_at_score": round(float(scores[worst[0], worst[2]]), 6),
    }


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
    reference: dict | None = None,
    exported_map: float | None = None,
) -> dict:
    """Compare ``path`` (a model of export format ``fmt``: yolov11.export.formats) with the eager ``weights`` on ``x``, (N, 3, h, w)
    float32 letterboxed images in 0..1, fed one at a time; mAP on ``data_yaml``'s val split if given.
    ``reference``: the eager numbers (``accuracy.reference``) when the caller has them already;
    ``exported_map``: the exported file's mAP when an INT8 guard has just scored this very file."""
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
        result["kept_anchors"] = kept_anchor_diff(ref, out, conf)
    result.update({k: v for k, v in match.items() if not k.startswith("_")}, conf=conf, iou=iou)

    if data_yaml:
        # An NMS-in-graph model drops everything under its baked-in conf: eager "as exported" is scored the same way.
        reference = reference or accuracy.reference(weights, data_yaml, int(x.shape[2]), None, path.parent, conf=conf if nms else None)
        if exported_map is None:
            exported_map = accuracy.score_export(path, data_yaml, reference, path.parent)
        result["map50_95"] = accuracy.compared(reference, exported_map)
        if nms:  # not a numerical difference: a different NMS, which deployments of this file get too
            result["map50_95"]["note"] = (
                "eager is scored with Ultralytics' multi-label NMS (a box may count for several classes); "
                "the graph's NMS keeps one class per box, so its mAP can be a little lower"
            )
    result["latency_ms"] = measure_latency(eager, path, fmt, x, repeats, batches)
    return result


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


def _latency_table(model: torch.nn.Module, path: Path, fmt: str, x: np.ndarray, repeats: int, batches: tuple[int, ...], device: str,
                   threads: int) -> dict:
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
            note = refused_batch(path, fmt, b, exc)
            row = {"eager": median_ms(eager_call, runs=repeats)[0], "exported": None, "speedup": None, "note": note}
        else:
            eager_ms, exported_ms = median_ms(eager_call, lambda xb=xb: run(xb), runs=repeats)
            row = {"eager": eager_ms, "exported": exported_ms, "speedup": round(eager_ms / exported_ms, 2)}
        table[str(b)] = row
    first = table[str(batches[0])]
    device_name = torch.cuda.get_device_name() if device == "cuda" else f"cpu ({threads} threads for both)"
    return {
        "eager": first["eager"], "exported": first["exported"], "by_batch": table, "device": device_name, "repeats": repeats,
        "exported_runtime": runtime,
    }


def input_batch(path: Path, fmt: str) -> int | None:
    """The batch size an exported model's input is fixed at; None when it is free (or unknown: TorchScript)."""
    if fmt == "onnx":
        import onnx

        dim = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim[0]
        return dim.dim_value if dim.HasField("dim_value") and dim.dim_value > 0 else None
    if fmt == "openvino":
        import openvino as ov

        from yolov11.export.openvino import model_xml

        first = ov.Core().read_model(str(model_xml(path))).inputs[0].get_partial_shape()[0]
        return first.get_length() if first.is_static else None
    return None


def refused_batch(path: Path, fmt: str, batch: int, exc: Exception) -> str:
    """Why the latency table has no exported number at ``batch``, in a sentence; the runtime's own
    message (long, internal, cut short in tables) goes to the log only."""
    LOG.warning("%s refused a batch of %d: %s: %s", path.name, batch, type(exc).__name__, exc)
    try:
        fixed = input_batch(path, fmt)
    except Exception:  # the model ran at batch 1 already: its input is readable; if not, say less
        fixed = None
    if fixed and fixed != batch:
        return f"this export takes batch {fixed} only (a static export fixes the batch size; export with dynamic shapes to run batches)"
    return f"the exported model failed at batch {batch} (the runtime's message is in the log)"


def detections_verdict(v: dict) -> str:
    """What the detection comparison of a verification showed, in words. "0 of 0" is not a
    match: when neither model detects anything at the threshold, the check proved nothing."""
    d = v["detections"]
    if d["eager"] == 0 and d["exported"] == 0:
        return (
            f"nothing was detected at confidence {v['conf']} by either model, "
            "so the detection check proved nothing (outputs were still compared)"
        )
    verdict = "match" if v["detections_match"] else "differ"
    return f"detections {verdict}: {d['matched']} of {d['eager']} eager matched at IoU ≥ {MATCH_IOU}, {d['exported']} exported"


def summary(v: dict | None) -> str:
    """One line of a verification report (registry, notebooks)."""
    if not v:
        return "not verified"
    line = f"{v['compared']}: max |difference| {v['max_abs_diff']:.2e}; {detections_verdict(v)}"
    m = v.get("map50_95")
    if m:
        line += f"; mAP50-95 FP32 {m['eager']:.4f} (as Evaluate), exported {m['exported']:.4f}"
        if "export_change" in m:  # the export's own change, told apart from the input's
            line += f" (the export's own change {m['export_change']:+.4f}, the fixed input's {m['input_change']:+.4f})"
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
            notes.append(f"Batch {b}: no exported number: {row.get('note') or 'the exported model did not run at this batch size'}.")
        elif row.get("speedup") is not None and row["speedup"] < 1:
            notes.append(f"Batch {b}: speed-up {row['speedup']:g}, below 1: the exported model is slower than eager PyTorch here "
                         f"({lat.get('exported_runtime', 'this runtime')} on {lat.get('device', 'this device')}). With a small model, "
                         "few threads or this runtime, its fixed cost per call can outweigh what it saves; "
                         "larger models and batches usually gain.")
    return notes
