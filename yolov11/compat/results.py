"""Ultralytics' metric keys, and the short names our events, tables and JSON use.

Relies on: the result keys of ``DetectionTrainer.metrics`` and ``DetMetrics.results_dict``
("metrics/precision(B)", ... "metrics/mAP50-95(B)") and the "val/box_loss" style loss keys;
``engine.results.Results(orig_img, path, names, boxes)`` and its ``plot`` (merged sliced
detections drawn as a prediction), a predictor's ``imgsz`` (an export's input size).
"""

from __future__ import annotations

from typing import Any

METRIC_KEYS = {  # Ultralytics' result keys -> the short names of our events and tables
    "metrics/precision(B)": "precision",
    "metrics/recall(B)": "recall",
    "metrics/mAP50(B)": "mAP50",
    "metrics/mAP50-95(B)": "mAP50-95",
}


def short_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """{"precision", "recall", "mAP50", "mAP50-95"} of an Ultralytics metrics dict (those present)."""
    return {short: round(float(metrics[key]), 5) for key, short in METRIC_KEYS.items() if key in metrics}


def short_losses(losses: dict[str, Any], prefix: str | None = None) -> dict[str, float]:
    """{"box_loss": ..., ...} of Ultralytics' "train/box_loss" or "val/box_loss" keys (only
    ``prefix``'s when given)."""
    return {k.split("/")[-1]: round(float(v), 5) for k, v in losses.items() if prefix is None or k.startswith(f"{prefix}/")}


def input_size(yolo) -> int | None:
    """The input side an ``ultralytics.YOLO`` predicted at last (its predictor's ``imgsz``: for an
    export, the size in its metadata), or None before any prediction."""
    size = getattr(getattr(yolo, "predictor", None), "imgsz", None)
    if isinstance(size, (list, tuple)) and size:
        return int(max(size))
    return int(size) if isinstance(size, int) else None


def plotted(image, names: dict, xyxy, scores, classes, ids=None):
    """``image`` (BGR) with these boxes drawn as Ultralytics draws a prediction (``Results.plot``);
    ``ids``: the boxes' track ids, drawn as a tracked prediction's are."""
    import numpy as np
    import torch
    from ultralytics.engine.results import Results

    columns = [np.asarray(xyxy, np.float32).reshape(-1, 4), np.asarray(scores, np.float32).reshape(-1, 1),
               np.asarray(classes, np.float32).reshape(-1, 1)]
    if ids is not None:  # Boxes of 7 columns: x1, y1, x2, y2, track id, score, class
        columns.insert(1, np.asarray(ids, np.float32).reshape(-1, 1))
    table = np.concatenate(columns, axis=1)
    return Results(orig_img=image, path="", names=names, boxes=torch.from_numpy(table)).plot()
