"""Evaluation: Ultralytics' validator on a run or weights, and what it saw, kept for analysis.

``evaluate`` returns overall and per-class precision / recall / mAP50 / mAP50-95 (Ultralytics'
own numbers: the same validator ``YOLO(w).val()`` runs), the 12 COCO numbers computed from the
same predictions, and the confusion matrix. Into its evaluation folder it writes:

    metrics.json   the returned result
    curves.json    per-class PR and F1/P/R-confidence curves (Ultralytics' DetMetrics)
    coco_gt.json   the split's ground truth in COCO format (boxes in original pixels)
    coco_dt.json   every detection (conf >= 0.001, the validator's default) in COCO format

and its result's ``error_breakdown`` says where the mAP50 goes (``error_types``: TIDE's error
types, each with the AP50 an oracle fix of that type alone would add, overall and per class, and
the false positives and negatives by box size).

The COCO files feed the threshold explorer and the error gallery with no second inference,
and ``python -m yolov11 eval --coco-gt coco_gt.json --coco-dt coco_dt.json`` re-scores them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from yolov11 import checkpoints
from yolov11.compat import offline, validator
from yolov11.compat.results import short_metrics
from yolov11.errors import UserError
from yolov11.eval import error_types
from yolov11.eval.coco_metrics import COCO_NAMES, coco_evaluate, coco_stats
from yolov11.eval.records import coco_documents
from yolov11.eval.settings import EvalSettings
from yolov11.training.settings import trained_imgsz
from yolov11.workspace import Workspace
from yolov11.workspace.paths import write_whole

__all__ = ["COCO_NAMES", "coco_evaluate", "evaluate", "evaluation_curves", "open_evaluation", "saved_evaluation"]
CURVE_POINTS = 201  # of Ultralytics' 1000 per curve: smooth on screen, a tenth of the JSON
# Ultralytics' confusion matrix (DetectionValidator -> ConfusionMatrix.process_batch) keeps
# detections scored above the validator's conf (0.001 by default for val) and matches them to
# ground truth regardless of class at IoU above process_batch's default iou_thres, 0.45.
VALIDATOR_CONF = 0.001
VALIDATOR_CONFUSION_IOU = 0.45


def _sources(ws: Workspace, run: str | None, weights: str | None, data: str | None) -> tuple[Path, Path, dict]:
    if run:
        record = ws.require_run(run)
        return ws.run_weights(run), ws.resolve_data(data or record["dataset"]), record["settings"] or {}
    if not weights:
        raise UserError("eval: give --run R, or --weights W with --data D")
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(field="--weights", value=weights, detail="file not found")
    if not data:
        raise UserError(field="--data", detail="required with --weights (a workspace dataset name or a data.yaml path)")
    return path.resolve(), ws.resolve_data(data), {}


def _out_dir(ws: Workspace, run: str | None, weights: Path, data_yaml: Path, split: str) -> Path:
    """A run's evaluations live in its folder (``eval-<split>``; on another dataset than its own,
    ``eval-<split>-on-<dataset>``, never over its own); loose weights get one folder per (file
    content, dataset, split): uploads of different files all named best.pt must not overwrite each other."""
    if run:
        record = ws.require_run(run)
        own = ws.dataset(record.get("dataset") or "")
        if own is None or Path(own["path"]).resolve() == data_yaml.parent.resolve():
            return Path(record["dir"]) / f"eval-{split}"
        other = re.sub(r"[^\w.@-]", "_", data_yaml.parent.name)[:80] + "-" + hashlib.sha1(str(data_yaml).encode()).hexdigest()[:6]
        return Path(record["dir"]) / f"eval-{split}-on-{other}"
    digest = hashlib.sha1(weights.read_bytes()).hexdigest()[:8]
    return ws.runs_dir / "evaluations" / f"{weights.stem}-{digest}-{data_yaml.parent.name}-{split}"


def evaluate(
    run: str | None = None,
    weights: str | Path | None = None,
    data: str | None = None,
    split: str = EvalSettings.split,
    imgsz: int | None = EvalSettings.imgsz,
    batch: int = EvalSettings.batch,
    device: str = EvalSettings.device,
    workspace: Workspace | str | Path | None = None,
    sliced: object = None,
    slice_size: int | None = None,
    slice_overlap: float | None = None,
) -> dict:
    """Validate a run's best weights (or ``weights`` on ``data``) on ``split``.

    Returns {"metrics", "per_class", "coco", "confusion", "speed_ms", "dir", "files", ...}; the
    evaluation folder ``dir`` holds the files listed in this module's docstring. ``sliced`` (True,
    "auto" or a Slicing; ``predict``'s ``sliced``): the split's full frames predicted tile by tile
    and beside it in one pass, both scored by the COCO evaluator (``sliced_eval``), in ``<dir>-sliced``.
    """
    offline.prepare()
    from ultralytics import YOLO

    from yolov11.serve.sliced import slicing_of

    ws = Workspace.at(workspace)
    slicing = slicing_of(sliced, slice_size, slice_overlap)
    weights_path, data_yaml, settings = _sources(ws, run, str(weights) if weights else None, data)
    if split not in ("train", "val", "test"):
        raise UserError(field="--split", value=split, detail="use train, val or test")
    out_dir = _out_dir(ws, run, weights_path, data_yaml, split)
    checkpoints.check(weights_path, "--weights")  # a refused or broken .pt is one clear line, not a validator traceback
    if slicing is not None:
        from yolov11.eval.sliced_eval import evaluate_sliced

        folder = out_dir.with_name(f"{out_dir.name}-sliced")
        result = evaluate_sliced(weights_path, data_yaml, split, slicing, imgsz or settings.get("imgsz"), folder)
        result = {"run": run, "weights": str(weights_path), "data": str(data_yaml), "split": split, **result}
        write_whole(Path(result["dir"]) / "metrics.json", json.dumps(result, indent=2))
        return result
    model = YOLO(str(weights_path))
    finished = []  # the validator instance, handed over by its own end-of-validation callback
    model.add_callback("on_val_end", finished.append)
    try:
        m = model.val(
            validator=validator.recording_validator(),
            data=str(data_yaml),
            split=split,
            imgsz=imgsz or settings.get("imgsz") or trained_imgsz(model.ckpt.get("train_args")) or 640,
            batch=batch,
            device=device,
            project=str(out_dir.parent),
            name=out_dir.name,
            exist_ok=True,
            verbose=False,
            plots=True,  # also what makes the validator fill its confusion matrix
        )
    except (FileNotFoundError, KeyError) as exc:
        raise UserError(field="--data", value=data_yaml, detail=f"{exc}") from None
    per_class = validator.per_class(m)
    save_dir = Path(m.save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    gt_doc, detections = coco_documents(finished[-1].records, m.names, data_yaml.parent)
    files = {name: str(save_dir / f"{name}.json") for name in ("coco_gt", "coco_dt", "curves")}
    write_whole(files["coco_gt"], json.dumps(gt_doc))  # whole files: another process may be evaluating the same run and split
    write_whole(files["coco_dt"], json.dumps(detections))
    write_whole(files["curves"], json.dumps(validator.curves(m, CURVE_POINTS)))
    names = [m.names[i] for i in range(len(m.names))]
    result = {
        "run": run,
        "weights": str(weights_path),
        "data": str(data_yaml),
        "split": split,
        "metrics": short_metrics(m.results_dict),
        "per_class": per_class,
        "coco": {k: round(v, 6) for k, v in coco_stats(gt_doc, detections).items()},
        "images": len(gt_doc["images"]),
        "detections": len(detections),
        # rows: predicted class, columns: true class; the last of each is background (a FP's
        # "true" class, a FN's "predicted" one). Counts at the validator's conf and IoU 0.45;
        # thresholds.threshold_confusion gives the one at the explorer's thresholds.
        "confusion": {
            "names": [*names, "background"], "matrix": validator.confusion_counts(m), **_confusion_thresholds(finished[-1].args.conf)
        },
        "speed_ms": {k: round(float(v), 3) for k, v in m.speed.items()},
        "error_breakdown": error_types.rounded(error_types.breakdown(gt_doc, detections)),
        "dir": str(save_dir),
        "files": files,
    }
    write_whole(save_dir / "metrics.json", json.dumps(result, indent=2))
    return result


def _confusion_thresholds(conf: float | None) -> dict:
    """The thresholds of Ultralytics' confusion matrix, and the rule in words for its chart."""
    conf, iou = float(conf if conf is not None else VALIDATOR_CONF), VALIDATOR_CONFUSION_IOU
    return {"conf": conf, "iou": iou, "rule": f"Ultralytics' validator: confidence > {conf:g}, IoU > {iou:g}, matched regardless of class"}


