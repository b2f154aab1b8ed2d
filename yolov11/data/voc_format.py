"""Read Pascal VOC sources: Annotations/*.xml + JPEGImages/ (+ ImageSets/Main/{train,val,test}.txt).

Box corners are taken as pixel coordinates as written (CVAT, Roboflow and labelImg exports).
Objects flagged ``difficult`` are left out unless ``include_difficult``; either way they are
counted and the report says which. An XML whose <filename> differs from the image only in letter
case still matches; an image without an XML is unlabelled (the importer leaves it out unless
asked to keep it as a background: an XML with no object is the way VOC says "background");
a missing <size> is read from the image.
"""

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
    pixel_box,
    read_xml,
    unlabelled_images,
)
from yolov11.errors import UserError


def _voc_xmls(root: Path) -> list[Path]:
    found = []
    for p in files_under(root, ".xml"):
        try:
            head = p.read_bytes()[:4096]
        except OSError:
            continue
        if b"<annotation" in head and b"<annotations" not in head:
            found.append(p)
    return found


def looks_like_voc(root: Path) -> tuple[bool, str]:
    xmls = _voc_xmls(root)
    if xmls:
        return True, f"found {len(xmls)} Pascal VOC <annotation> XML files (e.g. {xmls[0].relative_to(root)})"
    return False, "no Pascal VOC <annotation> XML files"


def _text(node: ET.Element | None, tag: str, default: str = "") -> str:
    found = node.find(tag) if node is not None else None
    return (found.text or "").strip() if found is not None and found.text else default


def _splits(root: Path) -> dict[str, str]:
    """Image stem -> split, from ImageSets/Main/{train,val,test}.txt when present."""
    out: dict[str, str] = {}
    for f in files_under(root, ".txt"):
        if f.parent.name == "Main" and f.parent.parent.name == "ImageSets" and f.stem in ("train", "val", "test"):
            for line in f.read_text(encoding="utf-8-sig", errors="replace").splitlines():
                if line.strip():
                    out[line.split()[0]] = SPLIT_ALIASES[f.stem]
    return out


def read_voc(root: Path, reason: str, include_difficult: bool = False) -> SourceDataset:
    issues: list[Issue] = []
    counts = {"difficult_boxes": 0, "backgrounds": 0}
    images = images_under(root)
    by_lower = {p.name.lower(): p for p in images}
    by_stem = {p.stem.lower(): p for p in images}
    split_of = _splits(root)
    parsed, used, unreadable = [], set(), []
    for xml in _voc_xmls(root):
        rel = str(xml.relative_to(root))
        try:
            ann = read_xml(xml, rel)
        except UserError as exc:
            unreadable.append(str(exc))
            issues.append(Issue(rel, str(exc).split(": ", 1)[-1], "skipped"))
            continue
        fname = _text(ann, "filename") or xml.stem
        image = by_lower.get(fname.lower()) or by_stem.get(Path(fname).stem.lower()) or by_stem.get(xml.stem.lower())
        if image is None:
            issues.append(Issue(rel, f"image {fname!r} not found", "skipped"))
            continue
        if image.name != fname and image.name.lower() == fname.lower():
            issues.append(Issue(rel, f"<filename> {fname!r} matches {image.name!r} only ignoring case", "fixed: matched"))
        used.add(os.path.normpath(image))
        size = ann.find("size")
        try:
            width, height = int(float(_text(size, "width", "0"))), int(float(_text(size, "height", "0")))
        except (ValueError, OverflowError):
            width = height = 0
        if width <= 0 or height <= 0:
            width, height = image_size(image)
        parsed.append((rel, ann, image, width, height))
    names = sorted({_text(obj, "name") for _, ann, *_ in parsed for obj in ann.iter("object")} - {""})
    index = {n: i for i, n in enumerate(names)}
    samples = []
    for rel, ann, image, width, height in parsed:
        rows, before = [], len(issues)
        for k, obj in enumerate(ann.iter("object"), 1):
            at = f"{rel}: object {k}"
            if _text(obj, "difficult", "0") == "1":
                counts["difficult_boxes"] += 1
                if not include_difficult:
                    continue
            name = _text(obj, "name")
            if name not in index:
                issues.append(Issue(at, "object has no <name> (class)", "dropped"))
                continue
            box = obj.find("bndbox")
            try:
                x1, y1, x2, y2 = (float(_text(box, t)) for t in ("xmin", "ymin", "xmax", "ymax"))
            except ValueError:
                issues.append(Issue(at, "bndbox lacks xmin/ymin/xmax/ymax numbers", "dropped"))
                continue
            rows.append(pixel_box(index[name], x1, y1, x2, y2, width, height, at, issues))
        samples.append(Sample(image, as_boxes(rows), split_of.get(image.stem), len(issues) - before, source=rel))
    samples += [Sample(image, empty_boxes(), split_of.get(image.stem), unlabelled=True) for image in unlabelled_images(root, used)]
    if not parsed:
        if unreadable:
            more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
            raise UserError(f"{root.name}: no Pascal VOC XML could be read: {unreadable[0]}{more}")
        raise UserError(
            f"{root.name}: Pascal VOC XML found but none matches an image (first looked for: {issues[0].problem if issues else '?'})"
        )
    ds = SourceDataset("voc", names, samples, reason, issues, counts, dict(index))
    n = counts["difficult_boxes"]
    if n:
        done = ("kept for training (--include-difficult)" if include_difficult
                else "left out of training, as Ultralytics' own VOC conversion does (import --include-difficult keeps them)")
        ds.notes.append(f"{n} object(s) flagged difficult: {done}")
    return ds
