"""How an import checks its images and writes the dataset folder: the checks started on a thread
pool as soon as the source's files are known (``ImageChecks``), every image placed (hard-linked,
moved or converted) with its label file (``write_samples``), and the pool's size (``pool_workers``).
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path

import numpy as np

from yolov11.data.checks import ImageInfo, inspect_image, resave_whole
from yolov11.data.families import Thumbnails, features
from yolov11.data.source import CONVERTED_SUFFIXES, Issue, Sample, SourceDataset
from yolov11.machine import usable_cpus

Progress = Callable[[float, str], None]
BATCH = 32  # images per pool task: one future and one GIL hand-off per batch, not per image


def _link_or_copy(src: Path, dest: Path) -> None:
    """Hard-link an image of a source folder (no second copy on disk, and fast); copy across
    filesystems. Tools replace images by writing new files, so the link never sees later edits."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _label_text(boxes: np.ndarray) -> str:
    # Python floats (tolist) format exactly as the float32 scalars did, at a fraction of the cost.
    return "".join("%d %.6f %.6f %.6f %.6f\n" % (int(c), x, y, w, h) for c, x, y, w, h in boxes.tolist())


def _write_label(path: Path, boxes: np.ndarray) -> None:
    with open(path, "wb") as f:  # ASCII: the bytes write_text would write, without a text layer per file
        f.write(_label_text(boxes).encode("ascii"))


def _convert_to_png(src: Path, dest: Path) -> None:
    """A GIF's first frame as PNG: Ultralytics trains on neither GIFs nor their animation."""
    from PIL import Image

    with Image.open(src) as im:
        im.seek(0)
        im.convert("RGB").save(dest, "PNG")


def _batches(items: list, size: int = BATCH):
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def pool_workers() -> int:
    """Pool threads: four per usable core. Decoding and hashing release the GIL, and file
    creation mostly waits (on the disk, on the folder's lock). On 2 busy cores, 2,000 images:
    three threads 6.0 s for 4.6 s of CPU (waiting), eight 4.4 s (medians of 4)."""
    return min(32, 4 * usable_cpus())


class ImageChecks:
    """The image checks of an import, started on a thread pool as soon as the source's files are
    known, so they run while the main thread detects the format and parses the annotations. Each
    batch also computes its images' family features (``families.features``) and, with
    ``thumbnails``, moves their thumbnails out of the heap.

    The import waits for every check before it splits (``_check_all``: the families decide the
    split), so placing finds them made; ``stop`` withdraws the batches not begun yet, should
    placing start earlier. ``get_many`` returns files' checks: those made ahead (waiting for
    them), else made there and then, once (also for an image the folder walk did not list: a
    reader may name one)."""

    def __init__(self, paths: list[Path], pool: ThreadPoolExecutor, thumbnails: Thumbnails | None = None, family: bool = True) -> None:
        self._ahead: dict[str, tuple[Future, int]] = {}
        self._made: dict[str, ImageInfo] = {}  # checks made on demand, kept: an image is checked once
        self._futures: list[Future] = []
        self._thumbnails, self._family = thumbnails, family
        for batch in _batches(paths):
            future = pool.submit(self.inspect, batch)
            self._futures.append(future)
            for k, p in enumerate(batch):
                self._ahead[os.path.normpath(p)] = (future, k)

    def inspect(self, paths: list[Path]) -> list[ImageInfo]:
        """The checks of ``paths``, made here, with their family features (a batch at a time: vectorised)."""
        infos = [inspect_image(p, self._family) for p in paths]
        described = [i for i in infos if i.family is not None]
        for info, desc in zip(described, features([i.family for i in described])):
            info.family = self._thumbnails.keep(desc) if self._thumbnails else desc
        return infos

    def stop(self) -> None:
        for future in self._futures:
            future.cancel()  # only those not running yet: the others finish

    def get_many(self, paths: list[Path]) -> list[ImageInfo]:
        """The checks of ``paths``: made ahead (waiting for them), the others made here as one batch."""
        out: list[ImageInfo | None] = []
        for path in paths:
            ahead = self._ahead.get(os.path.normpath(path))
            out.append(ahead[0].result()[ahead[1]] if ahead and not ahead[0].cancelled() else self._made.get(os.path.normpath(path)))
        missing = [k for k, info in enumerate(out) if info is None]
        for k, info in zip(missing, self.inspect([paths[k] for k in missing])):
            out[k] = self._made[os.path.normpath(paths[k])] = info
        return out

    def get(self, path: Path) -> ImageInfo:
        return self.get_many([path])[0]


