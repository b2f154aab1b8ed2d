"""Seeded label corruptions of a YOLO folder, for the label-issues tests: about 10 % of the boxes
removed, 10 % given another class and 10 % shifted by half their size, each one recorded (the
quick-preset run on the corrupted demo set is trained in tests/background_runs.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from yolov11.boxes import cxcywh_to_xyxy

KIND_OF = {"removed": "missing", "swapped": "wrong_class", "shifted": "badly_located"}  # the issue each should raise


def corrupt(folder: Path, n_classes: int, seed: int = 0, share: float = 0.1) -> list[dict]:
    """Rewrite folder/labels/*/*.txt in place; returns [{"split", "image" (images/<split>/<file>),
    "corruption", "class", "true_class", "box" (the true box, pixels), "label_box" (as now labelled, pixels or None)}]."""
    rng = np.random.default_rng(seed)
    done = []
    for label_file in sorted((folder / "labels").glob("*/*.txt")):
        split = label_file.parent.name
        image = next(p for p in (folder / "images" / split).glob(label_file.stem + ".*"))
        width, height = Image.open(image).size
        kept = []
        for line in label_file.read_text().split("\n"):
            if not line.strip():
                continue
            c, cx, cy, w, h = line.split()
            c, cx, cy, w, h = int(c), float(cx), float(cy), float(w), float(h)
            true_box = cxcywh_to_xyxy(cx, cy, w, h, width, height)
            u = rng.random()
            record = {"split": split, "image": f"images/{split}/{image.name}", "true_class": c, "box": true_box}
            if u < share:
                done.append({**record, "corruption": "removed", "class": None, "label_box": None})
                continue
            if u < 2 * share:
                c = int(rng.choice([k for k in range(n_classes) if k != c]))
                done.append({**record, "corruption": "swapped", "class": c, "label_box": true_box})
            elif u < 3 * share:
                moves = [(dx, dy) for dx, dy in ((w / 2, 0), (-w / 2, 0), (0, h / 2), (0, -h / 2))
                         if w / 2 <= cx + dx <= 1 - w / 2 and h / 2 <= cy + dy <= 1 - h / 2]
                if moves:
                    dx, dy = moves[int(rng.integers(len(moves)))]
                    cx, cy = cx + dx, cy + dy
                    done.append({**record, "corruption": "shifted", "class": c, "label_box": cxcywh_to_xyxy(cx, cy, w, h, width, height)})
            kept.append(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        label_file.write_text("".join(f"{line}\n" for line in kept))
    return done
