"""Box-level views of a workspace dataset, for charts and the gallery's class filter.

``dataset_boxes`` is asked for on every pick of a dataset and every filter change (the health
view's charts and gallery, the label editor's image list), so its table is kept: a few datasets'
tables, each valid while the folder's report.json and label folders keep their modification
times. A workspace dataset's files are not rewritten in place (a label edit is a new folder,
``<name>@vN``; a new import rewrites report.json), so that stamp says when the table is stale.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from yolov11.data.class_names import class_names
from yolov11.data.yolo_format import read_label_boxes

COLUMNS = ["image", "split", "class", "cx", "cy", "w", "h"]
KEPT = 4  # box tables kept (one per dataset folder): a 6,000-image table is about 10 MB
_tables: OrderedDict[str, tuple[tuple, pd.DataFrame]] = OrderedDict()
_lock = threading.Lock()


def _stamp(root: Path) -> tuple:
    """What changes when the dataset folder's labels do: report.json and each label folder."""
    parts = [root / "report.json", root / "data.yaml", root / "labels", *sorted((root / "labels").glob("*"))]
    out = []
    for path in parts:
        try:
            st = path.stat()
            out.append((path.name, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((path.name, None, None))
    return tuple(out)


def _rows(label: str, n_classes: int) -> np.ndarray:
    """A label file's (n, 5) rows: a plain split of the text when every line is a well-formed box
    (the files the importer writes), else the importer's parser (a bad line: UserError file:line)."""
    try:
        with open(label, encoding="utf-8") as f:
            lines = [line.split() for line in f.read().splitlines() if line.strip()]
        rows = np.array(lines, dtype=float).astype(np.float32) if lines else np.zeros((0, 5), np.float32)  # as read_label_boxes
    except (ValueError, OSError, UnicodeDecodeError):
        return read_label_boxes(Path(label))
    if rows.ndim != 2 or rows.shape[1] != 5:  # polygons, or lines of another column count: the parser says what they are
        return read_label_boxes(Path(label))
    ids, coords = rows[:, 0], rows[:, 1:]
    well_formed = np.isfinite(rows).all() and (coords >= 0).all() and (coords <= 1).all() and (rows[:, 3:] > 0).all()
    if len(rows) and (not well_formed or np.any(ids != np.floor(ids)) or ids.min() < 0 or ids.max() >= n_classes):
        return read_label_boxes(Path(label))
    return rows


def _names(folder: str) -> list[str]:
    try:
        return [e.name for e in os.scandir(folder)]
    except OSError:
        return []


def _table(root: Path) -> pd.DataFrame:
    """Strings and os.scandir rather than Path objects: a 6,000-image dataset is read in well under a second."""
    names = np.array(class_names(root), dtype=object)
    image_col, split_col, blocks = [], [], []
    splits = sorted(set(_names(f"{root}/images")) & set(_names(f"{root}/labels")))
    for split in splits:
        # the first name wins, as the glob did
        images = {os.path.splitext(n)[0]: n for n in sorted(_names(f"{root}/images/{split}"), reverse=True)}
        for label in sorted(n for n in _names(f"{root}/labels/{split}") if n.endswith(".txt")):
            image = images.get(label[:-4])
            if image is None:
                continue
            rows = _rows(f"{root}/labels/{split}/{label}", len(names))
            if not len(rows):  # an image without boxes: one row, so per-image counts include it
                rows = np.full((1, 5), np.nan, np.float32)
            image_col += [f"images/{split}/{image}"] * len(rows)
            split_col += [split] * len(rows)
            blocks.append(rows)
    if not blocks:
        return pd.DataFrame(columns=COLUMNS)
    rows = np.concatenate(blocks)
    ids = rows[:, 0]
    classes = np.full(len(rows), None, dtype=object)
    boxed = ~np.isnan(ids)
    classes[boxed] = names[ids[boxed].astype(int)]
    data = {"image": image_col, "split": split_col, "class": classes, "cx": rows[:, 1], "cy": rows[:, 2], "w": rows[:, 3], "h": rows[:, 4]}
    return pd.DataFrame(data, columns=COLUMNS)


def dataset_boxes(dataset_dir: Path) -> pd.DataFrame:
    """One row per box: image (path relative to the dataset), split, class name, cx, cy, w, h (0..1).

    Images without boxes appear once with class None, so per-image counts include them. The
    table is shared with later calls on the same unchanged folder: treat it as read-only (the
    frame returned is a shallow copy, so adding a column to it is safe)."""
    root = Path(dataset_dir).resolve()
    key, stamp = str(root), _stamp(root)
    with _lock:
        kept = _tables.get(key)
        if kept and kept[0] == stamp:
            _tables.move_to_end(key)
            return kept[1].copy(deep=False)
    table = _table(root)
    with _lock:
        _tables[key] = (stamp, table)
        _tables.move_to_end(key)
        while len(_tables) > KEPT:
            _tables.popitem(last=False)
    return table.copy(deep=False)


def images_with(boxes: pd.DataFrame, class_name: str | None = None) -> list[str]:
    """Images (relative paths) holding at least one box of ``class_name`` (all images when None)."""
    rows = boxes if class_name is None else boxes[boxes["class"] == class_name]
    return list(dict.fromkeys(rows["image"]))