def _place(jobs: list[tuple[Sample, Path, Path, bool]], checks: ImageChecks) -> list[ImageInfo]:
    """Check each image and, when usable, link/move (or convert) it and write its label file (runs in a pool)."""
    infos = checks.get_many([sample.image for sample, *_ in jobs])
    for (sample, img_out, lbl_out, move), info in zip(jobs, infos):
        if not (info.problem or info.truncated):  # truncated ones are re-saved afterwards, one at a time
            if sample.image.suffix.lower() in CONVERTED_SUFFIXES:
                _convert_to_png(sample.image, img_out)
            else:
                (shutil.move if move else _link_or_copy)(sample.image, img_out)
            _write_label(lbl_out, sample.boxes)
    return infos


def write_samples(ds: SourceDataset, dest: Path, move: bool, progress: Progress | None, checks: ImageChecks,
           pool: ThreadPoolExecutor) -> tuple[list[Sample], list[ImageInfo], list[int]]:
    """Check every image, place the usable ones and write their labels; returns them with their
    checks and their places in ``ds.samples``.

    Per image: two file creations (disk latency; the checks are made by then, ``_check_all``), in
    batches on the pool, beside the family grouping of a given split (``import_dataset``)."""
    jobs, used = [], set()
    for i, s in enumerate(ds.samples):
        stem = s.image.stem
        while (s.split, stem) in used:
            stem = f"{stem}_{i}"
        used.add((s.split, stem))
        suffix = ".png" if s.image.suffix.lower() in CONVERTED_SUFFIXES else s.image.suffix.lower()
        jobs.append((s, dest / "images" / s.split / f"{stem}{suffix}", dest / "labels" / s.split / f"{stem}.txt", move))
    for split in {s.split for s in ds.samples}:
        (dest / "images" / split).mkdir(parents=True, exist_ok=True)
        (dest / "labels" / split).mkdir(parents=True, exist_ok=True)
    kept, kept_infos, kept_index, total = [], [], [], len(jobs)
    batches = list(_batches(jobs))
    # Submitted alternating between splits, so threads creating files at once mostly work in
    # different folders (file creation locks its folder); results are taken in sample order.
    by_split: dict[str, list[int]] = defaultdict(list)
    for k, batch in enumerate(batches):
        by_split[batch[0][0].split].append(k)
    checks.stop()
    futures: dict[int, Future] = {}
    for turn in range(max(map(len, by_split.values()), default=0)):
        for ks in by_split.values():
            if turn < len(ks):
                futures[ks[turn]] = pool.submit(_place, batches[ks[turn]], checks)
    done = 0
    for k, batch in enumerate(batches):
        future = futures[k]
        for (s, img_out, lbl_out, _), info in zip(batch, future.result()):
            i, done = done, done + 1
            if progress and (i % 200 == 0 or i == total - 1):
                progress(0.55 + 0.35 * (i + 1) / total, f"writing images {i + 1}/{total}")
            if info.problem:
                ds.issues.append(Issue(s.image.name, info.problem, "skipped"))
                continue
            if info.truncated:
                try:
                    resave_whole(s.image, img_out)  # PIL's truncation switch is global: not in the pool
                except OSError as exc:
                    ds.issues.append(Issue(s.image.name, f"truncated JPEG that cannot be decoded ({exc})", "skipped"))
                    continue
                _write_label(lbl_out, s.boxes)
                ds.issues.append(Issue(s.image.name, "truncated JPEG", "fixed: decoded as far as possible and re-saved"))
            if s.image.suffix.lower() in CONVERTED_SUFFIXES:
                ds.issues.append(Issue(s.image.name, "GIF image", "fixed: first frame imported as PNG"))
            kept.append(Sample(img_out, s.boxes, s.split, s.label_issues, unlabelled=s.unlabelled))
            kept_infos.append(info)
            kept_index.append(i)
    return kept, kept_infos, kept_index


def check_all(ds: SourceDataset, checks: ImageChecks, pool: ThreadPoolExecutor, progress: Progress | None) -> list[ImageInfo]:
    """Every sample's image check, in sample order, with progress: those made ahead waited for,
    the others (images a reader named that the folder walk did not list) made on the pool."""
    out: list[ImageInfo] = []
    # queued behind every check made ahead, so a waiting task never holds a thread those need
    futures = [pool.submit(checks.get_many, [s.image for s in batch]) for batch in _batches(ds.samples, 8 * BATCH)]
    for future in futures:
        out += future.result()
        if progress:
            progress(0.1 + 0.4 * len(out) / len(ds.samples), f"checking images {len(out)}/{len(ds.samples)}")
    return out
