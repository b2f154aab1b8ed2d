"""What every format reader produces: images with normalised boxes, class names, and issues.

Readers (yolo_format, coco_format, ...) turn a source folder into a ``SourceDataset``; the
importer then writes the canonical Ultralytics layout from it. Keeping this in-between form
small means a new format is one reader and nothing else.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from yolov11.errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
CONVERTED_SUFFIXES = {".gif"}  # Ultralytics does not train on GIFs: the first frame is imported as PNG
UNSUPPORTED_IMAGE_SUFFIXES = {".heic", ".heif", ".avif", ".jxl", ".jp2", ".svg", ".ico", ".psd", ".raw", ".cr2", ".nef", ".dng"}
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
    # No annotation covers the image (no XML, JSON entry or .txt names it; ``boxes`` is empty). Not
    # the same as a background, which an annotation says holds nothing: the importer decides
    # (tidy.settle_unlabelled), since training on it teaches the model that its objects are background.
    unlabelled: bool = False
    source: str = ""  # the annotation file that listed the image, where several may (the report names it)


@dataclass
class SourceDataset:
    format: str  # "yolo" | "coco" | "voc" | "cvat" | "labelme" | "createml"
    names: list[str]
    samples: list[Sample]
    reason: str  # why the detector chose this format, shown in the report
    issues: list[Issue] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # format-specific tallies (crowd boxes, ...)
    class_map: dict[str, int] = field(default_factory=dict)  # source class id or name -> our class index
    # True where a missing annotation means "nothing here" by the format's convention (YOLO: no
    # .txt is a background); elsewhere an unlabelled image is left out unless asked for.
    missing_means_background: bool = False
    warnings: list[str] = field(default_factory=list)  # what the user should check, shown first in the report
    notes: list[str] = field(default_factory=list)  # what import did on the user's behalf (difficult boxes, ...)


@lru_cache(maxsize=8)
def _walk(root: str) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(regular files, symbolic links) below ``root``. Links are never followed: a folder import
    reads only what is inside the folder (a link to /etc/passwd or to / stays unread)."""
    files, links = [], []
    for folder, dirs, names in os.walk(root):  # followlinks=False: linked folders are not entered
        links += [Path(folder, d) for d in dirs if os.path.islink(os.path.join(folder, d))]
        for n in names:
            path = Path(folder, n)
            if path.is_symlink():
                links.append(path)
            elif not n.startswith("._"):
                files.append(path)
    return tuple(sorted(files)), tuple(sorted(links))


def files_under(root: Path, *suffixes: str) -> list[Path]:
    """Regular files below ``root`` with one of ``suffixes`` (all when none), sorted; the folder
    is walked once per import, however many readers ask. Symbolic links are left out."""
    files = _walk(str(root))[0]
    return [p for p in files if p.suffix.lower() in suffixes] if suffixes else list(files)


@lru_cache(maxsize=8)
def _listed(root: str) -> frozenset[str]:
    return frozenset(os.path.normpath(p) for p in _walk(root)[0])


def listed_file(root: Path, *candidates: Path | str) -> Path | None:
    """The first candidate that is a regular file inside ``root`` (as walked: no links, no
    ``../`` escapes), else None. Readers resolve names written in annotation files with it, so
    ``file_name: ../../etc/passwd`` finds nothing."""
    files = _listed(str(root))
    for c in candidates:
        norm = os.path.normpath(c)
        if norm in files:
            return Path(norm)
    return None


def links_under(root: Path) -> list[Path]:
    """Symbolic links below ``root``, which no reader follows (the report lists them)."""
    return list(_walk(str(root))[1])


def images_under(root: Path) -> list[Path]:
    """All image files below ``root`` (GIFs included: imported as PNG), sorted for determinism."""
    return files_under(root, *IMAGE_SUFFIXES, *CONVERTED_SUFFIXES)


