"""Box geometry shared by evaluation, export checks and drawing (as detr's util/box_ops.py).

Boxes are numpy arrays of pixel corners ``xyxy`` (x1, y1, x2, y2) unless a name says otherwise;
``cxcywh`` is YOLO's normalised centre form, ``xywh`` COCO's top-left form.
"""

from __future__ import annotations

import numpy as np


def _area(x: np.ndarray) -> np.ndarray:
    return (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    return np.clip(rb - lt, 0, None).prod(2)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) IoU of xyxy boxes a (n, 4) and b (m, 4)."""
    inter = _intersection(a, b)
    return inter / (_area(a)[:, None] + _area(b)[None, :] - inter + 1e-12)


def xywh_to_xyxy(xywh) -> np.ndarray:
    """COCO's top-left (x, y, w, h) boxes, shape (n, 4) or one (4,), as corners (n, 4)."""
    a = np.asarray(xywh, dtype=float).reshape(-1, 4)
    return np.concatenate([a[:, :2], a[:, :2] + a[:, 2:]], axis=1)


def box_inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) share of each box of a (n, 4) that lies inside each box of b (m, 4)."""
    return _intersection(a, b) / (_area(a)[:, None] + 1e-12)


def xyxy_to_xywh(xyxy, ndigits: int = 3) -> list[float]:
    """One xyxy box as COCO's [x, y, w, h], rounded."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return [round(x1, ndigits), round(y1, ndigits), round(x2 - x1, ndigits), round(y2 - y1, ndigits)]


def cxcywh_to_xyxy(cx: float, cy: float, w: float, h: float, width: float, height: float) -> list[float]:
    """One normalised YOLO box as pixel corners of a ``width`` x ``height`` image."""
    return [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
