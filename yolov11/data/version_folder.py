"""The folder of a new dataset version (yolov11.data.versions, yolov11.data.resplit): built whole
in a scratch folder, renamed into place, then registered; the parent's files are only read.

    datasets/.version-<pid>-XXXX/out/   images hard-linked (copied across filesystems), label
                                         files copied, the edited ones written anew, images a
                                         re-split moves placed in their new split's folders with
                                         their labels, data.yaml, report.json
                                         ->  renamed to datasets/<base>@v<N>/

Two processes (the app and a notebook, two app workers) may save versions of one dataset at the
same moment and pick the same N. The rename is the arbiter: it fails when ``<base>@v<N>`` is there
already, and the one that lost builds again under the next free number, so no edit is lost.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from yolov11 import liveness
from yolov11.data.checks import ImageInfo
from yolov11.data.class_names import class_names
from yolov11.data.families import Families
from yolov11.data.report import build_report, crossing_warning, write_report
from yolov11.data.source import Sample, SourceDataset
from yolov11.data.yolo_format import label_path, read_label_boxes
from yolov11.errors import UserError, os_error_text
from yolov11.safe_yaml import load_yaml
from yolov11.workspace import VERSION_MARK, Workspace, split_version
from yolov11.workspace.paths import VERSION_SCRATCH_PREFIX

_LOCK = threading.Lock()  # two saves in one process never pick the same version number
ATTEMPTS = 20  # numbers tried before giving up (each lost race means another process saved one)


@dataclass
class Resplit:
    """What a re-split does to its parent's files (``write_version``)."""

    moved: dict[str, str]  # image path in the dataset -> its new path (another split's folder)
    families: Families  # the families among the images
    paths: list[str]  # the path in the new version of each image the families number
    split_method: str  # the report's words for the split


class _Taken(Exception):
    """The version number was taken by another process while this one was building it."""


def next_version(ws: Workspace, base: str) -> int:
    """One more than the highest version of ``base`` registered or on disk (v1: the import)."""
    taken = [d["version"] for d in ws.datasets() if d["base"] == base]
    pattern = re.compile(re.escape(base + VERSION_MARK) + r"\d+")
    taken += [split_version(p.name)[1] for p in ws.datasets_dir.iterdir() if pattern.fullmatch(p.name)]
    return max([1, *taken]) + 1


