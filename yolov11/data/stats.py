"""Box-level views of a workspace dataset, for charts and the gallery's class filter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from yolov11.data.yolo_format import read_label_boxes
from yolov11.workspace import class_names

COLUMNS = ["image", "split", "class", "cx", "cy", "w", "h"]


def dataset_boxes(dataset_dir: Path) -> pd.DataFrame:
    """One row per box: image (path relative to the dataset), split, class name, cx, cy, w, h (0..1).

    Images without boxes appear once with class None, so per-image counts include them."""
    root = Path(dataset_dir)
    names = class_names(root)
    images = {(p.parent.name, p.stem): p for p in (root / "images").glob("*/*")}
    frames = []
    for label in sorted((root / "labels").glob("*/*.txt")):
        split = label.parent.name
        image = images.get((split, label.stem))
        if image is None:
            continue
        rel = str(image.relative_to(root))
        rows = read_label_boxes(label)
        if not len(rows):
            frames.append(pd.DataFrame([[rel, split, None, np.nan, np.nan, np.nan, np.nan]], columns=COLUMNS))
            continue
        df = pd.DataFrame(rows[:, 1:], columns=["cx", "cy", "w", "h"])
        df.insert(0, "class", [names[int(c)] for c in rows[:, 0]])
        df.insert(0, "split", split)
        df.insert(0, "image", rel)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def images_with(boxes: pd.DataFrame, class_name: str | None = None) -> list[str]:
    """Images (relative paths) holding at least one box of ``class_name`` (all images when None)."""
    rows = boxes if class_name is None else boxes[boxes["class"] == class_name]
    return list(dict.fromkeys(rows["image"]))
