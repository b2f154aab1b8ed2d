"""Import a zip or folder into the workspace as a canonical Ultralytics dataset + report.json.

    import_dataset("hardhats.zip")  ->  <workspace>/datasets/hardhats/
        images/{train,val[,test]}/, labels/{train,val[,test]}/, data.yaml, report.json

Formats are detected (the report says which and why): YOLO (Ultralytics, flat, Roboflow),
COCO JSON, Pascal VOC, CVAT XML 1.1, LabelMe JSON and CreateML JSON. Splits come from the source when it has
them, else a seeded split stratified by class. Every image is checked (readable, pixel cap,
truncation, EXIF rotation, exact and near duplicates) and every label line validated; an image
that no annotation names is left out unless asked for (tidy.py). The dataset is written to a temporary folder and renamed into place
at the end, so a failure never leaves a half-imported dataset; a name already taken gets a new
version (name-2, name-3, ...) instead of mixing two imports.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import tempfile
import unicodedata
from collections import Counter, defaultdict
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
from yolov11.data.labelme_format import looks_like_labelme, read_labelme
from yolov11.data.report import build_report, write_report
from yolov11.data.source import CONVERTED_SUFFIXES, Issue, Sample, SourceDataset, files_under, forget_scans, images_under
from yolov11.data.tidy import drop_duplicate_boxes, drop_repeated_images, note_unread_files, settle_unlabelled, unique_names
from yolov11.data.voc_format import looks_like_voc, read_voc
from yolov11.data.yolo_format import find_yaml, looks_like_yolo, read_yolo
from yolov11.errors import UserError, os_error_text
from yolov11.training.settings import usable_cpus
from yolov11.workspace import SCRATCH_PREFIX, Workspace

Progress = Callable[[float, str], None]
BATCH = 32  # images per pool task: one future and one GIL hand-off per batch, not per image
FORMAT_NAMES = {"coco": "COCO JSON", "voc": "Pascal VOC", "cvat": "CVAT XML", "labelme": "LabelMe JSON", "createml": "CreateML JSON", "yolo": "YOLO"}


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
        raise UserError(f"{root.name}: no supported format found. Looked for {looked}. Found {n_img} images, {n_txt} .txt, {n_xml} .xml, {n_json} .json files")
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


def assign_splits(samples: list[Sample], val_fraction: float, seed: int) -> str:
    """Keep the source's splits when it has train and val; else a seeded split stratified by class.

    Each image joins the group of its rarest class (backgrounds form a group of their own) and
    every group gives ``val_fraction`` of its images to val, so rare classes reach val too.
    A source test split stays test. Returns how the split was made, for the report.
    """
    have = {s.split for s in samples}
    if "train" in have and "val" in have:
        for s in samples:
            s.split = s.split or "train"
        return "from the source"
    if not 0.0 < val_fraction < 1.0:
        raise UserError(f"--val-fraction {val_fraction}: must be between 0 and 1 (exclusive)")
    only_val = "val" in have and "train" not in have
    if only_val:  # a source with a val split alone (COCO's instances_val2017): split it into train and val
        for s in samples:
            s.split = None if s.split == "val" else s.split
    pool = [s for s in samples if s.split in (None, "train")]
    freq = Counter(int(c) for s in pool for c in s.boxes[:, 0])
    groups: dict[int, list[Sample]] = defaultdict(list)
    for s in pool:
        classes = {int(c) for c in s.boxes[:, 0]}
        groups[min(classes, key=lambda c: (freq[c], c)) if classes else -1].append(s)
    rng = random.Random(seed)
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        n_val = round(len(members) * val_fraction)
        for rank, s in enumerate(members):
            s.split = "val" if rank < n_val else "train"
    if pool and not any(s.split == "val" for s in pool) and len(pool) > 1:
        pool[0].split = "val"  # tiny sources: at least one validation image
    how = f"seeded split stratified by class (val fraction {val_fraction}, seed {seed})"
    return f"the source has a val split only: {how}" if only_val else how


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
    known, so they run while the main thread detects the format and parses the annotations.

    Once placing starts, ``stop`` withdraws the batches not begun yet: the placing threads then
    check those images themselves, so decoding (CPU) and file creation (disk) interleave on the
    pool. ``get`` returns a file's check: the one made ahead (waiting for it), else one made
    there and then (also for an image the folder walk did not list: a reader may name one)."""

    def __init__(self, paths: list[Path], pool: ThreadPoolExecutor) -> None:
        self._ahead: dict[str, tuple[Future, int]] = {}
        self._futures: list[Future] = []
        for batch in _batches(paths):
            future = pool.submit(lambda b: [inspect_image(p) for p in b], batch)
            self._futures.append(future)
            for k, p in enumerate(batch):
                self._ahead[os.path.normpath(p)] = (future, k)

    def stop(self) -> None:
        for future in self._futures:
            future.cancel()  # only those not running yet: the others finish

    def get(self, path: Path) -> ImageInfo:
        ahead = self._ahead.get(os.path.normpath(path))
        if ahead and not ahead[0].cancelled():
            return ahead[0].result()[ahead[1]]
        return inspect_image(path)


