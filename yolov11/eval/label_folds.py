"""Out-of-sample predictions of a run's train split, by cross-validation (label issues' ``--split train``).

The run's model has seen every train label, so its own predictions there agree with the labels,
mistakes included. Instead the train images are split into k folds (seeded by the run's seed);
for each fold a model with the run's settings (``fold_epochs`` epochs, default the run's) is
trained on the other folds and predicts the fold. The fold models live in a workspace of their
own inside the run folder (``runs/<run>/label-folds/``), so they do not crowd the run list.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import yaml

from yolov11.data.class_names import class_names
from yolov11.data.source import IMAGE_SUFFIXES
from yolov11.errors import UserError
from yolov11.workspace import Workspace

MAX_FOLDS = 10


def _train_images(data_yaml: Path) -> list[Path]:
    folder = data_yaml.parent / "images" / "train"
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []


def _check(ws: Workspace, run: str, folds: int) -> tuple[dict, Path, list[Path]]:
    record = ws.require_run(run)
    if not isinstance(folds, int) or isinstance(folds, bool) or not 2 <= folds <= MAX_FOLDS:
        raise UserError(field="--folds", value=folds, detail=f"use 2 to {MAX_FOLDS}")
    data_yaml = ws.resolve_data(record["dataset"])
    images = _train_images(data_yaml)
    if len(images) < 2 * folds:
        raise UserError(
            field="--folds", value=folds,
            detail=f"the train split of {record['dataset']} has {len(images)} images, too few for {folds} folds",
        )
    return record, data_yaml, images


def estimate(run: str, folds: int = 2, fold_epochs: int | None = None, workspace: Workspace | str | Path | None = None) -> dict:
    """How long the cross-validation of ``run``'s train split takes, from the run's own time:
    ``{"trainings", "epochs", "seconds", "text"}``."""
    ws = Workspace.at(workspace)
    record, _, _ = _check(ws, run, folds)
    settings = record["settings"] or {}
    epochs = fold_epochs or int(settings.get("epochs") or 1)
    run_epochs = int(settings.get("epochs") or 1)
    took = max(1.0, float(record["updated"] or 0) - float(record["created"] or 0))
    seconds = folds * took * (folds - 1) / folds * epochs / run_epochs  # each fold model trains on (k-1)/k of the images
    return {
        "trainings": folds, "epochs": epochs, "seconds": round(seconds),
        "text": f"{folds} trainings of {epochs} epochs on {folds - 1}/{folds} of the train images: about {_minutes(seconds)}",
    }


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _fold_yaml(dest: Path, names: list[str], train: list[Path], held_out: list[Path]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "train.txt").write_text("".join(f"{p}\n" for p in train))
    (dest / "val.txt").write_text("".join(f"{p}\n" for p in held_out))
    doc = {"path": str(dest), "train": "train.txt", "val": "val.txt", "names": dict(enumerate(names))}
    (dest / "data.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest / "data.yaml"


def predictions(ws: Workspace, run: str, folds: int, fold_epochs: int | None, notify) -> tuple[dict, list[dict]]:
    """(COCO ground truth, detections) of every train image, each predicted by the model that did not train on it."""
    from yolov11.eval.evaluate import evaluate
    from yolov11.training.runner import train
    from yolov11.training.settings import run_keywords

    record, data_yaml, images = _check(ws, run, folds)
    settings = run_keywords(record["settings"] or {})
    if fold_epochs:
        settings["epochs"] = int(fold_epochs)
    names = class_names(data_yaml)
    order = np.random.default_rng(int(settings.get("seed") or 0)).permutation(len(images))
    parts = [sorted(images[i] for i in order[f::folds]) for f in range(folds)]
    home = Path(record["dir"]) / "label-folds"
    fold_ws = Workspace.at(home / "workspace")
    notify(0.0, estimate(run, folds, fold_epochs, ws)["text"])
    gt_doc: dict = {"images": [], "annotations": [], "categories": []}
    detections: list[dict] = []
    started = time.time()
    for f, held_out in enumerate(parts):
        notify(0.9 * f / folds, f"fold {f + 1}/{folds}: training on {len(images) - len(held_out)} images")
        train_on = [p for g, part in enumerate(parts) if g != f for p in part]
        fold_yaml = _fold_yaml(home / f"fold-{f + 1}", names, train_on, held_out)
        r = train(str(fold_yaml), record["model"], workspace=fold_ws, **settings)
        if r["status"] != "done" or not r.get("weights"):
            raise UserError(
                f"label issues, fold {f + 1}/{folds}: its training {r['status']} ({(r.get('metrics') or {}).get('error', 'no weights')})"
            )
        notify(0.9 * (f + 0.8) / folds, f"fold {f + 1}/{folds}: predicting its {len(held_out)} images")
        ev = evaluate(weights=r["weights"], data=str(fold_yaml), split="val", workspace=fold_ws)
        _merge(
            gt_doc, detections, json.loads(Path(ev["files"]["coco_gt"]).read_text()), json.loads(Path(ev["files"]["coco_dt"]).read_text()),
            data_yaml.parent,
        )
    notify(0.9, f"{folds} folds predicted in {_minutes(time.time() - started)}")
    return gt_doc, detections


def _merge(gt_doc: dict, detections: list[dict], fold_gt: dict, fold_dt: list[dict], root: Path) -> None:
    """Append one fold's COCO documents, renumbering its ids; file names relative to the dataset folder."""
    offset, ann_offset = len(gt_doc["images"]), len(gt_doc["annotations"])
    gt_doc["categories"] = fold_gt["categories"]
    for im in fold_gt["images"]:
        path = Path(im["path"])
        name = str(path.relative_to(root)) if path.is_relative_to(root) else path.name
        gt_doc["images"].append({**im, "id": im["id"] + offset, "file_name": name})
    for a in fold_gt["annotations"]:
        gt_doc["annotations"].append({**a, "id": a["id"] + ann_offset, "image_id": a["image_id"] + offset})
    detections += [{**d, "image_id": d["image_id"] + offset} for d in fold_dt]
