"""Read YOLO-format sources: Ultralytics layout, flat images/+labels/, Roboflow YOLO exports.

Label files are found the way Ultralytics finds them (the last ``images`` folder of an image's
path becomes ``labels``, suffix ``.txt``), else a same-stem ``.txt`` beside the image. Class
names come from a data.yaml (its ``download:`` field is never run) or classes.txt/obj.names.
Polygon lines (segmentation exports) become their bounding box. An image without a label file
is a background by YOLO's convention (Ultralytics trains it so): it is marked unlabelled all the
same, so the report can count and name them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from yolov11.data.class_names import class_names
from yolov11.data.source import Issue, Sample, SourceDataset, empty_boxes, files_under, images_under, listed_file, split_of
from yolov11.errors import UserError
from yolov11.safe_yaml import YamlRefused, load_yaml

NAME_FILES = ("classes.txt", "obj.names", "_darknet.labels")
MAX_LABEL_BYTES = 8 << 20  # a label line is ~40 bytes: 8 MiB is 200,000 boxes in one image
ROUNDING = 1e-4  # 6-decimal labels overshoot 0..1 by rounding alone: clip those silently


def label_path(image: Path) -> Path:
    """images/train/a.jpg -> labels/train/a.txt (Ultralytics' rule); else a.txt beside it."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def find_yaml(root: Path) -> Path | None:
    candidates = sorted(files_under(root, ".yaml", ".yml"), key=lambda p: (len(p.parts), str(p)))
    for path in candidates:
        try:
            doc = load_yaml(path, str(path.relative_to(root)))
        except YamlRefused:
            raise  # a bomb in the archive: refuse it whole, saying which file
        except UserError:  # not YAML: fatal only if it is meant to be the data.yaml (else class names are lost quietly)
            if _meant_as_data_yaml(path):
                raise
            continue
        if isinstance(doc, dict) and "names" in doc:
            return path
    return None


def _meant_as_data_yaml(path: Path) -> bool:
    """A YAML named data.yaml / dataset.yaml, or one that mentions ``names:``."""
    if path.stem.lower() in ("data", "dataset"):
        return True
    try:
        with open(path, "rb") as f:
            return b"names" in f.read(65536)
    except OSError:
        return False


def _names_from_text(root: Path) -> list[str] | None:
    for name in NAME_FILES:
        found = sorted((p for p in files_under(root) if p.name == name), key=lambda p: len(p.parts))
        if found:
            return [ln.strip() for ln in found[0].read_text(encoding="utf-8-sig", errors="replace").splitlines() if ln.strip()]
    return None


def parse_label_file(path: Path, where: str, nc: int | None, issues: list[Issue], counts: dict) -> np.ndarray:
    """Parse one label file into (n, 5) rows; every bad line becomes an Issue with file:line."""
    rows = []
    if path.stat().st_size > MAX_LABEL_BYTES:
        issues.append(Issue(
            where, f"label file of {path.stat().st_size / 2**20:.0f} MiB (at most {MAX_LABEL_BYTES // 2**20} MiB: ~200,000 boxes)",
            "skipped",
        ))
        return empty_boxes()
    # -sig: a BOM is not part of the first number
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        at = f"{where}:{lineno}"
        try:
            values = [float(v) for v in fields]
        except ValueError:
            issues.append(Issue(at, f"not numbers: {line.strip()[:60]!r}", "dropped"))
            continue
        if any(math.isnan(v) or math.isinf(v) for v in values):
            issues.append(Issue(at, "NaN or infinite value", "dropped"))
            continue
        cls = values[0]
        if cls != int(cls) or cls < 0 or (nc is not None and cls >= nc):
            issues.append(Issue(at, f"class id {fields[0]} out of range 0..{(nc or 1) - 1}", "dropped"))
            continue
        if len(values) == 5:
            cx, cy, w, h = values[1:]
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        elif len(values) >= 7 and len(values) % 2 == 1:
            xs, ys = values[1::2], values[2::2]
            x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
            counts["polygons_to_boxes"] = counts.get("polygons_to_boxes", 0) + 1
        else:
            issues.append(Issue(at, f"{len(values)} columns, expected 5 (box) or an odd count >= 7 (polygon)", "dropped"))
            continue
        cx1, cy1, cx2, cy2 = (min(max(v, 0.0), 1.0) for v in (x1, y1, x2, y2))
        if max(abs(a - b) for a, b in zip((cx1, cy1, cx2, cy2), (x1, y1, x2, y2))) > ROUNDING:
            if cx2 - cx1 <= 0 or cy2 - cy1 <= 0:
                issues.append(Issue(at, "box entirely outside the image", "dropped"))
                continue
            issues.append(Issue(at, "coordinates outside 0..1", "fixed: clipped to the image"))
        if cx2 - cx1 <= 0 or cy2 - cy1 <= 0:
            issues.append(Issue(at, "zero-area box", "dropped"))
            continue
        rows.append((int(cls), (cx1 + cx2) / 2, (cy1 + cy2) / 2, cx2 - cx1, cy2 - cy1))
    return np.array(rows, dtype=np.float32).reshape(-1, 5) if rows else empty_boxes()


def read_label_boxes(path: Path) -> np.ndarray:
    """The (n, 5) boxes of one label file of a workspace dataset (a missing file is background);
    the same parser as imports, so a bad line is a UserError naming file:line."""
    if not path.is_file():
        return empty_boxes()
    issues: list[Issue] = []
    boxes = parse_label_file(path, str(path), None, issues, {})
    if issues:
        raise UserError(str(issues[0]))
    return boxes


def looks_like_yolo(root: Path) -> tuple[bool, str]:
    yaml_path = find_yaml(root)
    if yaml_path:
        return True, f"found {yaml_path.relative_to(root)} with a 'names' field"
    images = images_under(root)
    labelled = sum(listed_file(root, label_path(p)) is not None for p in images[:500])
    if labelled:
        return True, f"{labelled} of the first {min(len(images), 500)} images have a YOLO .txt label file"
    return False, "no data.yaml with 'names' and no image with a matching labels/*.txt"


def read_yolo(root: Path, reason: str) -> SourceDataset:
    yaml_path = find_yaml(root)
    names = class_names(yaml_path) if yaml_path else _names_from_text(root)
    issues: list[Issue] = []
    counts: dict[str, int] = {}
    samples = []
    for image in images_under(root):
        lbl = label_path(image)
        where = str(lbl.relative_to(root))
        before = len(issues)
        listed = listed_file(root, lbl) is not None
        boxes = parse_label_file(lbl, where, len(names) if names else None, issues, counts) if listed else empty_boxes()
        samples.append(Sample(image, boxes, split_of(image, root), label_issues=len(issues) - before, unlabelled=not listed))
    if not samples:
        raise UserError(f"{root.name}: YOLO layout but no images found (looked for {', '.join(sorted({'.jpg', '.png', '.bmp', '.webp'}))})")
    if names is None:
        nc = int(max((s.boxes[:, 0].max() for s in samples if len(s.boxes)), default=0)) + 1
        names = [f"class{i}" for i in range(nc)]
        issues.append(Issue(root.name, "no data.yaml or classes.txt: class names unknown", f"named class0..class{nc - 1}"))
    class_map = {str(i): i for i in range(len(names))}
    return SourceDataset("yolo", names, samples, reason, issues, counts, class_map, missing_means_background=True)
