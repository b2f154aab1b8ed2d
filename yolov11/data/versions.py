"""Dataset versions: a label edit writes a new dataset, ``<base>@v<N>``, and leaves its parent as it was.

    edit_labels("hats", {"images/val/a.jpg": [{"class": "helmet", "box": [10, 12, 40, 44]}]})
        ->  <workspace>/datasets/hats@v2/  (images hard-linked from hats, labels copied, the
            edited label files rewritten, data.yaml, report.json), registered with its parent
            and the diff (boxes added, removed and changed, by image)

The import is version 1 and keeps its plain name. A version is a whole dataset folder that
trains, evaluates and exports like any other; the parent's files are never written (an edited
label file is a new file in the new folder). It is built in a scratch folder
(``datasets/.version-<pid>-*``, removed by ``Workspace.reconcile`` once its owner is gone) and
renamed into place, so a crash leaves no half version.

Boxes are ``{"class": name or id, "box": [x1, y1, x2, y2]}`` in pixels of the image as shown
(EXIF rotation applied, as training sees it). They are compared at the precision of the label
files (6 decimals of the normalised centre form), so a box read by ``image_labels`` and passed
back untouched is unchanged.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from yolov11.boxes import box_iou, cxcywh_to_xyxy
from yolov11.data.class_names import class_names
from yolov11.data.source import IMAGE_SUFFIXES
from yolov11.data.yolo_format import label_path, read_label_boxes
from yolov11.errors import UserError
from yolov11.workspace import Workspace, split_version

CHANGED_IOU = 0.1  # an old and a new box overlapping more than this are one box changed, not one removed and one added
LINE = "%d %.6f %.6f %.6f %.6f"  # the importer's label line: what "equal" means
PIXEL_DIGITS = 2  # boxes in a diff are rounded for people to read
# Boxes one edit may give an image. The cost of a save grows with them (parsing, the diff, the
# version's report) and the editor draws every one; the detector predicts at most 300 boxes per
# image (Ultralytics' max_det), so a hand-made label file rarely needs more.
MAX_BOXES = 2000
BIG_CELLS = 64  # a box over more cells of the diff's grid than this is compared with every box (see _neighbours)


def dataset_record(ws: Workspace, dataset: str) -> dict:
    """The registry row of workspace dataset ``dataset``; a UserError listing the known ones when there is none."""
    record = ws.dataset(str(dataset or ""))
    if record is None:
        known = ", ".join(d["name"] for d in ws.datasets()) or "none yet"
        raise UserError(field="--data", value=dataset, detail=f"not a dataset of workspace {ws.root} (known: {known}) nor a data.yaml file",
                        brief=f"not in the workspace (it has: {known})")
    return record


def dataset_images(root: Path) -> list[str]:
    """The images of a dataset folder, as paths relative to it (images/<split>/<file>), sorted."""
    return sorted(str(p.relative_to(root)) for p in (root / "images").glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)


def find_image(root: Path, image: str, dataset: str) -> str:
    """The relative path of ``image`` in the dataset at ``root``: given as that path, or as a file
    name found in one split only."""
    text = str(image or "").strip().replace("\\", "/")
    if Path(text).is_absolute() and Path(text).is_relative_to(root):  # the absolute path of one of its images
        text = str(Path(text).relative_to(root))
    images = dataset_images(root)
    if text in images:
        return text
    named = [p for p in images if p.rsplit("/", 1)[-1] == text]
    if len(named) == 1:
        return named[0]
    if named:
        raise UserError(f"image {text}: {len(named)} images of dataset {dataset} have this name ({', '.join(named[:3])}): give its path")
    raise UserError(
        f"image {text or '(none)'}: not an image of dataset {dataset} "
        f"(give its path, e.g. {images[0] if images else 'images/val/x.jpg'}, or its file name)"
    )


def shown_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image as shown and trained on: EXIF rotation applied."""
    from PIL import Image

    with Image.open(path) as im:
        width, height = im.size
        if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # a quarter turn: the sides swap
            width, height = height, width
    return width, height


def _lines(rows: np.ndarray) -> list[str]:
    return [LINE % (int(c), x, y, w, h) for c, x, y, w, h in rows.tolist()]


