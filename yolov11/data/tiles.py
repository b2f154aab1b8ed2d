"""Tiled training data for small objects: a dataset version whose train and val images are cut
into overlapping tiles at the model's input size, so a 15 px helmet stays 15 px in training.

``tile_dataset("yard", size=640, overlap=0.2)`` writes ``yard@vN`` (its lineage says "tiles 640,
overlap 0.2"): each train and val image is cut with the same geometry sliced prediction uses
(``serve.sliced.tile_boxes``: tiles of ``size`` px, the last ones shifted back inside the image,
an image smaller than a tile kept whole), named ``<stem>__x<X>_y<Y>.<ext>``. A box is clipped at
the tile's edges and kept when at least ``min_visible`` of its area is left (else dropped); each
clipped or dropped box is counted. Tiles holding no box are kept at ``empty_ratio`` of the tiles
that hold one (chosen with ``seed``): some background, not a flood of it. A test split stays as
it is. Val is tiled the same way, so the per-epoch validation that picks best.pt sees what training
sees; the number to compare with a run on the untiled parent is ``eval --slice`` on the parent's
full val frames (both scored by the same COCO evaluator).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from yolov11 import liveness
from yolov11.boxes import cxcywh_to_xyxy
from yolov11.data.source import images_under
from yolov11.data.versions import dataset_record
from yolov11.data.yolo_format import label_path, read_label_boxes
from yolov11.errors import UserError
from yolov11.serve.sliced import MAX_SIZE, tile_boxes
from yolov11.workspace import Workspace
from yolov11.workspace.paths import VERSION_SCRATCH_PREFIX

TILED_SPLITS = ("train", "val")
OVERLAP, MIN_VISIBLE, EMPTY_RATIO = 0.2, 0.5, 0.2  # tile_dataset's defaults


def _check(size: int, overlap: float, min_visible: float, empty_ratio: float) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_SIZE:
        raise UserError(field="--size", value=size, detail=f"a tile side in pixels, 1 to {MAX_SIZE}")
    if isinstance(overlap, bool) or not isinstance(overlap, (int, float)) or not 0 <= overlap < 0.9:
        raise UserError(field="--overlap", value=overlap, detail="the share of a tile its neighbour repeats, 0 to below 0.9")
    if isinstance(min_visible, bool) or not isinstance(min_visible, (int, float)) or not 0 < min_visible <= 1:
        raise UserError(field="--min-visible", value=min_visible, detail="the share of a box that must stay in a tile, above 0 up to 1")
    if isinstance(empty_ratio, bool) or not isinstance(empty_ratio, (int, float)) or not 0 <= empty_ratio <= 10:
        raise UserError(field="--empty-ratio", value=empty_ratio, detail="tiles without boxes kept per tile with boxes, 0 to 10")


def _pixels(rows: np.ndarray, width: int, height: int) -> np.ndarray:
    """YOLO rows (class, cx, cy, w, h; normalised) as (class, x1, y1, x2, y2) in pixels."""
    return np.array([[c, *cxcywh_to_xyxy(cx, cy, w, h, width, height)] for c, cx, cy, w, h in rows], np.float64).reshape(-1, 5)


def cut_boxes(boxes: np.ndarray, tile: list[int], min_visible: float) -> tuple[list[str], int, int]:
    """The YOLO label lines of ``boxes`` (class, x1, y1, x2, y2 in frame pixels) inside ``tile``:
    clipped at its edges, kept when ``min_visible`` of the area is left; and how many were
    clipped and kept, and how many were dropped."""
    x0, y0, x1, y1 = tile
    tw, th = x1 - x0, y1 - y0
    lines, clipped, dropped = [], 0, 0
    for c, bx1, by1, bx2, by2 in boxes:
        cx1, cy1, cx2, cy2 = max(bx1, x0), max(by1, y0), min(bx2, x1), min(by2, y1)
        if cx2 <= cx1 or cy2 <= cy1:
            continue  # not in this tile
        area = (bx2 - bx1) * (by2 - by1)
        left = (cx2 - cx1) * (cy2 - cy1) / area if area > 0 else 0.0
        if left < min_visible - 1e-9:
            dropped += 1
            continue
        clipped += int(left < 1 - 1e-9)
        centre = ((cx1 + cx2) / 2 - x0) / tw, ((cy1 + cy2) / 2 - y0) / th
        lines.append(f"{int(c)} {centre[0]:.6f} {centre[1]:.6f} {(cx2 - cx1) / tw:.6f} {(cy2 - cy1) / th:.6f}")
    return lines, clipped, dropped


def tiles_written(images: list[tuple[int, int, np.ndarray]], size: int, overlap: float = OVERLAP, min_visible: float = MIN_VISIBLE,
                  empty_ratio: float = EMPTY_RATIO) -> int:
    """How many tiles ``tile_dataset`` writes for ``images``, each (width, height, its boxes as rows of
    class, x1, y1, x2, y2 in pixels): those holding a box, and empty ones at ``empty_ratio`` of those."""
    held = empty = 0
    for width, height, boxes in images:
        for tile in tile_boxes(width, height, size, overlap, flag="--size"):
            if cut_boxes(boxes, tile, min_visible)[0]:
                held += 1
            else:
                empty += 1
    return held + _empty_kept(held, empty, empty_ratio)


def _empty_kept(held: int, empty: int, empty_ratio: float) -> int:
    """How many of the ``empty`` tiles are kept beside the ``held`` ones with a box."""
    return min(empty, round(empty_ratio * held))


def tile_dataset(data: str, size: int = 640, overlap: float = OVERLAP, min_visible: float = MIN_VISIBLE, empty_ratio: float = EMPTY_RATIO,
                 seed: int = 0, workspace: Workspace | str | os.PathLike | None = None,
                 progress: Callable[[float, str], None] | None = None, advice: dict | str | None = None) -> dict:
    """Write the tiled version of ``data``; returns {"name", "parent", "tiles", "images", "boxes",
    "clipped", "dropped", "empty_kept", "path", "data_yaml", "lineage"}. ``advice``: the advice it
    follows (see ``edit_labels``)."""
    from yolov11.data.version_folder import write_version

    _check(size, overlap, min_visible, empty_ratio)
    from yolov11.advice.followed import followed

    ws = Workspace.at(workspace)
    led_by = followed(ws, advice)
    parent = dataset_record(ws, data)
    root = Path(parent["path"])
    sources = [(split, p) for split in TILED_SPLITS for p in sorted(images_under(root / "images" / split))]
    if not sources:
        raise UserError(field="--data", value=data, detail="has no train or val images to tile")
    scratch = Path(tempfile.mkdtemp(prefix=f"{VERSION_SCRATCH_PREFIX}{os.getpid()}-tiles-", dir=ws.datasets_dir))
    try:
        liveness.mark(scratch, ws.owners_dir)  # a killed tiling's scratch is removed at the next start
        added, lines, removed, empty = {}, {}, set(), []
        counts = {"clipped": 0, "dropped": 0, "boxes": 0}
        for k, (split, image) in enumerate(sources):
            removed.add(str(image.relative_to(root)))
            im = _upright(image)
            width, height = im.size
            boxes = _pixels(read_label_boxes(label_path(image)), width, height)
            for tile in tile_boxes(width, height, size, overlap, flag="--size"):
                kept, clipped, dropped = cut_boxes(boxes, tile, min_visible)
                suffix = ".png" if image.suffix.lower() == ".png" else ".jpg"
                rel = f"images/{split}/{image.stem}__x{tile[0]}_y{tile[1]}{suffix}"
                counts["clipped"] += clipped
                counts["dropped"] += dropped
                if not kept:
                    empty.append((rel, image, tile))  # the image is read again if chosen: no frame held in memory meanwhile
                    continue
                counts["boxes"] += len(kept)
                added[rel], lines[rel] = _save(im, tile, scratch / rel), kept
            if progress:
                progress((k + 1) / len(sources), f"tiling {k + 1}/{len(sources)} images")
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.permutation(len(empty))[:_empty_kept(len(added), len(empty), empty_ratio)].tolist()) if empty else []
        for i in chosen:
            rel, image, tile = empty[i]
            added[rel], lines[rel] = _save(_upright(image), tile, scratch / rel), []
        lineage = {"size": size, "overlap": overlap, "min_visible": min_visible, "empty_ratio": empty_ratio, "seed": seed,
                   "images": len(sources), "tiles": len(added), "empty_kept": len(chosen), **counts}
        diff = {"added": 0, "removed": 0, "changed": 0, "tiles": lineage} | ({"advice": led_by} if led_by else {})
        version = write_version(ws, parent, lines, diff, added=added, removed=frozenset(removed))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"name": version["name"], "parent": parent["name"], "path": version["path"], "data_yaml": version.get("data_yaml"),
            "lineage": f"tiles {size}, overlap {overlap:g}", **lineage}


def _upright(image: Path):
    """The image as shown (its EXIF rotation applied: the labels belong to that picture, and
    Ultralytics turns it too), decoded."""
    from PIL import Image, ImageOps

    with Image.open(image) as opened:
        im = ImageOps.exif_transpose(opened)
        im.load()
    return im


def _save(im, tile: list[int], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    crop = im.crop(tuple(tile))
    if path.suffix == ".png":
        crop.save(path)
    else:
        crop.convert("RGB").save(path, quality=95)
    return path