def open_evaluation(where: str | Path, workspace: Workspace | str | Path | None = None) -> Path:
    """The evaluation folder ``where`` (as ``evaluate`` returned it in "dir"), checked to be one
    inside the workspace: callers of the app name it, and nothing outside may be read."""
    ws = Workspace.at(workspace)
    path = Path(str(where or "")).expanduser().resolve()
    if not where or not path.is_relative_to(ws.runs_dir.resolve()) or not (path / "metrics.json").is_file():
        raise UserError(f"evaluation {where or '(none)'}: not an evaluation folder of workspace {ws.root}; evaluate first")
    return path


def saved_evaluation(run: str | None = None, split: str = "val", where: str | Path | None = None,
                     workspace: Workspace | str | Path | None = None) -> dict | None:
    """The result an earlier ``evaluate`` saved, for a run and split (or an evaluation folder); None if there is none."""
    ws = Workspace.at(workspace)
    if where is not None:
        path = open_evaluation(where, ws) / "metrics.json"
    else:
        path = Path(ws.require_run(run)["dir"]) / f"eval-{split}" / "metrics.json"
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    if "files" not in result:
        return None  # written before the evaluation kept its predictions: redo
    if "rule" not in result["confusion"]:  # saved before the matrix said its thresholds: they were the defaults
        result["confusion"].update(_confusion_thresholds(None))
    if "error_breakdown" not in result:  # saved before the breakdown: from its saved predictions
        docs = [json.loads(Path(result["files"][name]).read_text()) for name in ("coco_gt", "coco_dt")]
        result["error_breakdown"] = error_types.rounded(error_types.breakdown(*docs))
    return result


