"""The same annotated images written in every format the importer reads.

``truth(folder)`` draws a small hard-hat set and returns, per image stem, its size and pixel
boxes; each ``write_<format>`` lays those out as that tool exports them, with the traps each
format is known for (see the tests in test_formats.py).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from yolov11.data.demo import CLASSES, draw_image

SPLITS = {"train": range(0, 9), "val": range(9, 12)}


def truth(n: int = 12, size: int = 128, seed: int = 3) -> dict[str, dict]:
    """stem -> {"image": PIL image, "split", "boxes": [(class, x1, y1, x2, y2) pixels]}.

    Images alternate between size x size and size x (size * 3/4) so width != height matters."""
    out = {}
    for i in range(n):
        img, rows = draw_image(seed, i, size)
        boxes = [(int(c), *(float(v) * size for v in (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2))) for c, cx, cy, bw, bh in rows]
        if i % 2:  # a landscape image: crop the bottom quarter, clip the boxes to it
            h = size * 3 // 4
            img = img.crop((0, 0, size, h))
            boxes = [(c, x1, y1, x2, min(y2, h)) for c, x1, y1, x2, y2 in boxes if min(y2, h) - y1 > 2]
        split = next(s for s, r in SPLITS.items() if i in r)
        out[f"site_{i:02d}"] = {"image": img, "split": split, "boxes": boxes}
    return out


def _yolo_lines(item: dict) -> str:
    w, h = item["image"].size
    return "".join(f"{c} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n"
                   for c, x1, y1, x2, y2 in item["boxes"])


def write_roboflow_yolo(t: dict, root: Path) -> Path:
    """train/ valid/ folders, data.yaml with absolute paths of another machine and a download
    command, and every third box written as a polygon (a segmentation export)."""
    for stem, item in t.items():
        split = {"train": "train", "val": "valid"}[item["split"]]
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "labels").mkdir(parents=True, exist_ok=True)
        item["image"].save(root / split / "images" / f"{stem}.jpg", quality=95)
        w, h = item["image"].size
        lines = []
        for k, (c, x1, y1, x2, y2) in enumerate(item["boxes"]):
            if k % 3 == 0:  # a quadrilateral whose bounding box is the box
                pts = [(x1, (y1 + y2) / 2), ((x1 + x2) / 2, y1), (x2, (y1 + y2) / 2), ((x1 + x2) / 2, y2)]
                lines.append(f"{c} " + " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in pts) + "\n")
            else:
                lines.append(f"{c} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n")
        (root / split / "labels" / f"{stem}.txt").write_text("".join(lines))
    marker = root.parent / "download-ran"
    data = {
        "train": "/home/someone/datasets/hats/train/images",
        "val": "/home/someone/datasets/hats/valid/images",
        "nc": len(CLASSES),
        "names": CLASSES,
        "download": f"python -c \"open('{marker}', 'w').write('ran')\"",
    }
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    return root


def write_flat_yolo(t: dict, root: Path) -> Path:
    """images/ + labels/ with no splits and a classes.txt."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir(parents=True)
    for stem, item in t.items():
        item["image"].save(root / "images" / f"{stem}.png")
        (root / "labels" / f"{stem}.txt").write_text(_yolo_lines(item))
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    return root


def write_coco(t: dict, root: Path, per_split: bool = True) -> Path:
    """COCO JSON with category ids 3/7/11 and a Roboflow placeholder category 0."""
    ids = [3, 7, 11]
    docs: dict[str, dict] = {}
    for stem, item in t.items():
        split = item["split"] if per_split else "all"
        folder = root / split if per_split else root / "images"
        folder.mkdir(parents=True, exist_ok=True)
        item["image"].save(folder / f"{stem}.jpg", quality=95)
        doc = docs.setdefault(split, {"images": [], "annotations": [],
                                      "categories": [{"id": 0, "name": "hats", "supercategory": "none"}]
                                      + [{"id": i, "name": n, "supercategory": "hats"} for i, n in zip(ids, CLASSES)]})
        image_id = len(doc["images"]) + 100
        w, h = item["image"].size
        doc["images"].append({"id": image_id, "file_name": f"{stem}.jpg", "width": w, "height": h})
        for c, x1, y1, x2, y2 in item["boxes"]:
            doc["annotations"].append({"id": len(doc["annotations"]) + 1, "image_id": image_id, "category_id": ids[c],
                                       "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    for split, doc in docs.items():
        path = root / split / "_annotations.coco.json" if per_split else root / "annotations.json"
        path.write_text(json.dumps(doc))
    return root


def _sub(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def write_voc(t: dict, root: Path, difficult_stem: str | None = None) -> Path:
    """Annotations/ + JPEGImages/ + ImageSets/Main; one XML names its image in other letter case,
    one has no <size>, and ``difficult_stem`` gets one extra object flagged difficult."""
    for d in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / d).mkdir(parents=True, exist_ok=True)
    stems = list(t)
    for k, (stem, item) in enumerate(t.items()):
        item["image"].save(root / "JPEGImages" / f"{stem}.jpg", quality=95)
        ann = ET.Element("annotation")
        _sub(ann, "filename", f"{stem.upper()}.JPG" if k == 0 else f"{stem}.jpg")
        if k != 1:
            size = _sub(ann, "size")
            _sub(size, "width", item["image"].size[0])
            _sub(size, "height", item["image"].size[1])
            _sub(size, "depth", 3)
        boxes = list(item["boxes"]) + ([(0, 1.0, 1.0, 20.0, 20.0, "difficult")] if stem == difficult_stem else [])
        for c, x1, y1, x2, y2, *flag in boxes:
            obj = _sub(ann, "object")
            _sub(obj, "name", CLASSES[c])
            _sub(obj, "difficult", 1 if flag else 0)
            bb = _sub(obj, "bndbox")
            for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), (x1, y1, x2, y2)):
                _sub(bb, tag, f"{v:.2f}")
        ET.ElementTree(ann).write(root / "Annotations" / f"{stem}.xml")
    for split in ("train", "val"):
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(s for s in stems if t[s]["split"] == split) + "\n")
    return root


