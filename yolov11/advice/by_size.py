"""How often a run finds an object against the object's size as the model sees it (its side in
pixels once the image is shrunk to the run's imgsz): the small-objects advice shows it, since it
says whether size is what the model lacks (on the bench's yard: 10 % of the helmets seen at 4-6 px
found, 69 % at 8-11 px).

Sizes are binned by half powers of two (4, 5.7, 8, 11.3, 16, 22.6, 32 px); "found" is TIDE's
match at IoU 0.5 (eval/error_types.py), over every detection the evaluation kept.
"""

from __future__ import annotations

import math

EDGES = (0.0, 4.0, 5.66, 8.0, 11.3, 16.0, 22.6, 32.0, math.inf)


def shrink(gt_doc: dict, imgsz: int) -> dict[int, float]:
    """Image id -> the scale its image is shrunk by to reach the model's input (<= 1)."""
    return {im["id"]: min(1.0, imgsz / max(im.get("width") or imgsz, im.get("height") or imgsz)) for im in gt_doc["images"]}


def recall_by_size(gt_doc: dict, analysis, imgsz: int) -> list[dict]:
    """Per size bin with objects: {"px" ("8-11.3"), "objects", "found", "recall"}, smallest first."""
    scale = shrink(gt_doc, imgsz)
    counts = [[0, 0] for _ in EDGES[:-1]]
    for k, a in enumerate(analysis.annotations):
        if a.get("iscrowd"):
            continue
        seen = (a["bbox"][2] * a["bbox"][3]) ** 0.5 * scale.get(a["image_id"], 1.0)
        i = max(i for i in range(len(EDGES) - 1) if EDGES[i] <= seen)
        counts[i][0] += 1
        counts[i][1] += k in analysis.run.found
    return [{"px": f"{EDGES[i]:g}-{EDGES[i + 1]:g}", "objects": n, "found": f, "recall": round(f / n, 3)}
            for i, (n, f) in enumerate(counts) if n]
