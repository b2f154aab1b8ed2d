"""Error analysis: the images where a model fails most, drawn with what went right and wrong.

At the explorer's confidence and IoU thresholds each kept detection is a true positive (TP) or
a false positive (FP), and each ground-truth box nobody found is a false negative (FN). Images
are ranked by most FP, most FN, or lowest-confidence TP (the hits the model barely made), and
drawn with Ultralytics' Annotator: TP green, FP red, FN orange.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from yolov11.compat import offline
from yolov11.compat.plotting import draw_boxes
from yolov11.data.preview import _to_rgb
from yolov11.errors import UserError
from yolov11.eval.evaluate import open_evaluation
from yolov11.eval.thresholds import saved_detections
from yolov11.workspace import Workspace

CRITERIA = ("most FP", "most FN", "lowest-confidence TP")
COLORS = {"TP": (0, 170, 0), "FP": (0, 0, 230), "FN": (0, 140, 255)}  # BGR, as Annotator draws on BGR arrays
LEGEND = "boxes: green = true positive (TP), red = false positive (FP), orange = missed ground truth (FN)"


def image_errors(where: str | Path, conf: float = 0.25, iou: float = 0.5, cls: str | None = None,
                 workspace: Workspace | str | Path | None = None) -> list[dict]:
    """Per image of the evaluation: {"image", "path", "fp", "fn", "tp", "min_tp_conf", "boxes"}
    where boxes are (status, class index, conf or None, xyxy); only class ``cls`` if given."""
    d, (dt_gt, gt_dt) = saved_detections(where, iou, workspace)
    if cls and cls not in d.names:
        raise UserError(f"class {cls}: not a class of this evaluation ({', '.join(d.names)})")
    want_dt = d.dt_score >= conf
    want_gt = np.ones(len(d.gt_cls), bool)
    if cls:
        want_dt &= d.dt_cls == d.names.index(cls)
        want_gt &= d.gt_cls == d.names.index(cls)
    tp = want_dt & (dt_gt >= 0)
    fp = want_dt & (dt_gt < 0)
    found = np.zeros(len(d.gt_cls), bool)
    found[dt_gt[tp]] = True  # matched by a detection that passes the confidence threshold
    fn = want_gt & ~found
    by_image = lambda idx, mask: np.split(  # noqa: E731
        np.flatnonzero(mask)[np.argsort(idx[mask], kind="stable")], np.cumsum(np.bincount(idx[mask], minlength=len(d.images)))[:-1]
    )
    out = []
    for img, dets, missed in zip(d.images, by_image(d.dt_img, want_dt), by_image(d.gt_img, fn)):
        boxes = [("TP" if tp[j] else "FP", int(d.dt_cls[j]), float(d.dt_score[j]), d.dt_xyxy[j]) for j in dets]
        boxes += [("FN", int(d.gt_cls[j]), None, d.gt_xyxy[j]) for j in missed]
        tp_conf = d.dt_score[dets[tp[dets]]]
        out.append({
            "image": img.get("file_name", str(img["id"])), "path": img.get("path"),
            "tp": len(tp_conf), "fp": int(fp[dets].sum()), "fn": len(missed),
            "min_tp_conf": float(tp_conf.min()) if len(tp_conf) else None, "boxes": boxes,
        })
    return out


def _rank(errors: list[dict], by: str) -> list[dict]:
    if by == "most FP":
        return sorted((e for e in errors if e["fp"]), key=lambda e: (-e["fp"], -e["fn"]))
    if by == "most FN":
        return sorted((e for e in errors if e["fn"]), key=lambda e: (-e["fn"], -e["fp"]))
    if by == "lowest-confidence TP":
        return sorted((e for e in errors if e["tp"]), key=lambda e: e["min_tp_conf"])
    raise UserError(field="--by", value=by, detail=f"use one of {', '.join(CRITERIA)}")


def _draw(e: dict, names: list[str], dest: Path) -> None:
    if not e["path"] or not Path(e["path"]).is_file():
        raise UserError(f"{e['image']}: image file not found at {e['path']} (moved or deleted since the evaluation?)")
    with Image.open(e["path"]) as src:
        rgb = _to_rgb(src)
    boxes = [
        (xyxy, f"{status} {names[c]}" + (f" {score:.2f}" if score is not None else ""), COLORS[status])
        for status, c, score, xyxy in e["boxes"]
    ]
    draw_boxes(rgb, boxes, dest, example=str(names))


def worst_images(
    where: str | Path,
    by: str = "most FP",
    cls: str | None = None,
    conf: float = 0.25,
    iou: float = 0.5,
    limit: int = 12,
    workspace: Workspace | str | Path | None = None,
) -> list[tuple[str, str]]:
    """The ``limit`` worst images by criterion ``by`` (one of CRITERIA), drawn; (jpeg path, caption) pairs.

    Drawings go to the workspace's previews/errors/<evaluation>/, one folder per (criterion,
    class, thresholds), so two people looking at different thresholds don't overwrite each
    other's images (previews/ is a folder the app may serve files from, wherever the workspace is).
    """
    offline.prepare()  # Annotator may load a font: the local one, never a download
    d, _ = saved_detections(where, iou, workspace)
    ranked = _rank(image_errors(where, conf, iou, cls, workspace), by)[:limit]
    tag = f"{by.split()[-1]}-{cls or 'all'}-c{conf:.3f}-i{iou:.3f}".replace(" ", "_")
    folder = open_evaluation(where, workspace)
    out_dir = Workspace.at(workspace).previews_dir / "errors" / f"{folder.parent.name}-{folder.name}" / tag
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for rank, e in enumerate(ranked, 1):
        dest = out_dir / f"{rank:03d}-{Path(e['image']).stem}.jpg"
        _draw(e, d.names, dest)
        low = f", lowest TP conf {e['min_tp_conf']:.2f}" if e["min_tp_conf"] is not None else ""
        results.append((str(dest), f"{Path(e['image']).name} · {e['tp']} TP, {e['fp']} FP, {e['fn']} FN{low}"))
    return results