def write_cvat(t: dict, root: Path) -> Path:
    """CVAT for images 1.1: one annotations.xml, subsets Train/Validation, every box a <box>."""
    (root / "images").mkdir(parents=True)
    doc = ET.Element("annotations")
    _sub(doc, "version", "1.1")
    labels = _sub(_sub(_sub(doc, "meta"), "task"), "labels")
    for name in CLASSES:
        _sub(_sub(labels, "label"), "name", name)
    for k, (stem, item) in enumerate(t.items()):
        item["image"].save(root / "images" / f"{stem}.jpg", quality=95)
        w, h = item["image"].size
        img = _sub(doc, "image")
        img.attrib.update(id=str(k), name=f"images/{stem}.jpg", width=str(w), height=str(h),
                          subset={"train": "Train", "val": "Validation"}[item["split"]])
        for c, x1, y1, x2, y2 in item["boxes"]:
            _sub(img, "box").attrib.update(label=CLASSES[c], occluded="0", xtl=f"{x1:.2f}", ytl=f"{y1:.2f}", xbr=f"{x2:.2f}",
                                           ybr=f"{y2:.2f}")
    ET.ElementTree(doc).write(root / "annotations.xml")
    return root


def write_labelme(t: dict, root: Path) -> Path:
    """One LabelMe JSON beside each image; rectangles."""
    root.mkdir(parents=True)
    for stem, item in t.items():
        item["image"].save(root / f"{stem}.jpg", quality=95)
        w, h = item["image"].size
        shapes = [{"label": CLASSES[c], "points": [[x1, y1], [x2, y2]], "shape_type": "rectangle"} for c, x1, y1, x2, y2 in item["boxes"]]
        (root / f"{stem}.json").write_text(json.dumps({"version": "5.4.1", "shapes": shapes, "imagePath": f"{stem}.jpg",
                                                       "imageWidth": w, "imageHeight": h}))
    return root


def write_createml(t: dict, root: Path) -> Path:
    """Roboflow's CreateML export: train/ valid/ folders, each with its images and one
    _annotations.createml.json listing CENTRE-based pixel boxes (x, y = the box's middle)."""
    docs: dict[str, list] = {}
    for stem, item in t.items():
        split = {"train": "train", "val": "valid"}[item["split"]]
        (root / split).mkdir(parents=True, exist_ok=True)
        item["image"].save(root / split / f"{stem}.jpg", quality=95)
        annotations = [
            {"label": CLASSES[c], "coordinates": {"x": (x1 + x2) / 2, "y": (y1 + y2) / 2, "width": x2 - x1, "height": y2 - y1}}
            for c, x1, y1, x2, y2 in item["boxes"]
        ]
        docs.setdefault(split, []).append({"image": f"{stem}.jpg", "annotations": annotations})
    for split, doc in docs.items():
        (root / split / "_annotations.createml.json").write_text(json.dumps(doc))
    return root


def pixel_boxes(dataset_dir: Path, names: list[str]) -> dict[str, np.ndarray]:
    """stem -> (n, 5) class, x1, y1, x2, y2 in pixels, read back from an imported dataset, sorted.

    Classes are translated through ``names`` to the demo's class indices, since formats that
    carry names only (VOC, LabelMe) order classes alphabetically."""
    to_demo = np.array([CLASSES.index(n) for n in names])
    out = {}
    for img in (dataset_dir / "images").rglob("*.*"):
        w, h = Image.open(img).size
        lines = (dataset_dir / "labels" / img.parent.name / f"{img.stem}.txt").read_text().split()
        rows = np.array(lines, dtype=float).reshape(-1, 5)  # an empty file (a background): no rows
        px = np.stack([to_demo[rows[:, 0].astype(int)], (rows[:, 1] - rows[:, 3] / 2) * w, (rows[:, 2] - rows[:, 4] / 2) * h,
                       (rows[:, 1] + rows[:, 3] / 2) * w, (rows[:, 2] + rows[:, 4] / 2) * h], 1)
        out[img.stem] = px[np.lexsort(px.T[::-1])]
    return out


def truth_boxes(t: dict) -> dict[str, np.ndarray]:
    out = {}
    for stem, item in t.items():
        px = np.array(item["boxes"], dtype=float).reshape(-1, 5)
        out[stem] = px[np.lexsort(px.T[::-1])]
    return out