def saved_evaluation_on(run: str, data: str | None, split: str, slicing=None, workspace: Workspace | str | Path | None = None
                        ) -> dict | None:
    """The evaluation an earlier ``evaluate(run=, data=, split=, sliced=slicing)`` saved (``data``
    None: the run's own dataset), if it is newer than the run's weights and, sliced, used these
    settings; else None."""
    ws = Workspace.at(workspace)
    weights_path, data_yaml, _ = _sources(ws, run, None, data)
    folder = _out_dir(ws, run, weights_path, data_yaml, split)
    path = (folder.with_name(f"{folder.name}-sliced") if slicing is not None else folder) / "metrics.json"
    if not path.is_file() or path.stat().st_mtime_ns < weights_path.stat().st_mtime_ns:
        return None
    result = json.loads(path.read_text())
    if result.get("data") != str(data_yaml) or (slicing is not None and result.get("sliced") != slicing.__dict__):
        return None
    return result


def evaluation_curves(where: str | Path, workspace: Workspace | str | Path | None = None) -> dict:
    """The curves an evaluation saved: {"x", "classes", "ap50", "precision_recall", "f1_confidence",
    "precision_confidence", "recall_confidence"}; each curve is one row per class over x."""
    return json.loads((open_evaluation(where, workspace) / "curves.json").read_text())
