"""Reviewed pool items into the dataset: accepted ones become ONE new version, rejected ones stay out.

``pool_accept`` writes ``<base>@v<N>``: the parent's files as they are, plus each accepted item's
image (copied as ``images/<split>/pool-<id>.<ext>``, the train split unless asked) and a label
file holding exactly the boxes accepted (the item's suggestions when no boxes are given; boxes in
the form ``edit_labels`` takes: ``[{"class": name or id, "box": [x1, y1, x2, y2]}]`` in pixels).
The val split changes only when the caller names it, so runs on the two versions stay comparable.
The version's diff says what came from the pool; each item records the version it went into.
"""

from __future__ import annotations

import os
from pathlib import Path

from yolov11.data.class_names import class_names
from yolov11.data.pool import chosen_items, update_item
from yolov11.data.versions import dataset_record, diff_lines, parse_boxes, shown_size
from yolov11.errors import UserError
from yolov11.workspace import Workspace

ACCEPTABLE = ("new", "suggested", "skipped")


def pool_accept(data: str, items: str | list, boxes: dict | None = None, split: str = "train",
                workspace: Workspace | str | os.PathLike | None = None, advice: dict | str | None = None) -> dict:
    """Add the pool ``items`` to ``data`` as one new version; returns {"version", "parent",
    "accepted", "boxes", "path", "items"}. ``advice``: the advice it follows (see ``edit_labels``)."""
    from yolov11.advice.followed import followed
    from yolov11.data.version_folder import write_version

    ws = Workspace.at(workspace)
    led_by = followed(ws, advice)
    if split not in ("train", "val"):
        raise UserError(field="--split", value=split, detail="accepted items go to train (the default) or val")
    base, rows = chosen_items(ws, data, items, ACCEPTABLE)
    parent = dataset_record(ws, data)
    boxes = boxes or {}
    if not isinstance(boxes, dict):
        raise UserError(field="--boxes", value=type(boxes).__name__, detail="map item ids to their boxes")
    unknown = sorted(set(boxes) - {r["id"] for r in rows})
    if unknown:
        raise UserError(field="--boxes", value=unknown[0], detail="is not among the items accepted")
    names = class_names(Path(parent["path"]))
    lines, added, per_image = {}, {}, {}
    for row in rows:
        file = Path(row["file"])
        rel = f"images/{split}/pool-{row['id']}{file.suffix.lower()}"
        given = boxes.get(row["id"], [{"class": s["class"], "box": s["box"]} for s in row["suggestions"]])
        size = shown_size(file)
        lines[rel] = parse_boxes(rel, given, names, size)
        added[rel] = file
        per_image[rel] = diff_lines([], lines[rel], names, size)
    diff = {"added": sum(len(c["added"]) for c in per_image.values()), "removed": 0, "changed": 0, "images": per_image,
            "pool": {"items": [r["id"] for r in rows], "split": split}} | ({"advice": led_by} if led_by else {})
    version = write_version(ws, parent, lines, diff, added=added)
    for row in rows:
        update_item(ws, base, row["id"], state="accepted", version=version["name"])
    return {"version": version["name"], "parent": parent["name"], "accepted": len(rows), "boxes": diff["added"],
            "path": version["path"], "data_yaml": version.get("data_yaml"), "items": [r["id"] for r in rows]}


def pool_reject(data: str, items: str | list, workspace: Workspace | str | os.PathLike | None = None) -> dict:
    """Mark pool ``items`` rejected (not useful): they leave the queue; returns {"rejected", "items"}."""
    ws = Workspace.at(workspace)
    base, rows = chosen_items(ws, data, items, ACCEPTABLE)
    for row in rows:
        update_item(ws, base, row["id"], state="rejected")
    return {"dataset": base, "rejected": len(rows), "items": [r["id"] for r in rows]}