def _place(jobs: list[tuple[Sample, Path, Path, bool]], checks: _Checks) -> list[ImageInfo]:
    """Check each image and, when usable, link/move (or convert) it and write its label file (runs in a pool)."""
    infos = []
    for sample, img_out, lbl_out, move in jobs:
        info = checks.get(sample.image)
        if not (info.problem or info.truncated):  # truncated ones are re-saved afterwards, one at a time
            if sample.image.suffix.lower() in CONVERTED_SUFFIXES:
                _convert_to_png(sample.image, img_out)
            else:
                (shutil.move if move else _link_or_copy)(sample.image, img_out)
            _write_label(lbl_out, sample.boxes)
        infos.append(info)
    return infos


def _write(ds: SourceDataset, dest: Path, move: bool, progress: Progress | None, checks: _Checks, pool: ThreadPoolExecutor) -> tuple[list[Sample], list[ImageInfo]]:
    """Check every image, place the usable ones and write their labels; returns them with their checks.

    Per image: read + hash + reduced-scale decode (CPU, partly done ahead by ``checks``) and two
    file creations (disk latency), in batches on the pool, so both cores and the disk stay busy."""
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
    kept, kept_infos, total = [], [], len(jobs)
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
                progress(0.1 + 0.8 * (i + 1) / total, f"checking and writing images {i + 1}/{total}")
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
    return kept, kept_infos


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
        checks = _Checks(images_under(root), pool)  # runs while the annotations are read
        ds = detect_format(root, include_difficult)
        if not ds.names:
            raise UserError(f"{src.name}: the {FORMAT_NAMES[ds.format]} annotations name no class")
        unique_names(ds)
        ds.issues.extend(Issue(w.split(":")[0], w.split(": ", 1)[-1], "skipped") for w in warnings)
        note_unread_files(ds, root)
        drop_repeated_images(ds)
        settle_unlabelled(ds, root, unlabelled_as_background)
        drop_duplicate_boxes(ds)
        split_how = assign_splits(ds.samples, val_fraction, seed)
        final_name = _dataset_name(src, name, ws)
        out = scratch / "out"
        kept, infos = _write(ds, out, move, progress, checks, pool)
        if not kept:
            raise UserError(f"{src.name}: no readable images")
        splits = sorted({s.split for s in kept}, key=["train", "val", "test"].index)
        data = {"names": dict(enumerate(ds.names)), "nc": len(ds.names)}
        data.update({split: f"images/{split}" for split in splits})
        if "val" not in data:  # Ultralytics needs a val set; a 1-image source validates on train
            data["val"] = data["train"]
        (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        dest = ws.datasets_dir / final_name
        report = build_report(final_name, dest, src, ds, kept, infos, split_how, out)
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