def _pixels(line: str, names: list[str], size: tuple[int, int], digits: int | None = None) -> dict:
    """A label line as ``{"class": name, "box": [x1, y1, x2, y2]}`` in pixels."""
    c, *cxcywh = line.split()
    box = cxcywh_to_xyxy(*(float(v) for v in cxcywh), *size)
    return {"class": names[int(c)], "box": [round(v, digits) for v in box] if digits is not None else box}


def parse_boxes(image: str, boxes: object, names: list[str], size: tuple[int, int]) -> list[str]:
    """The label lines of ``boxes`` for ``image`` (``size`` = width, height); UserError naming
    the image and the field of the first bad entry."""
    if not isinstance(boxes, (list, tuple)):
        raise UserError(f"{image}: field 'boxes' must be a list of {{'class', 'box'}} entries, not {type(boxes).__name__}")
    if len(boxes) > MAX_BOXES:
        raise UserError(f"{image}: field 'boxes' holds {len(boxes)} boxes, more than the {MAX_BOXES} one edit may give an image "
                        "(a bound on what a save costs; the detector predicts at most 300 boxes per image)")
    width, height = size
    lines = []
    for i, entry in enumerate(boxes):
        where = f"{image}: boxes[{i}]"
        if not isinstance(entry, dict) or "class" not in entry or "box" not in entry:
            raise UserError(f"{where} must be {{'class': name, 'box': [x1, y1, x2, y2]}}, not {str(entry)[:80]}")
        cls = entry["class"]
        if isinstance(cls, str) and cls.strip() in names:
            cid = names.index(cls.strip())
        elif isinstance(cls, (int, np.integer)) and not isinstance(cls, bool) and 0 <= int(cls) < len(names):
            cid = int(cls)
        else:
            raise UserError(f"{where} field 'class' {cls!r}: not a class of this dataset (classes: {', '.join(names)})")
        box = entry["box"]
        numeric = (
            isinstance(box, (list, tuple)) and len(box) == 4
            and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in box)
        )
        try:
            finite = numeric and all(math.isfinite(float(v)) for v in box)
        except OverflowError:  # an int beyond any float (10**400)
            finite = False
        if not finite:
            raise UserError(f"{where} field 'box' {str(box)[:80]}: must be 4 finite numbers [x1, y1, x2, y2] in pixels")
        x1, y1, x2, y2 = (float(v) for v in box)
        if x2 <= x1 or y2 <= y1:
            raise UserError(f"{where} field 'box' {[x1, y1, x2, y2]}: zero area (x2 must exceed x1 and y2 exceed y1)")
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            raise UserError(f"{where} field 'box' {[x1, y1, x2, y2]}: outside the image (0..{width} x 0..{height} pixels)")
        line = LINE % (cid, (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height)
        if float(line.split()[3]) <= 0 or float(line.split()[4]) <= 0:
            raise UserError(f"{where} field 'box' {[x1, y1, x2, y2]}: too small to keep in a label file")
        lines.append(line)
    return lines


def _neighbours(old: np.ndarray, new: np.ndarray) -> list[np.ndarray]:
    """For each new xyxy box, the old boxes it may overlap: those sharing a cell of a grid about
    one typical box wide (a box spanning more than BIG_CELLS cells is compared with every box),
    so the work grows with the boxes near each other, not with every old box times every new one."""
    sides = np.maximum(old[:, 2] - old[:, 0], old[:, 3] - old[:, 1])
    cell = max(float(np.median(sides)), 1e-6)

    def spans(boxes: np.ndarray) -> list[tuple[range, range]]:
        lo, hi = np.floor(boxes[:, :2] / cell).astype(np.int64), np.floor(boxes[:, 2:] / cell).astype(np.int64)
        return [(range(x0, x1 + 1), range(y0, y1 + 1)) for (x0, y0), (x1, y1) in zip(lo.tolist(), hi.tolist())]

    grid: dict[tuple[int, int], list[int]] = defaultdict(list)
    big = []
    for i, (xs, ys) in enumerate(spans(old)):
        if len(xs) * len(ys) > BIG_CELLS:
            big.append(i)
            continue
        for gx in xs:
            for gy in ys:
                grid[gx, gy].append(i)
    everyone, big = np.arange(len(old)), np.array(big, dtype=np.int64)
    out = []
    for xs, ys in spans(new):
        if len(xs) * len(ys) > BIG_CELLS:
            out.append(everyone)
            continue
        found = [i for gx in xs for gy in ys for i in grid.get((gx, gy), ())]
        out.append(np.unique(np.concatenate([np.array(found, dtype=np.int64), big])))
    return out


def _changed_pairs(old: np.ndarray, new: np.ndarray) -> list[tuple[int, int]]:
    """(i, j) pairs of old and new xyxy boxes overlapping by IoU > CHANGED_IOU, paired greedily,
    the highest IoU first (ties: the lowest i, then j), each box in one pair at most.

    Near-linear in the boxes (``_neighbours``): 3,000 boxes an image took 34 s and 1 GB as an IoU
    matrix of every old box by every new one, picked from one pair at a time."""
    if not len(old) or not len(new):
        return []
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (iou, old index, new index) of the overlapping pairs
    for j, near in enumerate(_neighbours(old, new)):
        if len(near):
            iou = box_iou(old[near], new[j][None])[:, 0]
            keep = iou > CHANGED_IOU
            found.append((iou[keep], near[keep], np.full(int(keep.sum()), j)))
    if not found:
        return []
    iou, olds, news = (np.concatenate(parts) for parts in zip(*found))
    ranked = np.lexsort((news, olds, -iou))  # the greedy's order: highest IoU first, then the lowest i, then j
    olds, news = olds[ranked], news[ranked]
    pairs = []
    while len(olds):
        # A pair ranked first both among its old box's pairs and among its new box's is the one the
        # greedy takes for them (each pair ranked above it involves other boxes): take all such pairs
        # at once, drop every pair of the boxes taken, and repeat on what is left.
        first = np.zeros(len(olds), bool)
        first[np.unique(olds, return_index=True)[1]] = True
        top = np.zeros(len(olds), bool)
        top[np.unique(news, return_index=True)[1]] = True
        taken = first & top
        pairs += zip(olds[taken].tolist(), news[taken].tolist())
        left = ~(np.isin(olds, olds[taken]) | np.isin(news, news[taken]))
        olds, news = olds[left], news[left]
    return pairs


def diff_lines(old: list[str], new: list[str], names: list[str], size: tuple[int, int]) -> dict:
    """What changed from label lines ``old`` to ``new`` of one image: exact-equal lines are
    unchanged; the rest are paired greedily by IoU (> CHANGED_IOU, any class) as changed, the
    others added or removed. Boxes in pixels with class names."""
    unmatched = Counter(old)
    rest_new = []
    for line in new:
        if unmatched[line] > 0:
            unmatched[line] -= 1
        else:
            rest_new.append(line)
    matched = Counter(old) - unmatched  # each equal line pairs with its first occurrences in old
    left = []
    for line in old:
        if matched[line] > 0:
            matched[line] -= 1
        else:
            left.append(line)
    xyxy = lambda ls: np.array([_pixels(x, names, size)["box"] for x in ls], dtype=float).reshape(-1, 4)  # noqa: E731
    pairs = _changed_pairs(xyxy(left), xyxy(rest_new))
    paired_old, paired_new = {i for i, _ in pairs}, {j for _, j in pairs}
    show = lambda line: _pixels(line, names, size, PIXEL_DIGITS)  # noqa: E731
    return {
        "added": [show(x) for j, x in enumerate(rest_new) if j not in paired_new],
        "removed": [show(x) for i, x in enumerate(left) if i not in paired_old],
        "changed": [{"from": show(left[i]), "to": show(rest_new[j])} for i, j in sorted(pairs, key=lambda p: p[1])],
    }


def _summary(diff: dict | None) -> dict | None:
    """A version's diff counts; a re-split's lineage (seed, val fraction, images moved) or a tiling's besides."""
    if not diff:
        return None
    return {k: diff.get(k, 0) for k in ("added", "removed", "changed")} | {k: diff[k] for k in ("resplit", "tiles", "advice") if k in diff}


def edit_labels(
    dataset: str,
    edits: dict | None = None,
    *,
    image: str | None = None,
    boxes: list | None = None,
    workspace: Workspace | str | Path | None = None,
    advice: dict | str | None = None,
) -> dict:
    """Write the edited labels as a new version of ``dataset`` and return it.

    ``edits`` maps an image (its path in the dataset, ``images/val/a.jpg``, or its file name
    when unique) to that image's full new list of boxes, each ``{"class": name or id, "box":
    [x1, y1, x2, y2]}`` in pixels; ``image=``/``boxes=`` edit one image. The new version is
    ``<base>@v<N>``, N one more than the highest version of the base. Returns ``{"name", "base",
    "version", "parent", "path", "data_yaml", "diff"}``; the diff is ``{"added", "removed",
    "changed", "images": {image: {"added": [box], "removed": [box], "changed": [{"from",
    "to"}]}}}`` against ``dataset``. ``advice``: the advice this edit follows ({"run", "kind"}),
    kept in the lineage (``diff["advice"]``) to score the retrained run against its promise.
    """
    from yolov11.advice.followed import followed
    from yolov11.data.version_folder import write_version

    ws = Workspace.at(workspace)
    parent = dataset_record(ws, dataset)
    led_by = followed(ws, advice)
    if image is not None or boxes is not None:
        if edits:
            raise UserError("edit_labels: give edits or image= and boxes=, not both")
        if image is None:
            raise UserError("edit_labels: field 'image' is missing (boxes= needs the image they belong to)")
        edits = {image: [] if boxes is None else boxes}
    if not isinstance(edits, dict) or not edits:
        raise UserError("edit_labels: field 'edits' must map at least one image to its boxes")
    root = Path(parent["path"])
    names = class_names(root)
    lines: dict[str, list[str]] = {}
    per_image: dict[str, dict] = {}
    for given, new_boxes in edits.items():
        rel = find_image(root, given, parent["name"])
        if rel in lines:
            raise UserError(f"image {given}: edited twice (also as another name of {rel})")
        size = shown_size(root / rel)
        lines[rel] = parse_boxes(rel, new_boxes, names, size)
        change = diff_lines(_lines(read_label_boxes(label_path(root / rel))), lines[rel], names, size)
        if any(change.values()):
            per_image[rel] = change
    if not per_image:
        raise UserError(f"nothing to save: the boxes given are those {parent['name']} has already")
    diff = {k: sum(len(c[k]) for c in per_image.values()) for k in ("added", "removed", "changed")} | {"images": per_image}
    return write_version(ws, parent, {rel: lines[rel] for rel in per_image}, diff | ({"advice": led_by} if led_by else {}))


def dataset_versions(name: str, workspace: Workspace | str | Path | None = None) -> list[dict]:
    """Every version of the dataset ``name`` belongs to, v1 first: ``{"name", "version",
    "parent", "created", "images", "boxes", "path", "diff"}`` (diff: added/removed/changed
    counts against the parent, and for a re-split its ``resplit`` lineage; None for v1)."""
    import json

    ws = Workspace.at(workspace)
    base = dataset_record(ws, name)["base"]
    out = []
    for row in sorted((d for d in ws.datasets() if d["base"] == base), key=lambda d: d["version"]):
        try:
            boxes = json.loads((Path(row["path"]) / "report.json").read_text()).get("boxes")
        except (OSError, ValueError):
            boxes = None
        out.append(
            {k: row.get(k) for k in ("name", "version", "parent", "created", "images", "path")}
            | {"boxes": boxes, "diff": _summary(row.get("diff"))}
        )
    return out


def image_labels(dataset: str, image: str, workspace: Workspace | str | Path | None = None) -> dict:
    """One image of ``dataset`` with its boxes, for an editor: ``{"image": absolute path, "name":
    path in the dataset, "width", "height", "boxes": [{"class": name, "box": [x1, y1, x2, y2]}]}``
    (pixels at full precision: passed back to edit_labels untouched they are unchanged)."""
    ws = Workspace.at(workspace)
    record = dataset_record(ws, dataset)
    root = Path(record["path"])
    rel = find_image(root, image, record["name"])
    names = class_names(root)
    size = shown_size(root / rel)
    boxes = [_pixels(line, names, size) for line in _lines(read_label_boxes(label_path(root / rel)))]
    return {"image": str(root / rel), "name": rel, "width": size[0], "height": size[1], "boxes": boxes}


__all__ = ["MAX_BOXES", "dataset_images", "dataset_versions", "edit_labels", "image_labels", "split_version"]
