"""Evaluation of sliced prediction on full frames: what tiles buy, measured on a split.

Ultralytics' validator sees each image once, shrunk to imgsz; sliced prediction is another
pipeline, so ``evaluate_sliced`` scores it with the project's COCO evaluator (faster-coco-eval,
as ``eval`` reports its 12 COCO numbers) on the split's full frames and original boxes, and
scores the same model's plain one-pass prediction of the same frames with the same evaluator
beside it (``"unsliced"``), so the two numbers compare. Detections are kept down to confidence
0.001, as the validator keeps them for mAP.

Its folder, ``runs/<id>/eval-<split>-sliced/`` (or beside a loose model's evaluations), holds
``coco_gt.json``, ``coco_dt.json`` (the sliced detections), ``coco_dt_unsliced.json`` and
``metrics.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from yolov11.boxes import cxcywh_to_xyxy, xyxy_to_xywh
from yolov11.data.class_names import class_names
from yolov11.data.source import images_under
from yolov11.data.yolo_format import label_path, read_label_boxes
from yolov11.errors import UserError
from yolov11.eval.coco_metrics import coco_stats
from yolov11.serve.sliced import Slicing, detect_sliced, found_boxes, tile_batch

LOW_CONF = 0.001  # what the validator keeps for mAP


def _ground_truth(root: Path, split: str, names: list[str]) -> tuple[dict, list[Path]]:
    """The split's COCO ground truth from its YOLO label files (pixels of the original frames)."""
    from PIL import Image

    folder = root / "images" / split
    if not folder.is_dir():
        raise UserError(field="--split", value=split, detail="the dataset has no such split")
    images, annotations, paths = [], [], sorted(images_under(folder))
    for image_id, path in enumerate(paths, 1):
        with Image.open(path) as im:
            width, height = im.size
        images.append({"id": image_id, "file_name": str(path.relative_to(root)), "path": str(path), "width": width, "height": height})
        for c, cx, cy, w, h in read_label_boxes(label_path(path)):  # the import's parser: a bad line is one UserError naming it
            bbox = xyxy_to_xywh(cxcywh_to_xyxy(cx, cy, w, h, width, height))
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": int(c) + 1, "bbox": bbox,
                                "area": round(bbox[2] * bbox[3], 3), "iscrowd": 0})
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    return {"images": images, "annotations": annotations, "categories": categories}, paths


def _coco(found: tuple, image_id: int) -> list[dict]:
    xyxy, scores, classes = found[:3]
    return [{"image_id": image_id, "category_id": int(c) + 1, "bbox": xyxy_to_xywh([float(v) for v in b]), "score": round(float(s), 5)}
            for b, s, c in zip(xyxy, scores, classes)]


def evaluate_sliced(weights: Path, data_yaml: Path, split: str, slicing: Slicing, imgsz: int | None, out_dir: Path,
                    progress=None) -> dict:
    """Sliced and plain prediction of ``split``'s frames by ``weights``, both scored by the same
    COCO evaluator; returns {"sliced", "coco", "unsliced": {"coco"}, "metrics", "images", "tiles", "dir", "files"}."""
    import cv2

    from yolov11.serve.predict import load_detector

    root = data_yaml.parent
    gt_doc, paths = _ground_truth(root, split, class_names(root))
    model = load_detector(weights)
    batch = tile_batch(weights)
    sliced, plain, tiles = [], [], 0
    for image_id, path in enumerate(paths, 1):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise UserError(f"{path.name}: not a readable image")
        with model.lock:  # the one pass is also the sliced prediction's full-frame pass
            one = found_boxes(model.predict(image, verbose=False, conf=LOW_CONF, **({"imgsz": imgsz} if imgsz else {}))[0])
            found = detect_sliced(model, image, slicing, imgsz, batch=batch, full=one, conf=LOW_CONF)
        sliced += _coco(found, image_id)
        plain += _coco(one, image_id)
        tiles += found[3]
        if progress:
            progress(image_id / len(paths), f"sliced evaluation {image_id}/{len(paths)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: str(out_dir / f"{name}.json") for name in ("coco_gt", "coco_dt", "coco_dt_unsliced")}
    for name, doc in zip(files, (gt_doc, sliced, plain)):
        Path(files[name]).write_text(json.dumps(doc))
    coco = {k: round(v, 6) for k, v in coco_stats(gt_doc, sliced).items()}
    unsliced = {k: round(v, 6) for k, v in coco_stats(gt_doc, plain).items()}
    return {
        "sliced": slicing.__dict__, "evaluator": "faster-coco-eval", "images": len(paths), "tiles": tiles,
        "metrics": {"mAP50": coco["AP50"], "mAP50-95": coco["AP"], "small mAP50-95": coco["APs"]},
        "coco": coco, "unsliced": {"metrics": {"mAP50": unsliced["AP50"], "mAP50-95": unsliced["AP"], "small mAP50-95": unsliced["APs"]},
                                   "coco": unsliced, "detections": len(plain)},
        "detections": len(sliced), "dir": str(out_dir), "files": files,
    }


__all__ = ["evaluate_sliced"]
