"""Threshold explorer: TP / FP / FN and precision / recall / F1 at any confidence and IoU
threshold, from an evaluation's saved predictions (no second inference).

Matching is the one Ultralytics' validator and COCO use: per image and class, detections in
descending confidence each take the unmatched ground-truth box they overlap most, if that IoU is
at least the threshold. A detection's match depends only on the detections scored above it, so
one matching per IoU threshold (over every saved detection) answers all confidence thresholds:
moving the confidence slider only counts, and only the IoU slider re-matches.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from yolov11.boxes import box_iou
from yolov11.errors import UserError
from yolov11.eval.evaluate import open_evaluation
from yolov11.workspace import Workspace


@dataclass(frozen=True, eq=False)
class Detections:
    """An evaluation's ground truth and detections as flat arrays (boxes xyxy, pixels).

    ``gt_img`` / ``dt_img`` index ``images``; ``gt_cls`` / ``dt_cls`` index ``names``. Crowd
    regions (iscrowd=1) are left out: they are neither to be found nor wrong to find.
    """

    images: list[dict]
    names: list[str]
    gt_img: np.ndarray
    gt_cls: np.ndarray
    gt_xyxy: np.ndarray
    dt_img: np.ndarray
    dt_cls: np.ndarray
    dt_score: np.ndarray
    dt_xyxy: np.ndarray

    @classmethod
    def from_coco(cls, gt_doc: dict, detections: list[dict]) -> "Detections":
        cats = sorted(gt_doc["categories"], key=lambda c: c["id"])
        cat_index = {c["id"]: i for i, c in enumerate(cats)}
        img_index = {img["id"]: i for i, img in enumerate(gt_doc["images"])}
        gts = [a for a in gt_doc["annotations"] if not a.get("iscrowd")]

        def xyxy(items) -> np.ndarray:
            b = np.array([a["bbox"] for a in items], np.float64).reshape(-1, 4)
            b[:, 2:] += b[:, :2]
            return b

        return cls(
            images=gt_doc["images"],
            names=[c.get("name", str(c["id"])) for c in cats],
            gt_img=np.array([img_index[a["image_id"]] for a in gts], int),
            gt_cls=np.array([cat_index[a["category_id"]] for a in gts], int),
            gt_xyxy=xyxy(gts),
            dt_img=np.array([img_index[d["image_id"]] for d in detections], int),
            dt_cls=np.array([cat_index[d["category_id"]] for d in detections], int),
            dt_score=np.array([d["score"] for d in detections], np.float64),
            dt_xyxy=xyxy(detections),
        )


def match(d: Detections, iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching at IoU threshold ``iou`` -> (dt_gt, gt_dt): each detection's matched
    ground-truth index or -1, and each ground-truth box's matching detection or -1."""
    dt_gt, gt_dt = np.full(len(d.dt_cls), -1), np.full(len(d.gt_cls), -1)
    gt_by_img = np.split(np.argsort(d.gt_img, kind="stable"), np.cumsum(np.bincount(d.gt_img, minlength=len(d.images)))[:-1])
    # Detections ordered by image, then by descending score (stable: equal scores keep file order).
    order = np.lexsort((-d.dt_score, d.dt_img))
    dt_by_img = np.split(order, np.cumsum(np.bincount(d.dt_img, minlength=len(d.images)))[:-1])
    for gi, di in zip(gt_by_img, dt_by_img):
        if not len(gi) or not len(di):
            continue
        ious = box_iou(d.dt_xyxy[di], d.gt_xyxy[gi]) * (d.dt_cls[di, None] == d.gt_cls[None, gi])
        for row in np.flatnonzero((ious >= iou).any(1)):  # the others match nothing: skip them
            free = np.where(gt_dt[gi] < 0, ious[row], 0.0)
            best = free.argmax()
            if free[best] >= iou:
                dt_gt[di[row]], gt_dt[gi[best]] = gi[best], di[row]
    return dt_gt, gt_dt


def _rates(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": int(tp), "fp": int(fp), "fn": int(fn), "precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4)}


def counts(d: Detections, conf: float, iou: float, matched: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """{"conf", "iou", "overall": {tp, fp, fn, precision, recall, f1}, "per_class": [{"class", ...}]}
    for the detections scored at least ``conf``, matched at ``iou`` (``matched``: a ``match``
    result at that IoU, to reuse)."""
    dt_gt, _ = matched if matched is not None else match(d, iou)
    kept = d.dt_score >= conf
    tp_mask = kept & (dt_gt >= 0)
    nc = len(d.names)
    tp = np.bincount(d.dt_cls[tp_mask], minlength=nc)
    fp = np.bincount(d.dt_cls[kept & (dt_gt < 0)], minlength=nc)
    fn = np.bincount(d.gt_cls, minlength=nc) - tp  # a ground-truth box is found by at most one detection
    return {
        "conf": conf,
        "iou": iou,
        "overall": _rates(tp.sum(), fp.sum(), fn.sum()),
        "per_class": [{"class": name, **_rates(tp[i], fp[i], fn[i])} for i, name in enumerate(d.names)],
    }


@functools.lru_cache(maxsize=4)
def _load(folder: str, stamp: float) -> Detections:
    """Parsed once per evaluation (``stamp``: its detections' mtime, so a re-evaluation reloads)."""
    gt = json.loads((Path(folder) / "coco_gt.json").read_text())
    return Detections.from_coco(gt, json.loads((Path(folder) / "coco_dt.json").read_text()))


@functools.lru_cache(maxsize=32)
def _matched(folder: str, stamp: float, iou: float) -> tuple[np.ndarray, np.ndarray]:
    return match(_load(folder, stamp), iou)


def saved_detections(where: str | Path, iou: float, workspace: Workspace | str | Path | None = None) -> tuple[Detections, tuple[np.ndarray, np.ndarray]]:
    """An evaluation folder's detections and their matching at ``iou``, cached in memory: the
    explorer's sliders ask again and again, and a big split's detections take seconds to parse."""
    folder = open_evaluation(where, workspace)
    if not (folder / "coco_dt.json").is_file():
        raise UserError(f"evaluation {where}: saved before detections were kept; evaluate again")
    stamp = (folder / "coco_dt.json").stat().st_mtime
    iou = round(float(iou), 3)
    return _load(str(folder), stamp), _matched(str(folder), stamp, iou)


def explore_thresholds(where: str | Path, conf: float = 0.25, iou: float = 0.5, workspace: Workspace | str | Path | None = None) -> dict:
    """``counts`` at (conf, iou) for the evaluation saved in folder ``where``."""
    if not 0 <= conf <= 1:
        raise UserError(f"--conf {conf}: must be between 0 and 1")
    if not 0 < iou <= 1:
        raise UserError(f"--iou {iou}: must be above 0 and at most 1")
    d, matched = saved_detections(where, iou, workspace)
    return counts(d, conf, round(float(iou), 3), matched)
