"""Import a zip or folder into the workspace as a canonical Ultralytics dataset + report.json.

    import_dataset("hardhats.zip")  ->  <workspace>/datasets/hardhats/
        images/{train,val[,test]}/, labels/{train,val[,test]}/, data.yaml, report.json

Formats are detected (the report says which and why); splits come from the source when it has
them, else a seeded split. The dataset is written to a temporary folder and renamed into place
at the end, so a failure never leaves a half-imported dataset; a name already taken gets a new
version (name-2, name-3, ...) instead of mixing two imports.
"""

from __future__ import annotations

import random
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml
from PIL import Image, UnidentifiedImageError

from yolov11.data.archive import extract_zip
from yolov11.data.coco_format import looks_like_coco, read_coco
from yolov11.data.report import build_report, write_report
from yolov11.data.source import Issue, Sample, SourceDataset, images_under
from yolov11.data.yolo_format import find_yaml, looks_like_yolo, read_yolo
from yolov11.errors import UserError
from yolov11.workspace import Workspace

Progress = Callable[[float, str], None]


def detect_format(root: Path) -> SourceDataset:
    """Pick the reader for ``root``; the error lists what was looked for and what was found."""
    coco_ok, coco_why = looks_like_coco(root)
    yolo_ok, yolo_why = looks_like_yolo(root)
    if yolo_ok and (not coco_ok or find_yaml(root)):
        return read_yolo(root, yolo_why)
    if coco_ok:
        return read_coco(root, coco_why)
    n_img = len(images_under(root))
    n_txt = sum(1 for _ in root.rglob("*.txt"))
    n_xml = sum(1 for _ in root.rglob("*.xml"))
    raise UserError(
        f"{root.name}: no supported format found. Looked for YOLO ({yolo_why}) and COCO ({coco_why}); "
        f"found {n_img} images, {n_txt} .txt, {n_xml} .xml files"
    )


def _dataset_name(src: Path, name: str | None, ws: Workspace) -> str:
    base = name or re.sub(r"\.(zip|tar|tgz|tar\.gz)$", "", src.name, flags=re.I)
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.") or "dataset"
    if name and base != name:
        raise UserError(f"--name {name!r}: use letters, digits, '.', '_' and '-' only")
    candidate, version = base, 1
    while ws.dataset(candidate) or (ws.datasets_dir / candidate).exists():
        version += 1
        candidate = f"{base}-{version}"
    return candidate


def assign_splits(samples: list[Sample], val_fraction: float, seed: int) -> str:
    """Keep the source's splits when it has train and val; else split seeded. Returns how."""
    have = {s.split for s in samples}
    if "train" in have and "val" in have:
        for s in samples:
            s.split = s.split or "train"
        return "from the source"
    if not 0.0 < val_fraction < 1.0:
        raise UserError(f"--val-fraction {val_fraction}: must be between 0 and 1 (exclusive)")
    pool = [s for s in samples if s.split in (None, "train")]
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(pool) * val_fraction)) if len(pool) > 1 else 0
    for rank, i in enumerate(order):
        pool[i].split = "val" if rank < n_val else "train"
    return f"seeded random split (val fraction {val_fraction}, seed {seed})"


def _write(ds: SourceDataset, dest: Path, move: bool, progress: Progress | None) -> list[Sample]:
    """Copy images and write label files; unreadable images become issues. Returns kept samples."""
    kept, used = [], set()
    total = len(ds.samples)
    for i, s in enumerate(ds.samples):
        try:
            with Image.open(s.image) as im:
                im.size  # noqa: B018  (reads the header: catches non-images and truncated headers)
        except (UnidentifiedImageError, OSError) as exc:
            ds.issues.append(Issue(s.image.name, f"unreadable image ({exc.__class__.__name__})", "skipped"))
            continue
        stem = s.image.stem
        while (s.split, stem) in used:
            stem = f"{stem}_{i}"
        used.add((s.split, stem))
        img_out = dest / "images" / s.split / f"{stem}{s.image.suffix.lower()}"
        lbl_out = dest / "labels" / s.split / f"{stem}.txt"
        img_out.parent.mkdir(parents=True, exist_ok=True)
        lbl_out.parent.mkdir(parents=True, exist_ok=True)
        (shutil.move if move else shutil.copyfile)(s.image, img_out)
        lbl_out.write_text("".join(f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in s.boxes))
        kept.append(Sample(img_out, s.boxes, s.split))
        if progress and (i % 50 == 0 or i == total - 1):
            progress(0.1 + 0.8 * (i + 1) / total, f"writing images {i + 1}/{total}")
    return kept


def import_dataset(
    src: str | Path,
    name: str | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    workspace: Workspace | str | Path | None = None,
    progress: Progress | None = None,
) -> dict:
    """Import ``src`` (a .zip or a folder) and return its health report (also in report.json)."""
    ws = Workspace.at(workspace)
    src = Path(src).expanduser()
    if not src.exists():
        raise UserError(f"{src}: no such file or folder")
    scratch = Path(tempfile.mkdtemp(prefix=".import-", dir=ws.datasets_dir))
    try:
        if src.is_dir():
            root, move, warnings = src, False, []
        elif src.suffix.lower() == ".zip":
            if progress:
                progress(0.0, f"unpacking {src.name}")
            root, move = scratch / "src", True
            warnings = extract_zip(src, root)
        else:
            raise UserError(f"{src.name}: expected a .zip archive or a folder")
        ds = detect_format(root)
        ds.issues.extend(Issue(w.split(":")[0], w.split(": ", 1)[-1], "skipped") for w in warnings)
        split_how = assign_splits(ds.samples, val_fraction, seed)
        final_name = _dataset_name(src, name, ws)
        out = scratch / "out"
        kept = _write(ds, out, move, progress)
        if not kept:
            raise UserError(f"{src.name}: no readable images")
        splits = sorted({s.split for s in kept}, key=["train", "val", "test"].index)
        data = {"names": dict(enumerate(ds.names)), "nc": len(ds.names)}
        data.update({split: f"images/{split}" for split in splits})
        if "val" not in data:  # Ultralytics needs a val set; a 1-image source validates on train
            data["val"] = data["train"]
        (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        dest = ws.datasets_dir / final_name
        report = build_report(final_name, dest, src, ds, kept, split_how)
        write_report(report, out / "report.json")
        out.rename(dest)
        ws.add_dataset(final_name, dest, ds.format, len(kept), ds.names, {k: v["images"] for k, v in report["splits"].items()})
        if progress:
            progress(1.0, f"imported {final_name}")
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
