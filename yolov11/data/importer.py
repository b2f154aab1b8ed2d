"""Import a zip or folder into the workspace as a canonical Ultralytics dataset + report.json.

    import_dataset("hardhats.zip")  ->  <workspace>/datasets/hardhats/
        images/{train,val[,test]}/, labels/{train,val[,test]}/, data.yaml, report.json

Formats are detected (the report says which and why): YOLO (Ultralytics, flat, Roboflow),
COCO JSON, Pascal VOC, CVAT XML 1.1, LabelMe JSON and CreateML JSON. Splits come from the source when it has
them, else a seeded split stratified by class that keeps each family of augmented copies on one
side (splits.py, families.py); the report names the families a given split cuts. Every image is
checked (readable, pixel cap, truncation, EXIF rotation, exact and near duplicates, its family
descriptor) and every label line validated; an image
that no annotation names is left out unless asked for (tidy.py). The dataset is written to a temporary folder and renamed into place
at the end, so a failure never leaves a half-imported dataset; a name already taken gets a new
version (name-2, name-3, ...) instead of mixing two imports.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path

import numpy as np
import yaml

from yolov11 import liveness
from yolov11.data.archive import extract_zip
from yolov11.data.checks import ImageInfo, inspect_image, resave_whole
from yolov11.data.coco_format import looks_like_coco, read_coco
from yolov11.data.createml_format import looks_like_createml, read_createml
from yolov11.data.cvat_format import looks_like_cvat, read_cvat
from yolov11.data.families import MAX_CONTENT_IMAGES, Families, Thumbnails, features, find_families
from yolov11.data.labelme_format import looks_like_labelme, read_labelme
from yolov11.data.report import build_report, write_report
from yolov11.data.source import CONVERTED_SUFFIXES, Issue, Sample, SourceDataset, files_under, forget_scans, images_under
from yolov11.data.splits import assign_splits, check_fraction
from yolov11.data.tidy import drop_duplicate_boxes, drop_repeated_images, note_unread_files, settle_unlabelled, unique_names
from yolov11.data.voc_format import looks_like_voc, read_voc
from yolov11.data.yolo_format import find_yaml, looks_like_yolo, read_yolo
from yolov11.errors import UserError, os_error_text
from yolov11.machine import usable_cpus
from yolov11.workspace import Workspace
from yolov11.workspace.paths import SCRATCH_PREFIX

Progress = Callable[[float, str], None]
BATCH = 32  # images per pool task: one future and one GIL hand-off per batch, not per image
FORMAT_NAMES = {
    "coco": "COCO JSON", "voc": "Pascal VOC", "cvat": "CVAT XML", "labelme": "LabelMe JSON", "createml": "CreateML JSON", "yolo": "YOLO",
}


def detect_format(root: Path, include_difficult: bool = False) -> SourceDataset:
    """Pick the reader for ``root``; the error lists what was looked for and what was found.

    A data.yaml makes it YOLO (Roboflow ships one beside other formats); else the first of
    COCO JSON, Pascal VOC, CVAT XML, LabelMe JSON, CreateML JSON, YOLO label files that matches. The reason
    names any other format that matched too.
    """
    checks = {
        "coco": (looks_like_coco, read_coco),
        "voc": (looks_like_voc, lambda r, why: read_voc(r, why, include_difficult)),
        "cvat": (looks_like_cvat, read_cvat),
        "labelme": (looks_like_labelme, read_labelme),
        "createml": (looks_like_createml, read_createml),
        "yolo": (looks_like_yolo, read_yolo),
    }
    found = {name: look(root) for name, (look, _) in checks.items()}
    matched = [name for name, (ok, _) in found.items() if ok]
    if not matched:
        n_img = len(images_under(root))
        n_txt, n_xml, n_json = (len(files_under(root, f".{ext}")) for ext in ("txt", "xml", "json"))
        looked = "; ".join(f"{FORMAT_NAMES[name]} ({why})" for name, (_, why) in found.items())
        raise UserError(
            f"{root.name}: no supported format found. Looked for {looked}. "
            f"Found {n_img} images, {n_txt} .txt, {n_xml} .xml, {n_json} .json files"
        )
    choice = "yolo" if "yolo" in matched and find_yaml(root) else matched[0]
    others = ", ".join(FORMAT_NAMES[m] for m in matched if m != choice)
    reason = found[choice][1] + (f" (also matched: {others})" if others else "")
    return checks[choice][1](root, reason)


MAX_NAME = 64  # dataset names become folder names, URLs and CLI arguments


def derived_name(filename: str) -> str:
    """A valid dataset name from a file or folder name: "Baustelle Übung (2).zip" -> "Baustelle-Ubung-2"."""
    stem = re.sub(r"\.(zip|tar|tgz|tar\.gz)$", "", filename, flags=re.I)
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_stem).strip("-._")[:MAX_NAME].strip("-._") or "dataset"


def check_name(name: str | None) -> str | None:
    """The dataset name the user typed (None when blank); UserError when it cannot be one."""
    if name is None or not name.strip():
        return None
    if len(name) > MAX_NAME or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise UserError(f"--name {name[:80]!r}: use up to {MAX_NAME} letters, digits, '.', '_' and '-', starting with a letter or digit")
    return name


def _dataset_name(src: Path, name: str | None, ws: Workspace) -> str:
    base = check_name(name) or derived_name(src.name)
    candidate, version = base, 1
    while ws.dataset(candidate) or (ws.datasets_dir / candidate).exists():
        version += 1
        candidate = f"{base}-{version}"
    return candidate


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


def _workers() -> int:
    """Pool threads: four per usable core. Decoding and hashing release the GIL, and file
    creation mostly waits (on the disk, on the folder's lock). On 2 busy cores, 2,000 images:
    three threads 6.0 s for 4.6 s of CPU (waiting), eight 4.4 s (medians of 4)."""
    return min(32, 4 * usable_cpus())


class _Checks:
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


def _place(jobs: list[tuple[Sample, Path, Path, bool]], checks: _Checks) -> list[ImageInfo]:
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


def _write(ds: SourceDataset, dest: Path, move: bool, progress: Progress | None, checks: _Checks,
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


def _check_all(ds: SourceDataset, checks: _Checks, pool: ThreadPoolExecutor, progress: Progress | None) -> list[ImageInfo]:
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


def _families(ds: SourceDataset, infos: list[ImageInfo], index: list[int], content: bool) -> Families:
    """The families among the images ``infos`` checked (``index``: their samples), by their names
    in the source (the import may rename a file whose name another split holds) and by content."""
    return find_families([i.family for i in infos], names=[ds.samples[k].image.name for k in index], content=content)


def import_dataset(
    src: str | Path,
    name: str | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    workspace: Workspace | str | Path | None = None,
    progress: Progress | None = None,
    include_difficult: bool = False,
    unlabelled_as_background: bool = False,
) -> dict:
    """Import ``src`` (a .zip or a folder) and return its health report (also in report.json).

    ``include_difficult`` keeps Pascal VOC objects flagged difficult (left out by default).
    ``unlabelled_as_background`` keeps images that no annotation names (no VOC XML, no LabelMe
    JSON, not listed by the CreateML JSON or CVAT XML) as backgrounds; by default they are left
    out, each named in the report's issues. In YOLO folders an image without a .txt is a
    background by convention either way (the report counts and names them).
    """
    ws = Workspace.at(workspace)
    src = Path(src).expanduser()
    name = check_name(name)
    if not src.exists():
        raise UserError(f"{src}: no such file or folder")
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=ws.datasets_dir))
    pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="import")
    try:
        liveness.mark(scratch, ws.owners_dir)  # a later start removes it only once this process is gone
        if src.is_dir():
            root, move, warnings = src, False, []
        elif src.suffix.lower() == ".zip":
            if progress:
                progress(0.0, f"unpacking {src.name}")
            root, move = scratch / "unpacked" / derived_name(src.name), True  # named after the zip: messages say "hats: ..."
            warnings = extract_zip(src, root)
        else:
            raise UserError(f"{src.name}: expected a .zip archive or a folder")
        paths = images_under(root)
        content = len(paths) <= MAX_CONTENT_IMAGES
        # while annotations are read
        checks = _Checks(paths, pool, Thumbnails(scratch / "thumbnails", len(paths) if content else 0), content)
        ds = detect_format(root, include_difficult)
        if not ds.names:
            raise UserError(f"{src.name}: the {FORMAT_NAMES[ds.format]} annotations name no class")
        unique_names(ds)
        ds.issues.extend(Issue(w.split(":")[0], w.split(": ", 1)[-1], "skipped") for w in warnings)
        note_unread_files(ds, root)
        drop_repeated_images(ds)
        settle_unlabelled(ds, root, unlabelled_as_background)
        drop_duplicate_boxes(ds)
        # Every image's check first (most are done: they ran while the annotations were read). The
        # families decide the split when it is ours to make; where the source gives it, they are
        # for the report only and are grouped on the pool while the files are written.
        every = list(range(len(ds.samples)))
        given = {"train", "val"} <= {s.split for s in ds.samples}
        if not given:
            check_fraction(val_fraction)  # before the wait for the checks
        checked = _check_all(ds, checks, pool, progress)
        if progress and not given:
            progress(0.5, f"finding families of augmented copies among {len(every)} images")
        found = None if given else _families(ds, checked, every, content)
        split_how = assign_splits(ds.samples, val_fraction, seed, found.keys if found else None, ds.warnings)
        grouping = pool.submit(_families, ds, checked, every, content) if given else None
        final_name = _dataset_name(src, name, ws)
        out = scratch / "out"
        kept, infos, index = _write(ds, out, move, progress, checks, pool)
        if not kept:
            raise UserError(f"{src.name}: no readable images")
        found = (grouping.result() if grouping else found).subset(index)  # less the images that could not be read
        if not content:
            ds.notes.append(f"{len(paths):,} images: more than {MAX_CONTENT_IMAGES:,}, so augmented copies were grouped by "
                            "their Roboflow names only (the content test was skipped)")
        splits = sorted({s.split for s in kept}, key=["train", "val", "test"].index)
        data = {"names": dict(enumerate(ds.names)), "nc": len(ds.names)}
        data.update({split: f"images/{split}" for split in splits})
        if "val" not in data:  # Ultralytics needs a val set; a 1-image source validates on train
            data["val"] = data["train"]
        (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        dest = ws.datasets_dir / final_name
        report = build_report(final_name, dest, src, ds, kept, infos, split_how, out, found)
        write_report(report, out / "report.json")
        out.rename(dest)  # atomic: the dataset appears whole or not at all
        try:
            options = {"val_fraction": val_fraction, "seed": seed, "include_difficult": include_difficult,
                       "unlabelled_as_background": unlabelled_as_background}
            origin = {"src": str(src.resolve()), "options": options}
            ws.add_dataset(final_name, dest, ds.format, len(kept), ds.names, report["images"], origin)
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)  # not listed, so not kept
            raise
        if progress:
            progress(1.0, f"imported {final_name}")
        return report
    except OSError as exc:  # the disk filled up, a name too long for the filesystem, ...
        raise UserError(f"{src.name}: the import stopped, nothing was added ({os_error_text(exc)})") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # before the scratch folder it reads goes
        forget_scans()
        shutil.rmtree(scratch, ignore_errors=True)
