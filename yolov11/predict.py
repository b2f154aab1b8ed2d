"""Predict: detections as JSON and annotated images, from .pt, .onnx or .torchscript weights."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2

from yolov11 import offline
from yolov11.data.source import IMAGE_SUFFIXES
from yolov11.errors import UserError
from yolov11.workspace import Workspace

WEIGHT_SUFFIXES = {".pt", ".onnx", ".torchscript"}


def _sources(source: str | Path | list) -> list[Path]:
    items = source if isinstance(source, (list, tuple)) else [source]
    files: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"--source {item}: no such file or folder")
    if not files:
        raise UserError(f"--source {source}: no images found")
    return files


def load_detector(weights: str | Path):
    """A YOLO detector from .pt, .onnx or .torchscript weights; bad files get a UserError naming them."""
    offline.prepare()
    from ultralytics import YOLO

    weights = Path(weights).expanduser()
    if weights.suffix not in WEIGHT_SUFFIXES:
        raise UserError(f"--weights {weights}: expected a {', '.join(sorted(WEIGHT_SUFFIXES))} file")
    if not weights.is_file():
        raise UserError(f"--weights {weights}: no such file")
    try:
        model = YOLO(str(weights), task="detect")
        model.names  # exported formats open their runtime session here: a broken file fails now, not mid-batch
    except Exception as exc:
        raise UserError(f"--weights {weights}: could not load the model ({type(exc).__name__}: {exc})") from None
    return model


def predict(
    weights: str | Path,
    source: str | Path | list,
    conf: float = 0.25,
    iou: float = 0.7,
    imgsz: int | None = None,
    workspace: Workspace | str | Path | None = None,
) -> dict:
    """Detect objects in ``source`` (image, folder or list); annotated copies go to predictions/."""
    if not 0.0 <= conf <= 1.0:
        raise UserError(f"--conf {conf}: must be between 0 and 1")
    ws = Workspace.at(workspace)
    files = _sources(source)
    weights = Path(weights).expanduser()
    model = load_detector(weights)
    if imgsz is None and weights.suffix == ".pt":  # exported files carry their input size in metadata
        imgsz = model.ckpt.get("train_args", {}).get("imgsz")
    size = {"imgsz": imgsz} if imgsz else {}
    # One folder per call, unique even within a second: concurrent users of the app (two webcam
    # snapshots both named image.png) must not overwrite each other's annotated copies.
    out_dir = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=ws.predictions_dir))
    images = []
    for path in files:
        try:
            result = model.predict(str(path), conf=conf, iou=iou, device="cpu", verbose=False, **size)[0]
        except Exception as exc:
            raise UserError(f"{path.name}: could not run prediction ({type(exc).__name__}: {exc})") from None
        annotated = out_dir / f"{path.stem}.jpg"
        cv2.imwrite(str(annotated), result.plot())
        boxes = result.boxes
        detections = [
            {"class": result.names[int(c)], "class_id": int(c), "confidence": round(float(s), 4), "box": [round(float(v), 1) for v in xyxy]}
            for c, s, xyxy in zip(boxes.cls.tolist(), boxes.conf.tolist(), boxes.xyxy.tolist())
        ]
        images.append({"image": str(path), "annotated": str(annotated), "detections": detections})
    return {"weights": str(weights), "dir": str(out_dir), "images": images}
