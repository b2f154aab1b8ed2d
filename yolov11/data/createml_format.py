"""Read CreateML JSON (Apple's Create ML, Roboflow's "CreateML" export): a list of
``{"image": "a.jpg", "annotations": [{"label": "helmet", "coordinates": {"x", "y", "width", "height"}}]}``.

Coordinates are pixels with x, y the box CENTRE (not a corner). Roboflow's zip holds train/
valid/ test/ folders, each with its images and one ``_annotations.createml.json``; an image
name is looked up beside its JSON first, then from the archive root. The format carries class
names only, so classes are ordered alphabetically. An entry with an empty annotation list is a
background image; an image no JSON lists is unlabelled (the importer leaves it out unless asked
to keep it as a background).
"""

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


def _is_entry(item: object) -> bool:
    return isinstance(item, dict) and isinstance(item.get("image"), str) and isinstance(item.get("annotations"), list)


def _createml_files(root: Path) -> list[tuple[Path, list]]:
    """JSON files whose document is a list with at least one CreateML entry (image + annotations)."""
    out = []
    for p in files_under(root, ".json"):
        doc = load_json(p)
        if isinstance(doc, list) and any(_is_entry(item) for item in doc):
            out.append((p, doc))
    return out


def looks_like_createml(root: Path) -> tuple[bool, str]:
    files = _createml_files(root)
    if files:
        shown = ", ".join(str(p.relative_to(root)) for p, _ in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        return True, f"found CreateML JSON {shown} (a list of 'image' + 'annotations' entries)"
    return False, "no JSON list of 'image' + 'annotations' entries"


def _label(annotation: object) -> str:
    label = annotation.get("label") if isinstance(annotation, dict) else None
    return str(label).strip() if isinstance(label, (str, int)) and not isinstance(label, bool) else ""


def _box(annotation: object, cls: int, width: float, height: float, at: str, issues: list[Issue]) -> tuple | None:
    coords = annotation.get("coordinates") if isinstance(annotation, dict) else None
    if not isinstance(coords, dict):
        issues.append(Issue(at, "'coordinates' is not an object with x, y, width, height", "dropped"))
        return None
    x, y, w, h = (finite_number(coords.get(k)) for k in ("x", "y", "width", "height"))
    if x is None or y is None or w is None or h is None:
        missing = ", ".join(k for k, v in zip(("x", "y", "width", "height"), (x, y, w, h)) if v is None)
        issues.append(Issue(at, f"coordinates {missing}: not finite numbers", "dropped"))
        return None
    if w <= 0 or h <= 0:
        issues.append(Issue(at, f"width {w:g} / height {h:g}: a box needs both above 0", "dropped"))
        return None
    return pixel_box(cls, x - w / 2, y - h / 2, x + w / 2, y + h / 2, width, height, at, issues)


def read_createml(root: Path, reason: str) -> SourceDataset:
    files = _createml_files(root)
    issues: list[Issue] = []
    counts = {"backgrounds": 0, "missing_images": 0, "unreferenced_images": 0}
    names = sorted({_label(a) for _, doc in files for e in doc if _is_entry(e) for a in e["annotations"]} - {""})
    index = {n: i for i, n in enumerate(names)}
    samples, referenced = [], set()
    for path, doc in files:
        rel = str(path.relative_to(root))
        for k, entry in enumerate(doc, 1):
            at = f"{rel}: entry {k}"
            if not _is_entry(entry):
                issues.append(Issue(at, "not an object with an 'image' name and an 'annotations' list", "skipped"))
                continue
            name = entry["image"].replace("\\", "/")
            image = listed_file(root, path.parent / name, root / name)
            if image is None:
                counts["missing_images"] += 1
                issues.append(Issue(at, f"image {name[:80]!r} not found", "skipped"))
                continue
            referenced.add(os.path.normpath(image))
            width, height = image_size(image)
            rows, before = [], len(issues)
            for j, annotation in enumerate(entry["annotations"], 1):
                where = f"{at} ({image.name}) annotation {j}"
                label = _label(annotation)
                if label not in index:
                    issues.append(Issue(where, "annotation has no 'label' (class)", "dropped"))
                    continue
                rows.append(_box(annotation, index[label], width, height, where, issues))
            counts["backgrounds"] += int(not entry["annotations"])
            samples.append(Sample(image, as_boxes(rows), split_of(image, root), len(issues) - before, source=rel))
    if not samples:
        raise UserError(
            f"{files[0][0].relative_to(root) if files else root.name}: CreateML JSON found but none of its images exist under the archive"
        )
    unlisted = unlabelled_images(root, referenced)
    counts["unreferenced_images"] = len(unlisted)  # the older name of unlabelled_images, kept for readers of report.json
    samples += [Sample(p, empty_boxes(), split_of(p, root), unlabelled=True) for p in unlisted]
    return SourceDataset("createml", names, samples, reason, issues, counts, dict(index))
