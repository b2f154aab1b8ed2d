"""Pre-labels: a model's suggestions for the items of a dataset's pool, with how unsure it is.

A run's weights, or uploaded weights in any format ``predict`` loads, predict on the pool in
batches. Each item keeps its suggestions at ``conf`` and above (class, confidence, box in pixels)
and an uncertainty in 0..1: the larger of how close its candidates (confidence >= ``LOW``) sit to
``conf`` and how much the image and its horizontal flip disagree (detections at ``conf`` not
matched at IoU 0.5 once the flip's boxes are turned back). Items already reviewed (accepted,
rejected) keep what they have; the others get the new model's suggestions. A PyTorch model also
gives each item its backbone embedding, what the queue's diversity then measures
(``pool_features``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from yolov11.boxes import box_iou
from yolov11.data.pool import _base, _rows, update_item
from yolov11.data.pool_features import backbone_embeddings, save_embeddings
from yolov11.errors import UserError
from yolov11.workspace import Workspace

LOW = 0.05  # candidates below this are no evidence either way
BATCH = 16
REVIEWED = ("accepted", "rejected")


def uncertainty(conf_scores: np.ndarray, conf: float, kept: np.ndarray, flipped: np.ndarray) -> float:
    """0 (sure) .. 1 (unsure): candidates near the threshold, or the image and its flip disagreeing."""
    near = float(np.max(1 - np.abs(conf_scores - conf) / max(conf, 1 - conf))) if len(conf_scores) else 0.0
    if not len(kept) and not len(flipped):
        return round(near, 4)
    matched = int((box_iou(kept, flipped) >= 0.5).any(axis=1).sum()) if len(kept) and len(flipped) else 0
    disagree = 1 - matched / max(len(kept), len(flipped))
    return round(max(near, disagree), 4)


def prelabel(data: str, run: str | None = None, weights: str | os.PathLike | None = None, conf: float = 0.25,
             workspace: Workspace | str | os.PathLike | None = None, progress: Callable[[float, str], None] | None = None,
             sliced: object = None, slice_size: int | None = None, slice_overlap: float | None = None) -> dict:
    """Suggestions for every pool item not yet reviewed; returns {"dataset", "model", "suggested",
    "boxes", "items"}. ``sliced`` (as ``predict``'s): big frames predicted tile by tile, the image
    and its flip alike."""
    from yolov11.serve.predict import load_detector
    from yolov11.serve.sliced import found_boxes, slicing_of

    slicing = slicing_of(sliced, slice_size, slice_overlap)

    ws = Workspace.at(workspace)
    base = _base(ws, data)
    if bool(run) == bool(weights):
        raise UserError(field="--run or --weights", detail="give exactly one of them")
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0 < conf < 1:
        raise UserError(field="--conf", value=conf, detail="a confidence between 0 and 1")
    source = ws.run_weights(run) if run else Path(weights).expanduser()
    model = load_detector(source)
    names = model.names
    rows = [r for r in _rows(ws, base) if r["state"] not in REVIEWED]
    boxes_total, out, embedded = 0, [], {}
    label = run or Path(source).name
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        images = [np.ascontiguousarray(_rgb(r["file"])[:, :, ::-1]) for r in batch]  # BGR, as Ultralytics reads files
        flipped_images = [np.ascontiguousarray(im[:, ::-1]) for im in images]
        if slicing is None:
            with model.lock:
                plain, flips = (model.predict(ims, conf=LOW, verbose=False) for ims in (images, flipped_images))
                plain, flips = [found_boxes(r) for r in plain], [found_boxes(r) for r in flips]
        else:
            plain, flips = (_sliced(model, ims, slicing, source) for ims in (images, flipped_images))
        vectors = backbone_embeddings(model, images)
        if vectors is not None:
            embedded.update((r["id"], v) for r, v in zip(batch, vectors))
        for row, im, (xyxy, scores, classes), (fx, fs, _) in zip(batch, images, plain, flips):
            width = im.shape[1]
            unflipped = np.stack([width - fx[:, 2], fx[:, 1], width - fx[:, 0], fx[:, 3]], axis=1) if len(fx) else fx
            keep = scores >= conf
            suggestions = [{"class": names[int(c)], "confidence": round(float(s), 4), "box": [round(float(v), 1) for v in b]}
                           for b, s, c in zip(xyxy[keep], scores[keep], classes[keep])]
            score = uncertainty(scores, conf, xyxy[keep], unflipped[fs >= conf] if len(fx) else unflipped)
            update_item(ws, base, row["id"], state="suggested", model=label, suggestions=suggestions, uncertainty=score)
            boxes_total += len(suggestions)
            out.append({"id": row["id"], "suggestions": suggestions, "uncertainty": score})
        if progress:
            progress(min(1.0, (start + len(batch)) / len(rows)), f"pre-labelling {start + len(batch)}/{len(rows)}")
    if embedded:
        save_embeddings(ws, base, list(embedded), list(embedded.values()), label)
    return {"dataset": base, "model": run or str(source), "suggested": len(out), "boxes": boxes_total,
            "embeddings": len(embedded), "items": out}


def _sliced(model, images: list[np.ndarray], slicing, source: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    from yolov11.serve.sliced import detect_sliced, tile_batch

    with model.lock:
        return [detect_sliced(model, im, slicing, None, batch=tile_batch(source), conf=LOW)[:3] for im in images]


def _rgb(path: str) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
