"""Read COCO JSON sources: one file for all images or one per split (Roboflow's layout too).

Category ids may be anything; they map to contiguous class indices in id order. A Roboflow
placeholder category (no annotations, named as the supercategory of the others) is dropped.
Crowd boxes are kept out of training and counted. Images referenced but missing, and images
present but not referenced, are reported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from PIL import Image

from yolov11.data.source import SPLIT_ALIASES, Issue, Sample, SourceDataset, as_boxes, files_under, images_under, load_json, pixel_box, split_of
from yolov11.errors import UserError


def _load(path: Path) -> dict | None:
    if path.stat().st_size > 2**31:
        return None
    doc = load_json(path)
    if isinstance(doc, dict) and all(isinstance(doc.get(k), list) for k in ("images", "annotations", "categories")):
        return doc
    return None


def find_coco_files(root: Path) -> list[tuple[Path, dict]]:
    return [(p, doc) for p in files_under(root, ".json") if (doc := _load(p)) is not None]


def looks_like_coco(root: Path) -> tuple[bool, str]:
    files = find_coco_files(root)
    if files:
        return True, f"found COCO JSON {', '.join(str(p.relative_to(root)) for p, _ in files)} (images, annotations, categories)"
    return False, "no JSON file with 'images', 'annotations' and 'categories' lists"


def _split_of_json(path: Path, root: Path) -> str | None:
    for token in re.split(r"[^a-z]+", path.stem.lower()):
        if token in SPLIT_ALIASES:
            return SPLIT_ALIASES[token]
    return split_of(path, root)


def _categories(files: list[tuple[Path, dict]], issues: list[Issue]) -> tuple[list[str], dict[int, int]]:
    cats: dict[int, dict] = {}
    used: set[int] = set()
    for _, doc in files:
        for c in doc["categories"]:
            cats.setdefault(int(c["id"]), c)
        used.update(int(a["category_id"]) for a in doc["annotations"] if "category_id" in a)
    supers = {c.get("supercategory") for c in cats.values()}
    keep = []
    for cid in sorted(cats):
        c = cats[cid]
        if cid not in used and c["name"] in supers and len(cats) > 1:
            issues.append(Issue(f"category id {cid}", f"placeholder category {c['name']!r} with no annotations", "dropped"))
            continue
        keep.append(cid)
    return [str(cats[cid]["name"]) for cid in keep], {cid: i for i, cid in enumerate(keep)}


def read_coco(root: Path, reason: str) -> SourceDataset:
    files = find_coco_files(root)
    issues: list[Issue] = []
    counts = {"crowd_boxes": 0, "missing_images": 0, "unreferenced_images": 0}
    names, cat_map = _categories(files, issues)
    on_disk = images_under(root)
    by_path = {os.path.normpath(p): p for p in on_disk}
    by_name: dict[str, list[Path]] = {}
    for p in on_disk:
        by_name.setdefault(p.name, []).append(p)
    referenced: set[Path] = set()
    samples = []
    for path, doc in files:
        rel = path.relative_to(root)
        split = _split_of_json(path, root)
        anns: dict[int, list[dict]] = {}
        for a in doc["annotations"]:
            anns.setdefault(a.get("image_id"), []).append(a)
        for img in doc["images"]:
            fname = str(img.get("file_name", ""))
            candidates = (os.path.join(path.parent, fname), os.path.join(path.parent, "images", fname), os.path.join(root, fname))
            found = next((by_path[os.path.normpath(c)] for c in candidates if os.path.normpath(c) in by_path), None)
            if found is None and len(by_name.get(Path(fname).name, [])) == 1:
                found = by_name[Path(fname).name][0]
            if found is None:
                counts["missing_images"] += 1
                issues.append(Issue(f"{rel}: image id {img.get('id')}", f"file {fname!r} not found", "skipped"))
                continue
            referenced.add(os.path.normpath(found))
            width, height = img.get("width"), img.get("height")
            if not width or not height:
                with Image.open(found) as im:
                    width, height = im.size
            rows, before = [], len(issues)
            for a in anns.get(img.get("id"), []):
                at = f"{rel}: annotation id {a.get('id')}"
                if a.get("iscrowd"):
                    counts["crowd_boxes"] += 1
                    continue
                cid = int(a.get("category_id", -1))
                if cid not in cat_map:
                    issues.append(Issue(at, f"category_id {cid} not in categories", "dropped"))
                    continue
                bbox = a.get("bbox")
                if not (isinstance(bbox, list) and len(bbox) == 4):
                    issues.append(Issue(at, "bbox is not [x, y, w, h]", "dropped"))
                    continue
                x, y, w, h = (float(v) for v in bbox)
                rows.append(pixel_box(cat_map[cid], x, y, x + w, y + h, width, height, at, issues))
            samples.append(Sample(image=found, boxes=as_boxes(rows), split=split, label_issues=len(issues) - before))
    unreferenced = [p for p in on_disk if os.path.normpath(p) not in referenced]
    if unreferenced:
        counts["unreferenced_images"] = len(unreferenced)
        issues.append(Issue(str(unreferenced[0].relative_to(root)), f"{len(unreferenced)} image(s) not referenced by any COCO JSON", "skipped"))
    if not samples:
        raise UserError(f"{files[0][0].name}: COCO JSON found but none of its images exist under the archive")
    return SourceDataset("coco", names, samples, reason, issues, counts, {str(cid): i for cid, i in cat_map.items()})
