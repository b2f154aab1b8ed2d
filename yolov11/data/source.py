"""What every format reader produces: images with normalised boxes, class names, and issues.

Readers (yolo_format, coco_format, ...) turn a source folder into a ``SourceDataset``; the
importer then writes the canonical Ultralytics layout from it. Keeping this in-between form
small means a new format is one reader and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


@dataclass
class Issue:
    """One problem found in the source: where, what, and what import did about it."""

    where: str  # "labels/train/a.txt:3" or "annotations.json: annotation id 17"
    problem: str
    action: str  # "dropped", "fixed", "kept", "skipped"

    def __str__(self) -> str:
        return f"{self.where}: {self.problem} ({self.action})"


@dataclass
class Sample:
    image: Path
    boxes: np.ndarray  # (n, 5) float32: class index, cx, cy, w, h normalised to 0..1
    split: str | None = None  # "train" | "val" | "test" when the source says so
    label_issues: int = 0  # label problems the reader found (fixed or dropped) for this image


@dataclass
class SourceDataset:
    format: str  # "yolo" | "coco"
    names: list[str]
    samples: list[Sample]
    reason: str  # why the detector chose this format, shown in the report
    issues: list[Issue] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # format-specific tallies (crowd boxes, ...)
    class_map: dict[str, int] = field(default_factory=dict)  # source class id or name -> our class index


def images_under(root: Path) -> list[Path]:
    """All image files below ``root``, sorted for determinism."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith("._"))


def split_of(path: Path, root: Path) -> str | None:
    """The split a path's folders name (train/, valid/, images/val/, ...), if any."""
    for part in reversed(path.relative_to(root).parts[:-1]):
        split = SPLIT_ALIASES.get(part.lower())
        if split:
            return split
    return None


def empty_boxes() -> np.ndarray:
    return np.zeros((0, 5), dtype=np.float32)
