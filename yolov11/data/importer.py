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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from yolov11 import liveness
from yolov11.data.archive import extract_zip
from yolov11.data.checks import ImageInfo
from yolov11.data.coco_format import looks_like_coco, read_coco
from yolov11.data.createml_format import looks_like_createml, read_createml
from yolov11.data.cvat_format import looks_like_cvat, read_cvat
from yolov11.data.families import MAX_CONTENT_IMAGES, Families, Thumbnails, find_families
from yolov11.data.labelme_format import looks_like_labelme, read_labelme
from yolov11.data.placement import ImageChecks, Progress, check_all, pool_workers, write_samples
from yolov11.data.report import build_report, write_report
from yolov11.data.source import Issue, SourceDataset, files_under, forget_scans, images_under
from yolov11.data.splits import assign_splits, check_fraction
from yolov11.data.tidy import drop_duplicate_boxes, drop_repeated_images, note_unread_files, settle_unlabelled, unique_names
from yolov11.data.voc_format import looks_like_voc, read_voc
from yolov11.data.yolo_format import find_yaml, looks_like_yolo, read_yolo
from yolov11.errors import UserError, os_error_text
from yolov11.workspace import Workspace
from yolov11.workspace.paths import SCRATCH_PREFIX

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
    pool = ThreadPoolExecutor(max_workers=pool_workers(), thread_name_prefix="import")
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
        checks = ImageChecks(paths, pool, Thumbnails(scratch / "thumbnails", len(paths) if content else 0), content)
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
        checked = check_all(ds, checks, pool, progress)
        if progress and not given:
            progress(0.5, f"finding families of augmented copies among {len(every)} images")
        found = None if given else _families(ds, checked, every, content)
        split_how = assign_splits(ds.samples, val_fraction, seed, found.keys if found else None, ds.warnings)
        grouping = pool.submit(_families, ds, checked, every, content) if given else None
        final_name = _dataset_name(src, name, ws)
        out = scratch / "out"
        kept, infos, index = write_samples(ds, out, move, progress, checks, pool)
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
