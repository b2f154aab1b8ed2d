"""What the importer makes of a reader's ``SourceDataset`` before writing it: one sample per
image file, a decision for the images no annotation covers, no duplicate boxes, class names that
do not repeat, and a word about the files no reader read. Each step reports what it did as
issues, counts, warnings or notes of the dataset, which the health report shows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from yolov11.data.source import UNSUPPORTED_IMAGE_SUFFIXES, Issue, Sample, SourceDataset, files_under, links_under


def drop_duplicate_boxes(ds: SourceDataset) -> None:
    """The same box twice in one image (an export merged twice) is kept once, and counted."""
    for s in ds.samples:
        if len(s.boxes) > 1:
            seen: dict[tuple, int] = {}
            for i, row in enumerate(np.round(s.boxes, 5).tolist()):
                seen.setdefault(tuple(row), i)
            first = np.fromiter(seen.values(), dtype=int)
            if len(first) < len(s.boxes):
                ds.issues.append(Issue(s.image.name, f"{len(s.boxes) - len(first)} duplicate box(es)", "dropped"))
                ds.counts["duplicate_boxes"] = ds.counts.get("duplicate_boxes", 0) + len(s.boxes) - len(first)
                s.boxes, s.label_issues = s.boxes[np.sort(first)], s.label_issues + 1


def unique_names(ds: SourceDataset) -> None:
    """Class names that repeat ("helmet" twice) become "helmet", "helmet-2": per-class counts,
    metrics and exports key on names, where two classes of one name would silently merge."""
    seen: dict[str, int] = {}
    for i, n in enumerate(ds.names):
        if n in seen:
            k = 2
            while f"{n}-{k}" in ds.names or f"{n}-{k}" in seen:
                k += 1
            ds.issues.append(Issue(f"class {i}", f"name {n!r} is also class {seen[n]}", f"fixed: renamed {n}-{k}"))
            ds.names[i] = f"{n}-{k}"
        seen[ds.names[i]] = i


def _labelling(s: Sample) -> tuple[bool, bool]:
    """How much a listing says about its image: boxes beat an empty list, which beats no annotation."""
    return len(s.boxes) > 0, not s.unlabelled


def drop_repeated_images(ds: SourceDataset) -> None:
    """One sample per image file: annotation files that both list an image (two COCO files, an
    XML and a JSON) would otherwise place it twice. The listing with boxes wins (a file of image
    ids alone must not hide the boxes another gives), else the first; the image keeps the place
    of its first listing, so the order the seeded split sees does not change."""
    real_dirs: dict[str, str] = {}

    def resolved(path: Path) -> str:  # Path.resolve(), with each folder resolved once, not once per file
        text = os.fspath(path)
        if os.path.islink(text):
            return os.path.realpath(text)
        folder, name = os.path.split(os.path.abspath(text))
        if folder not in real_dirs:
            real_dirs[folder] = os.path.realpath(folder)
        return os.path.join(real_dirs[folder], name)

    place: dict[str, int] = {}
    kept: list[Sample] = []
    for s in ds.samples:
        key = resolved(s.image)
        if key not in place:
            place[key] = len(kept)
            kept.append(s)
            continue
        first = kept[place[key]]
        if _labelling(s) > _labelling(first):
            kept[place[key]] = s
            action = "skipped: kept the one with boxes" if len(s.boxes) else "skipped: kept the annotated one"
            action += f" ({s.source})" if s.source else ""
        else:
            action = "skipped: kept the first"
        ds.issues.append(Issue(s.image.name, "image listed by more than one annotation file", action))
    ds.samples = kept


def settle_unlabelled(ds: SourceDataset, root: Path, as_background: bool) -> None:
    """What becomes of the images no annotation covers (``Sample.unlabelled``).

    Where the format's convention makes a missing annotation mean "nothing here" (YOLO: no .txt),
    they are backgrounds, counted and named in a warning. Elsewhere a missing XML or JSON means
    "not labelled (yet)": a chess photo without its XML is full of pieces, and training on it as a
    background teaches that they are background. Those are left out, each named in an issue,
    unless ``as_background`` (``--unlabelled-as-background``) keeps them as backgrounds."""
    found = [s for s in ds.samples if s.unlabelled]
    kept = ds.missing_means_background or as_background
    ds.counts["unlabelled_images"] = len(found)
    ds.counts["unlabelled_as_backgrounds"] = len(found) if kept else 0
    if not found:
        return

    def rel(s: Sample) -> str:
        return os.path.relpath(s.image, root)

    shown = ", ".join(rel(s) for s in found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    if ds.missing_means_background:
        ds.warnings.append(f"{len(found)} image(s) have no label file and train as backgrounds (YOLO's convention): {shown}; "
                           "the gallery's 'no labels' filter shows them: label any that show an object")
        return
    action = ("kept as a background (--unlabelled-as-background)" if as_background
              else "skipped: --unlabelled-as-background keeps it as a background")
    ds.issues.extend(Issue(rel(s), "no annotation names this image (unlabelled)", action) for s in found)
    if as_background:
        ds.counts["backgrounds"] = ds.counts.get("backgrounds", 0) + len(found)
        ds.notes.append(f"{len(found)} image(s) without an annotation imported as backgrounds (--unlabelled-as-background): {shown}; "
                        "training learns that they show no object")
    else:
        ds.samples = [s for s in ds.samples if not s.unlabelled]
        ds.warnings.append(f"{len(found)} image(s) without an annotation left out as unlabelled: {shown}; "
                           "import with --unlabelled-as-background to train on them as backgrounds")


def note_unread_files(ds: SourceDataset, root: Path) -> None:
    """Say what the readers left alone: symbolic links (never followed) and image formats
    Ultralytics does not train on."""
    links = links_under(root)
    if links:
        ds.issues.append(Issue(
            str(links[0].relative_to(root)), f"{len(links)} symbolic link(s) not followed (a folder import reads only files inside it)",
            "skipped",
        ))
        ds.counts["symlinks_skipped"] = len(links)
    for path in files_under(root, *UNSUPPORTED_IMAGE_SUFFIXES):
        ds.issues.append(
            Issue(str(path.relative_to(root)), f"{path.suffix.lower()} images are not supported (convert to JPEG or PNG)", "skipped")
        )