def _link_or_copy(src: Path, dest: Path) -> None:
    """Hard-link an image of the parent (no second copy on disk); copy across filesystems."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _label_rel(image_rel: str) -> str:
    """images/<split>/<stem>.<ext> -> labels/<split>/<stem>.txt"""
    _, split, name = image_rel.split("/", 2)
    return f"labels/{split}/{Path(name).stem}.txt"


def _fill(src: Path, out: Path, dest: Path, edited: dict[str, list[str]], moved: dict[str, str], added: dict[str, Path],
          removed: frozenset[str] = frozenset()) -> None:
    """The parent's images (linked), label files (copied; Ultralytics' .cache files left out),
    data.yaml (its ``path:``, if any, set to ``dest``, the final folder; its splits those the
    folder has), the edited label files, and the images ``moved`` (image path -> new path) with
    their label files at their new places; the images ``removed`` (and their label files) left out."""
    renamed = {**moved, **{_label_rel(a): _label_rel(b) for a, b in moved.items()}}
    gone = removed | {_label_rel(rel) for rel in removed}
    for kind in ("images", "labels"):
        for folder in sorted(p for p in (src / kind).iterdir() if p.is_dir()):
            (out / kind / folder.name).mkdir(parents=True, exist_ok=True)
            for f in sorted(folder.iterdir()):
                if f"{kind}/{folder.name}/{f.name}" in gone:
                    continue
                rel = renamed.get(f"{kind}/{folder.name}/{f.name}", f"{kind}/{folder.name}/{f.name}")
                if (kind == "images" and f.is_file()) or (f.suffix == ".txt" and f.is_file()):
                    (out / rel).parent.mkdir(parents=True, exist_ok=True)
                    (_link_or_copy if kind == "images" else shutil.copyfile)(f, out / rel)
    for rel, image in added.items():  # new images (a pool's accepted items), copied: the pool keeps its own
        if (out / rel).exists():
            raise UserError(f"{rel}: the dataset has an image of that name already")
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image, out / rel)
    for rel, lines in edited.items():
        target = label_path(out / rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes("".join(f"{line}\n" for line in lines).encode("ascii"))
        os.replace(tmp, target)
    doc = load_yaml(src / "data.yaml")
    if moved and isinstance(doc, dict):  # a re-split may give val (or train) images to a dataset that had none
        present = [split for split in ("train", "val", "test") if (out / "images" / split).is_dir()]
        for split in ("train", "val", "test"):
            doc.pop(split, None)
        doc.update({split: f"images/{split}" for split in present})
        doc.setdefault("val", doc.get("train"))
    if isinstance(doc, dict) and ("path" in doc or moved):
        import yaml

        if "path" in doc:
            doc["path"] = str(dest)
        (out / "data.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    else:
        shutil.copyfile(src / "data.yaml", out / "data.yaml")  # relative entries: they resolve in the new folder


def _moved_paths(old: dict, moved: dict[str, str]) -> tuple[dict, dict]:
    """The parent report's duplicates and per-problem image lists with the paths a re-split moved
    renamed, and the duplicates that now cross splits recomputed (``leakage``)."""
    rename = lambda paths: [moved.get(p, p) for p in paths]  # noqa: E731
    dups = old.get("duplicates", {})
    exact, near = [rename(g) for g in dups.get("exact", [])], [rename(g) for g in dups.get("near", [])]
    leakage = [g for g in exact + near if len({p.split("/")[1] for p in g}) > 1]
    problems = {k: rename(v) for k, v in old.get("problem_images", {}).items()}
    if moved:
        problems["leakage"] = sorted({p for g in leakage for p in g})
    return {"exact": exact, "near": near, "leakage": leakage}, problems


def _sized(image: Path) -> ImageInfo:
    """An image's size alone (its header read), for the report's box sizes in pixels; the other
    checks are the parent's, carried over."""
    from PIL import Image

    try:
        with Image.open(image) as im:
            return ImageInfo(width=im.width, height=im.height)
    except (OSError, ValueError, Image.DecompressionBombError):
        return ImageInfo()


def version_report(src: Path, out: Path, dest: Path, name: str, lineage: dict, resplit: Resplit | None = None) -> dict:
    """The health report of a version: counts, per class and split, warnings and label problems
    recomputed by the importer's build_report from the new labels; what depends on the images
    alone (their checks, duplicates, families, the import's issues) carried over from the parent's
    report, with the paths of the images a ``resplit`` moved renamed and its families' crossings
    recomputed."""
    try:
        old = json.loads((src / "report.json").read_text())
    except (OSError, ValueError):
        old = {}
    moved = resplit.moved if resplit else {}
    dups, problems = _moved_paths(old, moved)
    flagged = set(problems.get("label_errors", []))
    samples = []
    for image in sorted(p for p in (out / "images").glob("*/*") if p.is_file()):
        rel = str(image.relative_to(out))
        samples.append(Sample(image, read_label_boxes(label_path(image)), image.parent.name, int(rel in flagged)))
    ds = SourceDataset(old.get("format", "yolo"), class_names(out), [], old.get("reason", ""), old.get("issues", []),
                       dict(old.get("counts", {})),
                       warnings=list(old.get("source_warnings", [])), notes=list(old.get("notes", [])))  # about the source: still true
    found = None
    if resplit:  # renumbered in the order of the samples
        index = {rel: k for k, rel in enumerate(resplit.paths)}
        found = resplit.families.subset([index[str(s.image.relative_to(out))] for s in samples])
    split_how = resplit.split_method if resplit else old.get("split_method", "")
    report = build_report(name, dest, Path(old.get("source", src.name)), ds, samples, [_sized(s.image) for s in samples], split_how, out,
                          found)
    if found is None and "families" in old:  # the images did not change: their families neither
        report["families"] = old["families"]
        report["problem_images"]["families_crossing"] = problems.get("families_crossing", [])
        if crossing_warning(old["families"], name):
            report["warnings"].append(crossing_warning(old["families"], name))
    leakage = ([f"{len(dups['leakage'])} duplicate image group(s) cross splits: validation scores will be optimistic"] if dups["leakage"]
               else [])  # recomputed from the carried-over duplicates: a re-split may have moved them
    report.update(
        class_map=old.get("class_map", {}),
        duplicates=dups,
        counts={**old.get("counts", {}), "tiny_boxes": report["counts"]["tiny_boxes"]},
        issue_count=old.get("issue_count", len(ds.issues)),
        warnings=report["warnings"] + leakage,
        version=lineage,
    )
    report["problem_images"].update({k: problems[k] for k in ("exif_rotated", "duplicates", "leakage") if k in problems})
    return report


