"""Threshold explorer: TP / FP / FN and precision / recall / F1 at any confidence and IoU
threshold, from an evaluation's saved predictions (no second inference).

Matching is the one Ultralytics' validator and COCO use: per image and class, detections in
descending confidence each take the unmatched ground-truth box they overlap most, if that IoU is
at least the threshold. A detection's match depends only on the detections scored above it, so
one matching per IoU threshold (over every saved detection) answers all confidence thresholds:
moving the confidence slider only counts, and only the IoU slider re-matches.

``confusion`` lays the same matching out as a confusion matrix at (conf, IoU): its diagonal is
the explorer's TP per class, the rest of a class's row its FP and the rest of its column its FN.
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


def _greedy_pairs(d: Detections, dts: np.ndarray, gts: np.ndarray, iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Detections ``dts`` paired with ground-truth boxes ``gts`` of ANOTHER class, per image, the
    way ``match`` pairs (descending confidence, each taking the free box it overlaps most, IoU at
    least ``iou``) -> (paired detection indices, their ground-truth indices)."""
    pairs: list[tuple[int, int]] = []
    gts = gts[np.argsort(d.gt_img[gts], kind="stable")]
    gt_imgs, gt_start = np.unique(d.gt_img[gts], return_index=True)
    gt_of = dict(zip(gt_imgs.tolist(), np.split(gts, gt_start[1:])))
    order = dts[np.lexsort((-d.dt_score[dts], d.dt_img[dts]))]  # by image, then descending score
    dt_imgs, dt_start = np.unique(d.dt_img[order], return_index=True)
    for img, di in zip(dt_imgs.tolist(), np.split(order, dt_start[1:])):
        gi = gt_of.get(img)
        if gi is None:
            continue
        ious = box_iou(d.dt_xyxy[di], d.gt_xyxy[gi]) * (d.dt_cls[di, None] != d.gt_cls[None, gi])
        free = np.ones(len(gi), bool)
        for row in np.flatnonzero((ious >= iou).any(1)):
            best = np.where(free, ious[row], 0.0).argmax()
            if free[best] and ious[row, best] >= iou:
                free[best] = False
                pairs.append((int(di[row]), int(gi[best])))
    got = np.array(pairs, int).reshape(-1, 2)
    return got[:, 0], got[:, 1]


def confusion(d: Detections, conf: float, iou: float, matched: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """The confusion matrix at (conf, iou) by the explorer's matching: {"conf", "iou", "names"
    (classes, then "background"), "matrix" (rows predicted, columns true), "rule"}.

    A detection (score >= conf) matched to a box of its class counts on the diagonal. Then what
    is left over, the explorer's FP and FN, is paired once more in the same greedy way across
    classes: a detection of class A on a missed object of class B at IoU >= iou counts at (A, B),
    both an FP of A and an FN of B. The remaining FP count in the background column, the
    remaining FN in the background row. So per class: diagonal = TP, row sum - diagonal = FP,
    column sum - diagonal = FN, exactly the explorer's (``counts``) numbers.
    """
    dt_gt, _ = matched if matched is not None else match(d, iou)
    nc = len(d.names)
    kept = d.dt_score >= conf
    tp = np.flatnonzero(kept & (dt_gt >= 0))
    found = np.zeros(len(d.gt_cls), bool)
    found[dt_gt[tp]] = True
    fp, fn = np.flatnonzero(kept & (dt_gt < 0)), np.flatnonzero(~found)
    cross_dt, cross_gt = _greedy_pairs(d, fp, fn, iou)
    lone_dt, lone_gt = np.setdiff1d(fp, cross_dt), np.setdiff1d(fn, cross_gt)
    m = np.zeros((nc + 1, nc + 1), int)
    np.add.at(m, (d.dt_cls[tp], d.dt_cls[tp]), 1)
    np.add.at(m, (d.dt_cls[cross_dt], d.gt_cls[cross_gt]), 1)
    np.add.at(m, (d.dt_cls[lone_dt], nc), 1)
    np.add.at(m, (nc, d.gt_cls[lone_gt]), 1)
    rule = (
        f"confidence ≥ {conf:g}, IoU ≥ {iou:g}, counted as the threshold explorer does: "
        "diagonal = TP, rest of a row = FP, rest of a column = FN"
    )
    return {"conf": conf, "iou": iou, "names": [*d.names, "background"], "matrix": m.tolist(), "rule": rule}


@functools.lru_cache(maxsize=4)
def _load(folder: str, stamp: float) -> Detections:
    """Parsed once per evaluation (``stamp``: its detections' mtime, so a re-evaluation reloads)."""
    gt = json.loads((Path(folder) / "coco_gt.json").read_text())
    return Detections.from_coco(gt, json.loads((Path(folder) / "coco_dt.json").read_text()))


@functools.lru_cache(maxsize=32)
def _matched(folder: str, stamp: float, iou: float) -> tuple[np.ndarray, np.ndarray]:
    return match(_load(folder, stamp), iou)


def saved_detections(where: str | Path, iou: float,
                     workspace: Workspace | str | Path | None = None) -> tuple[Detections, tuple[np.ndarray, np.ndarray]]:
    """An evaluation folder's detections and their matching at ``iou``, cached in memory: the
    explorer's sliders ask again and again, and a big split's detections take seconds to parse."""
    folder = open_evaluation(where, workspace)
    if not (folder / "coco_dt.json").is_file():
        raise UserError(f"evaluation {where}: saved before detections were kept; evaluate again")
    stamp = (folder / "coco_dt.json").stat().st_mtime
    iou = round(float(iou), 3)
    return _load(str(folder), stamp), _matched(str(folder), stamp, iou)


def _checked(conf: float, iou: float) -> None:
    if not 0 <= conf <= 1:
        raise UserError(field="--conf", value=conf, detail="must be between 0 and 1")
    if not 0 < iou <= 1:
        raise UserError(field="--iou", value=iou, detail="must be above 0 and at most 1")


def explore_thresholds(where: str | Path, conf: float = 0.25, iou: float = 0.5, workspace: Workspace | str | Path | None = None) -> dict:
    """``counts`` at (conf, iou) for the evaluation saved in folder ``where``."""
    _checked(conf, iou)
    d, matched = saved_detections(where, iou, workspace)
    return counts(d, conf, round(float(iou), 3), matched)


def threshold_confusion(where: str | Path, conf: float = 0.25, iou: float = 0.5, workspace: Workspace | str | Path | None = None) -> dict:
    """``confusion`` at (conf, iou) for the evaluation saved in folder ``where``: the confusion
    matrix that agrees with ``explore_thresholds`` at the same thresholds."""
    _checked(conf, iou)
    d, matched = saved_detections(where, iou, workspace)
    return confusion(d, conf, round(float(iou), 3), matched)
