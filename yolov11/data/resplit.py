"""Re-split by family: a new version of a dataset whose train and val keep each family of
augmented copies (``families``) on one side.

    resplit_dataset("hats", val_fraction=0.2, seed=0)
        ->  <workspace>/datasets/hats@v<N>/  (images hard-linked from hats, labels copied, the
            images that change sides in the other split's folders), registered with its parent
            and the lineage {"resplit": {"seed", "val_fraction", "moved", "families"}} in its diff

The train and val images are pooled and split again as the importer splits a source without
one (``splits.split_pool``: stratified by class, seeded, whole families); a test split stays as
it is. The same dataset, fraction and seed give the same split, so a run's notebook rebuilds the
version by calling this again. Like a label edit, the version is written by ``version_folder``
(a scratch folder renamed into place) and the parent is left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from yolov11 import liveness
from yolov11.data.families import MAX_CONTENT_IMAGES, Thumbnails, crossing, describe_file, features, find_families
from yolov11.data.source import Sample
from yolov11.data.splits import check_fraction, split_pool
from yolov11.data.version_folder import Resplit, write_version
from yolov11.data.versions import dataset_images, dataset_record
from yolov11.data.yolo_format import label_path, read_label_boxes
from yolov11.errors import UserError
from yolov11.machine import usable_cpus
from yolov11.workspace import Workspace
from yolov11.workspace.paths import VERSION_SCRATCH_PREFIX

BATCH = 32  # images described per pool task


def _descriptors(paths: list[Path], scratch: Path) -> list:
    """Each image's family descriptor with its features (None: unreadable), a batch per task on
    a thread pool (decoding releases the GIL), thumbnails kept on disk in ``scratch``."""
    thumbnails = Thumbnails(scratch / "thumbnails", len(paths))

    def batch(part: list[Path]) -> list:
        descs = [describe_file(p) for p in part]
        done = iter(features([d for d in descs if d is not None]))
        return [thumbnails.keep(next(done)) if d is not None else None for d in descs]

    with ThreadPoolExecutor(max_workers=min(16, 2 * usable_cpus()), thread_name_prefix="resplit") as pool:
        return [d for part in pool.map(batch, [paths[k:k + BATCH] for k in range(0, len(paths), BATCH)]) for d in part]


def _moves(rels: list[str], old: list[str], new: list[str]) -> dict[str, str]:
    """image path -> its path in the other split, for each image whose split changed; a file
    whose stem the target split holds already gets the importer's ``_<n>`` suffix (labels are
    named by the stem)."""
    taken: dict[str, set[str]] = {}
    for rel, was, now in zip(rels, old, new):
        if was == now:
            taken.setdefault(now, set()).add(Path(rel).stem)
    moved = {}
    for k, (rel, was, now) in enumerate(zip(rels, old, new)):
        if was != now:
            name = Path(rel).name
            stem, suffix = Path(name).stem, Path(name).suffix
            while stem in taken.setdefault(now, set()):
                stem = f"{stem}_{k}"
            taken[now].add(stem)
            moved[rel] = f"images/{now}/{stem}{suffix}"
    return moved


def resplit_dataset(data: str, val_fraction: float = 0.2, seed: int = 0, workspace: Workspace | str | Path | None = None) -> dict:
    """Write a version of dataset ``data`` whose train and val are split again by family
    (``val_fraction`` of each class group's images to val, families whole, ``seed``; a test split
    kept) and return it: ``{"name", "base", "version", "parent", "path", "data_yaml", "diff",
    "split_method", "images": {split: count}, "moved", "families", "crossing_before",
    "crossing_after"}``. ``crossing_after`` counts the families still across splits (those with a
    member in a test split kept as given)."""
    ws = Workspace.at(workspace)
    parent = dataset_record(ws, data)
    check_fraction(val_fraction)
    root = Path(parent["path"])
    rels = dataset_images(root)
    if len(rels) < 2:
        raise UserError(field="--data", value=parent['name'], detail=f"{len(rels)} image(s): nothing to split")
    samples = [Sample(root / rel, read_label_boxes(label_path(root / rel)), rel.split("/")[1]) for rel in rels]
    old = [s.split for s in samples]
    if not {"train", "val"} & set(old):
        raise UserError(
            field="--data", value=parent['name'], detail=f"it has no train or val split to re-split (only {', '.join(sorted(set(old)))})"
        )
    content = len(rels) <= MAX_CONTENT_IMAGES
    scratch = Path(tempfile.mkdtemp(prefix=f"{VERSION_SCRATCH_PREFIX}{os.getpid()}-", dir=ws.datasets_dir))
    try:
        liveness.mark(scratch, ws.owners_dir)  # a later start removes it only once this process is gone
        descs = _descriptors([root / rel for rel in rels], scratch) if content else [None] * len(rels)
        found = find_families(descs, names=[Path(rel).name for rel in rels], content=content)
        for s in samples:
            s.split = None if s.split in ("train", "val") else s.split
        warnings: list[str] = []
        how = split_pool(samples, val_fraction, seed, found.keys, warnings)
        new = [s.split for s in samples]
        moved = _moves(rels, old, new)
        if not moved:
            raise UserError(f"--data {parent['name']}: nothing to change: the split with val fraction {val_fraction} and seed {seed} "
                            "is the one it has")
        before, after = len(crossing(found, old)), len(crossing(found, new))
        lineage = {"seed": seed, "val_fraction": val_fraction, "moved": len(moved), "families": len(found.groups)}
        diff = {"added": 0, "removed": 0, "changed": 0, "resplit": lineage}  # no box changed: the counts the versions table shows
        split_method = f"re-split by family from {parent['name']}: {how}" + "".join(f"; {w}" for w in warnings)
        paths = [moved.get(rel, rel) for rel in rels]
        version = write_version(ws, parent, {}, diff, Resplit(moved, found, paths, split_method))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    images = {split: new.count(split) for split in ("train", "val", "test") if split in new}
    return {**version, "split_method": split_method, "images": images, "moved": len(moved), "families": len(found.groups),
            "crossing_before": before, "crossing_after": after}
