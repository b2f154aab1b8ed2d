"""The review of a pool, one item at a time, kept as a draft until it is written as a version.

``pool_review(data, item, decision, boxes)``: "accept" keeps the boxes given (the suggestions the
reviewer saw) or the item's suggestions, "edit" keeps the reviewer's boxes, "reject" takes the item
out of the queue, "skip" leaves it for later. Accepted and edited items wait in the registry's
draft (it survives a reload and a restart of the app) with what the review did to the suggestions:
boxes accepted as they were, corrected (moved, resized or re-classed), drawn new, deleted.
``pool_add_reviewed`` writes the draft as ONE new version (``pool_accept``) and empties it.
"""

from __future__ import annotations

import os

import numpy as np

from yolov11.boxes import box_iou
from yolov11.data.pool import _base, _rows, chosen_items, update_item
from yolov11.errors import UserError
from yolov11.workspace import Workspace

DECISIONS = ("accept", "edit", "reject", "skip")
REVIEWABLE = ("new", "suggested", "skipped", "rejected")  # a rejected item can be taken back (the review's Back)
SAME = 0.99  # IoU at which a kept box is the suggestion itself


def review_counts(suggested: list[dict], kept: list[dict]) -> dict:
    """What a review did to the suggestions: {"accepted", "corrected", "drawn", "deleted"} boxes."""
    a = np.array([s["box"] for s in suggested], np.float64).reshape(-1, 4)
    b = np.array([k["box"] for k in kept], np.float64).reshape(-1, 4)
    iou = box_iou(b, a) if len(a) and len(b) else np.zeros((len(b), len(a)))
    used: set[int] = set()
    counts = {"accepted": 0, "corrected": 0, "drawn": 0, "deleted": 0}
    for i, box in enumerate(kept):
        order = [j for j in np.argsort(-iou[i]) if j not in used and iou[i, j] > 0] if len(a) else []
        if not order:
            counts["drawn"] += 1
            continue
        j = int(order[0])
        used.add(j)
        same = iou[i, j] >= SAME and str(box["class"]) == str(suggested[j]["class"])
        counts["accepted" if same else "corrected"] += 1
    counts["deleted"] = len(suggested) - len(used)
    return counts


def pool_review(data: str, item: str, decision: str, boxes: list | None = None,
                workspace: Workspace | str | os.PathLike | None = None) -> dict:
    """Record one review; returns the draft (``pool_draft``)."""
    ws = Workspace.at(workspace)
    if decision not in DECISIONS:
        raise UserError(field="--decision", value=decision, detail=f"choose one of {', '.join(DECISIONS)}")
    base, (row,) = chosen_items(ws, data, [item], REVIEWABLE)
    if decision == "reject":
        update_item(ws, base, row["id"], state="rejected", draft=None)
    elif decision == "skip":
        update_item(ws, base, row["id"], state="skipped", draft=None)
    else:
        if row["state"] == "rejected":
            update_item(ws, base, row["id"], state="suggested" if row["suggestions"] or row["model"] else "new")
        if decision == "edit" and boxes is None:
            raise UserError(field="boxes", value="", detail="an edit keeps the reviewer's boxes: give them")
        kept = [{"class": s["class"], "box": s["box"]} for s in row["suggestions"]] if boxes is None else boxes
        if not isinstance(kept, list) or not all(isinstance(k, dict) and "class" in k and "box" in k for k in kept):
            raise UserError(field="boxes", value=type(kept).__name__, detail="a list of {'class', 'box': [x1, y1, x2, y2]}")
        update_item(ws, base, row["id"], draft={"boxes": kept, "counts": review_counts(row["suggestions"], kept)})
    return pool_draft(data, workspace=ws)


def pool_draft(data: str, workspace: Workspace | str | os.PathLike | None = None) -> dict:
    """The reviews not yet written: {"items", "reviewed", "total", "accepted", "corrected", "drawn", "deleted"}
    (reviewed: items accepted or edited in the draft, plus those rejected; total: the pool's items
    not yet in a version)."""
    ws = Workspace.at(workspace)
    rows = _rows(ws, _base(ws, data))
    drafted = [r for r in rows if r["draft"]]
    open_rows = [r for r in rows if r["state"] != "accepted"]
    sums = {k: sum(r["draft"]["counts"][k] for r in drafted) for k in ("accepted", "corrected", "drawn", "deleted")}
    return {"items": [r["id"] for r in drafted], "reviewed": len(drafted) + sum(r["state"] == "rejected" for r in rows),
            "total": len(open_rows), **sums}


def pool_add_reviewed(data: str, split: str = "train", workspace: Workspace | str | os.PathLike | None = None,
                      advice: dict | str | None = None) -> dict:
    """Write the draft's items, with their reviewed boxes, as ONE new version (``pool_accept``;
    ``advice`` as there)."""
    from yolov11.data.pool_accept import pool_accept

    ws = Workspace.at(workspace)
    base = _base(ws, data)
    rows = [r for r in _rows(ws, base) if r["draft"]]
    if not rows:
        raise UserError("nothing reviewed yet: accept or edit an item first")
    result = pool_accept(data, [r["id"] for r in rows], boxes={r["id"]: r["draft"]["boxes"] for r in rows}, split=split, workspace=ws,
                         advice=advice)
    for row in rows:
        update_item(ws, base, row["id"], draft=None)
    return result
