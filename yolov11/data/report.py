"""The dataset health report: counts per split and class, what import found and did.

Written as report.json next to data.yaml and shown in the Data tab; ``summarize`` gives the
few lines the CLI prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from yolov11.data.source import Sample, SourceDataset

MAX_LISTED_ISSUES = 500  # report.json stays readable; issue_count keeps the true total
TINY_BOX = 0.01  # boxes under 1% of the image side are hard to learn at small imgsz


def build_report(name: str, dest: Path, src: Path, ds: SourceDataset, kept: list[Sample], split_how: str) -> dict:
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
    warnings = []
    present = [v for v in totals.values() if v]
    if present and max(present) > 10 * min(present):
        warnings.append(f"class imbalance: {max(totals, key=totals.get)} has {max(present)} boxes, the rarest class {min(present)}")
    warnings += [f"class {n!r} has no boxes" for n, v in totals.items() if v == 0]
    tiny = int(((boxes[:, 3] < TINY_BOX) | (boxes[:, 4] < TINY_BOX)).sum()) if len(boxes) else 0
    if tiny:
        warnings.append(f"{tiny} tiny boxes (under {TINY_BOX:.0%} of the image side): train at a larger imgsz")
    return {
        "name": name,
        "path": str(dest),
        "format": ds.format,
        "reason": ds.reason,
        "source": src.name,
        "split_method": split_how,
        "classes": ds.names,
        "images": len(kept),
        "boxes": int(len(boxes)),
        "boxes_per_class": totals,
        "splits": splits,
        "counts": ds.counts,
        "issue_count": len(ds.issues),
        "issues": [str(i) for i in ds.issues[:MAX_LISTED_ISSUES]],
        "warnings": warnings,
    }


def write_report(report: dict, path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False))


def summarize(report: dict) -> str:
    split_txt = ", ".join(f"{k} {v['images']}" for k, v in report["splits"].items())
    lines = [
        f"dataset {report['name']} ({report['format']}: {report['reason']})",
        f"  {report['images']} images ({split_txt}; {report['split_method']}), {report['boxes']} boxes, {len(report['classes'])} classes: {', '.join(report['classes'])}",
    ]
    lines += [f"  warning: {w}" for w in report["warnings"]]
    if report["issue_count"]:
        lines.append(f"  {report['issue_count']} issue(s), first: " + "; ".join(report["issues"][:3]))
    lines.append(f"  -> {report['path']}")
    return "\n".join(lines)
