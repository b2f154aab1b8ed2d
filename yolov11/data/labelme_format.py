"""Read LabelMe JSON: one JSON per image with "shapes" (rectangles, polygons -> bounding boxes).

A JSON with no shape is a background; an image no JSON names is unlabelled (the importer
leaves it out unless asked to keep it as a background)."""

from __future__ import annotations

import os
from pathlib import Path

from yolov11.data.source import (
    Issue,
    Sample,
    SourceDataset,
    as_boxes,
    empty_boxes,
    files_under,
    finite_number,
    image_size,
    listed_file,
    load_json,
    pixel_box,
    split_of,
    unlabelled_images,
)
from yolov11.errors import UserError


def _labelme_files(root: Path) -> list[tuple[Path, dict]]:
    out = []
    for p in files_under(root, ".json"):
        doc = load_json(p)
        if isinstance(doc, dict) and isinstance(doc.get("shapes"), list) and "imagePath" in doc:
            out.append((p, doc))
    return out


def looks_like_labelme(root: Path) -> tuple[bool, str]:
    files = _labelme_files(root)
    if files:
        return True, f"found {len(files)} LabelMe JSON files (with 'shapes' and 'imagePath')"
    return False, "no LabelMe JSON ('shapes' and 'imagePath')"


def _label(shape: object) -> str:
    return str(shape.get("label") or "").strip() if isinstance(shape, dict) else ""


def read_labelme(root: Path, reason: str) -> SourceDataset:
    files = _labelme_files(root)
    issues: list[Issue] = []
    names = sorted({_label(s) for _, doc in files for s in doc["shapes"]} - {""})
    index = {n: i for i, n in enumerate(names)}
    samples, referenced = [], set()
    for path, doc in files:
        rel = str(path.relative_to(root))
        beside = [p for p in files_under(path.parent) if p.parent == path.parent and p.stem == path.stem and p.suffix.lower() != ".json"]
        image = listed_file(root, path.parent / str(doc["imagePath"]).replace("\\", "/"), *beside)
        if image is None:
            issues.append(Issue(rel, f"image {str(doc['imagePath'])[:80]!r} not found", "skipped"))
            continue
        referenced.add(os.path.normpath(image))
        width, height = finite_number(doc.get("imageWidth")), finite_number(doc.get("imageHeight"))
        if not width or not height:
            width, height = image_size(image)
        rows, before = [], len(issues)
        for k, shape in enumerate(doc["shapes"], 1):
            at = f"{rel}: shape {k}"
            if not isinstance(shape, dict):
                issues.append(Issue(at, "shape is not an object", "dropped"))
                continue
            pts = shape.get("points") or []
            if shape.get("shape_type", "polygon") not in ("rectangle", "polygon") or not isinstance(pts, list) or len(pts) < 2:
                issues.append(Issue(at, f"shape_type {shape.get('shape_type')!r} is not a box or polygon", "skipped"))
                continue
            if _label(shape) not in index:
                issues.append(Issue(at, "shape has no label", "dropped"))
                continue
            xy = [(finite_number(p[0]), finite_number(p[1])) if isinstance(p, list) and len(p) >= 2 else (None, None) for p in pts]
            if any(v is None for pair in xy for v in pair):
                issues.append(Issue(at, "points are not [x, y] numbers", "dropped"))
                continue
            xs, ys = [x for x, _ in xy], [y for _, y in xy]
            rows.append(pixel_box(index[_label(shape)], min(xs), min(ys), max(xs), max(ys), width, height, at, issues))
        samples.append(Sample(image, as_boxes(rows), split_of(image, root), len(issues) - before, source=rel))
    if not samples:
        raise UserError(f"{root.name}: LabelMe JSON found but none of its images exist")
    samples += [Sample(p, empty_boxes(), split_of(p, root), unlabelled=True) for p in unlabelled_images(root, referenced)]
    return SourceDataset("labelme", names, samples, reason, issues, {}, dict(index))
