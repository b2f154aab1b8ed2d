"""Read CVAT "for images" XML 1.1 exports: <image name width height subset> holding <box> and
<polygon> elements (polygons become their bounding box). Class order follows the task's
<labels> when the export lists them.

CVAT writes an <image> for every image of the task, shapes or not: one with no shape is a
background, as the task says. An image on disk that no <image> names was never part of the
labelling task: it is unlabelled (the importer leaves it out unless asked to keep it as a
background), as in the other formats that label image by image."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from yolov11.data.source import (
    SPLIT_ALIASES,
    Issue,
    Sample,
    SourceDataset,
    as_boxes,
    empty_boxes,
    files_under,
    image_size,
    images_under,
    listed_file,
    pixel_box,
    read_xml,
    split_of,
    unlabelled_images,
)
from yolov11.errors import UserError


def _cvat_files(root: Path) -> list[Path]:
    out = []
    for p in files_under(root, ".xml"):
        head = p.read_bytes()[:4096]
        if b"<annotations" in head and (b"<version>1.1" in head or b"<image " in p.read_bytes()[:65536]):
            out.append(p)
    return out


def looks_like_cvat(root: Path) -> tuple[bool, str]:
    files = _cvat_files(root)
    if files:
        return True, f"found CVAT XML {', '.join(str(p.relative_to(root)) for p in files)} (<annotations> with <image> elements)"
    return False, "no CVAT XML (<annotations> with <image> elements)"


def _corners(el: ET.Element) -> tuple[float, float, float, float] | None:
    """A shape's pixel corners, or None when its coordinates are missing or not numbers."""
    try:
        if el.tag == "box":
            return tuple(float(el.get(k)) for k in ("xtl", "ytl", "xbr", "ybr"))  # type: ignore[return-value,arg-type]
        pts = [tuple(float(v) for v in p.split(",")) for p in el.get("points", "").split(";") if p]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return min(xs), min(ys), max(xs), max(ys)
    except (TypeError, ValueError, IndexError):
        return None


def _size(img: ET.Element, image: Path) -> tuple[float, float]:
    try:
        width, height = float(img.get("width", 0)), float(img.get("height", 0))
    except ValueError:
        width = height = 0.0
    return (width, height) if width > 0 and height > 0 else image_size(image)


def read_cvat(root: Path, reason: str) -> SourceDataset:
    issues: list[Issue] = []
    counts = {"polygons_to_boxes": 0}
    by_name = {}
    for p in images_under(root):
        by_name.setdefault(p.name, p)
    parsed, referenced = [], set()
    declared: list[str] = []
    for xml in _cvat_files(root):
        rel = str(xml.relative_to(root))
        doc = read_xml(xml, rel)
        declared += [n.text.strip() for n in doc.iterfind(".//meta//labels/label/name") if n.text and n.text.strip() not in declared]
        for img in doc.iter("image"):
            name = img.get("name", "")
            image = listed_file(root, xml.parent / name, root / name) or by_name.get(Path(name).name)
            if image is None:
                issues.append(Issue(f"{rel}: image {name!r}", "file not found", "skipped"))
                continue
            parsed.append((rel, img, image))
            referenced.add(os.path.normpath(image))
    found = sorted({(el.get("label") or "").strip() for _, img, _ in parsed for el in img if el.tag in ("box", "polygon")} - {""})
    names = declared + [n for n in found if n not in declared]
    index = {n: i for i, n in enumerate(names)}
    samples = []
    for rel, img, image in parsed:
        width, height = _size(img, image)
        rows, before = [], len(issues)
        for k, el in enumerate((e for e in img if e.tag in ("box", "polygon")), 1):
            at = f"{rel}: image {img.get('name')!r} shape {k}"
            label, corners = (el.get("label") or "").strip(), _corners(el)
            if label not in index:
                issues.append(Issue(at, f"{el.tag} has no label", "dropped"))
                continue
            if corners is None:
                issues.append(Issue(at, f"{el.tag} coordinates missing or not numbers", "dropped"))
                continue
            counts["polygons_to_boxes"] += el.tag == "polygon"
            rows.append(pixel_box(index[label], *corners, width, height, at, issues))
        samples.append(Sample(image, as_boxes(rows), SPLIT_ALIASES.get(img.get("subset", "").lower()), len(issues) - before, source=rel))
    if not samples:
        raise UserError(f"{root.name}: CVAT XML found but none of its images exist under the archive")
    samples += [Sample(p, empty_boxes(), split_of(p, root), unlabelled=True) for p in unlabelled_images(root, referenced)]
    return SourceDataset("cvat", names, samples, reason, issues, counts, dict(index))