def write_version(ws: Workspace, parent: dict, edited: dict[str, list[str]], diff: dict, resplit: Resplit | None = None,
                  added: dict[str, Path] | None = None, removed: frozenset[str] = frozenset()) -> dict:
    """Write and register the next version of ``parent`` (a datasets row) with the label files
    ``edited`` (image path in the dataset -> label lines), the images moved by a ``resplit``, the
    images ``added`` (path in the new version -> the file to copy), the images ``removed`` (paths
    in the parent, left out with their labels), and ``diff``; returns the version."""
    with _LOCK:
        for _ in range(ATTEMPTS):
            try:
                return _write(ws, parent, edited, diff, next_version(ws, parent["base"]), resplit, added or {}, removed)
            except _Taken:
                continue  # another process saved this number first: build again under the next one
    raise UserError(f"{parent['name']}: the new version was not saved, nothing was added "
                    f"({ATTEMPTS} version numbers in a row were taken by other processes saving at the same time: try again)")


def _write(ws: Workspace, parent: dict, edited: dict[str, list[str]], diff: dict, version: int, resplit: Resplit | None,
           added: dict[str, Path], removed: frozenset[str] = frozenset()) -> dict:
    base, src = parent["base"], Path(parent["path"])
    name = f"{base}{VERSION_MARK}{version}"
    dest = ws.datasets_dir / name
    scratch = Path(tempfile.mkdtemp(prefix=f"{VERSION_SCRATCH_PREFIX}{os.getpid()}-", dir=ws.datasets_dir))
    try:
        liveness.mark(scratch, ws.owners_dir)  # a later start removes it only once this process is gone
        out = scratch / "out"
        out.mkdir()
        _fill(src, out, dest, edited, resplit.moved if resplit else {}, added, removed)
        lineage = {"base": base, "version": version, "parent": parent["name"], "diff": diff}
        report = version_report(src, out, dest, name, lineage, *([resplit] if resplit else []))
        write_report(report, out / "report.json")
        try:
            out.rename(dest)  # atomic: the version appears whole or not at all
        except OSError:
            if dest.exists():  # "Directory not empty": another process renamed its version N first
                raise _Taken from None
            raise
        try:
            ws.add_dataset(
                name, dest, parent["format"], sum(report["images"].values()), report["classes"], report["images"], None, **lineage
            )
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)  # not listed, so not kept
            raise
    except OSError as exc:  # a full disk, ...
        raise UserError(f"{parent['name']}: the new version was not saved, nothing was added ({os_error_text(exc)})") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "name": name, "base": base, "version": version, "parent": parent["name"], "path": str(dest), "data_yaml": str(dest / "data.yaml"),
        "diff": diff,
    }