def unlabelled_images(root: Path, referenced: set[str]) -> list[Path]:
    """The images below ``root`` that no annotation named (``referenced``: their normalised paths).
    Readers of formats that label image by image turn them into ``Sample(..., unlabelled=True)``."""
    return [p for p in images_under(root) if os.path.normpath(p) not in referenced]


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header, or (0, 0) when it cannot be read (the image check
    then skips it with its reason)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # any decoder error means: size unknown
        return 0, 0


def split_of(path: Path, root: Path) -> str | None:
    """The split a path's folders name (train/, valid/, images/val/, ...), if any."""
    for part in reversed(path.relative_to(root).parts[:-1]):
        split = SPLIT_ALIASES.get(part.lower())
        if split:
            return split
    return None


@lru_cache(maxsize=256)
def _json_at(path: str, mtime_ns: int, size: int) -> object | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8-sig", errors="replace"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, RecursionError):  # RecursionError: nested 10,000 deep
        return None


def load_json(path: Path) -> object | None:
    """A JSON file's document, or None if it is not JSON. Format detection asks every reader
    whether a JSON is theirs; the cache (path, mtime, size) parses each file once."""
    st = path.stat()
    return _json_at(str(path), st.st_mtime_ns, st.st_size)


def read_xml(path: Path, rel: str):
    """The root element of an XML file from the archive, parsed by defusedxml: entity
    declarations (billion laughs, external entities reading local files: XXE) are refused.
    Raises UserError saying what is wrong with the file."""
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        return SafeET.parse(path).getroot()
    except DefusedXmlException as exc:
        raise UserError(
            f"{rel}: refused, the XML declares entities or a DTD ({type(exc).__name__}), which annotation exports never need"
        ) from None
    except ParseError as exc:
        raise UserError(f"{rel}: not valid XML ({exc})") from None
    except RecursionError:
        raise UserError(f"{rel}: refused, XML nested too deeply") from None


def forget_scans() -> None:
    """Drop folder listings and parsed documents once an import is done (a COCO file can take
    gigabytes in memory, and the next import may see changed folders)."""
    _json_at.cache_clear()
    _walk.cache_clear()
    _listed.cache_clear()


def finite_number(value: object) -> float | None:
    """A number as an annotation file wrote it (12, "12.5"), or None when it is not a finite number."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def pixel_box(cls: int, x1: float, y1: float, x2: float, y2: float, width: float, height: float, at: str,
              issues: list[Issue]) -> tuple | None:
    """A box in pixel corners -> (class, cx, cy, w, h) normalised, clipped to the image.

    Readers of pixel-based formats (COCO, VOC, CVAT, LabelMe) share it, so each reports a box
    outside the image (clipped) or with no area left (dropped) the same way."""
    if not (width > 0 and height > 0):
        issues.append(Issue(at, "image size unknown (no width/height and the image cannot be read)", "dropped"))
        return None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        issues.append(Issue(at, "NaN or infinite coordinate", "dropped"))
        return None
    cx1, cy1, cx2, cy2 = max(x1, 0.0), max(y1, 0.0), min(x2, width), min(y2, height)
    if cx2 <= cx1 or cy2 <= cy1:
        issues.append(Issue(at, "zero-area or outside box", "dropped"))
        return None
    if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
        issues.append(Issue(at, "box extends outside the image", "fixed: clipped to the image"))
    return cls, (cx1 + cx2) / 2 / width, (cy1 + cy2) / 2 / height, (cx2 - cx1) / width, (cy2 - cy1) / height


def as_boxes(rows: list[tuple | None]) -> np.ndarray:
    """(n, 5) float32 from the rows ``pixel_box`` kept."""
    kept = [r for r in rows if r is not None]
    return np.array(kept, np.float32).reshape(-1, 5) if kept else empty_boxes()


def empty_boxes() -> np.ndarray:
    return np.zeros((0, 5), dtype=np.float32)
