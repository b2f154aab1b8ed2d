"""One FP32 baseline for an export, and the export's mAP50-95 beside it.

The baseline is the number the Evaluate tab shows for the same weights and split: Ultralytics'
validator on the eager .pt with ``yolov11.evaluate``'s arguments (the val split, its batch and
device, the validator's own conf 0.001 and IoU 0.7, and the rectangular batches it uses for a .pt,
padded by half a stride). An exported model whose input is fixed cannot be scored that way: the
validator letterboxes every image to the imgsz x imgsz square it takes. So the eager model is
scored once more that same way ("as exported"), and the change from the baseline splits in two:

* the input's: eager as exported - baseline. Not the export's doing: an exact FP32 export of that
  input shows it too (on the 128 px test fixture the square input scores 0.02 lower).
* the export's own: exported - eager as exported. What FP16 or INT8 cost, and what the INT8
  guards bound by their tolerance.

Verification, both INT8 guards (ONNX and OpenVINO) and the report take these numbers from here;
nothing else in the export computes an FP32 mAP. The numbers are rounded as Evaluate rounds its own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from yolov11.compat import offline
from yolov11.eval.settings import EvalSettings

DIGITS = 5  # as Evaluate's metrics (compat.results.short_metrics)
SPLIT = "val"
BASELINE = "Evaluate's number for these weights: Ultralytics' validator on the eager .pt (val split, rectangular batches)"


def validator_map(model: Path, data_yaml: Path, imgsz: int, save_dir: Path, *, conf: float | None = None, rect: bool | None = None) -> dict:
    """mAP50-95 of ``model`` (a .pt or an exported file) on the val split by Ultralytics' validator with
    Evaluate's arguments; ``conf`` / ``rect`` only where given. Returns {"map", "conf", "iou"}, the
    thresholds read from the validator at its end (as evaluate reads its conf)."""
    offline.prepare()
    from ultralytics import YOLO

    yolo = YOLO(str(model), task="detect")
    finished = []
    yolo.add_callback("on_val_end", finished.append)
    chosen = {k: v for k, v in {"conf": conf, "rect": rect}.items() if v is not None}
    m = yolo.val(data=str(data_yaml), split=SPLIT, imgsz=imgsz, batch=EvalSettings.batch, device=EvalSettings.device,
                 plots=False, verbose=False, project=str(save_dir), name="val", exist_ok=True, **chosen)
    args = finished[-1].args
    return {"map": round(float(m.box.map), DIGITS), "conf": float(args.conf), "iou": float(args.iou)}


def reference(weights: Path, data_yaml: Path, imgsz: int, images: int, scratch: Path, *, conf: float | None = None,
              baseline_imgsz: int | None = None) -> dict:
    """The eager model's two numbers: the baseline (as Evaluate: at ``baseline_imgsz``, the size the
    weights were trained at, which Evaluate uses; default ``imgsz``) and as the export is scored
    (square ``imgsz`` input; ``conf`` for an NMS graph, which drops everything under its baked-in
    threshold). An export at another size than the training's shows that change as the input's
    share too. ``images``: how many the val split holds, for the report."""
    with tempfile.TemporaryDirectory(prefix="accuracy-", dir=scratch) as tmp:
        baseline = validator_map(weights, data_yaml, baseline_imgsz or imgsz, Path(tmp))
        as_exported = validator_map(weights, data_yaml, imgsz, Path(tmp), conf=conf, rect=False)
    return {
        "baseline": baseline["map"],
        "baseline_conf": baseline["conf"],
        "baseline_imgsz": baseline_imgsz or imgsz,
        "eager_as_exported": as_exported["map"],
        "conf": as_exported["conf"],
        "iou": as_exported["iou"],
        "imgsz": imgsz,
        "split": SPLIT,
        "images": images,
    }


def file_reference(fp32: Path, data_yaml: Path, imgsz: int, scratch: Path) -> dict:
    """A reference when only an FP32 exported file is at hand (an INT8 guard called on its own, not by
    export_model): that file, scored as exported, is then both the baseline and the "as exported" number."""
    with tempfile.TemporaryDirectory(prefix="accuracy-", dir=scratch) as tmp:
        scored = validator_map(fp32, data_yaml, imgsz, Path(tmp), rect=False)
    return {"baseline": scored["map"], "baseline_conf": scored["conf"], "eager_as_exported": scored["map"], "conf": scored["conf"],
            "iou": scored["iou"], "imgsz": imgsz, "split": SPLIT, "images": None}


def score_export(path: Path, data_yaml: Path, ref: dict, scratch: Path) -> float:
    """The exported model's mAP50-95, scored as ``reference`` scored the eager model "as exported"."""
    with tempfile.TemporaryDirectory(prefix="accuracy-", dir=scratch) as tmp:
        return validator_map(path, data_yaml, ref["imgsz"], Path(tmp), conf=ref["conf"], rect=False)["map"]


def compared(ref: dict, exported: float) -> dict:
    """A verification's "map50_95": eager is the baseline; the change is split into the input's and the export's."""
    as_exported = ref["eager_as_exported"]
    return {
        "eager": ref["baseline"],
        "exported": exported,
        "conf": ref["conf"],
        "iou": ref["iou"],
        "imgsz": ref["imgsz"],
        "split": ref["split"],
        "images": ref["images"],
        "baseline": BASELINE,
        "baseline_conf": ref["baseline_conf"],
        "baseline_imgsz": ref.get("baseline_imgsz", ref["imgsz"]),
        "eager_as_exported": as_exported,
        "input_change": round(as_exported - ref["baseline"], DIGITS),
        "export_change": round(exported - as_exported, DIGITS),
    }


def guard(ref: dict, int8: float, tolerance: float) -> dict:
    """An INT8 guard's verdict on the validator's numbers: the loss is INT8's own (FP32 and INT8 on the
    same input); "fp32" is still the one baseline. Keys as both guards report them."""
    loss = round(ref["eager_as_exported"] - int8, DIGITS)
    images = f" ({ref['images']} images)" if ref.get("images") else ""
    measured = (f"the whole {ref['split']} split{images}, Ultralytics' validator at conf {ref['conf']:g}, IoU {ref['iou']:g}, "
                f"FP32 and INT8 both on the {ref['imgsz']}x{ref['imgsz']} input the export takes")
    return {
        "map50_95": {"fp32": ref["baseline"], "fp32_as_exported": ref["eager_as_exported"], "int8": int8, "loss": loss,
                     "images": ref["images"], "measured_on": measured},
        "loss": loss,
        "met": bool(loss <= tolerance),
    }
