"""The dataset health report: counts per split and class, what import found and did.

Written as report.json next to data.yaml and shown in the Data tab; ``summarize`` gives the
few lines the CLI prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from yolov11.data.checks import ImageInfo, find_duplicates
from yolov11.data.families import Families, crossing
from yolov11.data.source import Sample, SourceDataset

MAX_LISTED_ISSUES = 500  # report.json stays readable; issue_count keeps the true total
MAX_LISTED_IMAGES = 200  # per problem, for the gallery filter
TINY_BOX = 0.01  # boxes under 1% of the image side are hard to learn at small imgsz
SMALL_PIXELS = 10  # a box this many pixels across (square root of its area) once the image is shrunk to imgsz: next to invisible
PIXEL_SIZES = (320, 640)
MAX_LISTED_FAMILIES = 200  # crossing families listed, each with its pair (crossing_count keeps the true total)
MAX_FAMILY_SHOWN = 20  # members listed per family


def _rel(sample: Sample, root: Path) -> str:
    return str(sample.image.relative_to(root))


def _duplicates(kept: list[Sample], infos: list[ImageInfo], root: Path) -> dict:
    exact, near = find_duplicates(infos)
    groups = [[_rel(kept[i], root) for i in g] for g in exact]
    pairs = [[_rel(kept[a], root), _rel(kept[b], root)] for a, b in near]
    crossing = [g for g in groups + pairs if len({p.split("/")[1] for p in g}) > 1]
    return {"exact": groups, "near": pairs, "leakage": crossing}


def families_section(kept: list[Sample], found: Families, root: Path) -> dict:
    """report.json's "families": how many families of augmented copies, how they were found, and
    those that cross splits, each with its members and one pair (a link between two splits) to show."""
    splits = [s.split for s in kept]
    across = crossing(found, splits)
    how: dict[int, set[str]] = {}
    for i, _, kind in found.links:
        how.setdefault(found.keys[i], set()).add(kind)
    return {
        "count": len(found.groups),
        "images": sum(map(len, found.groups)),
        "by_name": sum("name" in kinds for kinds in how.values()),
        "by_content": sum("content" in kinds for kinds in how.values()),
        "content_test": found.content,
        "crossing_count": len(across),
        "crossing": [{"images": [_rel(kept[k], root) for k in group[:MAX_FAMILY_SHOWN]], "size": len(group),
                      "pair": [_rel(kept[a], root), _rel(kept[b], root)]} for group, (a, b) in across[:MAX_LISTED_FAMILIES]],
        "crossing_images": sorted(_rel(kept[k], root) for group, _ in across for k in group),
    }


def crossing_warning(section: dict, name: str) -> str | None:
    """The warning of a report whose families cross its splits, naming one pair; None when none do."""
    n = section.get("crossing_count", 0)
    if not n:
        return None
    a, b = section["crossing"][0]["pair"]
    return (f"{n} famil{'y' if n == 1 else 'ies'} of augmented copies (one photo flipped, turned, cropped or recoloured) "
            f"cross splits, e.g. {a} and {b}: validation scores will be optimistic; re-split by family "
            f"(python -m yolov11 resplit --data {name})")


def box_pixels(kept: list[Sample], infos: list[ImageInfo], names: list[str]) -> dict:
    """Box sizes in pixels once each image is shrunk to imgsz 320 and 640 (the side of a square of
    the box's area; images of unknown size left out): per class the median and 10th percentile,
    and how many boxes fall under SMALL_PIXELS at each size."""
    sides, classes = [], []
    for s, info in zip(kept, infos):
        if len(s.boxes) and info.width and info.height:
            sides.append(np.sqrt(s.boxes[:, 3] * info.width * s.boxes[:, 4] * info.height) / max(info.width, info.height))
            classes.append(s.boxes[:, 0].astype(int))
    side = np.concatenate(sides) if sides else np.zeros(0)
    cls = np.concatenate(classes) if classes else np.zeros(0, int)
    out: dict = {}
    for imgsz in PIXEL_SIZES:
        px = side * imgsz
        per_class = {names[c]: {"median": round(float(np.median(px[cls == c])), 1), "p10": round(float(np.percentile(px[cls == c], 10)), 1)}
                     for c in range(len(names)) if (cls == c).any()}
        out[str(imgsz)] = {"per_class": per_class, f"under_{SMALL_PIXELS}px": int((px < SMALL_PIXELS).sum()), "boxes": int(len(px))}
    return out


def small_objects_warning(pixels: dict) -> str | None:
    """The health report's line when many boxes are under SMALL_PIXELS at imgsz 640, with the numbers."""
    at = pixels.get("640") or {}
    small, total = at.get(f"under_{SMALL_PIXELS}px", 0), at.get("boxes", 0)
    if not total or small < max(1, 0.05 * total):
        return None
    worst = sorted(at["per_class"].items(), key=lambda kv: kv[1]["median"])[:2]
    sizes = ", ".join(f"{name!r} median {v['median']:g} px, 10th percentile {v['p10']:g} px" for name, v in worst)
    return (f"{small} of {total} boxes ({small / total:.0%}) are under {SMALL_PIXELS} px once the image is shrunk to imgsz 640 ({sizes}): "
            "predict tile by tile (predict --slice) and train on tiles or at a larger imgsz")


def build_report(name: str, dest: Path, src: Path, ds: SourceDataset, kept: list[Sample], infos: list[ImageInfo], split_how: str,
                 root: Path, families: Families | None = None) -> dict:
    """The health report of an import; ``kept`` are the samples as written under ``root`` (the
    folder that becomes ``dest``), ``infos`` their image checks, ``families`` the families among
    them (None: no "families" section, as for a label edit, which carries its parent's over)."""
    splits: dict[str, dict] = {}
    for s in kept:
        entry = splits.setdefault(s.split, {"images": 0, "boxes": 0, "images_without_labels": 0, "per_class": dict.fromkeys(ds.names, 0)})
        entry["images"] += 1
        entry["boxes"] += len(s.boxes)
        entry["images_without_labels"] += int(len(s.boxes) == 0)
        for c in s.boxes[:, 0].astype(int):
            entry["per_class"][ds.names[c]] += 1
    totals = {n: sum(v["per_class"][n] for v in splits.values()) for n in ds.names}
    boxes = np.concatenate([s.boxes for s in kept]) if kept else np.zeros((0, 5))
    dups = _duplicates(kept, infos, root)
    tiny = [s for s in kept if len(s.boxes) and ((s.boxes[:, 3] < TINY_BOX) | (s.boxes[:, 4] < TINY_BOX)).any()]
    n_tiny = int(((boxes[:, 3] < TINY_BOX) | (boxes[:, 4] < TINY_BOX)).sum()) if len(boxes) else 0
    warnings = list(ds.warnings)
    present = {n: v for n, v in totals.items() if v}
    if present:
        common, rare = max(present, key=present.get), min(present, key=present.get)  # ties: the first in class order
        if present[common] > 10 * present[rare]:
            warnings.append(f"class imbalance: {common!r} has {present[common]} boxes, the rarest class {rare!r} only {present[rare]}")
    warnings += [f"class {n!r} has no boxes" for n, v in totals.items() if v == 0]
    pixels = box_pixels(kept, infos, ds.names)
    if small_objects_warning(pixels):
        warnings.append(small_objects_warning(pixels))
    if dups["leakage"]:
        warnings.append(f"{len(dups['leakage'])} duplicate image group(s) cross splits: validation scores will be optimistic")
    fams = families_section(kept, families, root) if families is not None else None
    if fams and crossing_warning(fams, name):
        warnings.append(crossing_warning(fams, name))
    problems = {
        "no_labels": [_rel(s, root) for s in kept if not len(s.boxes)],
        "label_errors": [_rel(s, root) for s in kept if s.label_issues],
        "exif_rotated": [_rel(s, root) for s, i in zip(kept, infos) if i.exif_rotated],
        "duplicates": sorted({p for g in dups["exact"] + dups["near"] for p in g}),
        "leakage": sorted({p for g in dups["leakage"] for p in g}),
        "tiny_boxes": [_rel(s, root) for s in tiny],
        "unlabelled": [_rel(s, root) for s in kept if s.unlabelled],  # no annotation named them: kept as backgrounds
        "families_crossing": fams.pop("crossing_images") if fams else [],  # members of families of copies in two splits
    }
    notes = list(ds.notes)
    if problems["exif_rotated"]:
        notes.append(f"{len(problems['exif_rotated'])} photo(s) carry an EXIF rotation: imported unchanged; training turns them upright "
                     "as a phone shows them (Ultralytics applies the rotation), as the gallery draws them, so their boxes belong to the "
                     "turned picture (the 'EXIF-rotated' filter shows them)")
    report = {
        "name": name,
        "path": str(dest),
        "data_yaml": str(dest / "data.yaml"),
        "format": ds.format,
        "reason": ds.reason,
        "source": src.name,
        "split_method": split_how,
        "classes": ds.names,
        "class_map": {key: {"index": i, "name": ds.names[i]} for key, i in ds.class_map.items()},
        "images": {k: v["images"] for k, v in splits.items()},
        "boxes": int(len(boxes)),
        "boxes_per_class": totals,
        "splits": splits,
        "counts": {**ds.counts, "exif_rotated": len(problems["exif_rotated"]), "tiny_boxes": n_tiny},
        "box_pixels": pixels,  # per imgsz (320, 640): per class median and 10th percentile, boxes under SMALL_PIXELS
        "duplicates": dups,
        "problem_images": {k: v[:MAX_LISTED_IMAGES] for k, v in problems.items()},
        "issue_count": len(ds.issues),
        "issues": [str(i) for i in ds.issues[:MAX_LISTED_ISSUES]],
        "warnings": warnings,
        "source_warnings": list(ds.warnings),  # the warnings about the source itself (a version carries them over)
        "notes": notes,  # what import did on the user's behalf (difficult boxes, EXIF rotations, backgrounds asked for)
    }
    if fams is not None:
        report["families"] = fams
    return report


def write_report(report: dict, path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))


def summarize(report: dict) -> str:
    split_txt = ", ".join(f"{k} {n}" for k, n in report["images"].items())
    lines = [
        f"dataset {report['name']} ({report['format']}: {report['reason']})",
        f"  {sum(report['images'].values())} images ({split_txt}; {report['split_method']}), {report['boxes']} boxes, "
        f"{len(report['classes'])} classes: {', '.join(report['classes'])}",
    ]
    sizes = ((report.get("box_pixels") or {}).get("640") or {}).get("per_class") or {}  # reports before box_pixels have none
    if sizes:
        lines.append("  box sizes at imgsz 640 (median, 10th percentile): "
                     + ", ".join(f"{name} {v['median']:g} px, {v['p10']:g} px" for name, v in sizes.items()))
    lines += [f"  warning: {w}" for w in report["warnings"]]
    lines += [f"  note: {n}" for n in report.get("notes", [])]  # reports written before notes existed have none
    if report["issue_count"]:
        lines.append(f"  {report['issue_count']} issue(s), first: " + "; ".join(report["issues"][:3]))
    lines.append(f"  -> {report['path']}")
    return "\n".join(lines)
