"""Read LabelMe JSON: one JSON per image with "shapes" (rectangles, polygons -> bounding boxes)."""

from __future__ import annotations

from pathlib import Path


from yolov11.data.source import Issue, Sample, SourceDataset, as_boxes, files_under, load_json, pixel_box, split_of
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


def read_labelme(root: Path, reason: str) -> SourceDataset:
    files = _labelme_files(root)
    issues: list[Issue] = []
    names = sorted({str(s.get("label", "")) for _, doc in files for s in doc["shapes"]} - {""})
    index = {n: i for i, n in enumerate(names)}
    samples = []
    for path, doc in files:
        rel = str(path.relative_to(root))
        image = path.parent / str(doc["imagePath"]).replace("\\", "/")
        if not image.is_file():
            image = next((p for p in path.parent.glob(f"{path.stem}.*") if p.suffix.lower() != ".json"), image)
        if not image.is_file():
            issues.append(Issue(rel, f"image {doc['imagePath']!r} not found", "skipped"))
            continue
        width, height = float(doc.get("imageWidth") or 0), float(doc.get("imageHeight") or 0)
        if not width or not height:
            from PIL import Image

            with Image.open(image) as im:
                width, height = im.size
        rows, before = [], len(issues)
        for k, shape in enumerate(doc["shapes"], 1):
            pts = shape.get("points") or []
            if shape.get("shape_type", "polygon") not in ("rectangle", "polygon") or len(pts) < 2:
                issues.append(Issue(f"{rel}: shape {k}", f"shape_type {shape.get('shape_type')!r} is not a box or polygon", "skipped"))
                continue
            xs, ys = [float(p[0]) for p in pts], [float(p[1]) for p in pts]
            rows.append(pixel_box(index[str(shape["label"])], min(xs), min(ys), max(xs), max(ys), width, height, f"{rel}: shape {k}", issues))
        samples.append(Sample(image, as_boxes(rows), split_of(image, root), len(issues) - before))
    if not samples:
        raise UserError(f"{root.name}: LabelMe JSON found but none of its images exist")
    return SourceDataset("labelme", names, samples, reason, issues, {}, dict(index))
