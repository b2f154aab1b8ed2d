"""What the validator saw, image by image, kept as COCO JSON.

Ultralytics' detection validator computes its metrics batch by batch and then drops the
predictions. ``compat.validator.recording_validator()`` is that same validator (same
dataloader, letterbox, NMS and matching, so its metrics are Ultralytics' own) that also keeps
each image's ground truth and predictions, scaled back to the original pixels (its
``records``). ``coco_documents`` turns them into a
COCO ground-truth document and a COCO detections list: the input of the 12 COCO numbers, of
the threshold explorer and of the error gallery, with no second inference.
"""

from __future__ import annotations

from pathlib import Path

from yolov11.boxes import xyxy_to_xywh


def coco_documents(records: list[dict], names: dict[int, str], dataset_root: Path | None = None) -> tuple[dict, list[dict]]:
    """(COCO ground truth, COCO detections) of the validator's records.

    Image ids count from 1 in validation order; category id = class index + 1 (COCO's ids start
    at 1). Each image keeps its absolute ``path`` (an extra key COCO tools ignore) for the gallery;
    ``file_name`` is relative to ``dataset_root`` when given.
    """
    images, annotations, detections = [], [], []
    for image_id, rec in enumerate(records, 1):
        path = Path(rec["file"])
        try:
            file_name = str(path.relative_to(dataset_root)) if dataset_root else path.name
        except ValueError:
            file_name = path.name
        images.append({"id": image_id, "file_name": file_name, "path": str(path), "width": rec["width"], "height": rec["height"]})
        for c, box in zip(rec["gt_cls"], rec["gt_xyxy"]):
            bbox = xyxy_to_xywh(box)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": int(c) + 1, "bbox": bbox,
                "area": round(bbox[2] * bbox[3], 3), "iscrowd": 0,
            })
        for c, s, box in zip(rec["cls"], rec["conf"], rec["xyxy"]):
            detections.append({"image_id": image_id, "category_id": int(c) + 1, "bbox": xyxy_to_xywh(box), "score": round(float(s), 5)})
    categories = [{"id": i + 1, "name": n} for i, n in sorted(names.items())]
    return {"images": images, "annotations": annotations, "categories": categories}, detections
