"""The 12 COCO bbox numbers of detections against ground truth, both in COCO JSON format.

faster-coco-eval (a maintained C++ port of the reference, which Ultralytics uses too) is the
default; pycocotools, the reference itself, is one argument away, so anyone can check that
the two agree (tests/test_coco_metrics.py does, to 1e-6, on crowd boxes, all area ranges and
images with more than 100 detections).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from pathlib import Path

from yolov11.errors import UserError

COCO_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
EVALUATORS = ("faster-coco-eval", "pycocotools")


def _load_json(path: str | Path, flag: str):
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"{flag} {path}: file not found")
    try:
        return json.loads(p.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{flag} {p.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise UserError(f"{flag} {p.name}: not a UTF-8 text file") from None
    except RecursionError:
        raise UserError(f"{flag} {p.name}: refused, JSON nested too deeply") from None


def _box(value: object) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
    )


def _checked(gt_doc, dt_doc, gt_name: str, dt_name: str) -> tuple[dict, list]:
    if not isinstance(gt_doc, dict) or not all(isinstance(gt_doc.get(k), list) for k in ("images", "annotations", "categories")):
        raise UserError(field="--coco-gt", value=gt_name, detail="needs 'images', 'annotations' and 'categories' lists")
    for key, needs in (("images", ("id",)), ("categories", ("id",)), ("annotations", ("image_id", "category_id", "bbox"))):
        for i, item in enumerate(gt_doc[key]):
            ids_ok = isinstance(item, dict) and all(isinstance(item.get(k), (int, str)) for k in needs if k.endswith("id"))
            if not ids_ok or any(k not in item for k in needs) or (key == "annotations" and not _box(item["bbox"])):
                raise UserError(
                    f"--coco-gt {gt_name}: {key}[{i}] is not an object with {', '.join(needs)}"
                    + (" (bbox: four numbers)" if key == "annotations" else "")
                )
    if isinstance(dt_doc, dict) and "annotations" in dt_doc:  # a whole COCO document of detections
        dt_doc = dt_doc["annotations"]
    if not isinstance(dt_doc, list):
        raise UserError(field="--coco-dt", value=dt_name, detail="expected a list of detections")
    for i, d in enumerate(dt_doc):
        if not isinstance(d, dict):
            raise UserError(
                field="--coco-dt", value=dt_name, detail=f"detection {i} is not an object {{image_id, category_id, bbox, score}}"
            )
        missing = {"image_id", "category_id", "bbox", "score"} - set(d)
        if missing:
            raise UserError(field="--coco-dt", value=dt_name, detail=f"detection {i} lacks {', '.join(sorted(missing))}")
        if (
            not all(isinstance(d[k], (int, str)) for k in ("image_id", "category_id")) or not _box(d["bbox"])
            or not isinstance(d["score"], (int, float)) or not math.isfinite(d["score"])
        ):
            raise UserError(
                field="--coco-dt", value=dt_name, detail=f"detection {i}: ids must be numbers, bbox four numbers and score a number"
            )
    known = {img["id"] for img in gt_doc["images"]}
    stray = next((d["image_id"] for d in dt_doc if d["image_id"] not in known), None)
    if stray is not None:
        raise UserError(field="--coco-dt", value=dt_name, detail=f"image_id {stray!r} is not an image of --coco-gt {gt_name}")
    return gt_doc, dt_doc


def coco_stats(gt_doc: dict, detections: list[dict], evaluator: str = "faster-coco-eval") -> dict[str, float]:
    """{name: value} of the 12 COCO numbers; -1 where an area range has no ground truth.

    Both libraries write into the dicts they are given (ids, areas), so they get copies.
    """
    if evaluator not in EVALUATORS:
        raise UserError(field="--evaluator", value=evaluator, detail=f"use {' or '.join(EVALUATORS)}")
    if not detections:  # both libraries refuse an empty result list; nothing detected scores 0
        return dict.fromkeys(COCO_NAMES, 0.0)
    gt_doc, detections = copy.deepcopy(gt_doc), copy.deepcopy(detections)
    for ann in gt_doc["annotations"]:  # box-only ground truth (ours, most converters') may omit these
        ann.setdefault("area", ann["bbox"][2] * ann["bbox"][3])
        ann.setdefault("iscrowd", 0)
    with contextlib.redirect_stdout(io.StringIO()):  # both print their progress
        if evaluator == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval

            gt = COCO()
            gt.dataset = gt_doc
            gt.createIndex()
            ev = COCOeval(gt, gt.loadRes(detections), "bbox")
        else:
            from faster_coco_eval import COCO, COCOeval_faster

            gt = COCO(gt_doc)
            ev = COCOeval_faster(gt, gt.loadRes(detections), iouType="bbox", print_function=lambda *a: None)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(COCO_NAMES, ev.stats)}


def coco_evaluate(coco_gt: str | Path, coco_dt: str | Path, evaluator: str = "faster-coco-eval") -> dict:
    """The 12 COCO bbox numbers of detections ``coco_dt`` against ground truth ``coco_gt`` (files).

    Returns {"coco": {"AP": ..., ..., "ARl": ...}, "detections": n, "evaluator": name}.
    """
    gt_doc, dt_doc = _checked(_load_json(coco_gt, "--coco-gt"), _load_json(coco_dt, "--coco-dt"), Path(coco_gt).name, Path(coco_dt).name)
    stats = coco_stats(gt_doc, dt_doc, evaluator)
    return {"coco": {k: round(v, 6) for k, v in stats.items()}, "detections": len(dt_doc), "evaluator": evaluator}
