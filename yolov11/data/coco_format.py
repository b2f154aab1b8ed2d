"""Read COCO JSON sources: one file for all images or one per split (Roboflow's layout too).

Category ids may be anything; they map to contiguous class indices in id order. A Roboflow
placeholder category (no annotations, named as the supercategory of the others) is dropped.
Crowd boxes are kept out of training and counted. Images referenced but missing, and images
present but not referenced, are reported. A folder laid out like the official COCO download
(instances_*.json beside captions_*, person_keypoints_*, panoptic_*, stuff_*, image_info_* and
image-level labels_* files) imports the instances; the other files are listed as ignored, with
why. Files that list images without boxes (image_info_*, image-level labels) are never read as
detection sets: their images would otherwise come in as backgrounds, or hide the boxes another
file gives the same image. Image ids used twice in one file cannot be told apart: those images
are skipped, not given each other's boxes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from yolov11.data.source import (
    SPLIT_ALIASES,
    Issue,
    Sample,
    SourceDataset,
    as_boxes,
    files_under,
    finite_number,
    image_size,
    images_under,
    load_json,
    pixel_box,
    split_of,
)
from yolov11.errors import UserError


def _load(path: Path) -> dict | None:
    if path.stat().st_size > 2**31:
        return None
    doc = load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        return None
    if isinstance(doc.get("annotations"), list):
        return doc  # categories may be missing: a captions file, listed as ignored
    if "annotations" not in doc and isinstance(doc.get("categories"), list):
        return doc  # images and categories alone: the official image_info_test2017.json, listed as ignored
    return None


IMAGE_LIST = "image list"
IMAGE_LABELS = "image-level labels"


def _kind(path: Path, doc: dict) -> str:
    """What a COCO-shaped file annotates: "instances" (boxes), or one of the official download's
    other tasks, which hold no detection boxes of their own."""
    annotations = doc.get("annotations", [])
    first = next((a for a in annotations if isinstance(a, dict)), {})
    stem = path.stem.lower()
    if not isinstance(doc.get("categories"), list):
        return "captions" if "caption" in first or stem.startswith("captions") else "annotations without categories"
    if "segments_info" in first or stem.startswith("panoptic"):
        return "panoptic segmentation"
    if "caption" in first or stem.startswith("captions"):
        return "captions"
    if stem.startswith("stuff"):
        return "stuff segmentation"
    if stem.startswith("person_keypoints") or any(isinstance(c, dict) and c.get("keypoints") for c in doc["categories"]):
        return "keypoints"
    if "annotations" not in doc or (stem.startswith("image_info") and not first):
        return IMAGE_LIST
    if first and not any(isinstance(a, dict) and ("bbox" in a or "segmentation" in a) for a in annotations):
        return IMAGE_LABELS  # {"image_id", "category_id"} only: what an image shows, not where
    return "instances"  # an empty annotation list under another name: a set of backgrounds, as written


def _classified(root: Path) -> tuple[list[tuple[Path, dict]], list[tuple[Path, str]]]:
    """(files to import, [(file, kind)] ignored). Keypoint files' person boxes are imported only
    when there is no instances file (in the official download they repeat the instances' persons)."""
    found = [(p, doc, _kind(p, doc)) for p in files_under(root, ".json") if (doc := _load(p)) is not None]
    has_instances = any(kind == "instances" for *_, kind in found)
    take = {"instances"} if has_instances else {"instances", "keypoints"}
    return [(p, doc) for p, doc, kind in found if kind in take], [(p, kind) for p, _, kind in found if kind not in take]


def find_coco_files(root: Path) -> list[tuple[Path, dict]]:
    return _classified(root)[0]


def looks_like_coco(root: Path) -> tuple[bool, str]:
    files, ignored = _classified(root)
    if files:
        return True, f"found COCO JSON {', '.join(str(p.relative_to(root)) for p, _ in files)} (images, annotations, categories)"
    if ignored:
        shown = ", ".join(f"{p.relative_to(root)} ({kind})" for p, kind in ignored[:3])
        return False, f"COCO JSON without detection boxes only: {shown}" + (f" and {len(ignored) - 3} more" if len(ignored) > 3 else "")
    return False, "no JSON file with 'images', 'annotations' and 'categories' lists"


def _split_of_json(path: Path, root: Path) -> str | None:
    for token in re.split(r"[^a-z]+", path.stem.lower()):
        if token in SPLIT_ALIASES:
            return SPLIT_ALIASES[token]
    return split_of(path, root)


def _int(value: object) -> int | None:
    """An id as written (12, "12", 12.0), or None when it is not a whole number."""
    if type(value) is int and -(2**53) <= value <= 2**53:  # the usual case, as the float round trip below gives it
        return value
    number = finite_number(value)
    return int(number) if number is not None and number.is_integer() else None


def _categories(files: list[tuple[Path, dict]], issues: list[Issue]) -> tuple[list[str], dict[int, int]]:
    cats: dict[int, dict] = {}
    used: set[int] = set()
    for path, doc in files:
        for k, c in enumerate(doc["categories"]):
            cid = _int(c.get("id")) if isinstance(c, dict) else None
            if cid is None or not isinstance(c.get("name"), (str, int)) or not str(c["name"]).strip():
                issues.append(Issue(f"{path.name}: categories[{k}]", "category without an integer id and a name", "skipped"))
                continue
            cats.setdefault(cid, c)
        used.update(_int(a.get("category_id")) for a in doc["annotations"] if isinstance(a, dict))
    supers = {c.get("supercategory") for c in cats.values() if isinstance(c.get("supercategory"), str)}
    keep = []
    for cid in sorted(cats):
        c = cats[cid]
        if cid not in used and str(c["name"]) in supers and len(cats) > 1:
            issues.append(Issue(f"category id {cid}", f"placeholder category {c['name']!r} with no annotations", "dropped"))
            continue
        keep.append(cid)
    return [str(cats[cid]["name"]).strip() for cid in keep], {cid: i for i, cid in enumerate(keep)}


def _usable_images(doc: dict, rel: Path, issues: list[Issue], counts: dict) -> list[dict]:
    """The file's images that can be told apart: an integer id used once. Images sharing an id
    would silently get each other's boxes, so they are skipped and reported."""
    images = [img for img in doc["images"] if isinstance(img, dict)]
    uses: dict[int | None, int] = {}
    for img in images:
        uses[_int(img.get("id"))] = uses.get(_int(img.get("id")), 0) + 1
    for key, n in uses.items():
        if key is None:
            issues.append(Issue(f"{rel}: images", f"{n} image(s) without an integer id", "skipped"))
        elif n > 1:
            issues.append(
                Issue(f"{rel}: image id {key}", f"{n} images share this id, so their annotations cannot be told apart", "skipped")
            )
            counts["duplicate_image_ids"] += n
    return [img for img in images if _int(img.get("id")) is not None and uses[_int(img.get("id"))] == 1]


def read_coco(root: Path, reason: str) -> SourceDataset:
    files, ignored = _classified(root)
    issues: list[Issue] = [Issue(str(p.relative_to(root)), f"COCO {kind} file, not detection boxes", "ignored") for p, kind in ignored]
    counts = {"crowd_boxes": 0, "missing_images": 0, "unreferenced_images": 0, "duplicate_image_ids": 0}
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
            if isinstance(a, dict):
                anns.setdefault(_int(a.get("image_id")), []).append(a)
        for img in _usable_images(doc, rel, issues, counts):
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
            width, height = finite_number(img.get("width")), finite_number(img.get("height"))
            if not width or not height or width < 0 or height < 0:
                width, height = image_size(found)
            rows, before = [], len(issues)
            for a in anns.get(_int(img.get("id")), []):
                at = f"{rel}: annotation id {a.get('id')}"
                if a.get("iscrowd"):
                    counts["crowd_boxes"] += 1
                    continue
                cid = _int(a.get("category_id"))
                if cid not in cat_map:
                    issues.append(Issue(at, f"category_id {a.get('category_id')!r} not in categories", "dropped"))
                    continue
                bbox = a.get("bbox")
                corners = [finite_number(v) for v in bbox] if isinstance(bbox, list) and len(bbox) == 4 else None
                if corners is None or None in corners:
                    issues.append(Issue(at, f"bbox {str(bbox)[:60]} is not four numbers [x, y, w, h]", "dropped"))
                    continue
                x, y, w, h = corners
                rows.append(pixel_box(cat_map[cid], x, y, x + w, y + h, width, height, at, issues))
            samples.append(Sample(image=found, boxes=as_boxes(rows), split=split, label_issues=len(issues) - before, source=str(rel)))
    unreferenced = [p for p in on_disk if os.path.normpath(p) not in referenced]
    if unreferenced:
        counts["unreferenced_images"] = len(unreferenced)
        issues.append(
            Issue(str(unreferenced[0].relative_to(root)), f"{len(unreferenced)} image(s) not referenced by any COCO JSON", "skipped")
        )
    if not samples:
        raise UserError(f"{files[0][0].name}: COCO JSON found but none of its images exist under the archive")
    return SourceDataset("coco", names, samples, reason, issues, counts, {str(cid): i for cid, i in cat_map.items()})
